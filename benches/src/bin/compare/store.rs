//! `compare -- store`: coffer against RocksDB storing the same bytes, put and
//! get, two baselines in the same process: RocksDB as a user would open it
//! instead (defaults, one column family, compression off, owned gets:
//! `ratio_vs_rocksdb_default`) and RocksDB opened with coffer's own options and
//! key layout (`ratio_vs_rocksdb`, which isolates what encryption costs).
//! coffer runs with a data key per object and with data keys from a bucket key.
//! First, a streaming put and get of a 2 GiB object and a 1 GiB `put_object`
//! with the peak resident memory they took (`store_memory`); then the
//! concurrent cases (`many_writers`: 1 to 16 threads against default RocksDB
//! with the same threads). The 4 KiB put's ratio is printed beside its
//! bound (`bounds`): RocksDB's own operation plus the work every object
//! needs.

use std::hint::black_box;

use bytes::Bytes;
use coffer_benches::baseline::{DefaultRocks, SameLayout};
use coffer_store::{EncryptionRule, PutOptions, RootKey, Store, StoreOptions};

use crate::measure::{
    Budget, MIB, interleaved, interleaved_rounds, ops_per_s_settled, report_rates, settle_store,
};
use crate::tuning::Candidate;

/// The engines, in the order their rates are measured and printed.
const ENGINES: [&str; 4] = [
    "rocksdb_default",
    "rocksdb",
    "coffer_aes256",
    "coffer_aes256_bucket_key",
];

pub(crate) fn run(
    budget: &Budget,
    quick: bool,
    only_size: Option<usize>,
    candidate: &Candidate,
    only: Option<&str>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    // Memory first, in a store of its own that is then closed, while the
    // process holds nothing else, so that the peak resident memory it reports
    // is the streaming's own (and its gigabytes leave no work behind for the
    // comparisons).
    if only_size.is_none() && only.is_none() {
        let store = Store::open(
            dir.path().join("memory"),
            candidate
                .apply(StoreOptions::new(RootKey::from_bytes([5; 32])).create_if_missing(true)),
        )
        .expect("store opens");
        store.create_bucket("bench").expect("bucket");
        crate::store_memory::run(&store, quick);
        store.close().expect("close");
    }
    let tuning = candidate.tuning.clone();
    let default = DefaultRocks::open(&dir.path().join("default"));
    let same = SameLayout::open(&dir.path().join("plain"), &tuning, candidate.inline_bytes);
    let open = |name: &str| {
        Store::open(
            dir.path().join(name),
            candidate
                .apply(StoreOptions::new(RootKey::from_bytes([5; 32])).create_if_missing(true)),
        )
        .expect("store opens")
    };
    // Two stores, so that each engine holds the same working set: one with a
    // data key per object, one with data keys derived from a bucket key.
    let store = open("coffer");
    store.create_bucket("bench").expect("bucket");
    let bucket_key_store = open("coffer-bucket-keys");
    bucket_key_store.create_bucket("bench").expect("bucket");
    bucket_key_store
        .put_bucket_encryption("bench", EncryptionRule::managed().with_bucket_key(true))
        .expect("rule");

    if only_size.is_none() {
        crate::many_writers::run(budget, &default, &store);
    }
    if only == Some("concurrent") {
        return;
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
        let coffer_put = |store: &Store, key: &str| {
            store
                .put_object("bench", key, body.clone(), PutOptions::default())
                .expect("put");
        };
        store
            .put_bucket_encryption("bench", EncryptionRule::managed())
            .expect("rule");
        for key in &keys {
            default.put(key, &body);
            same.put(key, &body);
            coffer_put(&store, key);
            coffer_put(&bucket_key_store, key);
        }
        // Each put round ends by flushing what it wrote and waiting for the
        // compactions that caused, timed: so each engine pays for its own
        // background work and none lands in another engine's round.
        default.settle();
        same.settle();
        settle_store(&store);
        settle_store(&bucket_key_store);
        let mut next = [0usize; 4];
        let [d, b, c, k] = &mut next;
        let put = interleaved_rounds(
            budget,
            &mut [
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *d = (*d + 1) % keys.len();
                            default.put(&keys[*d], &body);
                        },
                        || default.settle(),
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *b = (*b + 1) % keys.len();
                            same.put(&keys[*b], &body);
                        },
                        || same.settle(),
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *c = (*c + 1) % keys.len();
                            coffer_put(&store, &keys[*c]);
                        },
                        || settle_store(&store),
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *k = (*k + 1) % keys.len();
                            coffer_put(&bucket_key_store, &keys[*k]);
                        },
                        || settle_store(&bucket_key_store),
                    )
                }),
            ],
        );
        let mut next = [0usize; 4];
        let [d, b, c, k] = &mut next;
        let mut default_get = || {
            *d = (*d + 1) % keys.len();
            black_box(default.get(&keys[*d]));
        };
        let mut same_get = || {
            *b = (*b + 1) % keys.len();
            black_box(same.get(&keys[*b], size));
        };
        let mut coffer_get = || {
            *c = (*c + 1) % keys.len();
            black_box(store.get_object("bench", &keys[*c]).expect("get").body);
        };
        let mut bucket_key_get = || {
            *k = (*k + 1) % keys.len();
            black_box(
                bucket_key_store
                    .get_object("bench", &keys[*k])
                    .expect("get")
                    .body,
            );
        };
        let get = interleaved(
            budget,
            &mut [
                &mut default_get,
                &mut same_get,
                &mut coffer_get,
                &mut bucket_key_get,
            ],
        );
        report_rates(
            &ENGINES,
            size,
            [("put", &put), ("get", &get)],
            &[("ratio_vs_rocksdb", 1), ("ratio_vs_rocksdb_default", 0)],
        );
        if size <= crate::bounds::ONE_CHUNK {
            let work = crate::bounds::work(budget, size);
            crate::bounds::report(size, work, [put[0], put[1], put[2]]);
        }
    }
}
