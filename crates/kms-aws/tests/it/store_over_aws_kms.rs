//! A store whose KMS speaks the AWS KMS API (a real `moto_server`): objects
//! under a key named by alias, rotation and rewrap (`ReEncrypt`), bucket keys
//! bounding the requests, a `Deny` that holds for every spelling of a key
//! (id, key ARN, alias, alias ARN) with each denial in the store's audit log
//! under the key id, and a server that hangs (SIGSTOP) or is not there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_keyring::{AuditOutcome, KeyState, Principal};
use coffer_keyring::{Caller, CreateKeyOptions};
use coffer_kms_aws::dev_server::{MotoServer, free_port};
use coffer_kms_aws::{AwsCredentials, AwsKms, AwsKmsConfig};
use coffer_store::{
    AuditQuery, EncryptionRule, Error, PolicyDocument, ProtectionMode, PutOptions, RootKey, Store,
    StoreOptions,
};

const TRUSTED: Caller = Caller::Trusted;

fn body(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect::<Vec<_>>()
        .into()
}

fn store_with(dir: &std::path::Path, backend: AwsKms) -> Store {
    let options = StoreOptions::new(RootKey::from_bytes([0x55; 32]))
        .with_kms(Arc::new(backend))
        .with_kms_fail_fast(Duration::from_secs(1))
        .with_threads(2)
        .create_if_missing(true);
    Store::open(dir, options).expect("opens")
}

#[test]
fn objects_under_an_aws_key_by_alias_rotate_and_rewrap() {
    let Some(server) = MotoServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), server.backend());
    let kms = store.kms();
    let id = kms
        .create_key(CreateKeyOptions::new().with_description("photos"), &TRUSTED)
        .expect("create")
        .key_id;
    kms.create_alias("alias/photos", &id, &TRUSTED)
        .expect("alias");
    store.create_bucket("photos").expect("bucket");
    store
        .put_bucket_encryption("photos", EncryptionRule::kms(Some("alias/photos")))
        .expect("rule");
    let put = store
        .put_object("photos", "small", body(4096, 1), PutOptions::default())
        .expect("put");
    assert_eq!(put.protection.mode, ProtectionMode::Kms);
    assert_eq!(
        put.protection.kms_key_id.as_deref(),
        Some(id.as_str()),
        "the id, never the alias"
    );
    assert_eq!(put.protection.key_version, Some(1));
    store
        .put_object("photos", "large", body(2 << 20, 2), PutOptions::default())
        .expect("put");
    assert_eq!(
        store.get_object("photos", "large").expect("get").body,
        body(2 << 20, 2)
    );

    assert_eq!(kms.rotate_key(&id, &TRUSTED).expect("rotate"), 2);
    assert_eq!(store.rewrap_bucket("photos").expect("rewrap"), 2);
    let object = store.get_object("photos", "small").expect("get");
    assert_eq!(object.meta.protection.key_version, Some(2));
    assert_eq!(object.body, body(4096, 1));
    assert_eq!(store.rewrap_bucket("photos").expect("rewrap again"), 0);

    assert!(matches!(
        store.put_object(
            "photos",
            "x",
            body(1, 1),
            PutOptions::kms(Some("alias/missing"))
        ),
        Err(Error::KeyNotFound(_))
    ));
}

#[test]
fn bucket_keys_bound_the_requests_to_the_service() {
    let Some(server) = MotoServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), server.backend());
    let id = store
        .kms()
        .create_key(CreateKeyOptions::new(), &TRUSTED)
        .expect("create")
        .key_id;
    store.create_bucket("bulk").expect("bucket");
    store
        .put_bucket_encryption("bulk", EncryptionRule::kms(Some(&id)).with_bucket_key(true))
        .expect("rule");
    let before = store.kms().requests();
    for i in 0..500u32 {
        store
            .put_object(
                "bulk",
                &format!("k{i}"),
                body(4096, i as u8),
                PutOptions::default(),
            )
            .expect("put");
    }
    let puts = store.kms().requests() - before;
    assert!(puts <= 10, "{puts} requests for 500 puts");
    store.close().expect("close");
    let store = store_with(dir.path(), server.backend());
    let before = store.kms().requests();
    for i in 0..500u32 {
        assert_eq!(
            store
                .get_object("bulk", &format!("k{i}"))
                .expect("get")
                .body,
            body(4096, i as u8)
        );
    }
    let gets = store.kms().requests() - before;
    assert!((1..=10).contains(&gets), "{gets} requests for 500 gets");
}

#[test]
fn a_hung_or_absent_service_fails_fast_and_stores_nothing() {
    let Some(server) = MotoServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = server.config();
    config.attempt_timeout = Duration::from_secs(1);
    config.max_attempts = 2;
    let store = store_with(dir.path(), AwsKms::new(config).expect("backend"));
    let id = store
        .kms()
        .create_key(CreateKeyOptions::new(), &TRUSTED)
        .expect("create")
        .key_id;
    store.create_bucket("bkt").expect("bucket");
    store
        .put_bucket_encryption("bkt", EncryptionRule::kms(Some(&id)).with_bucket_key(true))
        .expect("rule");
    store
        .put_object("bkt", "kept", body(100, 1), PutOptions::default())
        .expect("put");

    server.signal("STOP");
    assert_eq!(
        store.get_object("bkt", "kept").expect("kept key").body,
        body(100, 1)
    );
    let started = Instant::now();
    let first = store.put_object("bkt", "own", body(10, 2), PutOptions::kms(Some(&id)));
    assert!(matches!(first, Err(Error::KmsUnavailable(_))), "{first:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let next = store.put_object("bkt", "own", body(10, 3), PutOptions::kms(Some(&id)));
    assert!(matches!(next, Err(Error::KmsUnavailable(_))), "{next:?}");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.head_object("bkt", "own"),
        Err(Error::NoSuchKey { .. })
    ));
    server.signal("CONT");
    std::thread::sleep(Duration::from_millis(1100));
    store
        .put_object("bkt", "own", body(10, 4), PutOptions::kms(Some(&id)))
        .expect("service resumes by itself");

    // Nothing listening at all.
    let absent = AwsKmsConfig::new("us-east-1", AwsCredentials::new("testing", "testing", None))
        .with_endpoint(format!("http://127.0.0.1:{}", free_port()));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), AwsKms::new(absent).expect("backend"));
    store.create_bucket("bkt").expect("bucket");
    let started = Instant::now();
    let put = store.put_object("bkt", "k", body(10, 1), PutOptions::kms(Some("any")));
    assert!(matches!(put, Err(Error::KmsUnavailable(_))), "{put:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.head_object("bkt", "k"),
        Err(Error::NoSuchKey { .. })
    ));
}

#[test]
fn a_deny_on_a_key_holds_for_its_arn_its_alias_and_its_alias_arn() {
    let Some(server) = MotoServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), server.backend());
    let kms = store.kms();
    let id = kms
        .create_key(CreateKeyOptions::new(), &TRUSTED)
        .expect("create")
        .key_id;
    kms.create_alias("alias/prod", &id, &TRUSTED)
        .expect("alias");
    let policy = PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Action":"kms:*","Resource":"acs:kms:*:0:key/*"}},
            {{"Effect":"Deny","Action":"kms:DisableKey","Resource":"acs:kms:*:0:key/{id}"}}]}}"#
    ))
    .expect("policy");
    // The account is named, as a production policy names it: a `*` there
    // would match across the `:` of an ARN written after `key/`.
    let operator = Caller::Principal(Principal::new("operator", "0").with_policy(policy));
    let arn = "arn:aws:kms:us-east-1:123456789012";
    for name in [
        id.clone(),
        format!("{arn}:key/{id}"),
        "alias/prod".to_owned(),
        format!("{arn}:alias/prod"),
    ] {
        let refused = kms.disable_key(&name, &operator);
        assert!(
            matches!(refused, Err(coffer_keyring::Error::AccessDenied { .. })),
            "disabling as {name:?}: {refused:?}"
        );
    }
    assert_eq!(
        kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Enabled,
        "the key stays enabled"
    );
    let denials: Vec<_> = store
        .audit_events(&AuditQuery::new().key_id(&id))
        .expect("queries")
        .into_iter()
        .filter(|e| e.action == "kms:DisableKey" && e.outcome == AuditOutcome::Denied)
        .collect();
    assert_eq!(denials.len(), 4, "{denials:?}");
    assert!(
        denials.iter().all(|e| e
            .resource
            .as_deref()
            .is_some_and(|r| r.ends_with(&format!(":key/{id}")))),
        "{denials:?}"
    );
    // The data plane checks the id too: a put naming the key by its ARN is
    // recorded under the id.
    store.create_bucket("bkt").expect("bucket");
    let put = store
        .put_object(
            "bkt",
            "k",
            body(10, 1),
            PutOptions::kms(Some(&format!("{arn}:key/{id}"))),
        )
        .expect("put");
    assert_eq!(put.protection.kms_key_id.as_deref(), Some(id.as_str()));
}
