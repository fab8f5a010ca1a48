//! The store's KMS keys (`coffer kms ...`), key usage and retirement
//! (`coffer keys ...`).

use std::path::Path;

use coffer_keyring::{
    Caller, CreateKeyOptions, ImportOptions, KeyMetadata, KeyState, WrappingKeySpec,
};
use coffer_store::Store;
use serde_json::json;

use crate::args::{KeysCommand, KmsCommand, WrappingKeySize};
use crate::exit::Failure;
use crate::output::{Output, seconds};

fn state_text(state: &KeyState) -> String {
    match state {
        KeyState::Enabled => "enabled".into(),
        KeyState::Disabled => "disabled".into(),
        KeyState::PendingDeletion { delete_at } => {
            format!("pending deletion at {}", seconds(*delete_at))
        }
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn key_json(key: &KeyMetadata) -> serde_json::Value {
    json!({
        "key_id": key.key_id,
        "resource_name": key.resource_name,
        "description": key.description,
        "state": state_text(&key.state),
        "created": seconds(key.created_at),
        "current_version": key.current_version,
        "min_decryption_version": key.min_decryption_version,
        "managed": key.managed,
    })
}

fn key_text(key: &KeyMetadata) -> String {
    format!(
        "{}  {}  version {}{}{}",
        key.key_id,
        state_text(&key.state),
        key.current_version,
        if key.managed { "  (managed)" } else { "" },
        if key.description.is_empty() {
            String::new()
        } else {
            format!("  {}", key.description)
        }
    )
}

pub(crate) fn kms(store: &Store, command: KmsCommand, out: &Output) -> Result<(), Failure> {
    let kms = store.kms();
    let trusted = &Caller::Trusted;
    let done = |what: &str, key_id: &str| {
        out.print(
            || format!("{what} {key_id}"),
            || json!({"key_id": key_id, "done": what}),
        );
    };
    match command {
        KmsCommand::Create {
            description,
            external,
        } => {
            let mut options = CreateKeyOptions::default();
            options.description = description;
            options.external = external;
            let key = kms.create_key(options, trusted)?;
            out.print(|| key_text(&key), || key_json(&key));
        }
        KmsCommand::Ls => {
            let keys = kms.list_keys(trusted)?;
            out.print(
                || keys.iter().map(key_text).collect::<Vec<_>>().join("\n"),
                || json!(keys.iter().map(key_json).collect::<Vec<_>>()),
            );
        }
        KmsCommand::Describe { key_id } => {
            let key = kms.describe_key(&key_id, trusted)?;
            out.print(|| key_text(&key), || key_json(&key));
        }
        KmsCommand::Alias { alias, key_id } => {
            kms.create_alias(&alias, &key_id, trusted)?;
            out.print(
                || format!("{alias} -> {key_id}"),
                || json!({"alias": alias, "key_id": key_id}),
            );
        }
        KmsCommand::Enable { key_id } => {
            kms.enable_key(&key_id, trusted)?;
            done("enabled", &key_id);
        }
        KmsCommand::Disable { key_id } => {
            kms.disable_key(&key_id, trusted)?;
            done("disabled", &key_id);
        }
        KmsCommand::ScheduleDeletion { key_id, days } => {
            let at = kms.schedule_key_deletion(&key_id, days, trusted)?;
            out.print(
                || format!("{key_id} is deleted at {} unless cancelled", seconds(at)),
                || json!({"key_id": key_id, "delete_at": seconds(at)}),
            );
        }
        KmsCommand::CancelDeletion { key_id } => {
            kms.cancel_key_deletion(&key_id, trusted)?;
            done("deletion cancelled for", &key_id);
        }
        KmsCommand::Rotate { key_id } => {
            let version = kms.rotate_key(&key_id, trusted)?;
            out.print(
                || format!("{key_id} rotated to version {version}"),
                || json!({"key_id": key_id, "current_version": version}),
            );
        }
        KmsCommand::ImportParams {
            key_id,
            public_key_out,
            wrapping_key_spec,
        } => import_params(
            store,
            &key_id,
            public_key_out.as_deref(),
            wrapping_key_spec,
            out,
        )?,
        KmsCommand::Import {
            key_id,
            token,
            material,
        } => {
            let wrapped = std::fs::read(&material)
                .map_err(|e| Failure::Io(material.display().to_string(), e))?;
            kms.import_key_material(&key_id, &token, &wrapped, trusted)?;
            done("material imported into", &key_id);
        }
    }
    Ok(())
}

fn import_params(
    store: &Store,
    key_id: &str,
    public_key_out: Option<&Path>,
    size: WrappingKeySize,
    out: &Output,
) -> Result<(), Failure> {
    let options = ImportOptions {
        wrapping_key_spec: match size {
            WrappingKeySize::Rsa2048 => WrappingKeySpec::Rsa2048,
            WrappingKeySize::Rsa3072 => WrappingKeySpec::Rsa3072,
        },
    };
    let parameters = store
        .kms()
        .get_parameters_for_import(key_id, options, &Caller::Trusted)?;
    if let Some(path) = public_key_out {
        std::fs::write(path, &parameters.public_key_pem)
            .map_err(|e| Failure::Io(path.display().to_string(), e))?;
    }
    let expires = seconds(parameters.expires_at);
    out.print(
        || {
            let mut text = format!(
                "key {}\nimport token {}\nexpires {expires}",
                parameters.key_id, parameters.import_token
            );
            match public_key_out {
                Some(path) => text.push_str(&format!("\npublic key written to {}", path.display())),
                None => text.push_str(&format!("\n{}", parameters.public_key_pem.trim_end())),
            }
            text
        },
        || {
            json!({
                "key_id": parameters.key_id,
                "import_token": parameters.import_token,
                "expires": expires,
                "wrapping_key_spec": format!("RSA_{}", parameters.wrapping_key_spec.bits()),
                "public_key_pem": parameters.public_key_pem,
            })
        },
    );
    Ok(())
}

pub(crate) fn keys(store: &Store, command: KeysCommand, out: &Output) -> Result<(), Failure> {
    match command {
        KeysCommand::Usage { bucket } => {
            let report = store.key_usage(bucket.as_deref())?;
            out.print(
                || {
                    let mut lines: Vec<String> = report
                        .usage
                        .iter()
                        .map(|u| {
                            format!(
                                "{:<6} {:<40} {:>8} {:>10} objects {:>14} bytes",
                                u.mode.algorithm().unwrap_or("none"),
                                u.key_id.as_deref().unwrap_or("-"),
                                u.key_version.map_or("-".into(), |v| format!("v{v}")),
                                u.objects,
                                u.bytes
                            )
                        })
                        .collect();
                    for name in &report.unreadable {
                        lines.push(format!("unreadable record: {name}"));
                    }
                    lines.push(format!(
                        "uploads in progress: {}",
                        report.uploads_in_progress
                    ));
                    lines.join("\n")
                },
                || {
                    json!({
                        "usage": report.usage.iter().map(|u| json!({
                            "mode": u.mode.algorithm().unwrap_or("none"),
                            "key_id": u.key_id,
                            "key_version": u.key_version,
                            "objects": u.objects,
                            "bytes": u.bytes,
                            "bucket_key_objects": u.bucket_key_objects,
                        })).collect::<Vec<_>>(),
                        "unreadable": report.unreadable,
                        "uploads_in_progress": report.uploads_in_progress,
                    })
                },
            );
        }
        KeysCommand::Retire {
            kms_key_id: Some(key_id),
        } => {
            let oldest = store.retire_unused_kms_versions(&key_id)?;
            out.print(
                || format!("{key_id}: versions below {oldest} are retired"),
                || json!({"key_id": key_id, "min_decryption_version": oldest}),
            );
        }
        KeysCommand::Retire { kms_key_id: None } => {
            let oldest = store.retire_unused_master_keys()?;
            out.print(
                || format!("master key versions below {oldest} are retired"),
                || json!({"oldest_master_key_version": oldest}),
            );
        }
        KeysCommand::RotateMaster => {
            let version = store.rotate_master_key()?;
            out.print(
                || format!("master key rotated to version {version}"),
                || json!({"master_key_version": version}),
            );
        }
    }
    Ok(())
}
