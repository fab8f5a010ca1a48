//! `compare -- store`'s concurrent cases: 1, 2, 4 and 16 threads putting, then
//! getting, 4 KiB and 1 MiB objects, coffer (store-managed keys, a data key
//! per object) against RocksDB opened with its defaults, each engine with the
//! same threads, interleaved round by round. Each thread writes keys of its
//! own; a put round ends with the flush and compactions its writes caused,
//! timed. Printed per case: both rates, the ratio, and each engine's scaling
//! (rate at N threads ÷ rate at 1).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_benches::baseline::DefaultRocks;
use coffer_store::{EncryptionRule, PutOptions, Store};

use crate::measure::{Budget, interleaved_rounds, round, settle_store};

/// The thread counts measured.
const THREADS: [usize; 4] = [1, 2, 4, 16];

/// Keys each thread cycles through.
const KEYS_PER_THREAD: usize = 64;

/// Operations per second of `threads` threads running `op(thread, n)` for
/// `budget`, counting the time `settle` then takes.
fn threaded(
    threads: usize,
    budget: Duration,
    op: &(dyn Fn(usize, usize) + Sync),
    settle: &dyn Fn(),
) -> f64 {
    let start = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let mut n = 0;
                    while start.elapsed() < budget || n < 2 {
                        op(thread, n);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker"))
            .sum()
    });
    settle();
    done as f64 / start.elapsed().as_secs_f64()
}

pub(crate) fn run(budget: &Budget, default: &DefaultRocks, store: &Store) {
    store
        .put_bucket_encryption("bench", EncryptionRule::managed())
        .expect("rule");
    for size in [4 * 1024, 1 << 20] {
        let body: Bytes = (0..size)
            .map(|i| (i * 3 + 5) as u8)
            .collect::<Vec<_>>()
            .into();
        let key = |thread: usize, n: usize| format!("mw-{size}-{thread}-{}", n % KEYS_PER_THREAD);
        for thread in 0..16 {
            for n in 0..KEYS_PER_THREAD {
                default.put(&key(thread, n), &body);
                store
                    .put_object(
                        "bench",
                        &key(thread, n),
                        body.clone(),
                        PutOptions::default(),
                    )
                    .expect("put");
            }
        }
        default.settle();
        settle_store(store);
        let mut rates: Vec<(&str, usize, [f64; 2])> = Vec::new();
        for threads in THREADS {
            let put_default = |thread: usize, n: usize| default.put(&key(thread, n), &body);
            let put_coffer = |thread: usize, n: usize| {
                store
                    .put_object(
                        "bench",
                        &key(thread, n),
                        body.clone(),
                        PutOptions::default(),
                    )
                    .expect("put");
            };
            let put = interleaved_rounds(
                budget,
                &mut [
                    Box::new(|t| threaded(threads, t, &put_default, &|| default.settle())),
                    Box::new(|t| threaded(threads, t, &put_coffer, &|| settle_store(store))),
                ],
            );
            let get_default = |thread: usize, n: usize| {
                black_box(default.get(&key(thread, n * 7 + thread)));
            };
            let get_coffer = |thread: usize, n: usize| {
                black_box(
                    store
                        .get_object("bench", &key(thread, n * 7 + thread))
                        .expect("get")
                        .body,
                );
            };
            let get = interleaved_rounds(
                budget,
                &mut [
                    Box::new(|t| threaded(threads, t, &get_default, &|| {})),
                    Box::new(|t| threaded(threads, t, &get_coffer, &|| {})),
                ],
            );
            rates.push(("put", threads, [put[0], put[1]]));
            rates.push(("get", threads, [get[0], get[1]]));
        }
        for (operation, threads, [rocks, coffer]) in &rates {
            let one = rates
                .iter()
                .find(|(o, t, _)| o == operation && *t == 1)
                .map(|(_, _, r)| *r)
                .unwrap_or([1.0, 1.0]);
            println!(
                "{}",
                serde_json::json!({
                    "case": format!("concurrent_{operation}"),
                    "bytes": size,
                    "threads": threads,
                    "rocksdb_default_ops_per_s": round(*rocks),
                    "coffer_ops_per_s": round(*coffer),
                    "ratio_vs_rocksdb_default": round(coffer / rocks),
                    "rocksdb_default_scaling": round(rocks / one[0]),
                    "coffer_scaling": round(coffer / one[1]),
                })
            );
        }
    }
}
