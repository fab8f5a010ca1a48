//! The store's KMS keys (`coffer kms ...`), key usage and retirement
//! (`coffer keys ...`).

use coffer_keyring::{Caller, CreateKeyOptions, KeyMetadata, KeyState};
use coffer_store::Store;
use serde_json::json;

use crate::args::{KeysCommand, KmsCommand};
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
        KmsCommand::Create { description } => {
            let mut options = CreateKeyOptions::default();
            options.description = description;
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
    }
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
        KeysCommand::Retire => {
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
