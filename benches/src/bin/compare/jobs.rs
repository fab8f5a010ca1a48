//! `compare -- jobs`: bulk key jobs measured.
//!
//! - `rewrap_job`: a rewrap job over 100,000 small objects (10,000 with
//!   `--quick`) under the master keyring, no bucket keys, after a rotation,
//!   three times: the median objects per second (target ≥ 100,000 on 2
//!   cores), and each run's.
//! - `rewrap_payloads_unchanged`: the chunks family of 1 MiB and larger
//!   objects hashed before and after a rewrap, read with the rocksdb crate
//!   while the store is closed: identical or not.
//! - `reencrypt_job`: a re-encryption job (AES256 → KMS, then to another
//!   CMK twice) of 1 MiB objects in MiB/s, each round against a plain copy of
//!   the same bytes within default RocksDB (get, put under another key) in the
//!   same process, both timed with their final flush: the median round's
//!   `ratio_vs_rocksdb_copy` (target ≥ 0.8), and each round's.

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use coffer_benches::baseline::DefaultRocks;
use coffer_keyring::Caller;
use coffer_store::{JobKind, JobLimits, PutOptions, RootKey, Store, StoreOptions};

use crate::measure::{MIB, round, settle_store};
use crate::tuning::Candidate;

fn open(dir: &Path, tuning: &Candidate) -> Store {
    Store::open(
        dir,
        tuning.apply(StoreOptions::new(RootKey::from_bytes([9; 32])).create_if_missing(true)),
    )
    .expect("store opens")
}

/// A digest of every (key, value) of the chunks family, read raw.
fn chunks_digest(dir: &Path) -> (usize, Vec<u8>) {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir).expect("families");
    let db = rocksdb::DB::open_cf_for_read_only(&rocksdb::Options::default(), dir, names, false)
        .expect("opens read-only");
    let chunks = db.cf_handle("chunks").expect("chunks");
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut count = 0;
    for item in db.iterator_cf(chunks, rocksdb::IteratorMode::Start) {
        let (key, value) = item.expect("entry");
        context.update(&(key.len() as u64).to_be_bytes());
        context.update(&key);
        context.update(&(value.len() as u64).to_be_bytes());
        context.update(&value);
        count += 1;
    }
    (count, context.finish().as_ref().to_vec())
}

pub(crate) fn run(quick: bool, only: Option<&str>, objects: Option<usize>, tuning: &Candidate) {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = |part: &str| only.is_none_or(|only| only == part);
    let count = objects.unwrap_or(if quick { 32 } else { 256 });
    if runs("rewrap") {
        rewrap_rate(dir.path(), if quick { 10_000 } else { 100_000 }, tuning);
    }
    if runs("payloads") {
        payloads_unchanged(dir.path(), count, tuning);
    }
    if runs("reencrypt") {
        reencrypt_rate(dir.path(), count, tuning);
    }
}

/// A 1 MiB body of varied bytes.
fn mib_body() -> Bytes {
    (0..MIB as usize)
        .map(|i| (i * 7 + 1) as u8)
        .collect::<Vec<_>>()
        .into()
}

fn rewrap_rate(dir: &Path, small: usize, tuning: &Candidate) {
    // Rewrap rate on small objects.
    let path = dir.join("rewrap");
    let store = open(&path, tuning);
    store.create_bucket("bench").expect("bucket");
    let body = Bytes::from(vec![7u8; 100]);
    for i in 0..small {
        store
            .put_object(
                "bench",
                &format!("k{i:07}"),
                body.clone(),
                PutOptions::managed(),
            )
            .expect("put");
    }
    // Three jobs, each after a rotation, so that every one rewraps every
    // object; the median is the figure (this machine's rates swing between
    // runs). Each is timed alone, not the flushes and compactions the puts
    // before it left.
    let mut rates = Vec::new();
    for _ in 0..3 {
        store.rotate_master_key().expect("rotate");
        // Each run starts from the same shape of database: the versions the
        // run before wrote compacted away.
        store.flush_and_compact().expect("compact");
        settle_store(&store);
        let id = store.create_job("bench", JobKind::Rewrap).expect("job");
        let began = Instant::now();
        let status = store.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
        let seconds = began.elapsed().as_secs_f64();
        assert_eq!(status.done as usize, small, "{status:?}");
        rates.push(small as f64 / seconds);
    }
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "case": "rewrap_job",
            "objects": small,
            "objects_per_s": round(sorted[1]),
            "runs_objects_per_s": rates.iter().map(|r| round(*r)).collect::<Vec<_>>(),
            "target_objects_per_s": 100_000,
        })
    );
    store.close().expect("close");
}

/// Payloads unchanged by a rewrap.
fn payloads_unchanged(dir: &Path, count: usize, tuning: &Candidate) {
    let path = dir.join("large");
    let store = open(&path, tuning);
    store.create_bucket("bench").expect("bucket");
    let body = mib_body();
    for i in 0..count {
        let size = if i % 4 == 0 {
            3 * MIB as usize
        } else {
            MIB as usize
        };
        let body = if size == body.len() {
            body.clone()
        } else {
            Bytes::from(vec![i as u8; size])
        };
        store
            .put_object("bench", &format!("k{i:05}"), body, PutOptions::managed())
            .expect("put");
    }
    store.rotate_master_key().expect("rotate");
    store.close().expect("close");
    let before = chunks_digest(&path);
    let store = open(&path, tuning);
    let id = store.create_job("bench", JobKind::Rewrap).expect("job");
    let status = store.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
    store.close().expect("close");
    let after = chunks_digest(&path);
    println!(
        "{}",
        serde_json::json!({
            "case": "rewrap_payloads_unchanged",
            "objects": count,
            "rewrapped": status.done,
            "segments": before.0,
            "identical": before == after,
        })
    );
}

/// Re-encryption of 1 MiB objects against a plain copy within RocksDB.
fn reencrypt_rate(dir: &Path, count: usize, tuning: &Candidate) {
    let path = dir.join("reencrypt");
    let store = open(&path, tuning);
    store.create_bucket("bench").expect("bucket");
    let body = mib_body();
    let baseline = DefaultRocks::open(&dir.join("rocksdb"));
    for i in 0..count {
        let key = format!("k{i:05}");
        store
            .put_object("bench", &key, body.clone(), PutOptions::managed())
            .expect("put");
        baseline.put(&key, &body);
    }
    settle_store(&store);
    baseline.settle();
    // Three rounds, each a job to a new CMK (so every object is re-encrypted
    // again) then a copy of every value to the other half of the baseline's
    // keys; each timed with its final flush. The median ratio is the figure.
    let mut rounds = Vec::new();
    for round_index in 0..3 {
        let cmk = store
            .kms()
            .create_key(Default::default(), &Caller::Trusted)
            .expect("cmk")
            .key_id;
        let id = store
            .create_job(
                "bench",
                JobKind::Reencrypt {
                    sse: "KMS".into(),
                    kms_key_id: Some(cmk),
                },
            )
            .expect("job");
        let began = Instant::now();
        let status = store.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
        store.flush().expect("flush");
        assert_eq!(status.done as usize, count, "{status:?}");
        let coffer_mib_s = status.bytes as f64 / MIB / began.elapsed().as_secs_f64();
        settle_store(&store);
        let (from, to) = if round_index % 2 == 0 {
            ("k", "copy")
        } else {
            ("copy", "k")
        };
        let began = Instant::now();
        for i in 0..count {
            let value = baseline.get(&format!("{from}{i:05}"));
            baseline.put(&format!("{to}{i:05}"), &value);
        }
        baseline.flush();
        let copy_mib_s = (count as f64 * body.len() as f64) / MIB / began.elapsed().as_secs_f64();
        baseline.settle();
        rounds.push((coffer_mib_s, copy_mib_s));
    }
    let ratio = |(coffer, copy): &(f64, f64)| coffer / copy;
    let mut by_ratio = rounds.clone();
    by_ratio.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let median = by_ratio[1];
    println!(
        "{}",
        serde_json::json!({
            "case": "reencrypt_job",
            "objects": count,
            "bytes": body.len(),
            "mib_per_s": round(median.0),
            "rocksdb_copy_mib_per_s": round(median.1),
            "ratio_vs_rocksdb_copy": round(ratio(&median)),
            "runs_ratio": rounds.iter().map(|r| round(ratio(r))).collect::<Vec<_>>(),
            "target_ratio": 0.8,
        })
    );
    store.close().expect("close");
}
