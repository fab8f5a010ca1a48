//! Model-based fuzzing of the store: arbitrary sequences of put (large ones
//! past the segments a put sends through the log, too), get, range, delete,
//! copy, multipart uploads, bucket rule changes, key rotations, rewraps and
//! retirements, bulk key jobs (created, paused, resumed, run) and audit log
//! prunes, checked against a BTreeMap of what each key should hold; after
//! each input, the store is consistent and its audit log whole (every event
//! sealed and chained).
//!
//! One store serves the whole process (opening RocksDB per input allowed only
//! about 20 inputs a second); each input gets a fresh bucket, emptied and
//! deleted at the end, and the store's consistency is checked after it.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Arbitrary;
use bytes::Bytes;
use coffer_store::{
    AuditRetention, CompletedPart, CopyOptions, EncryptionRule, Error, JobKind, JobLimits, JobState, PutCondition,
    PutOptions, RootKey, Store, StoreOptions,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Mode {
    Default,
    Managed,
    Kms,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Put { key: u8, len: u16, segments: u8, seed: u8, mode: Mode },
    Get { key: u8 },
    Range { key: u8, start: u32, end: u32 },
    Delete { key: u8 },
    Copy { from: u8, to: u8, mode: Mode },
    SetRule { kms: bool },
    DeleteRule,
    RotateMaster,
    Rewrap,
    Retire,
    /// A put of 9 MiB and a little: past the segments sent through the log.
    PutLarge { key: u8, seed: u8 },
    Multipart { key: u8, parts: u8, seed: u8, complete: bool, mode: Mode },
    Job { kind: u8, pause: bool },
    Prune { max_bytes: u16, by_age: bool },
}

fn options(mode: &Mode) -> Option<EncryptionRule> {
    match mode {
        Mode::Default => None,
        Mode::Managed => Some(EncryptionRule::managed()),
        Mode::Kms => Some(EncryptionRule::kms(None)),
    }
}

fn store() -> &'static Store {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let options = StoreOptions::new(RootKey::from_bytes([7; 32]))
                .with_threads(2)
                .create_if_missing(true);
            let store = Store::open(dir.path(), options).expect("opens");
            (dir, store)
        })
        .1
}

fuzz_target!(|ops: Vec<Op>| {
    static INPUTS: AtomicU64 = AtomicU64::new(0);
    let store = store();
    let bucket = format!("fuzz-{}", INPUTS.fetch_add(1, Ordering::Relaxed));
    store.create_bucket(&bucket).expect("bucket");
    let bucket = bucket.as_str();
    let mut model: BTreeMap<String, Bytes> = BTreeMap::new();
    for op in ops.into_iter().take(32) {
        match op {
            Op::Put { key, len, segments, seed, mode } => {
                let size = usize::from(len) + usize::from(segments % 3) * (1 << 20);
                let body: Bytes = (0..size).map(|i| (i as u8) ^ seed).collect::<Vec<_>>().into();
                let key = format!("k{}", key % 4);
                let put = PutOptions::default().with_encryption(options(&mode));
                store.put_object(bucket, &key, body.clone(), put).expect("put");
                model.insert(key, body);
            }
            Op::Get { key } => {
                let key = format!("k{}", key % 4);
                match (store.get_object(bucket, &key), model.get(&key)) {
                    (Ok(object), Some(body)) => assert_eq!(&object.body, body),
                    (Err(Error::NoSuchKey { .. }), None) => {}
                    (other, _) => panic!("get {key}: {:?}", other.map(|o| o.meta)),
                }
            }
            Op::Range { key, start, end } => {
                let key = format!("k{}", key % 4);
                let range = u64::from(start)..u64::from(end);
                match (store.get_object_range(bucket, &key, range.clone()), model.get(&key)) {
                    (Ok(object), Some(body)) => assert_eq!(object.body[..], body[range.start as usize..range.end as usize]),
                    (Err(Error::InvalidRange { .. }), Some(body)) => assert!(range.start > range.end || range.end > body.len() as u64),
                    (Err(Error::NoSuchKey { .. }), None) => {}
                    (other, _) => panic!("range {key}: {:?}", other.map(|o| o.meta)),
                }
            }
            Op::Delete { key } => {
                let key = format!("k{}", key % 4);
                store.delete_object(bucket, &key).expect("delete");
                model.remove(&key);
            }
            Op::Copy { from, to, mode } => {
                let (from, to) = (format!("k{}", from % 4), format!("k{}", to % 4));
                let copy = CopyOptions::default().with_encryption(options(&mode));
                match (store.copy_object((bucket, &from), (bucket, &to), copy), model.get(&from).cloned()) {
                    (Ok(_), Some(body)) => {
                        model.insert(to, body);
                    }
                    (Err(Error::NoSuchKey { .. }), None) => {}
                    (other, _) => panic!("copy {from} -> {to}: {other:?}"),
                }
            }
            Op::SetRule { kms } => {
                let rule = if kms { EncryptionRule::kms(None) } else { EncryptionRule::managed() };
                store.put_bucket_encryption(bucket, rule).expect("rule");
            }
            Op::DeleteRule => store.delete_bucket_encryption(bucket).expect("delete rule"),
            Op::RotateMaster => {
                store.rotate_master_key().expect("rotate");
            }
            Op::Rewrap => {
                store.rewrap_bucket(bucket).expect("rewrap");
            }
            Op::Retire => {
                store.retire_unused_master_keys().expect("retire");
                // Whatever was retired, everything stored still reads.
                for (key, body) in &model {
                    assert_eq!(&store.get_object(bucket, key).expect("reads after retire").body, body);
                }
            }
            Op::PutLarge { key, seed } => {
                let size = 9 * (1 << 20) + usize::from(seed);
                let body: Bytes = (0..size).map(|i| (i as u8).wrapping_mul(seed | 1)).collect::<Vec<_>>().into();
                let key = format!("k{}", key % 4);
                store.put_object(bucket, &key, body.clone(), PutOptions::managed()).expect("put large");
                model.insert(key, body);
            }
            Op::Multipart { key, parts, seed, complete, mode } => {
                let key = format!("k{}", key % 4);
                let put = PutOptions::default().with_encryption(options(&mode));
                let upload = store.create_multipart_upload(bucket, &key, put).expect("upload");
                let mut body = Vec::new();
                let mut listed = Vec::new();
                for number in 1..=u32::from(parts % 3) + 1 {
                    let part: Vec<u8> = (0..(70_000 * number as usize)).map(|i| (i as u8) ^ seed ^ number as u8).collect();
                    let uploaded = store.upload_part(bucket, &key, &upload, number, part.clone().into()).expect("part");
                    listed.push(CompletedPart::from(&uploaded));
                    body.extend_from_slice(&part);
                }
                if complete {
                    store.complete_multipart_upload(bucket, &key, &upload, &listed, &PutCondition::None).expect("complete");
                    model.insert(key, body.into());
                } else {
                    store.abort_multipart_upload(bucket, &key, &upload).expect("abort");
                }
            }
            Op::Job { kind, pause } => {
                let kind = match kind % 3 {
                    0 => JobKind::Rewrap,
                    1 => JobKind::Reencrypt { sse: "AES256".into(), kms_key_id: None },
                    _ => JobKind::EncryptUnencrypted,
                };
                match store.create_job(bucket, kind) {
                    Ok(id) => {
                        if pause {
                            assert_eq!(store.pause_job(&id).expect("pause").state, JobState::Paused);
                            store.resume_job(&id).expect("resume");
                        }
                        let status = store.run_job(&id, JobLimits::none(), |_| {}).expect("run");
                        assert_eq!(status.state, JobState::Done);
                        assert_eq!(store.job_status(&id).expect("status"), status);
                        assert_eq!(status.failed, 0);
                    }
                    // Encrypting the unencrypted needs a bucket rule.
                    Err(Error::NoSuchEncryptionRule(_)) => {}
                    Err(other) => panic!("job: {other}"),
                }
                for (key, body) in &model {
                    assert_eq!(&store.get_object(bucket, key).expect("reads after a job").body, body);
                }
            }
            Op::Prune { max_bytes, by_age } => {
                let retention = if by_age {
                    AuditRetention::keep_all().with_max_age(std::time::Duration::ZERO)
                } else {
                    AuditRetention::keep_all().with_max_bytes(u64::from(max_bytes))
                };
                store.prune_audit_log(&retention).expect("prune");
            }
        }
    }
    for key in model.keys() {
        store.delete_object(bucket, key).expect("delete");
    }
    store.delete_bucket(bucket).expect("the bucket is empty");
    let report = store.check_consistency().expect("check");
    assert!(report.orphan_segment_objects.is_empty() && report.missing_segments.is_empty(), "{report:?}");
    let audit = store.verify_audit_log().expect("verify the audit log");
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
});
