//! The persisted audit log: what is recorded (KMS data-plane calls with the
//! key, version, bucket and object key; KMS administration; the store's own
//! policy denials; master key administration), that nothing secret is, that it
//! survives a reopen, its queries, its retention (which records itself and
//! never removes the newest event), that an operation whose record cannot be
//! written fails without using a key or changing anything, and that an event
//! edited, planted, removed, put back or cut from the end of the log with the
//! `rocksdb` crate is named by the next query and by `verify_audit_log`.

use crate::common;

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
    // What is left: the recent event, and the prune's record of itself.
    let left = all(s);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0].key_id.as_deref(), Some(recent.as_str()));
    assert_eq!(left[1].action, "coffer:PruneAuditLog");
    let detail = left[1].detail.as_deref().expect("says what it removed");
    assert!(detail.starts_with("removing 10 events"), "{detail}");
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
    // A limit below one event keeps the newest one (and the prune's record).
    s.prune_audit_log(&AuditRetention::keep_all().with_max_bytes(1))
        .expect("prune");
    let kept = all(&s);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0].key_id.as_deref(), Some(last.as_str()));
    assert_eq!(kept[1].action, "coffer:PruneAuditLog");
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
    let left = all(&s);
    assert_eq!(
        left.len(),
        2,
        "the newest event stays, with the prune's record: {left:?}"
    );
    assert_eq!(left[1].action, "coffer:PruneAuditLogByRetention");
    assert!(s.verify_audit_log().expect("verifies").problems.is_empty());
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

fn raw_db(path: &std::path::Path) -> rocksdb::DB {
    let options = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&options, path).expect("families");
    rocksdb::DB::open_cf(&options, path, &families).expect("raw open")
}

/// Every (key, value) of the audit family, in order.
fn raw_events(db: &rocksdb::DB) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iterator_cf(
        db.cf_handle("audit").expect("audit"),
        rocksdb::IteratorMode::Start,
    )
    .map(|item| {
        let (key, value) = item.expect("reads");
        (key.to_vec(), value.to_vec())
    })
    .collect()
}

/// A store with `n` events, closed; its directory and clock.
fn closed_log(n: usize) -> common::Fixture {
    let f = fixture();
    for _ in 0..n {
        cmk(&f.store);
        f.clock.advance(Duration::from_millis(5));
    }
    assert!(
        f.store
            .verify_audit_log()
            .expect("verifies")
            .problems
            .is_empty()
    );
    f.store.close().expect("close");
    f
}

/// What `verify_audit_log` and a query of the reopened store find.
fn problems_after(f: &common::Fixture) -> (Vec<String>, Vec<String>) {
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("opens");
    let verified = s.verify_audit_log().expect("verifies").problems;
    let queried = s.audit_log(&AuditQuery::new()).expect("query").damaged;
    (verified, queried)
}

#[test]
fn an_edited_event_is_named_and_nothing_else() {
    let f = closed_log(6);
    let edited_key;
    {
        let db = raw_db(f.dir.path());
        let events = raw_events(&db);
        let (key, value) = &events[3];
        // A well-formed edit of the JSON (the tags around it kept), the kind
        // an insider would make: another caller.
        let (from, to) = (&br#""caller":"trusted""#[..], &br#""caller":"mallory""#[..]);
        let at = value
            .windows(from.len())
            .position(|w| w == from)
            .expect("the event names its caller");
        let mut edited = value.clone();
        edited[at..at + to.len()].copy_from_slice(to);
        db.put_cf(db.cf_handle("audit").expect("audit"), key, &edited)
            .expect("edits");
        edited_key = hex::encode(key);
    }
    let (verified, queried) = problems_after(&f);
    assert_eq!(verified.len(), 1, "{verified:?}");
    assert!(
        verified[0].contains(&edited_key) && verified[0].contains("edited"),
        "{verified:?}"
    );
    assert_eq!(queried, verified);
}

#[test]
fn a_removed_event_is_named_as_a_gap() {
    let f = closed_log(6);
    {
        let db = raw_db(f.dir.path());
        let events = raw_events(&db);
        db.delete_cf(db.cf_handle("audit").expect("audit"), &events[2].0)
            .expect("deletes");
    }
    let (verified, queried) = problems_after(&f);
    assert_eq!(verified.len(), 1, "{verified:?}");
    assert!(verified[0].contains("missing: removed"), "{verified:?}");
    assert_eq!(queried, verified);
    // A query from after the gap sees it too: it reads the event before.
}

#[test]
fn entries_planted_before_the_first_event_key_are_named() {
    // Keys that sort before every key the store writes (sixteen zero bytes
    // is the smallest): a walk that starts at the first possible event skips
    // them. Found by the store_records fuzz target.
    let f = closed_log(3);
    {
        let db = raw_db(f.dir.path());
        let audit = db.cf_handle("audit").expect("audit");
        db.put_cf(audit, b"", b"").expect("plants");
        db.put_cf(audit, [0u8; 3], b"{}").expect("plants");
    }
    let (verified, queried) = problems_after(&f);
    assert_eq!(verified.len(), 2, "{verified:?}");
    assert!(
        verified.iter().all(|p| p.contains("not 16 bytes")),
        "{verified:?}"
    );
    assert_eq!(queried, verified);
}

#[test]
fn planted_replayed_and_reordered_events_are_named() {
    let f = closed_log(6);
    {
        let db = raw_db(f.dir.path());
        let audit = db.cf_handle("audit").expect("audit");
        let events = raw_events(&db);
        // An event from before sealing, planted among sealed ones.
        let mut planted = events[4].0.clone();
        planted[15] = planted[15].wrapping_add(100);
        db.put_cf(
            audit,
            &planted,
            br#"{"v":1,"time_ns":0,"caller":"x","source":"store","action":"coffer:Nothing","outcome":"allowed"}"#,
        )
        .expect("plants");
        // Two events swapped.
        db.put_cf(audit, &events[1].0, &events[2].1).expect("swaps");
        db.put_cf(audit, &events[2].0, &events[1].1).expect("swaps");
    }
    let (verified, _) = problems_after(&f);
    assert!(
        verified.iter().any(|p| p.contains("planted")),
        "{verified:?}"
    );
    assert!(
        verified
            .iter()
            .filter(|p| p.contains("edited or planted"))
            .count()
            >= 2,
        "{verified:?}"
    );
}

#[test]
fn the_newest_events_cut_from_the_end_are_named_and_stay_named() {
    let f = closed_log(6);
    {
        let db = raw_db(f.dir.path());
        let audit = db.cf_handle("audit").expect("audit");
        let events = raw_events(&db);
        for (key, _) in &events[4..] {
            db.delete_cf(audit, key).expect("deletes");
        }
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("opens");
    // The store found it at open and recorded it in the log itself.
    let page = s.audit_log(&AuditQuery::new()).expect("query");
    assert!(
        page.events
            .iter()
            .any(|e| e.action == "coffer:AuditLogDamaged"),
        "{:?}",
        page.events
    );
    // Appending goes on after the head, so the gap stays visible.
    cmk(&s);
    let problems = s.verify_audit_log().expect("verifies").problems;
    assert!(
        problems.iter().any(|p| p.contains("missing: removed")),
        "{problems:?}"
    );
}

#[test]
fn pruning_everything_keeps_the_newest_event_and_its_own_record_and_the_chain_checks() {
    let f = fixture();
    let s = &f.store;
    for _ in 0..20 {
        cmk(s);
    }
    let newest = cmk(s);
    let (old_key, old_value) = raw_family(s, "audit").expect("family")[3].clone();
    f.clock.advance(Duration::from_secs(10));
    let removed = s
        .prune_audit_log(&AuditRetention::keep_all().with_max_age(Duration::ZERO))
        .expect("prunes");
    assert_eq!(removed, 20);
    let left = all(s);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0].key_id.as_deref(), Some(newest.as_str()));
    assert_eq!(left[1].action, "coffer:PruneAuditLog");
    assert_eq!(left[1].caller, "trusted");
    let report = s.verify_audit_log().expect("verifies");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.events, 2);
    // A pruned event put back is named.
    s.close().expect("closes");
    {
        let db = raw_db(f.dir.path());
        db.put_cf(db.cf_handle("audit").expect("audit"), &old_key, &old_value)
            .expect("puts back");
    }
    let (verified, _) = problems_after(&f);
    assert_eq!(verified.len(), 1, "{verified:?}");
    assert!(verified[0].contains("put back"), "{verified:?}");
}

#[test]
fn every_event_and_the_head_wiped_after_a_prune_is_recorded_when_the_store_opens() {
    let f = closed_log(4);
    {
        let s = Store::open(f.dir.path(), options(&f.clock)).expect("opens");
        f.clock.advance(Duration::from_secs(1));
        s.prune_audit_log(&AuditRetention::keep_all().with_max_age(Duration::ZERO))
            .expect("prunes");
        s.close().expect("closes");
    }
    {
        let db = raw_db(f.dir.path());
        let audit = db.cf_handle("audit").expect("audit");
        for (key, _) in raw_events(&db) {
            db.delete_cf(audit, &key).expect("deletes");
        }
        db.delete_cf(db.cf_handle("meta").expect("meta"), b"audit/head")
            .expect("deletes the head");
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("opens");
    let events = s.audit_events(&AuditQuery::new()).expect("the log reads");
    let damaged: Vec<_> = events
        .iter()
        .filter(|e| e.action == "coffer:AuditLogDamaged")
        .collect();
    assert_eq!(damaged.len(), 1, "{events:?}");
    assert!(
        damaged[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("every audit event")),
        "{damaged:?}"
    );
}

#[test]
fn a_planted_entry_does_not_decide_where_a_prune_starts_the_chain() {
    let f = closed_log(4);
    {
        let db = raw_db(f.dir.path());
        // Time 0, so the next age prune removes it; a sequence far past the
        // log's.
        let mut key = [0u8; 16];
        key[8..].copy_from_slice(&(1u64 << 62).to_be_bytes());
        db.put_cf(
            db.cf_handle("audit").expect("audit"),
            key,
            [&b"CFA2"[..], &[7; 90]].concat(),
        )
        .expect("plants");
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("opens");
    let problems = s.verify_audit_log().expect("verifies").problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    f.clock.advance(Duration::from_secs(1));
    s.prune_audit_log(&AuditRetention::keep_all().with_max_age(Duration::ZERO))
        .expect("prunes");
    // The prune said what it removed was damaged; what is left is whole,
    // and stays whole as the log goes on.
    let record = all(&s)
        .into_iter()
        .find(|e| e.action == "coffer:PruneAuditLog")
        .expect("the prune's record");
    assert!(
        record
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("problems among them")),
        "{record:?}"
    );
    for _ in 0..3 {
        cmk(&s);
    }
    let report = s.verify_audit_log().expect("verifies");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_store_whose_creation_stopped_before_its_log_opened_has_a_whole_log() {
    let f = fixture();
    f.store.close().expect("closes");
    {
        let db = raw_db(f.dir.path());
        let meta = db.cf_handle("meta").expect("meta");
        db.delete_cf(meta, b"audit/anchor").expect("deletes");
        db.delete_cf(meta, b"audit/head").expect("deletes");
        let audit = db.cf_handle("audit").expect("audit");
        for (key, _) in raw_events(&db) {
            db.delete_cf(audit, &key).expect("deletes");
        }
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("opens");
    cmk(&s);
    let report = s.verify_audit_log().expect("verifies");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.events, 1);
}
