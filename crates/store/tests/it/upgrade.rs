//! Stores written by earlier versions open with this one. `store-v1` (made
//! with commit 9b7b3ef: key records with only their material sealed, object
//! records version 1, bucket records as plain JSON) and `store-v2` (made with
//! commit 3cc2063: plain JSON job records, an unsealed audit log, no recorded
//! KMS backend): every object reads back with its protection, key states and
//! aliases survive, jobs and uploads in progress go on, the old audit events
//! are anchored as unauthenticated with sealed ones after them, the backend is
//! recorded (another one is refused), and from then on an old-format record
//! planted from the old store is refused like any other edit. `store-v3`
//! (made with commit 76d4d1a by `examples/make_store_fixture.rs`: sealed job
//! records, the chained audit log) opens as it was written and goes on.

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
/// A store written at commit 76d4d1a by `examples/make_store_fixture.rs`
/// (sealed job records, the chained audit log): root key 0x33 × 32, a clock
/// stopped at 2026-12-03 12:00:00 UTC (`V3_START_MS`) and moved a second per
/// step; bucket `docs` (default KMS) with `default.txt` (the default CMK),
/// `managed.txt` (AES256, every attribute, metadata `owner`, `team`),
/// `big.bin` (1 MiB + 123, AES256: two segments), `cmk.txt` (`alias/v3`,
/// material 1), and after the master key and the CMK rotated
/// `managed-v2.txt` (master key 2) and `cmk-v2.txt` (material 2); bucket
/// `bkeys` (KMS `alias/v3` with bucket keys) with `one.txt` and `two.txt`
/// (one bucket key, material 1); bucket `plain` (no rule) with `clear.txt`;
/// a multipart upload of `docs/parts.bin` with part 1 (100 000 bytes of 7); a
/// rewrap job of `bkeys` done and a re-encryption of `plain` to AES256
/// paused; 19 audit events, sealed and chained.
const FIXTURE_V3: &str = "tests/fixtures/store-v3";
const V3_START_MS: u64 = 1_796_299_200_000;
const V3_STORE_ID: &str = "9957c2ba69e15c4d5a9d2040bd0c8297";
const V3_DEFAULT_CMK: &str = "8299cafe-4bae-47d8-b184-e4c2e82d31aa";
const V3_CMK: &str = "0aaf7e61-1e88-4dc2-9f8f-21a1ff0dadfa";
const V3_UPLOAD: &str = "e8b00d818a2a2d9fd735a8480d427e08";
const V3_PART_ETAG: &str = "\"ea9d3a7aa1591bfa\"";
const V3_DONE_JOB: &str = "67e63ce83b1cb5204978f3ff4231015b";
const V3_PAUSED_JOB: &str = "4fd33176098e93dd703c6812b160d9d3";
const V3_EVENTS: u64 = 19;

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
        // Its upload was created at 2026-12-03 09:27 UTC by the system clock:
        // the default expiry (7 days) would sweep it on open from a week later.
        let store = Store::open(
            dir.path(),
            StoreOptions::new(root()).with_multipart_expiry(None),
        )
        .expect("the old store opens");
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

/// The options store-v3 opens with: its upload was created at the fixture's
/// clock, so the default expiry (7 days) would sweep it a week after that.
fn v3_options() -> StoreOptions {
    StoreOptions::new(RootKey::from_bytes([0x33; 32])).with_multipart_expiry(None)
}

fn v3_big() -> Vec<u8> {
    (0..(1024 * 1024 + 123)).map(|i| (i % 251) as u8).collect()
}

/// An object of store-v3: where, its body, and its protection.
struct V3Object {
    bucket: &'static str,
    key: &'static str,
    body: Vec<u8>,
    mode: ProtectionMode,
    cmk: Option<&'static str>,
    version: Option<u32>,
    bucket_key: bool,
}

/// Every object of store-v3.
#[rustfmt::skip] // a table
fn v3_objects() -> Vec<V3Object> {
    use ProtectionMode::{Aes256, Kms};
    let object = |bucket, key, body: &[u8], mode, cmk, version, bucket_key| V3Object {
        bucket, key, body: body.to_vec(), mode, cmk, version, bucket_key,
    };
    let (default, cmk) = (Some(V3_DEFAULT_CMK), Some(V3_CMK));
    vec![
        object("docs", "default.txt", b"kms default v3", Kms, default, Some(1), false),
        object("docs", "managed.txt", b"managed v3", Aes256, None, Some(1), false),
        object("docs", "big.bin", &v3_big(), Aes256, None, Some(1), false),
        object("docs", "cmk.txt", b"named cmk v3", Kms, cmk, Some(1), false),
        object("docs", "managed-v2.txt", b"managed after rotation", Aes256, None, Some(2), false),
        object("docs", "cmk-v2.txt", b"named cmk after rotation", Kms, cmk, Some(2), false),
        object("bkeys", "one.txt", b"bucket key v3", Kms, cmk, Some(1), true),
        object("bkeys", "two.txt", b"bucket key v3 again", Kms, cmk, Some(1), true),
        object("plain", "clear.txt", b"unencrypted v3", ProtectionMode::None, None, None, false),
    ]
}

#[test]
fn a_store_of_this_version_opens_as_it_was_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_named(FIXTURE_V3, dir.path());
    match Store::open(
        dir.path(),
        StoreOptions::new(RootKey::from_bytes([0x34; 32])),
    ) {
        Err(Error::WrongRootKey) => {}
        other => panic!("a wrong root key opened store-v3: {:?}", other.map(drop)),
    }
    let store = Store::open(dir.path(), v3_options()).expect("store-v3 opens");
    assert_eq!(hex::encode(store.id()), V3_STORE_ID);
    // Before anything else is logged: the log is whole, every event sealed.
    let audit = store.verify_audit_log().expect("verifies");
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    assert_eq!((audit.events, audit.unauthenticated), (V3_EVENTS, 0));

    for expected in v3_objects() {
        let (bucket, key) = (expected.bucket, expected.key);
        let object = store.get_object(bucket, key).expect("reads");
        assert!(object.body == expected.body, "{bucket}/{key}: its body");
        let protection = &object.meta.protection;
        assert_eq!(protection.mode, expected.mode, "{bucket}/{key}");
        assert_eq!(
            protection.kms_key_id.as_deref(),
            expected.cmk,
            "{bucket}/{key}"
        );
        assert_eq!(protection.key_version, expected.version, "{bucket}/{key}");
        assert_eq!(protection.bucket_key, expected.bucket_key, "{bucket}/{key}");
    }
    let managed = store.head_object("docs", "managed.txt").expect("heads");
    let attributes = &managed.attributes;
    assert_eq!(attributes.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        attributes.content_disposition.as_deref(),
        Some("attachment; filename=\"managed.txt\"")
    );
    assert_eq!(attributes.content_encoding.as_deref(), Some("identity"));
    assert_eq!(attributes.content_language.as_deref(), Some("en"));
    assert_eq!(attributes.cache_control.as_deref(), Some("no-cache"));
    let metadata: Vec<_> = managed
        .user_metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(metadata, [("owner", "ops"), ("team", "storage")]);
    assert_eq!(
        managed.last_modified,
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(V3_START_MS + 2_000)
    );

    // Keys, aliases and rules as they were.
    let kms = store.kms();
    let alias = kms
        .describe_key("alias/v3", &Caller::Trusted)
        .expect("alias");
    assert_eq!(alias.key_id, V3_CMK);
    assert_eq!(
        kms.describe_key(coffer_keyring::DEFAULT_MANAGED_ALIAS, &Caller::Trusted)
            .expect("the default CMK")
            .key_id,
        V3_DEFAULT_CMK
    );
    assert_eq!(store.master_keys().current_version(), 2);
    assert_eq!(
        store.get_bucket_encryption("docs").expect("rule"),
        coffer_store::EncryptionRule::kms(None)
    );
    assert_eq!(
        store.get_bucket_encryption("bkeys").expect("rule"),
        coffer_store::EncryptionRule::kms(Some("alias/v3")).with_bucket_key(true)
    );
    assert!(matches!(
        store.get_bucket_encryption("plain"),
        Err(Error::NoSuchEncryptionRule(_))
    ));

    // The jobs' records open, as they were left.
    let jobs = store.list_jobs().expect("lists jobs");
    assert_eq!(jobs.len(), 2);
    let done = store.job_status(V3_DONE_JOB).expect("the done job");
    assert_eq!(
        (&done.bucket[..], &done.kind, done.state),
        (
            "bkeys",
            &coffer_store::JobKind::Rewrap,
            coffer_store::JobState::Done
        )
    );
    assert_eq!((done.done, done.skipped, done.failed), (0, 2, 0));
    let paused = store.job_status(V3_PAUSED_JOB).expect("the paused job");
    assert_eq!(
        (&paused.bucket[..], paused.state, paused.last_key.as_deref()),
        ("plain", coffer_store::JobState::Paused, None)
    );
    assert_eq!(
        paused.kind,
        coffer_store::JobKind::Reencrypt {
            sse: "AES256".into(),
            kms_key_id: None
        }
    );
    assert_eq!(paused.created_ms, done.created_ms + 1_000);

    // The upload in progress is there, with its part.
    let uploads = store.list_multipart_uploads("docs").expect("lists uploads");
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        (&uploads[0].upload_id[..], &uploads[0].key[..]),
        (V3_UPLOAD, "parts.bin")
    );
    let report = store.check_consistency().expect("checks");
    assert!(report.damaged_records.is_empty(), "{report:?}");
    assert!(report.orphan_segment_objects.is_empty() && report.missing_segments.is_empty());
}

#[test]
fn a_store_of_this_version_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_named(FIXTURE_V3, dir.path());
    for round in 0..2 {
        let store = Store::open(dir.path(), v3_options()).expect("store-v3 opens");
        if round == 0 {
            // The upload completes with the part uploaded before.
            store
                .complete_multipart_upload(
                    "docs",
                    "parts.bin",
                    V3_UPLOAD,
                    &[coffer_store::CompletedPart::new(1, V3_PART_ETAG)],
                    &coffer_store::PutCondition::None,
                )
                .expect("completes");
            // The paused job resumes and runs to the end.
            store.resume_job(V3_PAUSED_JOB).expect("resumes");
            let ran = store
                .run_job(V3_PAUSED_JOB, coffer_store::JobLimits::none(), |_| {})
                .expect("runs");
            assert_eq!(ran.state, coffer_store::JobState::Done);
            assert_eq!(ran.done, 1);
        }
        let parts = store.get_object("docs", "parts.bin").expect("reads");
        assert_eq!(parts.body, Bytes::from(vec![7u8; 100_000]));
        assert_eq!(parts.meta.protection.mode, ProtectionMode::Kms);
        assert_eq!(
            parts.meta.protection.kms_key_id.as_deref(),
            Some(V3_DEFAULT_CMK)
        );
        let clear = store.get_object("plain", "clear.txt").expect("reads");
        assert_eq!(clear.body, Bytes::from_static(b"unencrypted v3"));
        assert_eq!(clear.meta.protection.mode, ProtectionMode::Aes256);
        assert!(
            store
                .list_multipart_uploads("docs")
                .expect("lists")
                .is_empty()
        );
        for expected in v3_objects().iter().filter(|o| o.bucket != "plain") {
            let object = store
                .get_object(expected.bucket, expected.key)
                .expect("reads");
            assert!(
                object.body == expected.body,
                "{}/{}",
                expected.bucket,
                expected.key
            );
        }
        // The events since are chained after the fixture's.
        let audit = store.verify_audit_log().expect("verifies");
        assert!(
            audit.problems.is_empty(),
            "round {round}: {:?}",
            audit.problems
        );
        assert_eq!(audit.unauthenticated, 0);
        assert!(audit.events > V3_EVENTS, "round {round}: {}", audit.events);
        assert!(
            store
                .check_consistency()
                .expect("checks")
                .damaged_records
                .is_empty()
        );
        store.close().expect("closes");
    }
}
