//! The local KMS beyond the conformance suite: BYOK import (wrapped and plain),
//! tokens that expire, deleting imported material, persistence across reopen,
//! audit events, and the OSS guide's policies.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_keyring::{
    AuditOutcome, Caller, CreateKeyOptions, EncryptionContext, Error, ImportOptions, KeyOrigin,
    KeyState, Kms, KmsOptions, LocalKms, LocalKmsOptions, ManualClock, MemoryAuditSink,
    MemoryKeyStore, Principal, RootKey, wrap_key_material_for_import,
};
use coffer_policy::PolicyDocument;

const TRUSTED: Caller = Caller::Trusted;

struct Fixture {
    store: Arc<MemoryKeyStore>,
    clock: ManualClock,
    audit: MemoryAuditSink,
    kms: Kms,
}

/// The local KMS in `store` behind the layer, in the OSS guide's account.
fn open(
    store: Arc<MemoryKeyStore>,
    root: [u8; 32],
    clock: &ManualClock,
    audit: &MemoryAuditSink,
) -> Result<Kms, Error> {
    let local = LocalKms::open(
        store,
        &RootKey::from_bytes(root),
        LocalKmsOptions::default().with_clock(Arc::new(clock.clone())),
    )?;
    Ok(Kms::new(
        Arc::new(local),
        KmsOptions::default()
            .with_account("cn-hangzhou", "1416614965931234")
            .with_audit(Arc::new(audit.clone()))
            .with_clock(Arc::new(clock.clone())),
    ))
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryKeyStore::new());
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let audit = MemoryAuditSink::new();
    let kms = open(store.clone(), [2; 32], &clock, &audit).expect("opens");
    Fixture {
        store,
        clock,
        audit,
        kms,
    }
}

fn ctx() -> EncryptionContext {
    EncryptionContext::new(b"store", "bucket", b"object")
}

fn external_key(kms: &Kms) -> String {
    let options = CreateKeyOptions::new().with_description("byok").external();
    let metadata = kms.create_key(options, &TRUSTED).expect("creates");
    assert_eq!(
        (metadata.state, metadata.origin),
        (KeyState::PendingImport, KeyOrigin::External)
    );
    metadata.key_id
}

#[test]
fn byok_import_wrapped_with_rsa_oaep_sha256() {
    let f = fixture();
    let id = external_key(&f.kms);
    assert!(matches!(
        f.kms.generate_data_key(&id, &ctx(), &TRUSTED),
        Err(Error::KeyPendingImport(_))
    ));
    let material = [0x42; 32];
    let params = f
        .kms
        .get_parameters_for_import(&id, ImportOptions::default(), &TRUSTED)
        .expect("parameters");
    let wrapped = wrap_key_material_for_import(&params, &material).expect("wraps");
    // A token for another request is refused, and a wrong token changes nothing.
    assert!(matches!(
        f.kms.import_key_material(&id, "00", &wrapped, &TRUSTED),
        Err(Error::InvalidImportToken)
    ));
    f.kms
        .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED)
        .expect("imports");
    assert!(
        matches!(
            f.kms
                .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED),
            Err(Error::InvalidImportToken)
        ),
        "tokens are single use"
    );
    let (key, wrapped_key) = f
        .kms
        .generate_data_key(&id, &ctx(), &TRUSTED)
        .expect("generates");
    assert_eq!(
        f.kms
            .decrypt(&wrapped_key, &ctx(), &TRUSTED)
            .expect("decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(
        matches!(
            f.kms.rotate_key(&id, &TRUSTED),
            Err(Error::Unsupported { .. })
        ),
        "imported keys do not rotate"
    );
    assert!(matches!(
        f.kms
            .set_rotation_period(&id, Some(Duration::from_secs(30 * 86400)), &TRUSTED),
        Err(Error::Unsupported { .. })
    ));

    // Deleting the material returns the key to pending import; the same
    // material brings the data back, other material is refused.
    f.kms
        .delete_key_material(&id, &TRUSTED)
        .expect("deletes material");
    assert_eq!(
        f.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::PendingImport
    );
    assert!(matches!(
        f.kms.decrypt(&wrapped_key, &ctx(), &TRUSTED),
        Err(Error::KeyPendingImport(_))
    ));
    assert!(matches!(
        f.kms.import_key_material_plain(&id, &[0x43; 32], &TRUSTED),
        Err(Error::InvalidArgument(_))
    ));
    f.kms
        .import_key_material_plain(&id, &material, &TRUSTED)
        .expect("re-imports");
    assert_eq!(
        f.kms
            .decrypt(&wrapped_key, &ctx(), &TRUSTED)
            .expect("decrypts")
            .expose_secret(),
        key.expose_secret()
    );
}

#[test]
fn import_tokens_expire_and_tampered_material_is_refused() {
    let f = fixture();
    let id = external_key(&f.kms);
    let params = f
        .kms
        .get_parameters_for_import(&id, ImportOptions::default(), &TRUSTED)
        .expect("parameters");
    let mut wrapped = wrap_key_material_for_import(&params, &[1; 32]).expect("wraps");
    wrapped[40] ^= 1;
    assert!(matches!(
        f.kms
            .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED),
        Err(Error::Integrity(_))
    ));
    let params = f
        .kms
        .get_parameters_for_import(&id, ImportOptions::default(), &TRUSTED)
        .expect("parameters");
    let wrapped = wrap_key_material_for_import(&params, &[1; 32]).expect("wraps");
    f.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert!(matches!(
        f.kms
            .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED),
        Err(Error::ImportTokenExpired)
    ));
    assert!(matches!(
        f.kms.get_parameters_for_import(
            &f.kms.default_key_id(&TRUSTED).expect("default"),
            ImportOptions::default(),
            &TRUSTED
        ),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn keys_aliases_and_states_survive_reopen() {
    let f = fixture();
    let id = f
        .kms
        .create_key(CreateKeyOptions::default(), &TRUSTED)
        .expect("creates")
        .key_id;
    f.kms
        .create_alias("alias/photos", &id, &TRUSTED)
        .expect("alias");
    let (key, wrapped) = f
        .kms
        .generate_data_key("alias/photos", &ctx(), &TRUSTED)
        .expect("generates");
    f.kms.rotate_key(&id, &TRUSTED).expect("rotates");
    f.kms.disable_key(&id, &TRUSTED).expect("disables");
    let default = f.kms.default_key_id(&TRUSTED).expect("default");
    drop(f.kms);
    let wrong = open(f.store.clone(), [3; 32], &f.clock, &f.audit);
    assert!(matches!(wrong.err(), Some(Error::WrongRootKey)));
    let kms = open(f.store, [2; 32], &f.clock, &f.audit).expect("reopens");
    assert_eq!(kms.default_key_id(&TRUSTED).expect("default"), default);
    let described = kms
        .describe_key("alias/photos", &TRUSTED)
        .expect("describe");
    assert_eq!(
        (
            described.key_id.as_str(),
            described.state,
            described.current_version
        ),
        (id.as_str(), KeyState::Disabled, 2)
    );
    kms.enable_key(&id, &TRUSTED).expect("enables");
    assert_eq!(
        kms.decrypt(&wrapped, &ctx(), &TRUSTED)
            .expect("decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    assert_eq!(kms.list_aliases(&TRUSTED).expect("aliases").len(), 2);
    assert!(matches!(
        kms.create_alias("alias/acs/mine", &id, &TRUSTED),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        kms.create_alias("alias/photos", &id, &TRUSTED),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn every_call_is_audited_without_secrets() {
    let f = fixture();
    let id = f
        .kms
        .create_key(CreateKeyOptions::default(), &TRUSTED)
        .expect("creates")
        .key_id;
    let (key, wrapped) = f
        .kms
        .generate_data_key(&id, &ctx(), &TRUSTED)
        .expect("generates");
    let mallory = Caller::Principal(Principal::new("mallory", "1416614965931234"));
    assert!(f.kms.decrypt(&wrapped, &ctx(), &mallory).is_err());
    f.kms.disable_key(&id, &TRUSTED).expect("disables");
    assert!(f.kms.decrypt(&wrapped, &ctx(), &TRUSTED).is_err());
    let events = f.audit.events();
    let summary: Vec<(&str, &str, &AuditOutcome)> = events
        .iter()
        .map(|e| (e.caller.as_str(), e.action.as_str(), &e.outcome))
        .collect();
    assert_eq!(
        summary[0],
        ("trusted", "kms:CreateKey", &AuditOutcome::Allowed)
    );
    assert_eq!(
        summary[1],
        ("trusted", "kms:GenerateDataKey", &AuditOutcome::Allowed)
    );
    assert_eq!(
        summary[2],
        ("mallory", "kms:Decrypt", &AuditOutcome::Denied)
    );
    assert_eq!(
        summary[3],
        ("trusted", "kms:DisableKey", &AuditOutcome::Allowed)
    );
    assert!(matches!(
        summary[4],
        ("trusted", "kms:Decrypt", AuditOutcome::Failed(_))
    ));
    assert_eq!(events[1].key_id.as_deref(), Some(id.as_str()));
    assert!(
        events[1]
            .context
            .as_deref()
            .is_some_and(|c| c.contains("bucket=bucket"))
    );
    let secret_hex = hex_of(key.expose_secret());
    assert!(
        events
            .iter()
            .all(|e| !format!("{e:?}").contains(&secret_hex))
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn oss_guide_policies_govern_kms_calls() {
    let f = fixture();
    let id = f
        .kms
        .create_key(CreateKeyOptions::default(), &TRUSTED)
        .expect("creates")
        .key_id;
    // Compiled in from coffer-policy's fixtures: nothing outside the repository.
    macro_rules! fixture_policy {
        ($name:literal) => {
            PolicyDocument::parse(include_str!(concat!(
                "../../../policy/tests/fixtures/policies/",
                $name
            )))
            .expect("parses")
        };
    }
    let uploader = Caller::Principal(
        Principal::new("uploader", "1416614965931234")
            .with_policy(fixture_policy!("upload-to-kms-bucket.json")),
    );
    let downloader = Caller::Principal(
        Principal::new("downloader", "1416614965931234")
            .with_policy(fixture_policy!("download-from-kms-bucket.json")),
    );
    let admin = Caller::Principal(
        Principal::new("admin", "1416614965931234")
            .with_policy(fixture_policy!("set-bucket-default-kms-cmk.json")),
    );
    let (_, wrapped) = f
        .kms
        .generate_data_key(&id, &ctx(), &uploader)
        .expect("uploader generates");
    f.kms
        .decrypt(&wrapped, &ctx(), &downloader)
        .expect("downloader decrypts");
    assert!(matches!(
        f.kms.generate_data_key(&id, &ctx(), &downloader),
        Err(Error::AccessDenied { .. })
    ));
    f.kms.describe_key(&id, &admin).expect("admin describes");
    f.kms.list_keys(&admin).expect("admin lists keys");
    assert!(matches!(
        f.kms.decrypt(&wrapped, &ctx(), &admin),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        f.kms.schedule_key_deletion(&id, 7, &uploader),
        Err(Error::AccessDenied { .. })
    ));
}

#[test]
fn creating_the_default_key_is_audited_once_with_its_id() {
    let f = fixture();
    let bob = Caller::Principal(Principal::new("bob", "1416614965931234"));
    let id = f.kms.default_key_id(&bob).expect("default");
    assert_eq!(f.kms.default_key_id(&TRUSTED).expect("default"), id);
    let events = f.audit.events();
    assert_eq!(events.len(), 1, "only the creation is an event: {events:?}");
    assert_eq!(
        (
            events[0].caller.as_str(),
            events[0].action.as_str(),
            events[0].key_id.as_deref(),
            &events[0].outcome
        ),
        (
            "bob",
            "kms:CreateKey",
            Some(id.as_str()),
            &AuditOutcome::Allowed
        )
    );
}

#[test]
fn racing_first_uses_create_one_default_key_and_one_event() {
    const THREADS: usize = 8;
    for _ in 0..20 {
        let f = fixture();
        let start = std::sync::Barrier::new(THREADS);
        let callers: Vec<Caller> = (0..THREADS)
            .map(|i| Caller::Principal(Principal::new(&format!("thread-{i}"), "1416614965931234")))
            .collect();
        let ids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = callers
                .iter()
                .map(|caller| {
                    let (kms, start) = (&f.kms, &start);
                    scope.spawn(move || {
                        start.wait();
                        kms.default_key_id(caller).expect("default")
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(ids.iter().all(|id| *id == ids[0]), "one default key");
        let created: Vec<_> = f
            .audit
            .events()
            .into_iter()
            .filter(|e| e.action == "kms:CreateKey")
            .collect();
        assert_eq!(created.len(), 1, "one creation event: {created:?}");
        assert_eq!(created[0].key_id.as_deref(), Some(ids[0].as_str()));
        assert_eq!(created[0].outcome, AuditOutcome::Allowed);
        assert!(created[0].caller.starts_with("thread-"));
        assert_eq!(
            f.kms
                .list_keys(&TRUSTED)
                .expect("lists")
                .iter()
                .filter(|k| k.managed)
                .count(),
            1
        );
    }
}

#[test]
fn the_managed_key_skips_only_the_data_key_checks() {
    let f = fixture();
    let nobody = Caller::Principal(Principal::new("nobody", "1416614965931234"));
    let id = f.kms.default_key_id(&nobody).expect("default");
    let (key, wrapped) = f
        .kms
        .generate_data_key(&id, &ctx(), &nobody)
        .expect("generates unchecked");
    f.kms
        .describe_key(&id, &nobody)
        .expect("describes unchecked");
    assert!(matches!(
        f.kms.rotate_key(&id, &nobody),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        f.kms.disable_key(&id, &nobody),
        Err(Error::AccessDenied { .. })
    ));
    assert_eq!(f.kms.rotate_key(&id, &TRUSTED).expect("rotates"), 2);
    let rewrapped = f
        .kms
        .rewrap(&wrapped, &ctx(), &nobody)
        .expect("rewraps unchecked")
        .expect("to the new version");
    assert_eq!(
        f.kms
            .decrypt(&rewrapped, &ctx(), &nobody)
            .expect("decrypts unchecked")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(matches!(
        f.kms.disable_key(&id, &TRUSTED),
        Err(Error::ManagedKey(_))
    ));
    assert!(matches!(
        f.kms.schedule_key_deletion(&id, 7, &TRUSTED),
        Err(Error::ManagedKey(_))
    ));
    assert!(matches!(
        f.kms
            .set_rotation_period(&id, Some(Duration::from_secs(30 * 86400)), &TRUSTED),
        Err(Error::ManagedKey(_))
    ));
    assert!(matches!(
        f.kms.delete_alias("alias/acs/oss", &TRUSTED),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn rewrap_needs_describe_decrypt_and_generate_on_a_customer_key() {
    let f = fixture();
    let id = f
        .kms
        .create_key(CreateKeyOptions::default(), &TRUSTED)
        .expect("creates")
        .key_id;
    let (_, wrapped) = f
        .kms
        .generate_data_key(&id, &ctx(), &TRUSTED)
        .expect("generates");
    f.kms.rotate_key(&id, &TRUSTED).expect("rotates");
    let with = |actions: &str| {
        let policy = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":[{actions}],"Resource":["acs:kms:*:*:key/*"]}}]}}"#
        );
        Caller::Principal(
            Principal::new("rewrapper", "1416614965931234")
                .with_policy(PolicyDocument::parse(&policy).expect("parses")),
        )
    };
    for missing in [
        r#""kms:Decrypt","kms:GenerateDataKey""#,
        r#""kms:DescribeKey","kms:GenerateDataKey""#,
        r#""kms:DescribeKey","kms:Decrypt""#,
    ] {
        assert!(
            matches!(
                f.kms.rewrap(&wrapped, &ctx(), &with(missing)),
                Err(Error::AccessDenied { .. })
            ),
            "allowed only {missing}"
        );
    }
    let all = with(r#""kms:DescribeKey","kms:Decrypt","kms:GenerateDataKey""#);
    let rewrapped = f
        .kms
        .rewrap(&wrapped, &ctx(), &all)
        .expect("rewraps")
        .expect("to the new version");
    assert!(
        f.kms
            .rewrap(&rewrapped, &ctx(), &with(r#""kms:DescribeKey""#))
            .expect("already current")
            .is_none()
    );
}
