//! `compare -- gateway`: put and get through the S3 gateway, with
//! `object_store`'s `AmazonS3` client signing every request (SigV4 over
//! loopback HTTP/1.1), against the same operations through the embedded
//! store API on the same bytes, in one process, interleaved; then 4 KiB
//! requests per second with 16 concurrent clients against 16 threads of the
//! store API.
//!
//! Where the time goes: `overhead_us_per_op` is the time a request through
//! the gateway takes beyond the store API's (HTTP, signing and checking the
//! signature, XML, the hops to the blocking pool, both ends in this
//! process), printed per size.

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use coffer_gateway::{AccessKeys, Gateway};
use coffer_keyring::Caller;
use coffer_store::{EncryptionRule, PutOptions, RootKey, Store, StoreOptions};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use crate::measure::{
    Budget, MIB, interleaved_rounds, ops_per_s_settled, report_rates, round, settle_store,
};

/// The engines: the store API, the gateway with a client that signs each
/// body's SHA-256 (`object_store`'s default), and with one that sends
/// `UNSIGNED-PAYLOAD` (so neither end hashes the body).
const ENGINES: [&str; 3] = ["store_api", "gateway", "gateway_unsigned_payload"];
const CLIENTS: usize = 16;

pub(crate) fn run(budget: &Budget, quick: bool) {
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
    let served = open("gateway");
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut keys = AccessKeys::new();
    keys.insert("AKIDBENCH", "bench-secret", Caller::Trusted)
        .expect("key");
    let gateway = Gateway::new(served.clone(), keys);
    let listener = server_runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let address = listener.local_addr().expect("address");
    server_runtime.spawn(coffer_gateway::serve(
        listener,
        gateway.into_service(),
        None,
        std::future::pending(),
    ));
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = |unsigned: bool| -> Arc<AmazonS3> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(format!("http://{address}"))
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_bucket_name("bench")
                .with_access_key_id("AKIDBENCH")
                .with_secret_access_key("bench-secret")
                .with_unsigned_payload(unsigned)
                .build()
                .expect("client"),
        )
    };
    let (s3, unsigned) = (client(false), client(true));

    let sizes: &[usize] = if quick {
        &[4 * 1024, 1 << 20, 16 << 20]
    } else {
        &[4 * 1024, 1 << 20, 64 << 20]
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
        let gateway_put = |s3: &AmazonS3, path: &Path| {
            client_runtime
                .block_on(s3.put(path, PutPayload::from(body.clone())))
                .expect("put");
        };
        for (key, path) in keys.iter().zip(&paths) {
            api_put(key);
            gateway_put(&s3, path);
        }
        settle_store(&api);
        settle_store(&served);
        let mut next = [0usize; 3];
        let [a, g, u] = &mut next;
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
                            *g = (*g + 1) % keys.len();
                            gateway_put(&s3, &paths[*g]);
                        },
                        || settle_store(&served),
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *u = (*u + 1) % keys.len();
                            gateway_put(&unsigned, &paths[*u]);
                        },
                        || settle_store(&served),
                    )
                }),
            ],
        );
        let gateway_get = |s3: &AmazonS3, path: &Path| {
            black_box(client_runtime.block_on(async {
                s3.get(path)
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body")
            }));
        };
        let mut next = [0usize; 3];
        let [a, g, u] = &mut next;
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
                            *g = (*g + 1) % keys.len();
                            gateway_get(&s3, &paths[*g]);
                        },
                        || {},
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *u = (*u + 1) % keys.len();
                            gateway_get(&unsigned, &paths[*u]);
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
            &[("ratio_vs_store_api", 0)],
        );
        println!(
            "{}",
            serde_json::json!({
                "case": "gateway_overhead",
                "bytes": size,
                "put_overhead_us_per_op": round(1e6 / put[1] - 1e6 / put[0]),
                "get_overhead_us_per_op": round(1e6 / get[1] - 1e6 / get[0]),
                "put_payload_signing_us_per_op": round(1e6 / put[1] - 1e6 / put[2]),
            })
        );
    }

    concurrent(budget, &api, &s3, &client_runtime);
}

/// 4 KiB gets and puts by [`CLIENTS`] at once: threads on the store API,
/// concurrent requests through the gateway.
fn concurrent(
    budget: &Budget,
    api: &Store,
    s3: &Arc<AmazonS3>,
    client_runtime: &tokio::runtime::Runtime,
) {
    let size = 4 * 1024;
    let body: Bytes = vec![3u8; size].into();
    let keys: Vec<String> = (0..512).map(|i| format!("conc-{i}")).collect();
    for key in &keys {
        api.put_object("bench", key, body.clone(), PutOptions::default())
            .expect("put");
        client_runtime
            .block_on(s3.put(&Path::from(key.as_str()), PutPayload::from(body.clone())))
            .expect("put");
    }
    for (operation, writes) in [("get", false), ("put", true)] {
        let rates = interleaved_rounds(
            budget,
            &mut [
                Box::new(|t| {
                    let start = std::time::Instant::now();
                    let done: usize = std::thread::scope(|scope| {
                        let handles: Vec<_> = (0..CLIENTS)
                            .map(|c| {
                                let (keys, body) = (&keys, &body);
                                scope.spawn(move || {
                                    let mut n = 0;
                                    while start.elapsed() < t {
                                        let key = &keys[(c * 31 + n) % keys.len()];
                                        if writes {
                                            api.put_object(
                                                "bench",
                                                key,
                                                body.clone(),
                                                PutOptions::default(),
                                            )
                                            .expect("put");
                                        } else {
                                            black_box(api.get_object("bench", key).expect("get"));
                                        }
                                        n += 1;
                                    }
                                    n
                                })
                            })
                            .collect();
                        handles.into_iter().map(|h| h.join().expect("joins")).sum()
                    });
                    done as f64 / start.elapsed().as_secs_f64()
                }),
                Box::new(|t| {
                    let start = std::time::Instant::now();
                    let done: usize = client_runtime.block_on(async {
                        let tasks: Vec<_> = (0..CLIENTS)
                            .map(|c| {
                                let (s3, keys, body) = (s3.clone(), keys.clone(), body.clone());
                                tokio::spawn(async move {
                                    let mut n = 0;
                                    while start.elapsed() < t {
                                        let path =
                                            Path::from(keys[(c * 31 + n) % keys.len()].as_str());
                                        if writes {
                                            s3.put(&path, PutPayload::from(body.clone()))
                                                .await
                                                .expect("put");
                                        } else {
                                            black_box(
                                                s3.get(&path)
                                                    .await
                                                    .expect("get")
                                                    .bytes()
                                                    .await
                                                    .expect("body"),
                                            );
                                        }
                                        n += 1;
                                    }
                                    n
                                })
                            })
                            .collect();
                        let mut done = 0;
                        for task in tasks {
                            done += task.await.expect("joins");
                        }
                        done
                    });
                    done as f64 / start.elapsed().as_secs_f64()
                }),
            ],
        );
        println!(
            "{}",
            serde_json::json!({
                "case": format!("concurrent_{operation}"),
                "bytes": size,
                "clients": CLIENTS,
                "store_api_ops_per_s": round(rates[0]),
                "gateway_requests_per_s": round(rates[1]),
                "ratio_vs_store_api": round(rates[1] / rates[0]),
            })
        );
    }
}
