//! Races between writes and key or bucket changes: a streaming put that spans
//! a rotation, a rewrap and a retirement commits under a version that still
//! exists; so does a multipart upload completed while a retirement scans (the
//! window between its scans widened by a hook, and many completions racing
//! rotations and retirements); a KMS call that hangs holds up neither a
//! retirement nor a write that does not need it; puts racing a bucket's rule changes and
//! deletion apply a rule that was in force while they ran, and never land in
//! a deleted bucket.

use crate::common;

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use coffer_keyring::{Caller, CreateKeyOptions};
use coffer_store::{
    CompletedPart, EncryptionRule, Error, ListOptions, ProtectionMode, PutCondition, PutOptions,
    Store,
};
use common::{MIB, data, fixture, options};

/// Yields `first`, then says so and waits to be let go, then yields `rest`.
struct PausingReader {
    first: Vec<u8>,
    rest: Vec<u8>,
    at: usize,
    paused: Sender<()>,
    resume: Receiver<()>,
    waited: bool,
}

impl Read for PausingReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.first.len() && !self.waited {
            self.waited = true;
            self.paused.send(()).expect("main thread listens");
            self.resume.recv().expect("main thread resumes us");
        }
        let source: Vec<u8> = self.first.iter().chain(&self.rest).copied().collect();
        let n = out.len().min(source.len() - self.at);
        out[..n].copy_from_slice(&source[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn a_streaming_put_across_rotate_rewrap_and_retire_stays_readable() {
    let f = fixture();
    let store = f.store.clone();
    store.create_bucket("bkt").expect("bucket");
    store
        .put_object("bkt", "older", data(1000, 1), PutOptions::managed())
        .expect("put");
    let body = data(3 * MIB + 17, 2);
    let (paused_tx, paused_rx) = channel();
    let (resume_tx, resume_rx) = channel();
    let reader = PausingReader {
        first: body[..2 * MIB].to_vec(),
        rest: body[2 * MIB..].to_vec(),
        at: 0,
        paused: paused_tx,
        resume: resume_rx,
        waited: false,
    };
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.put_object_from_reader("bkt", "streamed", reader, PutOptions::managed())
        })
    };
    paused_rx.recv().expect("the put pauses mid-way");
    let wrapped_under = store.master_keys().current_version();
    let new_version = store.rotate_master_key().expect("rotates");
    assert_eq!(store.rewrap_bucket("bkt").expect("rewraps"), 1);
    // The put in flight pins the version it wrapped under: nothing is retired.
    assert_eq!(
        store.retire_unused_master_keys().expect("retires"),
        wrapped_under
    );
    resume_tx.send(()).expect("resumes");
    let put = writer.join().expect("no panic").expect("the put completes");
    assert_eq!(put.protection.key_version, Some(wrapped_under));
    assert_eq!(
        store.get_object("bkt", "streamed").expect("reads").body,
        body
    );
    // Once rewrapped, the old version goes and everything still reads.
    store.rewrap_bucket("bkt").expect("rewraps");
    assert_eq!(
        store.retire_unused_master_keys().expect("retires"),
        new_version
    );
    assert_eq!(
        store.get_object("bkt", "streamed").expect("reads").body,
        body
    );
    assert_eq!(
        store.get_object("bkt", "older").expect("reads").body,
        data(1000, 1)
    );
}

fn mode_of(rule: &Option<EncryptionRule>) -> ProtectionMode {
    match rule {
        None => ProtectionMode::None,
        Some(EncryptionRule::Managed { .. }) => ProtectionMode::Aes256,
        Some(_) => ProtectionMode::Kms,
    }
}

#[test]
fn puts_racing_rule_changes_apply_a_rule_in_force_while_they_ran() {
    let f = fixture();
    f.store.create_bucket("bkt").expect("bucket");
    f.store.close().expect("closes");
    // Reopen, so that the threads below race the store's first use of the bucket.
    let store = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    let rules = [
        None,
        Some(EncryptionRule::managed()),
        Some(EncryptionRule::kms(None)),
    ];
    // The rules in force, in order; a change happens with the log locked.
    let log = Arc::new(Mutex::new(vec![None::<EncryptionRule>]));
    let stop = Arc::new(AtomicBool::new(false));
    let changer = {
        let (store, log, stop, rules) = (store.clone(), log.clone(), stop.clone(), rules.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let rule = rules[i % rules.len()].clone();
                let mut log = log.lock().expect("log");
                match &rule {
                    Some(rule) => store.put_bucket_encryption("bkt", rule.clone()),
                    None => store.delete_bucket_encryption("bkt"),
                }
                .expect("rule changes");
                log.push(rule);
            }
        })
    };
    let checked = Arc::new(AtomicUsize::new(0));
    let putters: Vec<_> = (0..3)
        .map(|t| {
            let (store, log, checked) = (store.clone(), log.clone(), checked.clone());
            std::thread::spawn(move || {
                for n in 0..150 {
                    let key = format!("{t}/{n}");
                    let begin = log.lock().expect("log").len() - 1;
                    let size = if n % 10 == 0 { MIB + 3 } else { 200 };
                    let put = store
                        .put_object("bkt", &key, data(size, n as u8), PutOptions::default())
                        .expect("put");
                    let log = log.lock().expect("log");
                    let allowed: BTreeSet<_> = log[begin..]
                        .iter()
                        .map(|r| format!("{:?}", mode_of(r)))
                        .collect();
                    let got = format!("{:?}", put.protection.mode);
                    assert!(
                        allowed.contains(&got),
                        "{key} was stored {got}, but only {allowed:?} were in force"
                    );
                    drop(log);
                    let head = store.head_object("bkt", &key).expect("head");
                    assert_eq!(head.protection, put.protection);
                    checked.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for putter in putters {
        putter.join().expect("no panic");
    }
    stop.store(true, Ordering::Relaxed);
    changer.join().expect("no panic");
    assert_eq!(checked.load(Ordering::Relaxed), 450);
    assert!(
        log.lock().expect("log").len() > 3,
        "the rule changed meanwhile"
    );
}

#[test]
fn puts_racing_bucket_deletion_never_land_in_a_deleted_bucket() {
    let f = fixture();
    let store = f.store.clone();
    store.create_bucket("del").expect("bucket");
    let stop = Arc::new(AtomicBool::new(false));
    let stored = Arc::new(AtomicUsize::new(0));
    let putters: Vec<_> = (0..2)
        .map(|t| {
            let (store, stop, stored) = (store.clone(), stop.clone(), stored.clone());
            std::thread::spawn(move || {
                // Large enough to be in flight for a while: the put reads the
                // bucket long before it commits.
                let body = data(2 * MIB, 1);
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match store.put_object(
                        "del",
                        &format!("{t}-{n}"),
                        body.clone(),
                        PutOptions::managed(),
                    ) {
                        Ok(_) => {
                            stored.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Error::NoSuchBucket(_)) => {}
                        Err(other) => panic!("unexpected: {other}"),
                    }
                    // Leave the deleter room to find the bucket empty.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            })
        })
        .collect();
    let mut deletions = 0;
    let started = std::time::Instant::now();
    while deletions < 30 || stored.load(Ordering::Relaxed) < 20 {
        assert!(
            started.elapsed().as_secs() < 60,
            "the race made no progress"
        );
        // Let puts land in this incarnation.
        std::thread::sleep(std::time::Duration::from_millis(5));
        // Empty the bucket and delete it; puts racing in make it not empty.
        loop {
            let listed = store
                .list_objects("del", &ListOptions::new())
                .expect("lists");
            for object in &listed.objects {
                store.delete_object("del", &object.key).expect("deletes");
            }
            match store.delete_bucket("del") {
                Ok(()) => break,
                Err(Error::BucketNotEmpty(_)) => continue,
                Err(other) => panic!("unexpected: {other}"),
            }
        }
        deletions += 1;
        // While it is gone, no object may land under it: give racing puts time
        // to try, then look at the raw records.
        std::thread::sleep(std::time::Duration::from_millis(3));
        assert!(matches!(
            store.list_objects("del", &ListOptions::new()),
            Err(Error::NoSuchBucket(_))
        ));
        let landed = coffer_store::test_util::raw_family(&store, "objects")
            .expect("scans")
            .into_iter()
            .filter(|(raw_key, _)| raw_key.starts_with(b"del\0"))
            .count();
        assert_eq!(landed, 0, "objects landed in the deleted bucket");
        store.create_bucket("del").expect("recreates");
        let listed = store
            .list_objects("del", &ListOptions::new())
            .expect("lists");
        for object in &listed.objects {
            // Anything here was put after the bucket was recreated.
            store.get_object("del", &object.key).expect("reads");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for putter in putters {
        putter.join().expect("no panic");
    }
    assert!(deletions >= 30);
    assert!(
        stored.load(Ordering::Relaxed) > 0,
        "puts ran during the race"
    );
    // Every object record belongs to a bucket that exists.
    let buckets: Vec<String> = store
        .list_buckets()
        .expect("lists")
        .into_iter()
        .map(|b| b.name)
        .collect();
    for (raw_key, _) in coffer_store::test_util::raw_family(&store, "objects").expect("scans") {
        let bucket = raw_key.split(|&b| b == 0).next().expect("bucket part");
        assert!(
            buckets.iter().any(|b| b.as_bytes() == bucket),
            "an object outlived its bucket"
        );
    }
}

/// Creates an upload of bkt/`key` under `options` with one part; returns its id
/// and the part to complete it with.
fn upload_with_a_part(store: &Store, key: &str, options: PutOptions) -> (String, CompletedPart) {
    let id = store
        .create_multipart_upload("bkt", key, options)
        .expect("creates the upload");
    let part = store
        .upload_part("bkt", key, &id, 1, data(100_000, 9))
        .expect("uploads a part");
    (id, CompletedPart::from(&part))
}

/// A hook that completes `upload` of bkt/`key` the first time it runs: inside
/// the window between a retirement's two scans.
fn completes_in_the_window(
    store: &Store,
    key: &str,
    (id, part): (String, CompletedPart),
) -> Arc<dyn Fn() + Send + Sync> {
    let (store, key, done) = (store.clone(), key.to_owned(), AtomicBool::new(false));
    Arc::new(move || {
        if !done.swap(true, Ordering::SeqCst) {
            store
                .complete_multipart_upload(
                    "bkt",
                    &key,
                    &id,
                    std::slice::from_ref(&part),
                    &PutCondition::None,
                )
                .expect("completes inside the window");
        }
    })
}

#[test]
fn an_upload_completed_between_the_retirement_scans_keeps_its_master_key() {
    let f = fixture();
    let store = &f.store;
    store.create_bucket("bkt").expect("bucket");
    let upload = upload_with_a_part(store, "parts.bin", PutOptions::managed());
    store.rotate_master_key().expect("rotates to version 2");
    let hook = completes_in_the_window(store, "parts.bin", upload);
    coffer_store::test_util::between_retirement_scans(store, Some(hook));
    let min = store.retire_unused_master_keys().expect("retires");
    coffer_store::test_util::between_retirement_scans(store, None);
    let object = store
        .get_object("bkt", "parts.bin")
        .expect("the completed object keeps the version it is wrapped under");
    assert_eq!(object.body, data(100_000, 9));
    assert_eq!(object.meta.protection.key_version, Some(1));
    assert_eq!(min, 1, "version 1 is in use, so nothing is retired");
}

#[test]
fn an_upload_completed_between_the_retirement_scans_keeps_its_cmk_version() {
    let f = fixture();
    let store = &f.store;
    store.create_bucket("bkt").expect("bucket");
    let cmk = store
        .kms()
        .create_key(CreateKeyOptions::new(), &Caller::Trusted)
        .expect("creates a CMK")
        .key_id;
    let upload = upload_with_a_part(store, "parts.bin", PutOptions::kms(Some(&cmk)));
    store
        .kms()
        .rotate_key(&cmk, &Caller::Trusted)
        .expect("rotates to version 2");
    let hook = completes_in_the_window(store, "parts.bin", upload);
    coffer_store::test_util::between_retirement_scans(store, Some(hook));
    let min = store.retire_unused_kms_versions(&cmk).expect("retires");
    coffer_store::test_util::between_retirement_scans(store, None);
    let object = store
        .get_object("bkt", "parts.bin")
        .expect("the completed object keeps the CMK version it is wrapped under");
    assert_eq!(object.body, data(100_000, 9));
    assert_eq!(min, 1, "version 1 is in use, so nothing is retired");
}

#[test]
fn uploads_completing_while_keys_rotate_and_retire_all_read_back() {
    let f = fixture();
    let store = &f.store;
    store.create_bucket("bkt").expect("bucket");
    // Enough objects that a scan takes a while.
    for i in 0..2_000 {
        store
            .put_object(
                "bkt",
                &format!("filler/{i:05}"),
                data(64, 1),
                PutOptions::managed(),
            )
            .expect("puts");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|thread| {
            let (store, stop, completed) = (store.clone(), stop.clone(), completed.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let key = format!("up/{thread}/{n}");
                    let (id, part) = upload_with_a_part(&store, &key, PutOptions::managed());
                    store
                        .complete_multipart_upload("bkt", &key, &id, &[part], &PutCondition::None)
                        .expect("completes");
                    completed.lock().expect("lock").push(key);
                    n += 1;
                }
            })
        })
        .collect();
    for _ in 0..6 {
        store.rotate_master_key().expect("rotates");
        store.rewrap_bucket("bkt").expect("rewraps");
        store.retire_unused_master_keys().expect("retires");
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().expect("writer");
    }
    let completed = completed.lock().expect("lock").clone();
    assert!(
        completed.len() >= 20,
        "{} uploads completed",
        completed.len()
    );
    for key in &completed {
        let object = store
            .get_object("bkt", key)
            .unwrap_or_else(|e| panic!("{key} completed but does not read back: {e}"));
        assert_eq!(object.body, data(100_000, 9), "{key}");
    }
}

#[test]
fn a_hung_kms_call_holds_up_no_retirement_and_no_write_that_does_not_need_it() {
    use coffer_keyring::KeyAdministration as _;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let local = Arc::new(
        coffer_keyring::LocalKms::open(
            Arc::new(coffer_keyring::MemoryKeyStore::new()),
            &common::root(),
            coffer_keyring::LocalKmsOptions::default(),
        )
        .expect("a local KMS"),
    );
    let cmk = local
        .create_key(CreateKeyOptions::new())
        .expect("a CMK")
        .key_id;
    let slow = Arc::new(common::WrappedKms::new(local, "slow"));
    let clock = coffer_keyring::ManualClock::new(
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000),
    );
    let store = Store::open(dir.path(), options(&clock).with_kms(slow.clone())).expect("opens");
    store.create_bucket("bkt").expect("bucket");
    store.rotate_master_key().expect("rotates");
    slow.set_delay(Duration::from_secs(3));
    let hung = {
        let (store, cmk) = (store.clone(), cmk.clone());
        std::thread::spawn(move || {
            store.put_object(
                "bkt",
                "under-kms",
                data(100, 1),
                PutOptions::kms(Some(&cmk)),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let retired = store.retire_unused_master_keys().expect("retires");
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "the master keyring's retirement waited {:?} on a CMK's call",
        started.elapsed()
    );
    assert_eq!(retired, 2);
    let started = Instant::now();
    store
        .put_object("bkt", "managed", data(100, 2), PutOptions::managed())
        .expect("an AES256 put");
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "an AES256 put waited {:?} on a KMS call",
        started.elapsed()
    );
    // A retirement of the CMK itself waits for the call in flight, and keeps
    // the version it wraps under.
    let version = store
        .retire_unused_kms_versions(&cmk)
        .expect("retires the CMK");
    assert_eq!(version, 1);
    hung.join()
        .expect("put thread")
        .expect("the slow put succeeds");
    assert_eq!(
        store.get_object("bkt", "under-kms").expect("reads").body,
        data(100, 1)
    );
}
