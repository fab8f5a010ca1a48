//! A store written by the previous version (key records with only their
//! material sealed, object records version 1, bucket records as plain JSON;
//! `tests/fixtures/store-v1`, made with commit 9b7b3ef) opens with this
//! version: every object reads back with its protection, key states and
//! aliases survive, and from then on an unauthenticated record planted from
//! the old store is refused like any other edit.

mod common;

use std::path::Path;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_store::{Error, ProtectionMode, RootKey, Store, StoreOptions};

const FIXTURE: &str = "tests/fixtures/store-v1";

fn fixture_root() -> RootKey {
    RootKey::from_bytes([0x11; 32])
}

/// A copy of the fixture, so that the repository's copy stays as it is.
fn copy_fixture(into: &Path) {
    let from =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join(FIXTURE);
    std::fs::create_dir_all(into).expect("mkdir");
    for entry in std::fs::read_dir(&from).expect("the fixture is in the repository") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), into.join(entry.file_name())).expect("copies");
    }
}

fn big() -> Vec<u8> {
    (0..(2 * 1024 * 1024 + 123))
        .map(|i| (i % 251) as u8)
        .collect()
}

#[test]
fn a_store_written_by_the_previous_version_opens_and_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(dir.path());
    match Store::open(
        dir.path(),
        StoreOptions::new(RootKey::from_bytes([0x12; 32])),
    ) {
        Err(Error::WrongRootKey) => {}
        other => panic!(
            "a wrong root key opened the old store: {:?}",
            other.map(drop)
        ),
    }
    for round in 0..2 {
        let store = Store::open(dir.path(), StoreOptions::new(fixture_root()))
            .expect("the old store opens");
        let read = |bucket: &str, key: &str| store.get_object(bucket, key).expect("reads");
        let default = read("docs", "default.txt");
        assert_eq!(default.body, Bytes::from_static(b"kms default v1"));
        assert_eq!(default.meta.protection.mode, ProtectionMode::Kms);
        let managed = read("docs", "managed.txt");
        assert_eq!(managed.body, Bytes::from_static(b"managed v1"));
        assert_eq!(managed.meta.protection.mode, ProtectionMode::Aes256);
        assert_eq!(managed.meta.protection.key_version, Some(1));
        assert_eq!(
            managed.meta.attributes.content_type.as_deref(),
            Some("text/plain")
        );
        assert_eq!(
            managed.meta.user_metadata.get("owner").map(String::as_str),
            Some("ops")
        );
        let cmk = read("docs", "cmk.txt");
        assert_eq!(cmk.body, Bytes::from_static(b"named cmk v1"));
        let alias = store
            .kms()
            .describe_key("alias/v1", &Caller::Trusted)
            .expect("the alias survives");
        assert_eq!(cmk.meta.protection.kms_key_id, Some(alias.key_id));
        assert_eq!(read("docs", "big.bin").body, big());
        let rotated = read("docs", "managed-v2.txt");
        assert_eq!(rotated.meta.protection.key_version, Some(2));
        let clear = read("plain", "clear.txt");
        assert_eq!(clear.body, Bytes::from_static(b"unencrypted v1"));
        assert_eq!(clear.meta.protection.mode, ProtectionMode::None);
        assert!(matches!(
            store.get_object("docs", "disabled.txt"),
            Err(Error::KeyDisabled(_))
        ));
        assert_eq!(
            store.get_bucket_encryption("docs").expect("rule"),
            coffer_store::EncryptionRule::kms(None)
        );
        let report = store.check_consistency().expect("checks");
        assert!(
            report.damaged_records.is_empty(),
            "round {round}: {report:?}"
        );
        assert!(report.orphan_segment_objects.is_empty() && report.missing_segments.is_empty());
        store.close().expect("closes");
    }

    // An old, unauthenticated record planted in the migrated store is refused.
    let original = tempfile::tempdir().expect("tempdir");
    copy_fixture(original.path());
    let legacy_record = {
        let names =
            rocksdb::DB::list_cf(&rocksdb::Options::default(), original.path()).expect("families");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), original.path(), names)
            .expect("opens raw");
        db.get_cf(
            db.cf_handle("objects").expect("objects"),
            b"plain\0clear.txt",
        )
        .expect("reads")
        .expect("present")
    };
    {
        let names =
            rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).expect("families");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), names)
            .expect("opens raw");
        db.put_cf(
            db.cf_handle("objects").expect("objects"),
            b"docs\0planted.txt",
            &legacy_record,
        )
        .expect("plants");
    }
    let store = Store::open(dir.path(), StoreOptions::new(fixture_root())).expect("opens");
    match store.get_object("docs", "planted.txt") {
        Err(Error::Integrity(message)) => assert!(message.contains("docs/planted.txt")),
        other => panic!(
            "a planted old record was served: {:?}",
            other.map(|o| o.body)
        ),
    }
}
