//! `compare -- store`: coffer against plain RocksDB storing the same bytes with
//! the same options and key layout (small values in the objects family, 1 MiB
//! segments in the chunks family), put and get, with a data key per object and
//! with data keys derived from a bucket key; first, a streaming put and get of
//! a 2 GiB object with the peak resident memory it took.

use std::hint::black_box;
use std::io::{Read, Write as _};
use std::time::Instant;

use bytes::Bytes;
use coffer_store::internals::{self, object_key, segment_key};
use coffer_store::{EncryptionRule, PutOptions, RootKey, Store, StoreOptions, Tuning};
use rocksdb::{Cache, DB, WriteBatch, WriteOptions};

use crate::measure::{Budget, MIB, interleaved, interleaved_rounds, ops_per_s_settled, round};

const SEGMENT: usize = 1 << 20;

/// Plain RocksDB, opened exactly as the store opens its database.
struct Baseline {
    db: DB,
    inline_threshold: usize,
}

impl Baseline {
    fn open(dir: &std::path::Path, tuning: &Tuning) -> Self {
        let cache = Cache::new_lru_cache(tuning.block_cache_bytes);
        let families = internals::column_families(tuning, &cache);
        let db = DB::open_cf_descriptors(&internals::db_options(tuning), dir, families)
            .expect("baseline opens");
        Self {
            db,
            inline_threshold: 64 * 1024,
        }
    }

    fn put(&self, key: &str, body: &Bytes) {
        let objects = self.db.cf_handle("objects").expect("cf");
        let mut batch = WriteBatch::default();
        if body.len() <= self.inline_threshold {
            batch.put_cf(objects, object_key("bench", key), body);
        } else {
            let chunks = self.db.cf_handle("chunks").expect("cf");
            let id = object_id(key);
            for (i, piece) in body.chunks(SEGMENT).enumerate() {
                batch.put_cf(chunks, segment_key(&id, i as u32), piece);
            }
            batch.put_cf(objects, object_key("bench", key), [0u8; 64]);
        }
        self.db
            .write_opt(batch, &WriteOptions::default())
            .expect("baseline put");
    }

    /// Writes every column family's memtable to disk and waits for it.
    fn flush(&self) {
        for family in internals::family_names() {
            let cf = self.db.cf_handle(family).expect("cf");
            self.db.flush_cf(cf).expect("flush");
        }
    }

    fn get(&self, key: &str, size: usize) -> Bytes {
        let objects = self.db.cf_handle("objects").expect("cf");
        let record = self
            .db
            .get_cf(objects, object_key("bench", key))
            .expect("get")
            .expect("present");
        if size <= self.inline_threshold {
            return record.into();
        }
        let chunks = self.db.cf_handle("chunks").expect("cf");
        let id = object_id(key);
        let mut out = Vec::with_capacity(size);
        for i in 0..size.div_ceil(SEGMENT) {
            out.extend_from_slice(
                &self
                    .db
                    .get_cf(chunks, segment_key(&id, i as u32))
                    .expect("get")
                    .expect("segment"),
            );
        }
        out.into()
    }
}

fn object_id(key: &str) -> [u8; 16] {
    let mut id = [0u8; 16];
    for (slot, byte) in id.iter_mut().zip(key.bytes().cycle()) {
        *slot = byte;
    }
    id
}

pub(crate) fn run(budget: &Budget, quick: bool, only_size: Option<usize>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tuning = Tuning::default();
    let baseline = Baseline::open(&dir.path().join("plain"), &tuning);
    let store = Store::open(
        dir.path().join("coffer"),
        StoreOptions::new(RootKey::from_bytes([5; 32]))
            .with_tuning(tuning.clone())
            .create_if_missing(true),
    )
    .expect("store opens");
    store.create_bucket("bench").expect("bucket");
    // The same objects with data keys derived from a bucket key.
    store.create_bucket("bench-bk").expect("bucket");
    store
        .put_bucket_encryption("bench-bk", EncryptionRule::managed().with_bucket_key(true))
        .expect("rule");
    // Streaming first, while the process holds only the open store, so that the
    // peak resident memory it reports is the streaming's own.
    if only_size.is_none() {
        streaming(&store, if quick { 256 << 20 } else { 2 << 30 });
        put_in_memory(&store, if quick { 256 << 20 } else { 1 << 30 });
    }
    let sizes: &[usize] = if let Some(size) = &only_size {
        std::slice::from_ref(size)
    } else if quick {
        &[4 * 1024, 64 * 1024, 1 << 20, 16 << 20]
    } else {
        &[4 * 1024, 64 * 1024, 1 << 20, 64 << 20]
    };
    for &size in sizes {
        let body: Bytes = (0..size)
            .map(|i| (i * 7 + 1) as u8)
            .collect::<Vec<_>>()
            .into();
        let keys: Vec<String> = (0..(256 * MIB as usize / size).clamp(2, 512))
            .map(|i| format!("obj-{size}-{i}"))
            .collect();
        for key in &keys {
            baseline.put(key, &body);
            store
                .put_object("bench", key, body.clone(), PutOptions::managed())
                .expect("put");
            store
                .put_object("bench-bk", key, body.clone(), PutOptions::default())
                .expect("put");
        }
        // Each put round ends by flushing what it wrote, timed: so each side pays
        // for its own flushes and none lands in the other side's round.
        baseline.flush();
        store.flush().expect("flush");
        let (mut b, mut c, mut k) = (0usize, 0usize, 0usize);
        let put = interleaved_rounds(
            budget,
            &mut [
                Box::new(|d| {
                    ops_per_s_settled(
                        d,
                        || {
                            b = (b + 1) % keys.len();
                            baseline.put(&keys[b], &body);
                        },
                        || baseline.flush(),
                    )
                }),
                Box::new(|d| {
                    ops_per_s_settled(
                        d,
                        || {
                            c = (c + 1) % keys.len();
                            store
                                .put_object("bench", &keys[c], body.clone(), PutOptions::managed())
                                .expect("put");
                        },
                        || store.flush().expect("flush"),
                    )
                }),
                Box::new(|d| {
                    ops_per_s_settled(
                        d,
                        || {
                            k = (k + 1) % keys.len();
                            store
                                .put_object(
                                    "bench-bk",
                                    &keys[k],
                                    body.clone(),
                                    PutOptions::default(),
                                )
                                .expect("put");
                        },
                        || store.flush().expect("flush"),
                    )
                }),
            ],
        );
        let (mut b, mut c, mut k) = (0usize, 0usize, 0usize);
        let mut plain_get = || {
            b = (b + 1) % keys.len();
            black_box(baseline.get(&keys[b], size));
        };
        let mut coffer_get = || {
            c = (c + 1) % keys.len();
            black_box(store.get_object("bench", &keys[c]).expect("get").body);
        };
        let mut bucket_key_get = || {
            k = (k + 1) % keys.len();
            black_box(store.get_object("bench-bk", &keys[k]).expect("get").body);
        };
        let get = interleaved(
            budget,
            &mut [&mut plain_get, &mut coffer_get, &mut bucket_key_get],
        );
        for (case, rates) in [("put", &put), ("get", &get)] {
            for (who, rate) in [
                ("rocksdb", rates[0]),
                ("coffer_aes256", rates[1]),
                ("coffer_aes256_bucket_key", rates[2]),
            ] {
                println!(
                    "{}",
                    serde_json::json!({
                        "case": format!("{who}_{case}"),
                        "bytes": size,
                        "ops_per_s": round(rate),
                        "mib_per_s": round(rate * size as f64 / MIB),
                        "ratio_vs_rocksdb": round(rate / rates[0]),
                    })
                );
            }
        }
    }
}

/// A reader that makes `len` bytes on the fly, so the source holds no memory.
struct Generated {
    left: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = (self.left as usize + i) as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Starts the peak-RSS counter from the current footprint; returns it (KiB).
fn reset_peak_rss() -> u64 {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
    {
        let _ = f.write_all(b"5");
    }
    status_kib("VmRSS:")
}

/// `put_object` of a body already in memory: the memory it takes above the
/// body itself (large bodies are sealed and written a segment at a time).
fn put_in_memory(store: &Store, len: usize) {
    let body: Bytes = (0..len)
        .map(|i| (i * 13 + 5) as u8)
        .collect::<Vec<_>>()
        .into();
    let before = reset_peak_rss();
    let started = Instant::now();
    store
        .put_object("bench", "in-memory", body.clone(), PutOptions::managed())
        .expect("put_object");
    let put_s = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    drop(body);
    store.delete_object("bench", "in-memory").expect("delete");
    println!(
        "{}",
        serde_json::json!({
            "case": "coffer_put_object_in_memory",
            "bytes": len,
            "put_mib_per_s": round(len as f64 / MIB / put_s),
            "peak_above_body_mib": round(peak.saturating_sub(before) as f64 / 1024.0),
        })
    );
}

fn streaming(store: &Store, len: u64) {
    let before = reset_peak_rss();
    let started = Instant::now();
    store
        .put_object_from_reader(
            "bench",
            "stream",
            Generated { left: len },
            PutOptions::managed(),
        )
        .expect("streaming put");
    let put_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut reader = store.open_object("bench", "stream").expect("open");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    assert_eq!(total, len);
    let get_s = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    println!(
        "{}",
        serde_json::json!({
            "case": "coffer_streaming_put_get",
            "bytes": len,
            "put_mib_per_s": round(len as f64 / MIB / put_s),
            "get_mib_per_s": round(len as f64 / MIB / get_s),
            "rss_before_mib": round(before as f64 / 1024.0),
            "peak_rss_mib": round(peak as f64 / 1024.0),
            "peak_above_baseline_mib": round(peak.saturating_sub(before) as f64 / 1024.0),
        })
    );
}
