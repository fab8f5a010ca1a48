//! Bucket keys: KMS calls per bucket and period instead of per object, each
//! object still with its own data key; the bounds (period, objects, cache TTL);
//! policies checked on every use; rewrap in proportion to bucket keys; crypto-
//! shredding after a CMK's deletion window; reopening; master-keyring bucket keys
//! with rotation, rewrap and retirement; a bucket key left behind by its
//! deleted bucket named by `verify`, holding nothing back, and removed when the
//! store opens.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use coffer_keyring::{AuditEvent, AuditOutcome, Caller, MemoryAuditSink};
use coffer_store::{
    BucketKeyOptions, EncryptionRule, Error, PolicyDocument, Principal, ProtectionMode, PutOptions,
    Store, StoreOptions,
};
use common::{ACCOUNT, Fixture, MIB, data};

const TRUSTED: Caller = Caller::Trusted;
const DAY: Duration = Duration::from_secs(86_400);
const MINUTE: Duration = Duration::from_secs(60);

struct Audited {
    f: Fixture,
    audit: MemoryAuditSink,
}

fn with(bucket_keys: BucketKeyOptions) -> Audited {
    let audit = MemoryAuditSink::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = coffer_keyring::ManualClock::new(
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000),
    );
    let store = Store::open(dir.path(), options(&clock, &audit, bucket_keys)).expect("opens");
    Audited {
        f: Fixture { dir, clock, store },
        audit,
    }
}

fn options(
    clock: &coffer_keyring::ManualClock,
    audit: &MemoryAuditSink,
    bucket_keys: BucketKeyOptions,
) -> StoreOptions {
    common::options(clock)
        .with_audit(Arc::new(audit.clone()))
        .with_bucket_keys(bucket_keys)
}

fn count(events: &[AuditEvent], action: &str) -> usize {
    events
        .iter()
        .filter(|e| e.action == action && e.outcome == AuditOutcome::Allowed)
        .count()
}

/// A customer CMK and a bucket whose default rule is KMS under it with bucket keys.
fn kms_bucket(store: &Store, bucket: &str) -> String {
    let cmk = store
        .kms()
        .create_key(Default::default(), &TRUSTED)
        .expect("cmk")
        .key_id;
    store.create_bucket(bucket).expect("bucket");
    store
        .put_bucket_encryption(
            bucket,
            EncryptionRule::kms(Some(&cmk)).with_bucket_key(true),
        )
        .expect("rule");
    cmk
}

#[test]
fn one_kms_call_serves_many_objects_each_with_its_own_key() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    let cmk = kms_bucket(s, "bkt");
    let before = s.kms().requests();
    for i in 0..200u32 {
        let put = s
            .put_object(
                "bkt",
                &format!("k{i}"),
                data(4096, i as u8),
                PutOptions::default(),
            )
            .expect("put");
        assert!(put.protection.bucket_key);
        assert_eq!(put.protection.kms_key_id.as_deref(), Some(cmk.as_str()));
    }
    s.put_object("bkt", "big", data(3 * MIB + 5, 9), PutOptions::default())
        .expect("a segmented put");
    let events = a.audit.events();
    assert_eq!(count(&events, "kms:GenerateDataKey"), 1, "one bucket key");
    assert!(
        s.kms().requests() - before <= 3,
        "{} KMS operations for 201 puts",
        s.kms().requests() - before
    );
    let mut keys = HashSet::new();
    for i in 0..200u32 {
        let object = s.get_object("bkt", &format!("k{i}")).expect("get");
        assert_eq!(object.body, data(4096, i as u8));
        assert_eq!(object.meta.protection.mode, ProtectionMode::Kms);
        assert!(object.meta.protection.bucket_key);
        assert_eq!(object.meta.protection.key_version, Some(1));
        let key = coffer_store::test_util::data_key_bytes(s, "bkt", &format!("k{i}"))
            .expect("key")
            .expect("encrypted");
        assert!(keys.insert(key), "two objects share a data key");
    }
    assert_eq!(
        s.get_object("bkt", "big").expect("get").body,
        data(3 * MIB + 5, 9)
    );
    assert_eq!(
        count(&a.audit.events(), "kms:Decrypt"),
        0,
        "reads within the TTL need no KMS call"
    );
    // The same bytes under another key are another ciphertext.
    let range = s
        .get_object_range("bkt", "big", MIB as u64..MIB as u64 + 10)
        .expect("range");
    assert_eq!(range.body, data(3 * MIB + 5, 9).slice(MIB..MIB + 10));
}

#[test]
fn a_put_may_ask_for_a_bucket_key_itself() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    s.create_bucket("plain").expect("bucket");
    let rule = EncryptionRule::kms(None).with_bucket_key(true);
    for i in 0..5 {
        let put = s
            .put_object(
                "plain",
                &format!("k{i}"),
                data(100, i),
                PutOptions::default().with_encryption(Some(rule.clone())),
            )
            .expect("put");
        assert!(put.protection.bucket_key);
    }
    let per_object = s
        .put_object("plain", "own", data(100, 9), PutOptions::kms(None))
        .expect("put");
    assert!(!per_object.protection.bucket_key);
    // The default managed key was created once, and one bucket key made.
    assert_eq!(count(&a.audit.events(), "kms:GenerateDataKey"), 2);
}

#[test]
fn a_bucket_key_serves_its_period_and_its_objects_only() {
    let a = with(
        BucketKeyOptions::default()
            .with_max_objects(3)
            .with_period(10 * MINUTE),
    );
    let s = &a.f.store;
    kms_bucket(s, "bkt");
    for i in 0..10 {
        s.put_object("bkt", &format!("k{i}"), data(10, i), PutOptions::default())
            .expect("put");
    }
    assert_eq!(
        count(&a.audit.events(), "kms:GenerateDataKey"),
        4,
        "3 objects each"
    );
    let b = with(BucketKeyOptions::default().with_period(10 * MINUTE));
    let s = &b.f.store;
    kms_bucket(s, "bkt");
    s.put_object("bkt", "a", data(10, 1), PutOptions::default())
        .expect("put");
    b.f.clock.advance(9 * MINUTE);
    s.put_object("bkt", "b", data(10, 2), PutOptions::default())
        .expect("put");
    assert_eq!(count(&b.audit.events(), "kms:GenerateDataKey"), 1);
    b.f.clock.advance(2 * MINUTE);
    s.put_object("bkt", "c", data(10, 3), PutOptions::default())
        .expect("put");
    assert_eq!(
        count(&b.audit.events(), "kms:GenerateDataKey"),
        2,
        "a new bucket key after the period"
    );
    for key in ["a", "b", "c"] {
        s.get_object("bkt", key).expect("readable");
    }
}

#[test]
fn a_cmk_the_store_disables_stops_its_bucket_keys_at_once() {
    let a = with(BucketKeyOptions::default().with_cache_ttl(5 * MINUTE));
    let s = &a.f.store;
    for (change, bucket) in [("disable", "disabled"), ("schedule", "scheduled")] {
        let cmk = kms_bucket(s, bucket);
        s.put_object(bucket, "k", data(4096, 1), PutOptions::default())
            .expect("put");
        s.get_object(bucket, "k")
            .expect("reads: the bucket key is kept");
        match change {
            "disable" => s.kms().disable_key(&cmk, &TRUSTED).expect("disable"),
            _ => drop(
                s.kms()
                    .schedule_key_deletion(&cmk, 7, &TRUSTED)
                    .expect("schedule"),
            ),
        }
        // No TTL to wait out: the store made the change, so it forgot the key.
        assert!(
            matches!(
                s.get_object(bucket, "k"),
                Err(Error::KeyDisabled(_) | Error::KeyPendingDeletion(_))
            ),
            "{change}"
        );
        assert!(
            matches!(
                s.put_object(bucket, "k2", data(10, 2), PutOptions::default()),
                Err(Error::KeyDisabled(_) | Error::KeyPendingDeletion(_))
            ),
            "{change}"
        );
        assert!(
            s.head_object(bucket, "k2").is_err(),
            "the refused put stored nothing"
        );
    }
}

#[test]
fn a_cmk_disabled_behind_the_stores_back_takes_effect_within_the_ttl() {
    let a = with(BucketKeyOptions::default().with_cache_ttl(5 * MINUTE));
    let s = &a.f.store;
    let cmk = kms_bucket(s, "bkt");
    s.put_object("bkt", "k", data(4096, 1), PutOptions::default())
        .expect("put");
    // Changed at the KMS itself (as an operator of an external KMS would),
    // not through the store's layer.
    coffer_keyring::KeyAdministration::disable_key(
        s.local_kms().expect("the local KMS").as_ref(),
        &cmk,
    )
    .expect("disable");
    // Within the TTL the kept bucket key still serves: the documented trade-off.
    s.get_object("bkt", "k").expect("read within the TTL");
    s.put_object("bkt", "k2", data(10, 2), PutOptions::default())
        .expect("put within the TTL");
    a.f.clock.advance(5 * MINUTE + Duration::from_secs(1));
    assert!(matches!(
        s.get_object("bkt", "k"),
        Err(Error::KeyDisabled(_))
    ));
    assert!(matches!(
        s.put_object("bkt", "k3", data(10, 3), PutOptions::default()),
        Err(Error::KeyDisabled(_))
    ));
    assert!(
        s.head_object("bkt", "k3").is_err(),
        "the refused put stored nothing"
    );
    s.kms().enable_key(&cmk, &TRUSTED).expect("enable");
    s.get_object("bkt", "k").expect("readable once enabled");
    s.get_object("bkt", "k2").expect("readable once enabled");
}

#[test]
fn session_policies_are_checked_on_every_use_of_a_kept_key() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    let cmk = kms_bucket(s, "bkt");
    s.put_object("bkt", "k", data(4096, 1), PutOptions::default())
        .expect("put keeps the bucket key");
    let policy = |actions: &str| {
        PolicyDocument::parse(&format!(
            r#"{{"Version":"1","Statement":[
                {{"Effect":"Allow","Action":["oss:GetObject","oss:PutObject"],"Resource":["acs:oss:*:{ACCOUNT}:bkt/*"]}},
                {{"Effect":"Allow","Action":[{actions}],"Resource":["acs:kms:*:{ACCOUNT}:key/{cmk}"]}}]}}"#
        ))
        .expect("policy")
    };
    let session = |name: &str, actions: &str| {
        s.session(Principal::new(name, ACCOUNT).with_policy(policy(actions)))
    };
    let no_decrypt = session("writer", r#""kms:DescribeKey","kms:GenerateDataKey""#);
    let no_generate = session("reader", r#""kms:DescribeKey","kms:Decrypt""#);
    assert!(matches!(
        no_decrypt.get_object("bkt", "k"),
        Err(Error::AccessDenied { action, .. }) if action == "kms:Decrypt"
    ));
    no_generate.get_object("bkt", "k").expect("reader reads");
    assert!(matches!(
        no_generate.put_object("bkt", "n", data(10, 1), PutOptions::default()),
        Err(Error::AccessDenied { action, .. }) if action == "kms:GenerateDataKey"
    ));
    no_decrypt
        .put_object("bkt", "n", data(10, 2), PutOptions::default())
        .expect("writer writes");
    let no_describe = session("blind", r#""kms:GenerateDataKey","kms:Decrypt""#);
    assert!(matches!(
        no_describe.put_object("bkt", "m", data(10, 3), PutOptions::default()),
        Err(Error::AccessDenied { action, .. }) if action == "kms:DescribeKey"
    ));
    let denied = a
        .audit
        .events()
        .into_iter()
        .filter(|e| e.outcome == AuditOutcome::Denied)
        .count();
    assert!(denied >= 3, "denials of kept keys are audited");
}

#[test]
fn rewrap_moves_bucket_keys_not_objects() {
    let a = with(BucketKeyOptions::default().with_max_objects(50));
    let s = &a.f.store;
    let cmk = kms_bucket(s, "bkt");
    for i in 0..120u32 {
        s.put_object(
            "bkt",
            &format!("k{i}"),
            data(64, i as u8),
            PutOptions::default(),
        )
        .expect("put");
    }
    assert_eq!(count(&a.audit.events(), "kms:GenerateDataKey"), 3);
    let v2 = s.kms().rotate_key(&cmk, &TRUSTED).expect("rotate");
    let objects_before = coffer_store::test_util::raw_family(s, "objects").expect("scan");
    let events_before = a.audit.events().len();
    assert_eq!(
        s.rewrap_bucket("bkt").expect("rewrap"),
        3,
        "three bucket keys"
    );
    let rewrap_events = &a.audit.events()[events_before..];
    assert_eq!(
        count(rewrap_events, "kms:Decrypt"),
        3,
        "one unwrap per bucket key, not per object"
    );
    assert_eq!(
        coffer_store::test_util::raw_family(s, "objects").expect("scan"),
        objects_before,
        "no object record changed"
    );
    for i in 0..120u32 {
        let object = s.get_object("bkt", &format!("k{i}")).expect("get");
        assert_eq!(object.body, data(64, i as u8));
        assert_eq!(object.meta.protection.key_version, Some(v2));
    }
    assert_eq!(s.rewrap_bucket("bkt").expect("rewrap again"), 0);
}

#[test]
fn a_rewrap_job_moves_bucket_keys_too() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    let cmk = kms_bucket(s, "bkt");
    for i in 0..5u32 {
        s.put_object(
            "bkt",
            &format!("k{i}"),
            data(64, i as u8),
            PutOptions::default(),
        )
        .expect("put");
    }
    let v2 = s.kms().rotate_key(&cmk, &TRUSTED).expect("rotate");
    let id = s
        .create_job("bkt", coffer_store::JobKind::Rewrap)
        .expect("job");
    let status = s
        .run_job(&id, coffer_store::JobLimits::none(), |_| {})
        .expect("runs");
    assert_eq!(status.state, coffer_store::JobState::Done);
    for i in 0..5u32 {
        let object = s.get_object("bkt", &format!("k{i}")).expect("get");
        assert_eq!(object.body, data(64, i as u8));
        assert_eq!(
            object.meta.protection.key_version,
            Some(v2),
            "the job rewrapped the bucket key the objects derive from"
        );
    }
    assert_eq!(
        s.rewrap_bucket("bkt").expect("rewrap"),
        0,
        "nothing left to move"
    );
}

#[test]
fn crypto_shredding_holds_for_bucket_key_objects() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    let cmk = kms_bucket(s, "bkt");
    s.put_object("bkt", "small", data(4096, 1), PutOptions::default())
        .expect("put");
    s.put_object("bkt", "large", data(2 * MIB, 2), PutOptions::default())
        .expect("put");
    s.get_object("bkt", "small").expect("readable");
    s.kms()
        .schedule_key_deletion(&cmk, 7, &TRUSTED)
        .expect("schedule");
    a.f.clock.advance(7 * DAY + Duration::from_secs(1));
    for key in ["small", "large"] {
        assert!(
            matches!(s.get_object("bkt", key), Err(Error::KeyDestroyed(_))),
            "{key}"
        );
        assert!(matches!(
            s.open_object("bkt", key),
            Err(Error::KeyDestroyed(_))
        ));
    }
    let dir = a.f.dir.path().to_owned();
    s.close().expect("close");
    let reopened = Store::open(
        &dir,
        options(&a.f.clock, &a.audit, BucketKeyOptions::default()),
    )
    .expect("reopens");
    assert!(matches!(
        reopened.get_object("bkt", "small"),
        Err(Error::KeyDestroyed(_))
    ));
}

#[test]
fn bucket_keys_outlive_the_process_and_new_processes_make_their_own() {
    let a = with(BucketKeyOptions::default());
    let cmk = kms_bucket(&a.f.store, "bkt");
    a.f.store
        .put_object("bkt", "k", data(70_000, 1), PutOptions::default())
        .expect("put");
    let dir = a.f.dir.path().to_owned();
    a.f.store.close().expect("close");
    let audit = MemoryAuditSink::new();
    let s = Store::open(
        &dir,
        options(&a.f.clock, &audit, BucketKeyOptions::default()),
    )
    .expect("reopens");
    let object = s.get_object("bkt", "k").expect("get");
    assert_eq!(object.body, data(70_000, 1));
    assert!(object.meta.protection.bucket_key);
    assert_eq!(
        object.meta.protection.kms_key_id.as_deref(),
        Some(cmk.as_str())
    );
    assert_eq!(count(&audit.events(), "kms:Decrypt"), 1, "unwrapped once");
    s.get_object("bkt", "k").expect("get again");
    assert_eq!(count(&audit.events(), "kms:Decrypt"), 1, "then kept");
    s.put_object("bkt", "k2", data(10, 2), PutOptions::default())
        .expect("put");
    assert_eq!(count(&audit.events(), "kms:GenerateDataKey"), 1);
    assert_eq!(
        coffer_store::test_util::raw_family(&s, "bucket_keys")
            .expect("scan")
            .len(),
        2
    );
}

#[test]
fn master_keyring_bucket_keys_rotate_rewrap_and_retire() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_bucket_encryption("bkt", EncryptionRule::managed().with_bucket_key(true))
        .expect("rule");
    for i in 0..20u32 {
        let put = s
            .put_object(
                "bkt",
                &format!("k{i}"),
                data(300, i as u8),
                PutOptions::default(),
            )
            .expect("put");
        assert_eq!(put.protection.mode, ProtectionMode::Aes256);
        assert!(put.protection.bucket_key);
        assert_eq!(put.protection.key_version, Some(1));
    }
    assert_eq!(
        coffer_store::test_util::raw_family(s, "bucket_keys")
            .expect("scan")
            .len(),
        1
    );
    let v2 = s.rotate_master_key().expect("rotate");
    assert_eq!(
        s.retire_unused_master_keys().expect("retire"),
        1,
        "the bucket key still needs version 1"
    );
    assert_eq!(s.rewrap_bucket("bkt").expect("rewrap"), 1);
    assert_eq!(s.retire_unused_master_keys().expect("retire"), v2);
    for i in 0..20u32 {
        let object = s.get_object("bkt", &format!("k{i}")).expect("get");
        assert_eq!(object.body, data(300, i as u8));
        assert_eq!(object.meta.protection.key_version, Some(v2));
    }
    assert_eq!(
        s.head_object("bkt", "k0")
            .expect("head")
            .protection
            .key_version,
        Some(v2)
    );
}

#[test]
fn deleting_a_bucket_deletes_its_bucket_keys() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    kms_bucket(s, "bkt");
    s.put_object("bkt", "k", data(10, 1), PutOptions::default())
        .expect("put");
    s.delete_object("bkt", "k").expect("delete");
    s.delete_bucket("bkt").expect("delete bucket");
    assert!(
        coffer_store::test_util::raw_family(s, "bucket_keys")
            .expect("scan")
            .is_empty()
    );
    // A bucket of the same name starts with a bucket key of its own.
    kms_bucket(s, "bkt");
    s.put_object("bkt", "k", data(10, 2), PutOptions::default())
        .expect("put");
    assert_eq!(s.get_object("bkt", "k").expect("get").body, data(10, 2));
    assert_eq!(
        coffer_store::test_util::raw_family(s, "bucket_keys")
            .expect("scan")
            .len(),
        1
    );
}

#[test]
fn a_bucket_key_of_a_deleted_bucket_is_named_holds_nothing_back_and_goes_at_open() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_bucket_encryption("bkt", EncryptionRule::managed().with_bucket_key(true))
        .expect("rule");
    s.put_object("bkt", "k", data(10, 1), PutOptions::default())
        .expect("put");
    let left = coffer_store::test_util::raw_family(s, "bucket_keys").expect("scan");
    assert_eq!(left.len(), 1);
    s.delete_object("bkt", "k").expect("delete");
    s.delete_bucket("bkt").expect("delete bucket");
    // What a put making a bucket key while the bucket was deleted left
    // behind, before such writes went under the bucket gate.
    let (key, value) = &left[0];
    coffer_store::test_util::raw_put(s, "bucket_keys", key, value).expect("plants");
    let report = s.verify(None, |_| {}).expect("verifies");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(
        report.problems[0].kind,
        coffer_store::ProblemKind::OrphanBucketKey
    );
    assert_eq!(report.problems[0].bucket, "bkt");
    s.rotate_master_key().expect("rotates");
    assert_eq!(
        s.retire_unused_master_keys().expect("retires"),
        2,
        "the orphan holds nothing back"
    );
    let dir = a.f.dir.path().to_owned();
    s.close().expect("closes");
    let s = Store::open(
        &dir,
        options(&a.f.clock, &a.audit, BucketKeyOptions::default()),
    )
    .expect("reopens");
    assert!(
        coffer_store::test_util::raw_family(&s, "bucket_keys")
            .expect("scan")
            .is_empty(),
        "removed when the store opened"
    );
    assert!(s.verify(None, |_| {}).expect("verifies").is_clean());
}

#[test]
fn a_lost_bucket_record_does_not_take_its_objects_keys_with_it() {
    let a = with(BucketKeyOptions::default());
    let s = &a.f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_bucket_encryption("bkt", EncryptionRule::managed().with_bucket_key(true))
        .expect("rule");
    s.put_object("bkt", "k", data(10, 1), PutOptions::default())
        .expect("put");
    let record = coffer_store::test_util::raw_family(s, "buckets").expect("scan");
    let dir = a.f.dir.path().to_owned();
    s.close().expect("closes");
    {
        let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), &dir).expect("families");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &dir, names).expect("raw");
        db.delete_cf(db.cf_handle("buckets").expect("buckets"), b"bkt")
            .expect("loses the bucket record");
    }
    {
        let s = Store::open(
            &dir,
            options(&a.f.clock, &a.audit, BucketKeyOptions::default()),
        )
        .expect("opens");
        assert_eq!(
            coffer_store::test_util::raw_family(&s, "bucket_keys")
                .expect("scan")
                .len(),
            1,
            "the bucket key of a bucket that still holds objects stays"
        );
        s.rotate_master_key().expect("rotates");
        assert_eq!(
            s.retire_unused_master_keys().expect("retires"),
            1,
            "and holds its version"
        );
        coffer_store::test_util::raw_put(&s, "buckets", &record[0].0, &record[0].1)
            .expect("restores the record");
        s.close().expect("closes");
    }
    let s = Store::open(
        &dir,
        options(&a.f.clock, &a.audit, BucketKeyOptions::default()),
    )
    .expect("opens");
    assert_eq!(s.get_object("bkt", "k").expect("reads").body, data(10, 1));
}
