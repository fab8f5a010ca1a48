//! `compare -- remote`: coffer over an object store against the plain client
//! on the same server. Both are `object_store`'s `AmazonS3` on one SeaweedFS
//! (`weed mini`, started on loopback as the tests start it), each on a bucket
//! of its own, in one process; coffer is `CofferObjectStore` over
//! `RemoteStore`, so both are driven through the same trait.
//!
//! - put and get of 64 KiB to 64 MiB, interleaved rounds, the ratio coffer ÷
//!   plain (target ≥ 0.85 at 1 MiB and above), and the requests and bytes
//!   each operation makes (counted by `MeteredStore` under both);
//! - a 1-byte and a 1 MiB range of a 64 MiB object: requests and bytes
//!   fetched, coffer against plain (target: at most one chunk more on either
//!   side, plus the trailer);
//! - KMS requests for 10,000 puts and gets of 4 KiB under a local CMK with
//!   bucket keys (gets on a reopened store), as `compare -- kms` counts them
//!   for the embedded store.

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use coffer_keyring::{Caller, CreateKeyOptions, RootKey};
use coffer_object_store::CofferObjectStore;
use coffer_remote::{MeteredStore, RemoteOptions, RemoteStore, Requests};
use coffer_sse::{EncryptionRule, PutOptions, Session};
use coffer_test_servers::seaweedfs::SeaweedServer;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut, S3CopyIfNotExists};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

use crate::cpu::{self, CpuMeter, Spent};
use crate::measure::{Budget, interleaved_rounds, ops_per_s_settled, report_rates, round};

const ENGINES: [&str; 2] = ["coffer", "plain"];
/// coffer ÷ plain at 1 MiB and above.
const MIN_RATIO: f64 = 0.85;

fn s3(server: &SeaweedServer, bucket: &str) -> Arc<dyn ObjectStore> {
    server.create_bucket(bucket);
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(server.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id("bench")
            .with_secret_access_key("bench")
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
            .build()
            .expect("an S3 client"),
    )
}

fn options() -> RemoteOptions {
    RemoteOptions::new(RootKey::from_bytes([6; 32])).with_threads(2)
}

/// A coffer store over `backend` with bucket `bench` under `rule`.
fn coffer(
    backend: Arc<dyn ObjectStore>,
    rule: impl FnOnce(&RemoteStore) -> EncryptionRule,
) -> RemoteStore {
    let store = RemoteStore::create(backend, options()).expect("a remote store");
    let rule = rule(&store);
    let session = Session::trusted(store.clone());
    session.create_bucket("bench").expect("bucket");
    session.put_bucket_encryption("bench", rule).expect("rule");
    store
}

fn requests_json(r: &Requests) -> serde_json::Value {
    serde_json::json!({
        "requests": r.total(),
        "gets": r.gets,
        "get_bytes": r.get_bytes,
        "puts": r.puts,
        "parts": r.parts,
        "put_bytes": r.put_bytes,
    })
}

pub(crate) fn run(budget: &Budget, quick: bool) {
    let Some(server) = SeaweedServer::start() else {
        eprintln!(
            "remote skipped: {}",
            coffer_test_servers::seaweedfs::INSTALL_HINT
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let coffer_meter = Arc::new(MeteredStore::new(s3(&server, "coffer-bench")));
    let plain_meter = Arc::new(MeteredStore::new(s3(&server, "plain-bench")));
    let store = coffer(Arc::clone(&coffer_meter) as Arc<dyn ObjectStore>, |_| {
        EncryptionRule::managed()
    });
    let objects: Arc<dyn ObjectStore> = Arc::new(CofferObjectStore::new(store, "bench"));
    let plain: Arc<dyn ObjectStore> = Arc::clone(&plain_meter) as Arc<dyn ObjectStore>;
    let engines = [(&objects, &coffer_meter), (&plain, &plain_meter)];

    let sizes: &[usize] = if quick {
        &[64 << 10, 1 << 20, 16 << 20]
    } else {
        &[64 << 10, 1 << 20, 16 << 20, 64 << 20]
    };
    for &size in sizes {
        let body: Bytes = (0..size).map(|i| (i * 7 + 1) as u8).collect();
        let keys = (64 << 20) / size;
        let paths: Vec<Path> = (0..keys.clamp(2, 64))
            .map(|i| Path::from(format!("obj-{size}-{i}")))
            .collect();
        let put = |store: &Arc<dyn ObjectStore>, path: &Path| {
            runtime
                .block_on(store.put(path, PutPayload::from(body.clone())))
                .expect("put");
        };
        let get = |store: &Arc<dyn ObjectStore>, path: &Path| {
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
        for path in &paths {
            for (store, _) in engines {
                put(store, path);
            }
        }
        // What one put and one get cost each, in requests and bytes.
        let mut costs = Vec::new();
        for (store, meter) in engines {
            meter.take();
            put(store, &paths[0]);
            let put_cost = meter.take();
            assert_eq!(get(store, &paths[0]).len(), size);
            let get_cost = meter.take();
            costs.push((put_cost, get_cost));
        }
        let cpu = CpuMeter::new(server.pid());
        let spent: [RefCell<Spent>; 4] = Default::default();
        let mut next = [0usize; 2];
        let [c, p] = &mut next;
        let put_rates = interleaved_rounds(
            budget,
            &mut [
                cpu.counted(&spent[0], |t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *c = (*c + 1) % paths.len();
                            put(&objects, &paths[*c]);
                        },
                        || {},
                    )
                }),
                cpu.counted(&spent[1], |t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *p = (*p + 1) % paths.len();
                            put(&plain, &paths[*p]);
                        },
                        || {},
                    )
                }),
            ],
        );
        // The plain client asking for the same range as coffer's first
        // request (the body's last window): what a ranged GET costs the
        // server, beside a whole one.
        let first_request =
            coffer_remote::layout::stored_len(coffer_remote::DEFAULT_PART_SIZE as u64)
                .expect("a window's stored length");
        let ranged_get = |store: &Arc<dyn ObjectStore>, path: &Path, range: GetRange| {
            let options = GetOptions {
                range: Some(range),
                ..GetOptions::default()
            };
            runtime.block_on(async {
                let result = store.get_opts(path, options).await.expect("get");
                result.bytes().await.expect("body")
            })
        };
        let mut next = [0usize; 4];
        let [c, p, r, f] = &mut next;
        let get_rates = interleaved_rounds(
            budget,
            &mut [
                cpu.counted(&spent[2], |t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *c = (*c + 1) % paths.len();
                            black_box(get(&objects, &paths[*c]));
                        },
                        || {},
                    )
                }),
                cpu.counted(&spent[3], |t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *p = (*p + 1) % paths.len();
                            black_box(get(&plain, &paths[*p]));
                        },
                        || {},
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *r = (*r + 1) % paths.len();
                            let range = GetRange::Suffix(first_request);
                            black_box(ranged_get(&plain, &paths[*r], range));
                        },
                        || {},
                    )
                }),
                Box::new(|t| {
                    ops_per_s_settled(
                        t,
                        || {
                            *f = (*f + 1) % paths.len();
                            let range = GetRange::Bounded(0..first_request);
                            black_box(ranged_get(&plain, &paths[*f], range));
                        },
                        || {},
                    )
                }),
            ],
        );
        println!(
            "{}",
            serde_json::json!({
                "case": "plain_get_last_window_ranged",
                "bytes": size,
                "range": format!("bytes=-{first_request}"),
                "ops_per_s": round(get_rates[2]),
                "ratio_vs_plain": round(get_rates[2] / get_rates[1]),
            })
        );
        println!(
            "{}",
            serde_json::json!({
                "case": "plain_get_first_window_ranged",
                "bytes": size,
                "range": format!("bytes=0-{}", first_request - 1),
                "ops_per_s": round(get_rates[3]),
                "ratio_vs_plain": round(get_rates[3] / get_rates[1]),
            })
        );
        report_rates(
            &ENGINES,
            size,
            [("put", &put_rates), ("get", &get_rates)],
            &[("ratio_vs_plain", 1)],
        );
        let spent = spent.map(RefCell::into_inner);
        cpu::report("put", size, spent[0], spent[1]);
        cpu::report("get", size, spent[2], spent[3]);
        for ((engine, (put_cost, get_cost)), (put_rate, get_rate)) in ENGINES
            .iter()
            .zip(&costs)
            .zip(put_rates.iter().zip(&get_rates))
        {
            let mut line = serde_json::json!({
                "case": format!("{engine}_costs"),
                "bytes": size,
                "put": requests_json(put_cost),
                "get": requests_json(get_cost),
            });
            if *engine == "coffer" && size >= 1 << 20 {
                let fields = line.as_object_mut().expect("an object");
                fields.insert("target_ratio_at_least".into(), MIN_RATIO.into());
                fields.insert("put_ratio".into(), round(put_rate / put_rates[1]).into());
                fields.insert("get_ratio".into(), round(get_rate / get_rates[1]).into());
            }
            println!("{line}");
        }
        for (store, _) in engines {
            for path in &paths {
                runtime.block_on(store.delete(path)).expect("delete");
            }
        }
    }

    ranges(&runtime, engines);
    kms_requests(&server, quick);
}

/// A 1-byte and a 1 MiB range of a 64 MiB object: what each side fetches.
fn ranges(
    runtime: &tokio::runtime::Runtime,
    engines: [(&Arc<dyn ObjectStore>, &Arc<MeteredStore>); 2],
) {
    let size = 64usize << 20;
    let body: Bytes = (0..size).map(|i| (i * 5 + 3) as u8).collect();
    let path = Path::from("ranged");
    for (store, _) in engines {
        runtime
            .block_on(store.put(&path, PutPayload::from(body.clone())))
            .expect("put");
    }
    for (name, range) in [
        ("range_1_byte", (40 << 20) + 123..(40 << 20) + 124),
        ("range_1_mib", (20 << 20) + 7..(21 << 20) + 7),
    ] {
        let mut fetched = Vec::new();
        for (store, meter) in engines {
            // A read first, so the bucket's record is cached and not counted.
            runtime
                .block_on(store.get_range(&path, 0..1))
                .expect("range");
            meter.take();
            let got = runtime
                .block_on(store.get_range(&path, range.clone()))
                .expect("range");
            assert_eq!(got, body.slice(range.start as usize..range.end as usize));
            fetched.push(meter.take());
        }
        let (coffer, plain) = (fetched[0], fetched[1]);
        println!(
            "{}",
            serde_json::json!({
                "case": name,
                "object_bytes": size,
                "range_bytes": range.end - range.start,
                "coffer": requests_json(&coffer),
                "plain": requests_json(&plain),
                "extra_bytes": coffer.get_bytes as i64 - plain.get_bytes as i64,
                // One chunk more on either side, every covered chunk's tag,
                // and the trailer read (8 KiB).
                "target_extra_bytes_at_most":
                    2 * ((16 << 10) + 16) + 16 * ((range.end - range.start) / (16 << 10) + 1) + (8 << 10),
            })
        );
    }
}

/// KMS requests for many puts and gets of 4 KiB under a CMK with bucket keys.
fn kms_requests(server: &SeaweedServer, quick: bool) {
    let ops = if quick { 1_000 } else { 10_000 };
    let backend = s3(server, "kms-bench");
    let store = coffer(Arc::clone(&backend), |store| {
        let cmk = store
            .kms()
            .create_key(CreateKeyOptions::new(), &Caller::Trusted)
            .expect("a CMK")
            .key_id;
        EncryptionRule::kms(Some(&cmk)).with_bucket_key(true)
    });
    let body: Bytes = (0..4096).map(|i| (i * 13 + 7) as u8).collect();
    let keys: Vec<String> = (0..ops).map(|i| format!("obj-{i}")).collect();
    // Eight writers, as a service would have; each KMS request is counted.
    let run_all = |store: &RemoteStore, op: &(dyn Fn(&Session<RemoteStore>, &str) + Sync)| {
        let session = Session::trusted(store.clone());
        let started = Instant::now();
        std::thread::scope(|scope| {
            for chunk in keys.chunks(keys.len().div_ceil(8)) {
                let session = &session;
                scope.spawn(move || {
                    for key in chunk {
                        op(session, key);
                    }
                });
            }
        });
        ops as f64 / started.elapsed().as_secs_f64()
    };
    let before = store.kms().requests();
    let put_rate = run_all(&store, &|session, key| {
        session
            .put_object("bench", key, body.clone(), PutOptions::default())
            .expect("put");
    });
    let put_requests = store.kms().requests() - before;
    drop(store);
    let store = RemoteStore::open(backend, options()).expect("reopened");
    let before = store.kms().requests();
    let get_rate = run_all(&store, &|session, key| {
        assert_eq!(
            session.get_object("bench", key).expect("get").body.len(),
            4096
        );
    });
    let get_requests = store.kms().requests() - before;
    for (case, rate, requests) in [
        ("remote_kms_put_4_kib", put_rate, put_requests),
        ("remote_kms_get_4_kib", get_rate, get_requests),
    ] {
        println!(
            "{}",
            serde_json::json!({
                "case": case,
                "bucket_keys": true,
                "ops": ops,
                "threads": 8,
                "ops_per_s": round(rate),
                "kms_requests": requests,
                "target_kms_requests_at_most": 10,
            })
        );
    }
}
