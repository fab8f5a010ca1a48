//! Bulk key jobs: rewrap, re-encrypt and encrypt-unencrypted run to done with
//! their counts; a paused job stops at a checkpoint and resumes where it
//! stopped; a cancelled one stays cancelled; bad jobs are refused; payloads are
//! untouched by a rewrap; the key-usage report proves the result; a job
//! record edited or planted from outside is refused by name and never runs; a
//! limit too slow to represent is refused; a progress callback may pause the
//! job it reports on.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use coffer_keyring::Caller;
use coffer_store::test_util::raw_family;
use coffer_store::{
    EncryptionRule, Error, JobKind, JobLimits, JobState, ProtectionMode, PutOptions,
};
use common::{MIB, data, fixture};

#[test]
fn a_rewrap_job_moves_every_key_and_leaves_payloads_untouched() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    for i in 0..600 {
        s.put_object(
            "bkt",
            &format!("k{i:04}"),
            data(100, i as u8),
            PutOptions::managed(),
        )
        .expect("put");
    }
    s.put_object("bkt", "big", data(3 * MIB, 1), PutOptions::managed())
        .expect("put");
    s.put_object("bkt", "plain", data(10, 1), PutOptions::default())
        .expect("put");
    let chunks_before = raw_family(s, "chunks").expect("chunks");
    s.rotate_master_key().expect("rotate");
    let id = s.create_job("bkt", JobKind::Rewrap).expect("job");
    let mut checkpoints = 0;
    let status = s
        .run_job(&id, JobLimits::none(), |_| checkpoints += 1)
        .expect("runs");
    assert_eq!(status.state, JobState::Done);
    assert_eq!((status.done, status.skipped, status.failed), (601, 1, 0));
    assert!(checkpoints >= 3, "checkpointed as it went: {checkpoints}");
    assert_eq!(s.job_status(&id).expect("status"), status);
    assert_eq!(
        raw_family(s, "chunks").expect("chunks"),
        chunks_before,
        "segments byte-identical"
    );
    let usage = s.key_usage(Some("bkt")).expect("usage");
    assert_eq!(usage.objects_below(None, 2), 0);
    assert_eq!(s.retire_unused_master_keys().expect("retire"), 2);
    // A finished job cannot be resumed; running it again does nothing.
    assert!(matches!(s.resume_job(&id), Err(Error::InvalidArgument(_))));
    assert_eq!(
        s.run_job(&id, JobLimits::none(), |_| {}).expect("runs"),
        status
    );
}

#[test]
fn a_paused_job_resumes_from_its_checkpoint() {
    let f = fixture();
    let s = Arc::new(f.store.clone());
    s.create_bucket("bkt").expect("bucket");
    for i in 0..400 {
        s.put_object(
            "bkt",
            &format!("k{i:04}"),
            data(10, 1),
            PutOptions::managed(),
        )
        .expect("put");
    }
    s.rotate_master_key().expect("rotate");
    let id = s.create_job("bkt", JobKind::Rewrap).expect("job");
    let runner = {
        let (s, id) = (Arc::clone(&s), id.clone());
        std::thread::spawn(move || {
            s.run_job(&id, JobLimits::none().objects_per_second(1000.0), |_| {})
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    s.pause_job(&id).expect("pause");
    let paused = runner.join().expect("joins").expect("runs");
    assert_eq!(paused.state, JobState::Paused);
    let first = paused.done;
    assert!(first > 0 && first < 400, "stopped part way: {first}");
    assert!(paused.last_key.is_some());
    // A paused job does not run until resumed.
    assert_eq!(
        s.run_job(&id, JobLimits::none(), |_| {})
            .expect("runs")
            .done,
        first
    );
    s.resume_job(&id).expect("resume");
    let done = s.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.done + done.skipped, 400, "every object once: {done:?}");
    assert_eq!(done.done, 400, "nothing redone, nothing missed");

    let id = s.create_job("bkt", JobKind::Rewrap).expect("job");
    s.cancel_job(&id).expect("cancel");
    assert_eq!(
        s.run_job(&id, JobLimits::none(), |_| {})
            .expect("runs")
            .state,
        JobState::Cancelled
    );
    assert!(matches!(s.resume_job(&id), Err(Error::InvalidArgument(_))));
    assert_eq!(s.list_jobs().expect("jobs").len(), 2);
}

#[test]
fn reencrypt_and_encrypt_unencrypted_jobs() {
    let f = fixture();
    let s = &f.store;
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    s.create_bucket("bkt").expect("bucket");
    for i in 0..20 {
        s.put_object(
            "bkt",
            &format!("m{i}"),
            data(2000, i),
            PutOptions::managed(),
        )
        .expect("put");
    }
    s.put_object("bkt", "big", data(2 * MIB, 3), PutOptions::managed())
        .expect("put");
    s.put_object("bkt", "plain", data(5, 1), PutOptions::default())
        .expect("put");
    let id = s
        .create_job(
            "bkt",
            JobKind::Reencrypt {
                sse: "KMS".into(),
                kms_key_id: Some(cmk.clone()),
            },
        )
        .expect("job");
    let status = s.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
    assert_eq!((status.done, status.failed), (22, 0));
    for i in 0..20 {
        let object = s.get_object("bkt", &format!("m{i}")).expect("reads");
        assert_eq!(object.body, data(2000, i));
        assert_eq!(object.meta.protection.mode, ProtectionMode::Kms);
        assert_eq!(
            object.meta.protection.kms_key_id.as_deref(),
            Some(cmk.as_str())
        );
    }
    assert_eq!(
        s.get_object("bkt", "big").expect("reads").body,
        data(2 * MIB, 3)
    );

    // Encrypt the unencrypted: needs a bucket rule.
    assert!(matches!(
        s.create_job("bkt", JobKind::EncryptUnencrypted),
        Err(Error::NoSuchEncryptionRule(_))
    ));
    s.put_object("bkt", "plain2", data(7, 1), PutOptions::default())
        .expect("put");
    s.put_bucket_encryption("bkt", EncryptionRule::managed())
        .expect("rule");
    let id = s
        .create_job("bkt", JobKind::EncryptUnencrypted)
        .expect("job");
    let status = s.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
    assert_eq!(
        (status.done, status.skipped),
        (1, 22),
        "only the unencrypted one"
    );
    let usage = s.key_usage(Some("bkt")).expect("usage");
    assert!(usage.usage.iter().all(|u| u.mode != ProtectionMode::None));

    assert!(matches!(
        s.create_job("missing", JobKind::Rewrap),
        Err(Error::NoSuchBucket(_))
    ));
    assert!(
        s.create_job(
            "bkt",
            JobKind::Reencrypt {
                sse: "ROT13".into(),
                kms_key_id: None
            }
        )
        .is_err()
    );
}

#[test]
fn a_rewrap_never_reverts_a_concurrent_overwrite() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let count = 20_000;
    for i in 0..count {
        s.put_object(
            "bkt",
            &format!("k{i:05}"),
            data(64, 1),
            PutOptions::managed(),
        )
        .expect("put");
    }
    s.rotate_master_key().expect("rotate");
    let id = s.create_job("bkt", JobKind::Rewrap).expect("job");
    // Overwrite every third object, round after round, from another thread
    // until the job ends: the last write of each must be what stays,
    // whatever the job read before it.
    let job_done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(std::sync::Barrier::new(2));
    let writer = {
        let (s, job_done, started) = (s.clone(), job_done.clone(), started.clone());
        std::thread::spawn(move || {
            let mut last = vec![1u8; count];
            started.wait();
            // Every third key, in a scattered order, so that writes land
            // among the keys the job is working on.
            let thirds = count.div_ceil(3);
            'rounds: for round in 2..=u8::MAX {
                for n in 0..thirds {
                    let i = 3 * (n * 7919 % thirds);
                    if job_done.load(Ordering::Acquire) {
                        break 'rounds;
                    }
                    s.put_object(
                        "bkt",
                        &format!("k{i:05}"),
                        data(64, round),
                        PutOptions::managed(),
                    )
                    .expect("overwrite");
                    last[i] = round;
                }
            }
            last
        })
    };
    started.wait();
    let status = s.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
    job_done.store(true, Ordering::Release);
    let last = writer.join().expect("writer");
    assert_eq!(status.state, JobState::Done);
    assert_eq!(status.failed, 0);
    assert!(
        last.iter().any(|&round| round > 1),
        "the writer overwrote nothing while the job ran"
    );
    for (i, &round) in last.iter().enumerate() {
        let got = s.get_object("bkt", &format!("k{i:05}")).expect("get");
        assert_eq!(got.body, data(64, round), "k{i:05}");
        assert_eq!(got.meta.protection.key_version, Some(2), "k{i:05}");
    }
    let usage = s.key_usage(Some("bkt")).expect("usage");
    assert_eq!(usage.objects_below(None, 2), 0);
}

/// Bucket `bkt` with `k0`..`k2`, each a little over 1 MiB (two segments).
fn three_segmented_objects(s: &coffer_store::Store) {
    s.create_bucket("bkt").expect("bucket");
    for i in 0..3 {
        s.put_object(
            "bkt",
            &format!("k{i}"),
            data(MIB + 1, i),
            PutOptions::managed(),
        )
        .expect("put");
    }
}

/// A job re-encrypting `bkt` under the default managed CMK.
fn reencrypt_bkt_to_the_default_cmk(s: &coffer_store::Store) -> String {
    s.create_job(
        "bkt",
        JobKind::Reencrypt {
            sse: "KMS".into(),
            kms_key_id: None,
        },
    )
    .expect("job")
}

/// A column family's option as RocksDB last recorded its running options (the
/// newest OPTIONS file in the store's directory).
fn recorded_option(dir: &std::path::Path, family: &str, name: &str) -> String {
    let newest = std::fs::read_dir(dir)
        .expect("store dir")
        .filter_map(|entry| {
            let file = entry.expect("entry").file_name().into_string().ok()?;
            let number = file.strip_prefix("OPTIONS-")?.parse::<u64>().ok()?;
            Some((number, file))
        })
        .max()
        .expect("an OPTIONS file")
        .1;
    let text = std::fs::read_to_string(dir.join(newest)).expect("options text");
    let section = text
        .split(&format!("[CFOptions \"{family}\"]"))
        .nth(1)
        .unwrap_or_else(|| panic!("the {family} family's options"));
    let section = section.split("\n[").next().expect("section");
    section
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{family}: {name}"))
        .to_owned()
}

/// The chunks family's blob relocation age cutoff, as RocksDB runs it.
fn recorded_relocation_cutoff(dir: &std::path::Path) -> f64 {
    recorded_option(dir, "chunks", "blob_garbage_collection_age_cutoff")
        .parse()
        .expect("a number")
}

#[test]
fn the_objects_family_filters_its_memtable_by_key() {
    // A job's walk reads keys the memtable does not have yet; the filter spares
    // each read the skiplist search (`compare -- jobs` measures it).
    let f = fixture();
    let dir = f.dir.path();
    assert_eq!(
        recorded_option(dir, "objects", "memtable_whole_key_filtering"),
        "true"
    );
    let ratio: f64 = recorded_option(dir, "objects", "memtable_prefix_bloom_size_ratio")
        .parse()
        .expect("a number");
    assert!(ratio > 0.0, "{ratio}");
}

#[test]
fn a_job_that_rewrites_payloads_pauses_blob_relocation_while_it_runs() {
    let f = fixture();
    let s = &f.store;
    three_segmented_objects(s);
    let configured = recorded_relocation_cutoff(f.dir.path());
    assert!(
        configured > 0.0,
        "the default tuning relocates: {configured}"
    );

    // A rewrap rewrites no payload: relocation goes on.
    s.rotate_master_key().expect("rotate");
    let id = s.create_job("bkt", JobKind::Rewrap).expect("job");
    let mut seen = Vec::new();
    s.run_job(&id, JobLimits::none(), |_| {
        seen.push(recorded_relocation_cutoff(f.dir.path()))
    })
    .expect("rewrap");
    assert!(seen.iter().all(|&c| c == configured), "{seen:?}");

    // A re-encryption does pause it, and resumes it when it ends.
    let id = reencrypt_bkt_to_the_default_cmk(s);
    let mut seen = Vec::new();
    let status = s
        .run_job(&id, JobLimits::none(), |_| {
            seen.push(recorded_relocation_cutoff(f.dir.path()))
        })
        .expect("reencrypt");
    assert_eq!(status.done, 3, "{status:?}");
    assert!(
        !seen.is_empty() && seen.iter().all(|&c| c == 0.0),
        "{seen:?}"
    );
    assert_eq!(recorded_relocation_cutoff(f.dir.path()), configured);

    // A full compaction collects every blob file, then leaves the configured
    // cutoff behind.
    s.flush_and_compact().expect("compact");
    assert_eq!(recorded_relocation_cutoff(f.dir.path()), configured);
}

/// The blob files in a store's directory.
fn blob_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("store dir")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".blob"))
        })
        .count()
}

#[test]
fn a_job_working_one_key_at_a_time_writes_through_the_log_and_flushes_nothing() {
    let f = fixture();
    let s = &f.store;
    three_segmented_objects(s);
    s.flush().expect("flush");
    let before = blob_files(f.dir.path());
    // A rate limit makes the job take one key at a time.
    let id = reencrypt_bkt_to_the_default_cmk(s);
    let status = s
        .run_job(&id, JobLimits::none().objects_per_second(1000.0), |_| {})
        .expect("runs");
    assert_eq!(status.done, 3, "{status:?}");
    // Its new segments wait in the memtable (they are in the log): no flush
    // wrote a blob file for them.
    assert_eq!(blob_files(f.dir.path()), before);
    for i in 0..3 {
        let object = s.get_object("bkt", &format!("k{i}")).expect("get");
        assert_eq!(object.body, data(MIB + 1, i));
        assert_eq!(object.meta.protection.mode, ProtectionMode::Kms);
    }
}

fn raw_db(path: &std::path::Path) -> rocksdb::DB {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).expect("families");
    rocksdb::DB::open_cf(&rocksdb::Options::default(), path, names).expect("opens raw")
}

#[test]
fn an_edited_or_planted_job_record_is_refused_and_never_runs() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let cmk = s
        .kms()
        .create_key(coffer_keyring::CreateKeyOptions::new(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    s.put_object("bkt", "k", data(1000, 1), PutOptions::kms(Some(&cmk)))
        .expect("put");
    let paused = s.create_job("bkt", JobKind::Rewrap).expect("job");
    s.pause_job(&paused).expect("pauses");
    let other = s.create_job("bkt", JobKind::Rewrap).expect("job");
    s.close().expect("closes");
    let planted = "0123456789abcdef0123456789abcdef";
    {
        let db = raw_db(f.dir.path());
        let jobs = db.cf_handle("jobs").expect("jobs");
        // The paused rewrap turned into a re-encryption to store-managed
        // keys, with its tag kept: a downgrade of every KMS object.
        let mut value = db.get_cf(jobs, &paused).expect("reads").expect("present");
        let text = String::from_utf8_lossy(&value).into_owned();
        let edited = text.replacen(
            r#"{"kind":"rewrap"}"#,
            r#"{"kind":"reencrypt","sse":"AES256","kms_key_id":null}"#,
            1,
        );
        assert_ne!(edited, text, "the record carries the kind as JSON");
        value = edited.into_bytes();
        db.put_cf(jobs, &paused, &value).expect("writes");
        // Another job's record under a new id, and a plain JSON one.
        let moved = db.get_cf(jobs, &other).expect("reads").expect("present");
        db.put_cf(jobs, planted, &moved).expect("writes");
        db.put_cf(
            jobs,
            "fedcba9876543210fedcba9876543210",
            br#"{"id":"fedcba9876543210fedcba9876543210","bucket":"bkt","kind":{"kind":"reencrypt","sse":"AES256","kms_key_id":null},"state":"running","created_ms":0,"last_key":null,"done":0,"skipped":0,"failed":0,"bytes":0}"#,
        )
        .expect("writes");
    }
    let s = coffer_store::Store::open(f.dir.path(), common::options(&f.clock)).expect("opens");
    for id in [paused.as_str(), planted, "fedcba9876543210fedcba9876543210"] {
        match s.job_status(id) {
            Err(Error::Integrity(message)) => assert!(message.contains(id), "{message}"),
            other => panic!("job {id}: {other:?}"),
        }
        assert!(matches!(s.resume_job(id), Err(Error::Integrity(_))), "{id}");
        assert!(
            matches!(
                s.run_job(id, JobLimits::none(), |_| {}),
                Err(Error::Integrity(_))
            ),
            "{id}"
        );
    }
    assert!(matches!(s.list_jobs(), Err(Error::Integrity(_))));
    assert_eq!(
        s.head_object("bkt", "k").expect("head").protection.mode,
        ProtectionMode::Kms,
        "nothing was re-encrypted"
    );
    // The job nobody touched still runs.
    assert_eq!(
        s.run_job(&other, JobLimits::none(), |_| {})
            .expect("runs")
            .state,
        JobState::Done
    );
}

#[test]
fn a_limit_too_slow_to_represent_is_refused_not_a_panic() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_object("bkt", "k", data(10, 1), PutOptions::managed())
        .expect("put");
    let id = s.create_job("bkt", JobKind::Rewrap).expect("job");
    for limits in [
        JobLimits::none().objects_per_second(1e-30),
        JobLimits::none().bytes_per_second(1e-300),
        JobLimits::none().objects_per_second(0.0),
        JobLimits::none().objects_per_second(-1.0),
        JobLimits::none().bytes_per_second(f64::NAN),
        JobLimits::none().bytes_per_second(f64::INFINITY),
    ] {
        assert!(
            matches!(
                s.run_job(&id, limits, |_| {}),
                Err(Error::InvalidArgument(_))
            ),
            "{limits:?}"
        );
    }
    assert_eq!(s.job_status(&id).expect("status").state, JobState::Running);
    s.run_job(&id, JobLimits::none().objects_per_second(1000.0), |_| {})
        .expect("a sane limit runs");
}

#[test]
fn a_progress_callback_may_pause_or_cancel_its_job() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    for i in 0..700 {
        s.put_object(
            "bkt",
            &format!("k{i:04}"),
            data(10, 1),
            PutOptions::managed(),
        )
        .expect("put");
    }
    s.rotate_master_key().expect("rotates");
    let id = s.create_job("bkt", JobKind::Rewrap).expect("job");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let runner = {
        let (s, id) = (s.clone(), id.clone());
        std::thread::spawn(move || {
            let status = s.run_job(&id, JobLimits::none(), |_| {
                s.pause_job(&id).ok();
            });
            done_tx.send(()).ok();
            status
        })
    };
    assert!(
        done_rx.recv_timeout(Duration::from_secs(60)).is_ok(),
        "run_job deadlocked on a callback that pauses"
    );
    let status = runner.join().expect("runner").expect("runs");
    assert_eq!(status.state, JobState::Paused);
    s.resume_job(&id).expect("resumes");
    let status = s
        .run_job(&id, JobLimits::none(), |_| {
            s.cancel_job(&id).ok();
        })
        .expect("runs");
    assert!(matches!(status.state, JobState::Cancelled | JobState::Done));
}
