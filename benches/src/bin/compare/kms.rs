//! `compare -- kms`: puts and gets of 4 KiB objects under each key source —
//! the local KMS, the master keyring, and a Transit key on a real OpenBao on
//! loopback — with and without bucket keys, counting the requests each KMS
//! backend made. The baseline is the local KMS with a data key per object.
//!
//! Targets (10,000 puts and gets): with bucket keys at most 10 KMS requests for
//! the puts and 10 for the gets, and OpenBao with bucket keys at least 0.9 × the
//! puts per second of the local KMS without them. Gets run on a reopened store,
//! so every bucket key is unwrapped once.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use coffer_keyring::{CreateKeyOptions, KmsBackend};
use coffer_kms_vault::TransitKms;
use coffer_kms_vault::dev_server::{BaoServer, INSTALL_HINT};
use coffer_store::{EncryptionRule, PutOptions, RootKey, Store, StoreOptions};

use crate::measure::round;

const SIZE: usize = 4096;
/// Requests the bucket-key cases may make for all their puts, or all their gets.
const MAX_BUCKET_KEY_REQUESTS: u64 = 10;
/// OpenBao with bucket keys against the local KMS with a data key per object.
const MIN_RATIO: f64 = 0.9;

/// Where keys come from in one case.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Local,
    Master,
    OpenBao,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Master => "master",
            Backend::OpenBao => "openbao",
        }
    }
}

/// One store under one key source, and how to reopen it.
struct Subject<'a> {
    backend: Backend,
    server: Option<&'a BaoServer>,
    transit_key: String,
    dir: tempfile::TempDir,
}

impl Subject<'_> {
    fn open(&self) -> Store {
        let mut options = StoreOptions::new(RootKey::from_bytes([9; 32])).create_if_missing(true);
        if let (Backend::OpenBao, Some(server)) = (self.backend, self.server) {
            let kms: Arc<dyn KmsBackend> = Arc::new(TransitKms::from_client(server.client()));
            options = options.with_kms(kms);
        }
        Store::open(self.dir.path(), options).expect("store opens")
    }

    fn rule(&self, store: &Store, bucket_keys: bool) -> EncryptionRule {
        let rule = match self.backend {
            Backend::Master => EncryptionRule::managed(),
            Backend::Local => {
                let id = store
                    .kms()
                    .create_key(CreateKeyOptions::new(), &coffer_keyring::Caller::Trusted)
                    .expect("local CMK")
                    .key_id;
                EncryptionRule::kms(Some(&id))
            }
            Backend::OpenBao => EncryptionRule::kms(Some(&self.transit_key)),
        };
        rule.with_bucket_key(bucket_keys)
    }
}

pub(crate) fn run(quick: bool) {
    let ops = if quick { 2_000 } else { 10_000 };
    let server = BaoServer::start();
    if server.is_none() {
        eprintln!("openbao cases skipped: OpenBao's `bao` was not found; {INSTALL_HINT}");
    }
    let transit_key = "coffer-bench".to_owned();
    if let Some(server) = &server {
        server
            .client()
            .create_key(&transit_key)
            .expect("transit key");
    }
    let body: Bytes = (0..SIZE)
        .map(|i| (i * 13 + 7) as u8)
        .collect::<Vec<_>>()
        .into();
    let mut baseline_puts = None;
    for backend in [Backend::Local, Backend::Master, Backend::OpenBao] {
        if backend == Backend::OpenBao && server.is_none() {
            continue;
        }
        for bucket_keys in [false, true] {
            let subject = Subject {
                backend,
                server: server.as_ref(),
                transit_key: transit_key.clone(),
                dir: tempfile::tempdir().expect("tempdir"),
            };
            let store = subject.open();
            store.create_bucket("bench").expect("bucket");
            let rule = subject.rule(&store, bucket_keys);
            store.put_bucket_encryption("bench", rule).expect("rule");
            let keys: Vec<String> = (0..ops).map(|i| format!("obj-{i}")).collect();

            let requests = store.kms().requests();
            let started = Instant::now();
            for key in &keys {
                store
                    .put_object("bench", key, body.clone(), PutOptions::default())
                    .expect("put");
            }
            store.flush().expect("flush");
            let put_rate = ops as f64 / started.elapsed().as_secs_f64();
            let put_requests = store.kms().requests() - requests;
            store.close().expect("close");

            let store = subject.open();
            let requests = store.kms().requests();
            let started = Instant::now();
            for key in &keys {
                let object = store.get_object("bench", key).expect("get");
                assert_eq!(object.body.len(), SIZE);
            }
            let get_rate = ops as f64 / started.elapsed().as_secs_f64();
            let get_requests = store.kms().requests() - requests;
            store.close().expect("close");

            if backend == Backend::Local && !bucket_keys {
                baseline_puts = Some(put_rate);
            }
            for (case, rate, requests) in [
                ("put 4 KiB", put_rate, put_requests),
                ("get 4 KiB", get_rate, get_requests),
            ] {
                let mut line = serde_json::json!({
                    "case": case,
                    "backend": backend.name(),
                    "bucket_keys": bucket_keys,
                    "ops": ops,
                    "ops_per_s": round(rate),
                    "kms_requests": requests,
                });
                let fields = line.as_object_mut().expect("an object");
                if let (Some(baseline), true) = (baseline_puts, case.starts_with("put")) {
                    fields.insert(
                        "ratio_vs_local_per_object_keys".into(),
                        round(rate / baseline).into(),
                    );
                }
                if bucket_keys && backend != Backend::Master {
                    fields.insert(
                        "target_kms_requests_at_most".into(),
                        MAX_BUCKET_KEY_REQUESTS.into(),
                    );
                    if backend == Backend::OpenBao && case.starts_with("put") {
                        fields.insert("target_ratio_at_least".into(), MIN_RATIO.into());
                    }
                }
                println!("{line}");
            }
        }
    }
}
