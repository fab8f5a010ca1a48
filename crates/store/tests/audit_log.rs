//! The persisted audit log: what is recorded (KMS data-plane calls with the
//! key, version, bucket and object key; KMS administration; the store's own
//! policy denials; master key administration), that nothing secret is, that it
//! survives a reopen, its queries, its retention, and that an operation whose
//! record cannot be written fails without using a key or changing anything.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_keyring::{AuditEvent, AuditOutcome, AuditSink, AuditWriteError, Caller, Clock};
use coffer_store::test_util::{data_key_bytes, fail_audit_appends, key_material, raw_family};
use coffer_store::{
    AuditOutcomeKind, AuditQuery, AuditRetention, EncryptionRule, Error, PolicyDocument, Principal,
    PutOptions, Session, Store,
};
use common::{ACCOUNT, data, fixture, options};

const TRUSTED: Caller = Caller::Trusted;

fn cmk(store: &Store) -> String {
    store
        .kms()
        .create_key(Default::default(), &TRUSTED)
        .expect("cmk")
        .key_id
}

/// A KMS bucket under a fresh CMK.
fn kms_bucket(store: &Store, bucket: &str) -> String {
    let id = cmk(store);
    store.create_bucket(bucket).expect("bucket");
    store
        .put_bucket_encryption(bucket, EncryptionRule::kms(Some(&id)))
        .expect("rule");
    id
}

/// A principal who may read and write objects of `bucket` and use `cmk`.
fn alice(store: &Store, bucket: &str, cmk: &str) -> Session {
    let policy = PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Action":["oss:GetObject","oss:PutObject"],"Resource":["acs:oss:*:{ACCOUNT}:{bucket}/*"]}},
            {{"Effect":"Allow","Action":["kms:DescribeKey","kms:GenerateDataKey","kms:Decrypt"],"Resource":["acs:kms:*:{ACCOUNT}:key/{cmk}"]}}]}}"#
    ))
    .expect("policy");
    store.session(Principal::new("alice", ACCOUNT).with_policy(policy))
}

/// A principal who may only read `bucket`'s objects (not use its CMK).
fn bob(store: &Store, bucket: &str) -> Session {
    let policy = PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Action":["oss:GetObject"],"Resource":["acs:oss:*:{ACCOUNT}:{bucket}/*"]}}]}}"#
    ))
    .expect("policy");
    store.session(Principal::new("bob", ACCOUNT).with_policy(policy))
}

fn all(store: &Store) -> Vec<AuditEvent> {
    store.audit_events(&AuditQuery::new()).expect("query")
}

fn find<'a>(events: &'a [AuditEvent], caller: &str, action: &str) -> Vec<&'a AuditEvent> {
    events
        .iter()
        .filter(|e| e.caller == caller && e.action == action)
        .collect()
}

#[test]
fn key_uses_are_recorded_with_key_version_bucket_and_object() {
    let f = fixture();
    let s = &f.store;
    let id = kms_bucket(s, "bkt");
    let alice = alice(s, "bkt", &id);
    alice
        .put_object("bkt", "docs/a.txt", data(4096, 1), PutOptions::default())
        .expect("put");
    alice.get_object("bkt", "docs/a.txt").expect("get");
    let events = all(s);
    let generate = find(&events, "alice", "kms:GenerateDataKey");
    let decrypt = find(&events, "alice", "kms:Decrypt");
    assert_eq!((generate.len(), decrypt.len()), (1, 1), "{events:#?}");
    for event in [generate[0], decrypt[0]] {
        assert_eq!(event.source, "local");
        assert_eq!(event.key_id.as_deref(), Some(id.as_str()));
        assert_eq!(event.key_version, Some(1));
        assert_eq!(event.bucket.as_deref(), Some("bkt"));
        assert_eq!(event.object_key.as_deref(), Some("docs/a.txt"));
        assert_eq!(
            event.resource.as_deref(),
            Some(s.kms().resource_name(&id).as_str())
        );
        assert_eq!(event.outcome, AuditOutcome::Allowed);
        assert!(
            event
                .context
                .as_deref()
                .expect("present")
                .contains("bucket=bkt")
        );
    }
    // A rotation is recorded with the new version, and later keys name it.
    assert_eq!(s.kms().rotate_key(&id, &TRUSTED).expect("rotate"), 2);
    alice
        .put_object("bkt", "docs/b.txt", data(10, 2), PutOptions::default())
        .expect("put");
    let events = all(s);
    let rotate = find(&events, "trusted", "kms:RotateKey");
    assert_eq!(rotate.len(), 1);
    assert_eq!(rotate[0].key_version, Some(2));
    let last = find(&events, "alice", "kms:GenerateDataKey");
    assert_eq!(last.last().expect("present").key_version, Some(2));
}

#[test]
fn administration_and_denials_are_recorded() {
    let f = fixture();
    let s = &f.store;
    let id = kms_bucket(s, "bkt");
    s.put_object("bkt", "secret", data(100, 3), PutOptions::default())
        .expect("put");
    let kms = s.kms();
    kms.create_alias("alias/app", &id, &TRUSTED).expect("alias");
    kms.describe_key("alias/app", &TRUSTED)
        .expect("describe by alias");
    kms.disable_key(&id, &TRUSTED).expect("disable");
    kms.enable_key(&id, &TRUSTED).expect("enable");
    kms.schedule_key_deletion(&id, 7, &TRUSTED)
        .expect("schedule");
    kms.cancel_key_deletion(&id, &TRUSTED).expect("cancel");
    kms.enable_key(&id, &TRUSTED).expect("enable after cancel");
    let version = s.rotate_master_key().expect("rotate master");
    let job = s
        .create_job("bkt", coffer_store::JobKind::Rewrap)
        .expect("job");
    s.pause_job(&job).expect("pause");
    s.cancel_job(&job).expect("cancel");
    // The store's own policy denial: bob may not list, and may not decrypt.
    let bob = bob(s, "bkt");
    assert!(matches!(
        bob.list_objects("bkt", &Default::default()),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        bob.get_object("bkt", "secret"),
        Err(Error::AccessDenied { .. })
    ));
    let events = all(s);
    let created = find(&events, "trusted", "kms:CreateKey");
    assert_eq!(created[0].key_id.as_deref(), Some(id.as_str()));
    for action in [
        "kms:CreateAlias",
        "kms:DescribeKey",
        "kms:DisableKey",
        "kms:EnableKey",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion",
    ] {
        let found = find(&events, "trusted", action);
        assert!(!found.is_empty(), "{action} not recorded");
        assert!(
            found
                .iter()
                .all(|e| e.key_id.as_deref() == Some(id.as_str())),
            "{action}: {found:?}"
        );
    }
    let master = find(&events, "trusted", "coffer:RotateMasterKey");
    assert_eq!(master.len(), 1);
    assert_eq!(master[0].key_id.as_deref(), Some("master"));
    assert_eq!(master[0].key_version, Some(version));
    for action in ["coffer:CreateJob", "coffer:PauseJob", "coffer:CancelJob"] {
        let found = find(&events, "trusted", action);
        assert_eq!(found.len(), 1, "{action}");
        assert_eq!(found[0].bucket.as_deref(), Some("bkt"));
        assert_eq!(
            found[0].resource.as_deref(),
            Some(format!("job/{job}").as_str())
        );
    }
    let list = find(&events, "bob", "oss:ListObjects");
    assert_eq!(list.len(), 1, "{events:#?}");
    assert_eq!(list[0].source, "store");
    assert_eq!(list[0].outcome, AuditOutcome::Denied);
    assert_eq!(list[0].bucket.as_deref(), Some("bkt"));
    assert_eq!(
        list[0].resource.as_deref(),
        Some(format!("acs:oss:cn-hangzhou:{ACCOUNT}:bkt").as_str())
    );
    let decrypt = find(&events, "bob", "kms:Decrypt");
    assert_eq!(decrypt.len(), 1, "{events:#?}");
    assert_eq!(decrypt[0].outcome, AuditOutcome::Denied);
    assert_eq!(decrypt[0].object_key.as_deref(), Some("secret"));
    assert_eq!(decrypt[0].key_id.as_deref(), Some(id.as_str()));
}

#[test]
fn queries_filter_by_time_key_caller_and_outcome_and_survive_a_reopen() {
    let f = fixture();
    let s = &f.store;
    let one = kms_bucket(s, "one");
    let start = f.clock.now();
    f.clock.advance(Duration::from_secs(60));
    let two = kms_bucket(s, "two");
    let alice = alice(s, "two", &two);
    alice
        .put_object("two", "k", data(10, 1), PutOptions::default())
        .expect("put");
    assert!(alice.get_object("one", "nope").is_err());
    let middle = f.clock.now();
    f.clock.advance(Duration::from_secs(60));
    s.put_object("one", "k", data(10, 2), PutOptions::default())
        .expect("put");
    s.close().expect("close");
    drop(f.store);
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("reopen");

    let q = |query: AuditQuery| s.audit_events(&query).expect("query");
    let everything = q(AuditQuery::new());
    assert!(everything.windows(2).all(|w| w[0].time <= w[1].time));
    let before = q(AuditQuery::new().until(start + Duration::from_secs(1)));
    assert!(!before.is_empty());
    assert!(before.iter().all(|e| e.time <= start));
    let window = q(AuditQuery::new()
        .since(start + Duration::from_secs(1))
        .until(middle + Duration::from_secs(1)));
    assert!(window.iter().all(|e| e.time > start && e.time <= middle));
    assert!(window.iter().any(|e| e.caller == "alice"));
    assert!(
        window
            .iter()
            .all(|e| e.key_id.as_deref() != Some(one.as_str()))
    );

    let of_one = q(AuditQuery::new().key_id(&one));
    assert!(
        of_one
            .iter()
            .all(|e| e.key_id.as_deref() == Some(one.as_str()))
    );
    assert!(of_one.iter().any(|e| e.action == "kms:CreateKey"));
    assert!(of_one.iter().any(|e| e.action == "kms:GenerateDataKey"));

    let by_alice = q(AuditQuery::new().caller("alice"));
    assert!(!by_alice.is_empty());
    assert!(by_alice.iter().all(|e| e.caller == "alice"));
    let denied = q(AuditQuery::new().outcome(AuditOutcomeKind::Denied));
    assert_eq!(denied.len(), 1, "{denied:#?}");
    assert_eq!(denied[0].action, "oss:GetObject");
    assert_eq!(denied[0].object_key.as_deref(), Some("nope"));
    assert!(
        q(AuditQuery::new().outcome(AuditOutcomeKind::Failed)).is_empty(),
        "nothing failed"
    );
    assert_eq!(q(AuditQuery::new().limit(2)).len(), 2);
    assert_eq!(q(AuditQuery::new().limit(2)), everything[..2]);
    // Recording goes on after the reopen, after the old events.
    s.kms().disable_key(&one, &TRUSTED).expect("disable");
    let again = q(AuditQuery::new());
    assert_eq!(again.len(), everything.len() + 1);
    assert_eq!(again.last().expect("present").action, "kms:DisableKey");
    assert_eq!(again[..everything.len()], everything[..]);
}

#[test]
fn nothing_secret_is_in_the_log() {
    let f = fixture();
    let s = &f.store;
    let id = kms_bucket(s, "bkt");
    let body = data(3000, 9);
    alice(s, "bkt", &id)
        .put_object("bkt", "k", body.clone(), PutOptions::default())
        .expect("put");
    s.get_object("bkt", "k").expect("get");
    s.create_bucket("plain").expect("bucket");
    s.put_bucket_encryption("plain", EncryptionRule::managed())
        .expect("rule");
    s.put_object("plain", "k", body.clone(), PutOptions::default())
        .expect("put");
    let mut secrets: Vec<Vec<u8>> = key_material(s).iter().map(|k| k.to_vec()).collect();
    for bucket in ["bkt", "plain"] {
        secrets.push(
            data_key_bytes(s, bucket, "k")
                .expect("reads")
                .expect("encrypted")
                .to_vec(),
        );
    }
    let raw = raw_family(s, "audit").expect("family");
    assert!(raw.len() >= 3, "events were recorded");
    for (key, value) in &raw {
        for secret in &secrets {
            let hex = hex::encode(secret);
            assert!(!value.windows(32).any(|w| w == &secret[..]));
            assert!(!String::from_utf8_lossy(value).contains(&hex));
            assert!(!key.windows(32).any(|w| w == &secret[..]));
        }
        assert!(!value.windows(64).any(|w| w == &body[..64]));
    }
}

#[test]
fn an_operation_whose_record_fails_fails_and_changes_nothing() {
    let f = fixture();
    let s = &f.store;
    let id = kms_bucket(s, "bkt");
    let alice = alice(s, "bkt", &id);
    alice
        .put_object("bkt", "old", data(100, 1), PutOptions::default())
        .expect("put");
    let before = all(s).len();
    fail_audit_appends(s, true);
    let audit_failed = |result: Result<(), Error>, what: &str| match result {
        Err(Error::AuditFailed { action, .. }) => action,
        other => panic!("{what}: {other:?}"),
    };
    // No data key is generated unaudited: the put fails and stores nothing.
    let action = audit_failed(
        alice
            .put_object("bkt", "new", data(100, 2), PutOptions::default())
            .map(drop),
        "put",
    );
    assert!(action.starts_with("kms:"), "{action}");
    // The trusted path too: its put asks for a data key, which is refused.
    let action = audit_failed(
        s.put_object("bkt", "new", data(100, 2), PutOptions::default())
            .map(drop),
        "trusted put",
    );
    assert!(action.starts_with("kms:"), "{action}");
    // No data key is unwrapped unaudited: the get returns no bytes.
    audit_failed(alice.get_object("bkt", "old").map(drop), "get");
    // A denial that cannot be recorded still fails, as an audit failure.
    audit_failed(
        bob(s, "bkt")
            .list_objects("bkt", &Default::default())
            .map(drop),
        "denied list",
    );
    audit_failed(
        s.kms().disable_key(&id, &TRUSTED).map_err(Error::from),
        "disable",
    );
    audit_failed(s.rotate_master_key().map(drop), "master rotation");
    audit_failed(
        s.create_job("bkt", coffer_store::JobKind::Rewrap).map(drop),
        "job creation",
    );
    fail_audit_appends(s, false);
    assert!(matches!(
        s.head_object("bkt", "new"),
        Err(Error::NoSuchKey { .. })
    ));
    let after = all(s);
    assert_eq!(after.len(), before, "nothing was recorded while it failed");
    assert!(
        s.list_jobs().expect("jobs").is_empty(),
        "no job was created"
    );
    // An administration call reached the KMS before its record failed (as
    // `Error::AuditFailed` documents): the key is disabled, and enabling it
    // again is recorded.
    assert!(matches!(
        s.get_object("bkt", "old"),
        Err(Error::KeyDisabled(_))
    ));
    s.kms().enable_key(&id, &TRUSTED).expect("enable");
    assert_eq!(s.get_object("bkt", "old").expect("get").body, data(100, 1));
}

/// An application sink that refuses events fails the operation too.
struct FullDisk;

impl AuditSink for FullDisk {
    fn record(&self, _: &AuditEvent) -> Result<(), AuditWriteError> {
        Err(AuditWriteError("the SIEM is unreachable".into()))
    }
}

#[test]
fn a_failing_application_sink_fails_the_operation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = coffer_keyring::ManualClock::new(SystemTime::UNIX_EPOCH);
    let s = Store::open(dir.path(), options(&clock).with_audit(Arc::new(FullDisk))).expect("opens");
    s.create_bucket("bkt").expect("bucket");
    match s.kms().create_key(Default::default(), &TRUSTED) {
        Err(coffer_keyring::Error::AuditFailed { reason, .. }) => {
            assert!(reason.contains("the SIEM is unreachable"), "{reason}");
        }
        other => panic!("{:?}", other.map(|m| m.key_id)),
    }
}

#[test]
fn retention_by_age_and_by_size() {
    let f = fixture();
    let s = &f.store;
    for _ in 0..10 {
        cmk(s);
    }
    f.clock.advance(Duration::from_secs(3600));
    let recent = cmk(s);
    // By age, on demand.
    let removed = s
        .prune_audit_log(&AuditRetention::keep_all().with_max_age(Duration::from_secs(60)))
        .expect("prune");
    assert_eq!(removed, 10);
    let left = all(s);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key_id.as_deref(), Some(recent.as_str()));
    s.close().expect("close");
    drop(f.store);

    // By size, as events are appended: the log stays under its limit and
    // keeps the newest events.
    let limit = 4096;
    let s = Store::open(
        f.dir.path(),
        options(&f.clock).with_audit_retention(AuditRetention::keep_all().with_max_bytes(limit)),
    )
    .expect("reopen");
    let mut last = String::new();
    for _ in 0..200 {
        last = cmk(&s);
    }
    let raw = raw_family(&s, "audit").expect("family");
    let bytes: usize = raw.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(bytes as u64 <= limit, "{bytes} bytes kept");
    assert!(raw.len() >= 10, "only the oldest went: {} kept", raw.len());
    let newest = all(&s);
    assert_eq!(
        newest.last().expect("present").key_id.as_deref(),
        Some(last.as_str())
    );
    // A limit below one event keeps the newest one.
    s.prune_audit_log(&AuditRetention::keep_all().with_max_bytes(1))
        .expect("prune");
    let kept = all(&s);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].key_id.as_deref(), Some(last.as_str()));
    s.close().expect("close");
    drop(s);

    // By age, when the store opens.
    f.clock.advance(Duration::from_secs(7200));
    let s = Store::open(
        f.dir.path(),
        options(&f.clock).with_audit_retention(
            AuditRetention::keep_all().with_max_age(Duration::from_secs(3600)),
        ),
    )
    .expect("reopen");
    assert!(all(&s).is_empty());
}

#[test]
fn a_planted_event_is_reported_and_the_store_still_opens() {
    let f = fixture();
    cmk(&f.store);
    f.store.close().expect("close");
    drop(f.store);
    {
        let options = rocksdb::Options::default();
        let families = rocksdb::DB::list_cf(&options, f.dir.path()).expect("families");
        let db = rocksdb::DB::open_cf(&options, f.dir.path(), &families).expect("raw open");
        let audit = db.cf_handle("audit").expect("family");
        db.put_cf(audit, b"\xff\xff\xffshort", b"{}")
            .expect("plant");
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&u64::MAX.to_be_bytes()[..]);
        key[7] = 0;
        db.put_cf(audit, key, b"not json").expect("plant");
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("opens despite them");
    match s.audit_events(&AuditQuery::new()) {
        Err(Error::CorruptRecord(message)) => {
            assert!(message.contains("audit event"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Read around them: every event the store wrote, and what is damaged.
    let page = s.audit_log(&AuditQuery::new()).expect("query");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.damaged.len(), 2, "{:?}", page.damaged);
    assert!(
        page.damaged
            .iter()
            .all(|d| d.contains("the store did not write it"))
    );
    // Events before them still read, and recording goes on.
    let first = s
        .audit_events(&AuditQuery::new().until(f.clock.now() + Duration::from_secs(1)))
        .expect("query before them");
    assert_eq!(first.len(), 1);
    cmk(&s);
}

#[test]
fn a_rotation_the_policy_makes_is_recorded_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = coffer_keyring::ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1));
    let policy = coffer_store::RotationPolicy {
        max_age: None,
        max_wraps: Some(3),
    };
    let s = Store::open(dir.path(), options(&clock).with_rotation(policy)).expect("opens");
    s.create_bucket("bkt").expect("bucket");
    for i in 0..7 {
        s.put_object("bkt", &format!("k{i}"), data(10, 1), PutOptions::managed())
            .expect("put");
    }
    let rotations: Vec<Option<u32>> = all(&s)
        .iter()
        .filter(|e| e.action == "coffer:RotateMasterKeyAutomatically")
        .map(|e| e.key_version)
        .collect();
    assert_eq!(rotations, [Some(2), Some(3)], "one event per new version");
    // A rotation that cannot be recorded fails the put that found it.
    for i in 7..9 {
        s.put_object("bkt", &format!("k{i}"), data(10, 1), PutOptions::managed())
            .expect("put");
    }
    fail_audit_appends(&s, true);
    assert!(matches!(
        s.put_object("bkt", "k9", data(10, 1), PutOptions::managed()),
        Err(Error::AuditFailed { .. })
    ));
    fail_audit_appends(&s, false);
    s.put_object("bkt", "k9", data(10, 1), PutOptions::managed())
        .expect("put once the log works");
    let rotations = all(&s)
        .iter()
        .filter(|e| e.action == "coffer:RotateMasterKeyAutomatically")
        .count();
    assert_eq!(rotations, 3);
}
