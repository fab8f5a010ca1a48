//! Stores written by earlier versions open with this one. `store-v1` (made
//! with commit 9b7b3ef: key records with only their material sealed, object
//! records version 1, bucket records as plain JSON) and `store-v2` (made with
//! commit 3cc2063: plain JSON job records, an unsealed audit log, no recorded
//! KMS backend): every object reads back with its protection, key states and
//! aliases survive, jobs and uploads in progress go on, the old audit events
//! are anchored as unauthenticated with sealed ones after them, the backend is
//! recorded (another one is refused), and from then on an old-format record
//! planted from the old store is refused like any other edit.

use crate::common;

use std::path::Path;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_store::{Error, ProtectionMode, RootKey, Store, StoreOptions};

const FIXTURE: &str = "tests/fixtures/store-v1";
/// A store written at commit 3cc2063 (the version before sealed job records
/// and the chained audit log): root key 0x22 × 32; bucket `docs` (default
/// KMS) with `default.txt`, `managed.txt`, `big.bin` (2 MiB + 123, managed),
/// `cmk.txt` (under `alias/v2`); bucket `bkeys` (managed with a bucket key)
/// with `one.txt`; a multipart upload of `docs/parts.bin` with part 1 (300 000
/// bytes of 7); a rewrap job done and one paused; 12 audit events.
const FIXTURE_V2: &str = "tests/fixtures/store-v2";
const V2_UPLOAD: &str = "aa5a134b94e44bb80d76964c4be99599";
const V2_PART_ETAG: &str = "\"697b4d1ca6bbf3bb\"";
const V2_DONE_JOB: &str = "38e77ab33dd93126b79a8c7d8819fb5b";
const V2_PAUSED_JOB: &str = "be8862458a91e04e90990e2ee388917b";

fn fixture_root() -> RootKey {
    RootKey::from_bytes([0x11; 32])
}

/// A copy of the fixture, so that the repository's copy stays as it is.
fn copy_fixture(into: &Path) {
    copy_named(FIXTURE, into);
}

fn copy_named(fixture: &str, into: &Path) {
    let from =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join(fixture);
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

fn raw_db(path: &Path) -> rocksdb::DB {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).expect("families");
    rocksdb::DB::open_cf(&rocksdb::Options::default(), path, names).expect("opens raw")
}

#[test]
fn a_store_of_the_version_before_sealed_jobs_and_audit_opens_and_migrates() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_named(FIXTURE_V2, dir.path());
    let root = || RootKey::from_bytes([0x22; 32]);
    // Its wrapped keys are the local KMS's: another backend is refused, and
    // nothing is recorded.
    let other = StoreOptions::new(root()).with_kms(std::sync::Arc::new(
        common::WrappedKms::in_memory("transit"),
    ));
    match Store::open(dir.path(), other) {
        Err(Error::KmsMismatch { store, opened }) => {
            assert!(
                store.contains("local") && opened.contains("transit"),
                "{store} / {opened}"
            );
        }
        other => panic!("opened with another backend: {:?}", other.map(drop)),
    }
    for round in 0..2 {
        let store =
            Store::open(dir.path(), StoreOptions::new(root())).expect("the old store opens");
        let read = |bucket: &str, key: &str| store.get_object(bucket, key).expect("reads");
        assert_eq!(
            read("docs", "default.txt").body,
            Bytes::from_static(b"kms default v2")
        );
        assert_eq!(
            read("docs", "managed.txt").body,
            Bytes::from_static(b"managed v2")
        );
        assert_eq!(read("docs", "big.bin").body, big());
        assert_eq!(
            read("docs", "cmk.txt").body,
            Bytes::from_static(b"named cmk v2")
        );
        let bucket_key = read("bkeys", "one.txt");
        assert_eq!(bucket_key.body, Bytes::from_static(b"bucket key v2"));
        assert!(bucket_key.meta.protection.bucket_key);
        // The jobs were sealed: the done one stays done, the paused one runs.
        let done = store.job_status(V2_DONE_JOB).expect("the done job");
        assert_eq!(done.state, coffer_store::JobState::Done);
        if round == 0 {
            let paused = store.job_status(V2_PAUSED_JOB).expect("the paused job");
            assert_eq!(paused.state, coffer_store::JobState::Paused);
            store.resume_job(V2_PAUSED_JOB).expect("resumes");
            let ran = store
                .run_job(V2_PAUSED_JOB, coffer_store::JobLimits::none(), |_| {})
                .expect("runs");
            assert_eq!(ran.state, coffer_store::JobState::Done);
            // The upload in progress completes.
            let part = coffer_store::CompletedPart::new(1, V2_PART_ETAG);
            store
                .complete_multipart_upload(
                    "docs",
                    "parts.bin",
                    V2_UPLOAD,
                    &[part],
                    &coffer_store::PutCondition::None,
                )
                .expect("completes");
        }
        assert_eq!(
            read("docs", "parts.bin").body,
            Bytes::from(vec![7u8; 300_000])
        );
        // The old events are anchored as unauthenticated; the new ones are
        // sealed after them, and the log is whole.
        let report = store.verify_audit_log().expect("verifies");
        assert!(
            report.problems.is_empty(),
            "round {round}: {:?}",
            report.problems
        );
        assert_eq!(report.unauthenticated, 12);
        assert!(report.events > 0, "events since the upgrade are sealed");
        assert!(
            store
                .check_consistency()
                .expect("checks")
                .damaged_records
                .is_empty()
        );
        store.close().expect("closes");
    }

    // From now on an old-format job or audit event planted in the store is
    // refused by name, like any other edit.
    let original = tempfile::tempdir().expect("tempdir");
    copy_named(FIXTURE_V2, original.path());
    let (old_job, old_event) = {
        let db = raw_db(original.path());
        let job = db
            .get_cf(db.cf_handle("jobs").expect("jobs"), V2_PAUSED_JOB)
            .expect("reads")
            .expect("present");
        let event = db
            .iterator_cf(
                db.cf_handle("audit").expect("audit"),
                rocksdb::IteratorMode::Start,
            )
            .next()
            .expect("an event")
            .expect("reads");
        (job, event.1.to_vec())
    };
    {
        let db = raw_db(dir.path());
        db.put_cf(db.cf_handle("jobs").expect("jobs"), V2_PAUSED_JOB, &old_job)
            .expect("plants");
        let mut key = [0xFE; 16];
        key[8..].copy_from_slice(&9_999u64.to_be_bytes());
        db.put_cf(db.cf_handle("audit").expect("audit"), key, &old_event)
            .expect("plants");
    }
    let store = Store::open(dir.path(), StoreOptions::new(root())).expect("opens");
    match store.job_status(V2_PAUSED_JOB) {
        Err(Error::Integrity(message)) => assert!(message.contains(V2_PAUSED_JOB)),
        other => panic!("a planted old job record was read: {other:?}"),
    }
    let problems = store.verify_audit_log().expect("verifies").problems;
    assert!(
        problems.iter().any(|p| p.contains("planted")),
        "{problems:?}"
    );
}

#[test]
fn old_events_written_out_of_key_order_upgrade_whole() {
    // An earlier version took an event's time before its sequence: after a
    // clock stepped back, or with concurrent appends, the last key in order
    // was not the highest sequence.
    let dir = tempfile::tempdir().expect("tempdir");
    copy_named(FIXTURE_V2, dir.path());
    {
        let db = raw_db(dir.path());
        let audit = db.cf_handle("audit").expect("audit");
        let events: Vec<(Vec<u8>, Vec<u8>)> = db
            .iterator_cf(audit, rocksdb::IteratorMode::Start)
            .map(|item| {
                let (key, value) = item.expect("reads");
                (key.to_vec(), value.to_vec())
            })
            .collect();
        let last = events.len() - 1;
        let (mut a, mut b) = (events[last - 2].0.clone(), events[last].0.clone());
        let (sa, sb) = (a[8..].to_vec(), b[8..].to_vec());
        a[8..].copy_from_slice(&sb);
        b[8..].copy_from_slice(&sa);
        db.delete_cf(audit, &events[last - 2].0).expect("re-keys");
        db.delete_cf(audit, &events[last].0).expect("re-keys");
        db.put_cf(audit, &a, &events[last - 2].1).expect("re-keys");
        db.put_cf(audit, &b, &events[last].1).expect("re-keys");
    }
    let store = Store::open(
        dir.path(),
        StoreOptions::new(RootKey::from_bytes([0x22; 32])),
    )
    .expect("opens");
    let report = store.verify_audit_log().expect("verifies");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.unauthenticated, 12);
}
