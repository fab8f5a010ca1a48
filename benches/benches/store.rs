//! Criterion benchmarks of the store's put and get against RocksDB as a user
//! would open it instead (the same baseline as `compare -- store`), so that
//! profiles of either can be taken: `cargo bench -p coffer-benches --bench store`.

use std::hint::black_box;

use bytes::Bytes;
use coffer_benches::baseline::DefaultRocks;
use coffer_store::{EncryptionRule, PutOptions, RootKey, Store, StoreOptions};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Keys cycled through per size, so that every put overwrites and every get
/// reads a stored object.
const KEYS: usize = 64;

fn store_against_rocksdb(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let default = DefaultRocks::open(&dir.path().join("default"));
    let store = Store::open(
        dir.path().join("coffer"),
        StoreOptions::new(RootKey::from_bytes([7; 32])).create_if_missing(true),
    )
    .expect("store opens");
    store.create_bucket("bench").expect("bucket");
    store
        .put_bucket_encryption("bench", EncryptionRule::managed().with_bucket_key(true))
        .expect("rule");
    for size in [4 * 1024, 64 * 1024, 1024 * 1024] {
        let body: Bytes = (0..size)
            .map(|i| (i * 7 + 1) as u8)
            .collect::<Vec<_>>()
            .into();
        let keys: Vec<String> = (0..KEYS).map(|i| format!("obj-{size}-{i}")).collect();
        for key in &keys {
            default.put(key, &body);
            store
                .put_object("bench", key, body.clone(), PutOptions::default())
                .expect("put");
        }
        for operation in ["put", "get"] {
            let mut group = c.benchmark_group(operation);
            group.throughput(Throughput::Bytes(size as u64));
            let mut next = 0;
            group.bench_with_input(BenchmarkId::new("rocksdb_default", size), &size, |b, _| {
                b.iter(|| {
                    next = (next + 1) % KEYS;
                    match operation {
                        "put" => default.put(&keys[next], &body),
                        _ => drop(black_box(default.get(&keys[next]))),
                    }
                })
            });
            group.bench_with_input(BenchmarkId::new("coffer", size), &size, |b, _| {
                b.iter(|| {
                    next = (next + 1) % KEYS;
                    match operation {
                        "put" => drop(
                            store
                                .put_object(
                                    "bench",
                                    &keys[next],
                                    body.clone(),
                                    PutOptions::default(),
                                )
                                .expect("put"),
                        ),
                        _ => drop(black_box(
                            store.get_object("bench", &keys[next]).expect("get"),
                        )),
                    }
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, store_against_rocksdb);
criterion_main!(benches);
