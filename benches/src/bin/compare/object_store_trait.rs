//! `compare -- object-store`: put and get through the `object_store` trait
//! (`CofferObjectStore`) against coffer's own blocking API on the same bytes
//! (`ratio_vs_store_api`: what the trait costs) and against `object_store`'s
//! `LocalFileSystem` (`ratio_vs_local_fs`: what a user would otherwise pick for
//! local, unencrypted storage), in the same process, interleaved.
//!
//! The trait's calls run on a two-worker tokio runtime, as a service would
//! call them; a get collects the whole body (`GetResult::bytes`), as the
//! store API's `get_object` returns it. Each engine has its own directory and
//! working set; coffer's puts are followed by a timed flush, as in `store`.

use std::hint::black_box;

use bytes::Bytes;
use coffer_object_store::CofferObjectStore;
use coffer_store::{EncryptionRule, PutOptions, RootKey, Store, StoreOptions};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::measure::{
    Budget, MIB, interleaved_rounds, ops_per_s_settled, report_rates, round, settle_store,
};

/// The engines, in the order their rates are measured and printed.
const ENGINES: [&str; 3] = ["store_api", "object_store", "local_fs"];

pub(crate) fn run(budget: &Budget, quick: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let open = |name: &str| {
        let store = Store::open(
            dir.path().join(name),
            StoreOptions::new(RootKey::from_bytes([5; 32])).create_if_missing(true),
        )
        .expect("store opens");
        store.create_bucket("bench").expect("bucket");
        store
            .put_bucket_encryption("bench", EncryptionRule::managed())
            .expect("rule");
        store
    };
    let api = open("store-api");
    let trait_store = open("object-store");
    let objects = CofferObjectStore::new(trait_store.clone(), "bench");
    std::fs::create_dir_all(dir.path().join("fs")).expect("fs dir");
    let local = LocalFileSystem::new_with_prefix(dir.path().join("fs")).expect("local fs");

    // What one trip to the blocking pool and back costs, which every call
    // through the trait pays once: the floor under its overhead.
    let hops = crate::measure::interleaved(
        budget,
        &mut [&mut || {
            runtime
                .block_on(async { tokio::task::spawn_blocking(|| black_box(0u8)).await })
                .expect("joins");
        }],
    );
    println!(
        "{}",
        serde_json::json!({
            "case": "spawn_blocking_round_trip",
            "ops_per_s": round(hops[0]),
            "us_per_op": round(1e6 / hops[0]),
        })
    );

    let sizes: &[usize] = if quick {
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
        let paths: Vec<Path> = keys.iter().map(|k| Path::from(k.as_str())).collect();
        let api_put = |key: &str| {
            api.put_object("bench", key, body.clone(), PutOptions::default())
                .expect("put");
        };
        let trait_put = |store: &dyn ObjectStore, path: &Path| {
            runtime
                .block_on(store.put(path, PutPayload::from(body.clone())))
                .expect("put");
        };
        for (key, path) in keys.iter().zip(&paths) {
            api_put(key);
            trait_put(&objects, path);
            trait_put(&local, path);
        }
        settle_store(&api);
        settle_store(&trait_store);
        let mut next = [0usize; 3];
        let [a, o, l] = &mut next;
        let put = interleaved_rounds(
            budget,
            &mut [
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *a = (*a + 1) % keys.len();
                            api_put(&keys[*a]);
                        },
                        || settle_store(&api),
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *o = (*o + 1) % keys.len();
                            trait_put(&objects, &paths[*o]);
                        },
                        || settle_store(&trait_store),
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *l = (*l + 1) % keys.len();
                            trait_put(&local, &paths[*l]);
                        },
                        || {},
                    )
                }),
            ],
        );
        let trait_get = |store: &dyn ObjectStore, path: &Path| {
            runtime.block_on(async {
                store
                    .get(path)
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body")
            })
        };
        let mut next = [0usize; 3];
        let [a, o, l] = &mut next;
        let get = interleaved_rounds(
            budget,
            &mut [
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *a = (*a + 1) % keys.len();
                            black_box(api.get_object("bench", &keys[*a]).expect("get").body);
                        },
                        || {},
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *o = (*o + 1) % keys.len();
                            black_box(trait_get(&objects, &paths[*o]));
                        },
                        || {},
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *l = (*l + 1) % keys.len();
                            black_box(trait_get(&local, &paths[*l]));
                        },
                        || {},
                    )
                }),
            ],
        );
        report_rates(
            &ENGINES,
            size,
            [("put", &put), ("get", &get)],
            &[("ratio_vs_store_api", 0), ("ratio_vs_local_fs", 2)],
        );
    }
}
