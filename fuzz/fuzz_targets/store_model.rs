//! Model-based fuzzing of the store: arbitrary sequences of put, get, range,
//! delete, copy, bucket rule changes and key rotations, checked against a
//! BTreeMap of what each key should hold.
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
use coffer_store::{CopyOptions, EncryptionRule, Error, PutOptions, RootKey, Store, StoreOptions};
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
        }
    }
    for key in model.keys() {
        store.delete_object(bucket, key).expect("delete");
    }
    store.delete_bucket(bucket).expect("the bucket is empty");
    let report = store.check_consistency().expect("check");
    assert!(report.orphan_segment_objects.is_empty() && report.missing_segments.is_empty(), "{report:?}");
});
