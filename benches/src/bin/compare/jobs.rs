//! `compare -- jobs`: bulk key jobs measured.
//!
//! - `rewrap_job`: a rewrap job over 100,000 small objects (10,000 with
//!   `--quick`) under the master keyring, no bucket keys, after a rotation,
//!   three times: the median objects per second (target ≥ 100,000 on 2
//!   cores), and each run's.
//! - `rewrap_payloads_unchanged`: the chunks family of 1 MiB and larger
//!   objects hashed before and after a rewrap, read with the rocksdb crate
//!   while the store is closed: identical or not.
//! - `reencrypt_job`: a re-encryption job (AES256 → KMS) of 1 MiB objects in
//!   MiB/s, against a plain copy of the same bytes within default RocksDB
//!   (get, put under another key) in the same process: `ratio_vs_rocksdb_copy`
//!   (target ≥ 0.8).

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use coffer_benches::baseline::DefaultRocks;
use coffer_keyring::Caller;
use coffer_store::{JobKind, JobLimits, PutOptions, RootKey, Store, StoreOptions};

use crate::measure::{MIB, round, settle_store};

fn open(dir: &Path) -> Store {
    Store::open(
        dir,
        StoreOptions::new(RootKey::from_bytes([9; 32])).create_if_missing(true),
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

pub(crate) fn run(quick: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = if quick { 10_000 } else { 100_000 };

    // Rewrap rate on small objects.
    let path = dir.path().join("rewrap");
    let store = open(&path);
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

    // Payloads unchanged by a rewrap, and re-encryption throughput.
    let count = if quick { 32 } else { 256 };
    let path = dir.path().join("large");
    let store = open(&path);
    store.create_bucket("bench").expect("bucket");
    let body: Bytes = (0..MIB as usize)
        .map(|i| (i * 7 + 1) as u8)
        .collect::<Vec<_>>()
        .into();
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
    let store = open(&path);
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

    // Re-encryption of 1 MiB objects against a plain copy within RocksDB.
    let path = dir.path().join("reencrypt");
    let store = open(&path);
    store.create_bucket("bench").expect("bucket");
    let baseline = DefaultRocks::open(&dir.path().join("rocksdb"));
    for i in 0..count {
        let key = format!("k{i:05}");
        store
            .put_object("bench", &key, body.clone(), PutOptions::managed())
            .expect("put");
        baseline.put(&key, &body);
    }
    settle_store(&store);
    baseline.settle();
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
    let coffer_mib_s = status.bytes as f64 / MIB / began.elapsed().as_secs_f64();
    let began = Instant::now();
    for i in 0..count {
        let value = baseline.get(&format!("k{i:05}"));
        baseline.put(&format!("copy{i:05}"), &value);
    }
    baseline.flush();
    let copy_mib_s = (count as f64 * body.len() as f64) / MIB / began.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "case": "reencrypt_job",
            "objects": count,
            "bytes": body.len(),
            "mib_per_s": round(coffer_mib_s),
            "rocksdb_copy_mib_per_s": round(copy_mib_s),
            "ratio_vs_rocksdb_copy": round(coffer_mib_s / copy_mib_s),
        })
    );
    store.close().expect("close");
}
