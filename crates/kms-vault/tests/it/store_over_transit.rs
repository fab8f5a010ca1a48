//! A store whose KMS is a real OpenBao's Transit: objects under Transit keys
//! with the server's key versions, rotation and rewrap on the server, bucket
//! keys bounding the requests, and the server hanging (SIGSTOP) or gone (a port
//! with nothing listening): reads of kept bucket keys go on, puts that need the
//! KMS fail fast with `KmsUnavailable` and store nothing, and service resumes
//! by itself.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_kms_vault::{RetryPolicy, TokenSource, TransitKms, VaultConfig, VaultToken};
use coffer_store::{
    EncryptionRule, Error, ProtectionMode, PutOptions, RootKey, Store, StoreOptions,
};
use common::{BaoServer, free_port, key_name};

const TRUSTED: Caller = Caller::Trusted;

fn body(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<_>>()
        .into()
}

fn store_with(dir: &std::path::Path, backend: TransitKms) -> Store {
    let options = StoreOptions::new(RootKey::from_bytes([0x44; 32]))
        .with_kms(Arc::new(backend))
        .with_kms_fail_fast(Duration::from_secs(1))
        .with_threads(2)
        .create_if_missing(true);
    Store::open(dir, options).expect("opens")
}

#[test]
fn objects_under_transit_keys_report_the_servers_versions() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let name = key_name("photos");
    server.client().create_key(&name).expect("create");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), TransitKms::from_client(server.client()));
    store.create_bucket("photos").expect("bucket");
    store
        .put_bucket_encryption("photos", EncryptionRule::kms(Some(&name)))
        .expect("rule");
    let small = store
        .put_object("photos", "small", body(4096, 1), PutOptions::default())
        .expect("put");
    assert_eq!(small.protection.mode, ProtectionMode::Kms);
    assert_eq!(small.protection.kms_key_id.as_deref(), Some(name.as_str()));
    assert_eq!(small.protection.key_version, Some(1));
    store
        .put_object("photos", "large", body(3 << 20, 2), PutOptions::default())
        .expect("put");
    assert_eq!(
        store.get_object("photos", "large").expect("get").body,
        body(3 << 20, 2)
    );

    // A missing Transit key is never created by a put.
    let missing = key_name("missing");
    assert!(matches!(
        store.put_object("photos", "x", body(10, 3), PutOptions::kms(Some(&missing))),
        Err(Error::KeyNotFound(_))
    ));
    assert!(!server.client().key_exists(&missing).expect("reads"));

    // Rotation on the server; rewrap moves wrapped keys to the new version;
    // the old version can then be retired on the server.
    let v2 = store.kms().rotate_key(&name, &TRUSTED).expect("rotate");
    assert_eq!(v2, 2);
    assert_eq!(store.rewrap_bucket("photos").expect("rewrap"), 2);
    let object = store.get_object("photos", "small").expect("get");
    assert_eq!(object.meta.protection.key_version, Some(2));
    assert_eq!(object.body, body(4096, 1));
    store
        .kms()
        .set_min_decryption_version(&name, 2, &TRUSTED)
        .expect("retire version 1");
    assert_eq!(
        store.get_object("photos", "large").expect("get").body,
        body(3 << 20, 2)
    );

    // Disabled (soft-deleted) on the server: refused; restored: readable.
    store.kms().disable_key(&name, &TRUSTED).expect("disable");
    assert!(matches!(
        store.get_object("photos", "small"),
        Err(Error::KeyDisabled(_))
    ));
    store.kms().enable_key(&name, &TRUSTED).expect("enable");
    store.get_object("photos", "small").expect("readable again");

    // Deleted on the server: permanently unreadable.
    store.kms().delete_key(&name, &TRUSTED).expect("delete");
    assert!(store.get_object("photos", "small").is_err());
}

#[test]
fn bucket_keys_bound_the_requests_to_the_server() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let name = key_name("bulk");
    server.client().create_key(&name).expect("create");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), TransitKms::from_client(server.client()));
    store.create_bucket("bulk").expect("bucket");
    store
        .put_bucket_encryption(
            "bulk",
            EncryptionRule::kms(Some(&name)).with_bucket_key(true),
        )
        .expect("rule");
    let before = store.kms().requests();
    for i in 0..1000u32 {
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
    assert!(puts <= 10, "{puts} requests for 1000 puts");
    store.close().expect("close");

    let store = store_with(dir.path(), TransitKms::from_client(server.client()));
    let before = store.kms().requests();
    for i in 0..1000u32 {
        let object = store.get_object("bulk", &format!("k{i}")).expect("get");
        assert_eq!(object.body, body(4096, i as u8));
        assert!(object.meta.protection.bucket_key);
    }
    let gets = store.kms().requests() - before;
    assert!((1..=10).contains(&gets), "{gets} requests for 1000 gets");
}

#[test]
fn a_hung_server_fails_puts_fast_keeps_reads_of_kept_keys_and_recovers() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let name = key_name("hung");
    server.client().create_key(&name).expect("create");
    let mut config = server.config();
    config.request_timeout = Duration::from_secs(1);
    config.retry = RetryPolicy::attempts(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), TransitKms::new(config).expect("client"));
    store.create_bucket("bkt").expect("bucket");
    store
        .put_bucket_encryption(
            "bkt",
            EncryptionRule::kms(Some(&name)).with_bucket_key(true),
        )
        .expect("rule");
    store
        .put_object("bkt", "kept", body(5000, 1), PutOptions::default())
        .expect("put");

    server.signal("STOP");
    // The bucket key is kept: reads and puts under it need no KMS call.
    assert_eq!(
        store.get_object("bkt", "kept").expect("read").body,
        body(5000, 1)
    );
    store
        .put_object("bkt", "under-kept-key", body(10, 2), PutOptions::default())
        .expect("a put under the kept bucket key");
    // A put that needs the KMS (its own data key) waits out the timeouts once...
    let started = Instant::now();
    let first = store.put_object("bkt", "own-key", body(10, 3), PutOptions::kms(Some(&name)));
    assert!(matches!(first, Err(Error::KmsUnavailable(_))), "{first:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    // ...and the next ones fail fast, storing nothing.
    let started = Instant::now();
    let next = store.put_object("bkt", "own-key", body(10, 4), PutOptions::kms(Some(&name)));
    assert!(matches!(next, Err(Error::KmsUnavailable(_))), "{next:?}");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "failing fast took {:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.head_object("bkt", "own-key"),
        Err(Error::NoSuchKey { .. })
    ));

    server.signal("CONT");
    std::thread::sleep(Duration::from_millis(1100));
    store
        .put_object("bkt", "own-key", body(10, 5), PutOptions::kms(Some(&name)))
        .expect("service resumes by itself");
    assert_eq!(
        store.get_object("bkt", "own-key").expect("get").body,
        body(10, 5)
    );
}

#[test]
fn a_server_that_is_not_there_fails_fast_and_stores_nothing() {
    let address = format!("http://127.0.0.1:{}", free_port());
    let mut config = VaultConfig::new(
        address,
        TokenSource::Value(VaultToken::new("s.unused").expect("token")),
    );
    config.retry = RetryPolicy::attempts(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), TransitKms::new(config).expect("client"));
    store.create_bucket("bkt").expect("bucket");
    let started = Instant::now();
    let put = store.put_object("bkt", "k", body(10, 1), PutOptions::kms(Some("anything")));
    assert!(matches!(put, Err(Error::KmsUnavailable(_))), "{put:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.head_object("bkt", "k"),
        Err(Error::NoSuchKey { .. })
    ));
    // Store-managed and unencrypted objects do not need the KMS.
    store
        .put_object("bkt", "managed", body(10, 2), PutOptions::managed())
        .expect("managed put");
    assert_eq!(
        store.get_object("bkt", "managed").expect("get").body,
        body(10, 2)
    );
}
