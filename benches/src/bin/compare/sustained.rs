//! `compare -- sustained`: a working set of 512 MiB of objects of 64 KiB to
//! 4 MiB (sizes log-uniform, fixed per key) overwritten at random until 4 GiB
//! have been put, one get of a random key after every four puts — for coffer
//! with its defaults and for RocksDB as a user would open it, each in a phase
//! of its own in this process.
//!
//! Reported per engine: throughput over time (each 512 MiB put), write
//! amplification (bytes the process caused to be written to disk, including
//! flushes and compactions, per byte put: `/proc/self/io` `write_bytes`, after
//! the engine's background work has finished), space amplification (bytes of
//! the engine's files against the live data), p50 / p99 / longest put and get,
//! and the longest pause (the longest any single operation took). `--quick`:
//! 64 MiB overwritten until 512 MiB. This is `--only=volume`.
//!
//! By default (`threaded`): a long-running service. Each engine in turn runs
//! for 10 minutes (`--minutes=N`; 1 with `--quick`) with 4 writer threads
//! overwriting the same working set and 4 reader threads getting from it,
//! and reports p50 / p99 / p999 put and get latencies per minute, the rates,
//! write and space amplification, and the longest pause.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_benches::baseline::DefaultRocks;
use coffer_store::{PutOptions, RootKey, Store, StoreOptions};

use crate::measure::{MIB, round};
use crate::tuning::Candidate;

const MIN_OBJECT: f64 = 64.0 * 1024.0;
const MAX_OBJECT: f64 = 4.0 * 1024.0 * 1024.0;

/// The workload's shape.
struct Workload {
    working_set: u64,
    to_put: u64,
    /// Each key's object size.
    sizes: Vec<usize>,
}

impl Workload {
    fn new(quick: bool) -> Self {
        let (working_set, to_put) = if quick {
            (64 << 20, 512 << 20)
        } else {
            (512 << 20, 4 << 30)
        };
        let mut random = Random(0x05ee_d0fc_0ffe);
        let mut sizes = Vec::new();
        let mut total = 0u64;
        while total < working_set {
            // Log-uniform between the smallest and the largest object.
            let size = (MIN_OBJECT * (MAX_OBJECT / MIN_OBJECT).powf(random.unit())) as usize;
            total += size as u64;
            sizes.push(size);
        }
        Self {
            working_set: total,
            to_put,
            sizes,
        }
    }
}

/// A deterministic stream of numbers for picking keys and sizes (xorshift64*;
/// a workload generator, not for anything secret).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the engines under test do.
trait Engine: Sync {
    fn name(&self) -> &'static str;
    fn put(&self, key: &str, body: Bytes);
    fn get(&self, key: &str) -> usize;
    /// Flushes and waits until no background work is left.
    fn settle(&self);
}

struct CofferEngine(Store);

impl Engine for CofferEngine {
    fn name(&self) -> &'static str {
        "coffer_aes256"
    }
    fn put(&self, key: &str, body: Bytes) {
        self.0
            .put_object("bench", key, body, PutOptions::default())
            .expect("put");
    }
    fn get(&self, key: &str) -> usize {
        self.0.get_object("bench", key).expect("get").body.len()
    }
    fn settle(&self) {
        self.0.flush().expect("flush");
        coffer_store::internals::wait_for_background_work(&self.0).expect("background work");
    }
}

struct DefaultEngine(DefaultRocks);

impl Engine for DefaultEngine {
    fn name(&self) -> &'static str {
        "rocksdb_default"
    }
    fn put(&self, key: &str, body: Bytes) {
        self.0.put(key, &body);
    }
    fn get(&self, key: &str) -> usize {
        self.0.get(key).len()
    }
    fn settle(&self) {
        self.0.settle();
    }
}

pub(crate) fn run(quick: bool, candidate: &Candidate, only: Option<&str>, minutes: Option<u64>) {
    let minutes = minutes.unwrap_or(if quick { 1 } else { 10 });
    let threaded = only != Some("volume");
    let workload = Workload::new(quick);
    let root = tempfile::tempdir().expect("tempdir");
    let coffer_dir = root.path().join("coffer");
    let store = Store::open(
        &coffer_dir,
        candidate.apply(StoreOptions::new(RootKey::from_bytes([3; 32])).create_if_missing(true)),
    )
    .expect("store opens");
    store.create_bucket("bench").expect("bucket");
    store
        .put_bucket_encryption("bench", coffer_store::EncryptionRule::managed())
        .expect("rule");
    let coffer = CofferEngine(store);
    let measure = |engine: &dyn Engine, dir: &Path| {
        if threaded {
            threaded_phase(engine, &workload, dir, minutes);
        } else {
            phase(engine, &workload, dir);
        }
    };
    measure(&coffer, &coffer_dir);
    drop(coffer);
    let default_dir = root.path().join("default");
    let default = DefaultEngine(DefaultRocks::open(&default_dir));
    measure(&default, &default_dir);
}

/// Writer and reader threads of the threaded phase.
const WRITERS: usize = 4;
const READERS: usize = 4;

/// One operation's minute (since the phase started) and how long it took.
type Timed = (usize, Duration);

/// Loads the working set, then runs [`WRITERS`] writers overwriting it and
/// [`READERS`] readers getting from it for `minutes`, measuring.
fn threaded_phase(engine: &dyn Engine, workload: &Workload, dir: &Path, minutes: u64) {
    let largest: Bytes = (0..MAX_OBJECT as usize)
        .map(|i| (i * 31 + 7) as u8)
        .collect::<Vec<_>>()
        .into();
    let keys: Vec<String> = (0..workload.sizes.len())
        .map(|i| format!("obj-{i}"))
        .collect();
    for (key, &size) in keys.iter().zip(&workload.sizes) {
        engine.put(key, largest.slice(..size));
    }
    engine.settle();
    let written_before = disk_writes();
    let duration = Duration::from_secs(minutes * 60);
    let started = Instant::now();
    let minute = |at: Instant| (at.duration_since(started).as_secs() / 60) as usize;
    let (puts, gets, put_bytes) = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (keys, largest) = (&keys, &largest);
                scope.spawn(move || {
                    let mut random = Random(0xfeed_beef ^ ((w as u64 + 1) * 0x9e37_79b9));
                    let (mut timed, mut bytes) = (Vec::<Timed>::new(), 0u64);
                    while started.elapsed() < duration {
                        let i = random.below(keys.len());
                        let size = workload.sizes[i];
                        let began = Instant::now();
                        engine.put(&keys[i], largest.slice(..size));
                        timed.push((minute(began), began.elapsed()));
                        bytes += size as u64;
                    }
                    (timed, bytes)
                })
            })
            .collect();
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let keys = &keys;
                scope.spawn(move || {
                    let mut random = Random(0xbeef_feed ^ ((r as u64 + 1) * 0x85eb_ca6b));
                    let mut timed = Vec::<Timed>::new();
                    while started.elapsed() < duration {
                        let j = random.below(keys.len());
                        let began = Instant::now();
                        assert_eq!(engine.get(&keys[j]), workload.sizes[j]);
                        timed.push((minute(began), began.elapsed()));
                    }
                    timed
                })
            })
            .collect();
        let (mut puts, mut put_bytes) = (Vec::new(), 0u64);
        for writer in writers {
            let (timed, bytes) = writer.join().expect("a writer");
            puts.extend(timed);
            put_bytes += bytes;
        }
        let mut gets = Vec::new();
        for reader in readers {
            gets.extend(reader.join().expect("a reader"));
        }
        (puts, gets, put_bytes)
    });
    let seconds = started.elapsed().as_secs_f64();
    engine.settle();
    let written = disk_writes().saturating_sub(written_before);
    let on_disk = directory_bytes(dir);
    let per_minute = |timed: &[Timed]| -> Vec<serde_json::Value> {
        (0..minutes as usize)
            .map(|m| {
                let mut in_minute: Vec<Duration> = timed
                    .iter()
                    .filter(|(at, _)| *at == m)
                    .map(|(_, d)| *d)
                    .collect();
                serde_json::json!({
                    "minute": m + 1,
                    "ops": in_minute.len(),
                    "p50_ms": millis(percentile(&mut in_minute, 0.50)),
                    "p99_ms": millis(percentile(&mut in_minute, 0.99)),
                    "p999_ms": millis(percentile(&mut in_minute, 0.999)),
                })
            })
            .collect()
    };
    let longest = puts
        .iter()
        .chain(&gets)
        .map(|(_, d)| *d)
        .max()
        .unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "case": "sustained_threads",
            "engine": engine.name(),
            "writers": WRITERS,
            "readers": READERS,
            "minutes": minutes,
            "working_set_mib": round(workload.working_set as f64 / MIB),
            "put_mib": round(put_bytes as f64 / MIB),
            "put_mib_per_s": round(put_bytes as f64 / MIB / seconds),
            "puts_per_s": round(puts.len() as f64 / seconds),
            "gets_per_s": round(gets.len() as f64 / seconds),
            "write_amplification": round(written as f64 / put_bytes.max(1) as f64),
            "space_amplification": round(on_disk as f64 / workload.working_set as f64),
            "put_latency_per_minute": per_minute(&puts),
            "get_latency_per_minute": per_minute(&gets),
            "longest_pause_ms": millis(longest),
        })
    );
}

/// Loads the working set, then overwrites it with gets mixed in, measuring.
fn phase(engine: &dyn Engine, workload: &Workload, dir: &Path) {
    let bodies: Vec<Bytes> = [MIN_OBJECT as usize, MAX_OBJECT as usize]
        .iter()
        .map(|&len| {
            (0..len)
                .map(|i| (i * 31 + 7) as u8)
                .collect::<Vec<_>>()
                .into()
        })
        .collect();
    let body = |size: usize| bodies[1].slice(..size);
    let keys: Vec<String> = (0..workload.sizes.len())
        .map(|i| format!("obj-{i}"))
        .collect();
    for (key, &size) in keys.iter().zip(&workload.sizes) {
        engine.put(key, body(size));
    }
    engine.settle();
    let written_before = disk_writes();
    let mut random = Random(0xfeed_beef);
    let mut put_latencies = Vec::new();
    let mut get_latencies = Vec::new();
    let mut put_bytes = 0u64;
    let mut interval_bytes = 0u64;
    let mut interval_start = Instant::now();
    let interval = workload.to_put / 8;
    let mut throughput = Vec::new();
    let started = Instant::now();
    while put_bytes < workload.to_put {
        let i = random.below(keys.len());
        let size = workload.sizes[i];
        let began = Instant::now();
        engine.put(&keys[i], body(size));
        put_latencies.push(began.elapsed());
        put_bytes += size as u64;
        interval_bytes += size as u64;
        if put_latencies.len() % 4 == 0 {
            let j = random.below(keys.len());
            let began = Instant::now();
            assert_eq!(engine.get(&keys[j]), workload.sizes[j]);
            get_latencies.push(began.elapsed());
        }
        if interval_bytes >= interval {
            throughput.push(round(
                interval_bytes as f64 / MIB / interval_start.elapsed().as_secs_f64(),
            ));
            interval_bytes = 0;
            interval_start = Instant::now();
        }
    }
    let put_seconds = started.elapsed().as_secs_f64();
    engine.settle();
    let written = disk_writes().saturating_sub(written_before);
    let on_disk = directory_bytes(dir);
    let longest = put_latencies
        .iter()
        .chain(&get_latencies)
        .max()
        .copied()
        .unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "case": "sustained_overwrite",
            "engine": engine.name(),
            "working_set_mib": round(workload.working_set as f64 / MIB),
            "put_mib": round(put_bytes as f64 / MIB),
            "puts": put_latencies.len(),
            "gets": get_latencies.len(),
            "put_mib_per_s": round(put_bytes as f64 / MIB / put_seconds),
            "put_mib_per_s_over_time": throughput,
            "write_amplification": round(written as f64 / put_bytes as f64),
            "space_amplification": round(on_disk as f64 / workload.working_set as f64),
            "put_ms_p50": millis(percentile(&mut put_latencies, 0.50)),
            "put_ms_p99": millis(percentile(&mut put_latencies, 0.99)),
            "get_ms_p50": millis(percentile(&mut get_latencies, 0.50)),
            "get_ms_p99": millis(percentile(&mut get_latencies, 0.99)),
            "longest_pause_ms": millis(longest),
        })
    );
}

fn percentile(values: &mut [Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    values[((values.len() - 1) as f64 * p).round() as usize]
}

fn millis(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0)
}

/// Bytes this process caused to be written to storage (`/proc/self/io`).
fn disk_writes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The size of every file under `dir`.
fn directory_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        total += if path.is_dir() {
            directory_bytes(&path)
        } else {
            entry.metadata().map_or(0, |m| m.len())
        };
    }
    total
}
