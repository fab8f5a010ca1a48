//! Read-your-writes against an in-memory model: random sequences of puts
//! (every mode, inline and segmented), deletes, copies, gets and range reads.

use crate::common;

use std::collections::BTreeMap;

use bytes::Bytes;
use coffer_store::{CopyOptions, Error, PutOptions};
use common::{data, fixture};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: u8,
        size: usize,
        mode: u8,
        seed: u8,
    },
    Delete {
        key: u8,
    },
    Copy {
        from: u8,
        to: u8,
        mode: u8,
    },
    Get {
        key: u8,
    },
    Range {
        key: u8,
        a: usize,
        b: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![
        0..2000usize,
        Just(64 * 1024),
        Just(64 * 1024 + 1),
        1_000_000..1_100_000usize
    ];
    prop_oneof![
        (0..4u8, size, 0..3u8, any::<u8>()).prop_map(|(key, size, mode, seed)| Op::Put {
            key,
            size,
            mode,
            seed
        }),
        (0..4u8).prop_map(|key| Op::Delete { key }),
        (0..4u8, 0..4u8, 0..3u8).prop_map(|(from, to, mode)| Op::Copy { from, to, mode }),
        (0..4u8).prop_map(|key| Op::Get { key }),
        (0..4u8, any::<usize>(), any::<usize>()).prop_map(|(key, a, b)| Op::Range { key, a, b }),
    ]
}

fn put_options(mode: u8) -> PutOptions {
    match mode {
        0 => PutOptions::default(),
        1 => PutOptions::managed(),
        _ => PutOptions::kms(None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn store_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..24)) {
        let f = fixture();
        let s = &f.store;
        s.create_bucket("model").expect("bucket");
        let mut model: BTreeMap<String, Bytes> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put { key, size, mode, seed } => {
                    let body = data(size, seed);
                    s.put_object("model", &format!("k{key}"), body.clone(), put_options(mode)).expect("put");
                    model.insert(format!("k{key}"), body);
                }
                Op::Delete { key } => {
                    s.delete_object("model", &format!("k{key}")).expect("delete");
                    model.remove(&format!("k{key}"));
                }
                Op::Copy { from, to, mode } => {
                    let options = CopyOptions::default().with_encryption(put_options(mode).encryption);
                    let result = s.copy_object(("model", &format!("k{from}")), ("model", &format!("k{to}")), options);
                    match model.get(&format!("k{from}")).cloned() {
                        Some(body) => {
                            result.expect("copy");
                            model.insert(format!("k{to}"), body);
                        }
                        None => prop_assert!(matches!(result, Err(Error::NoSuchKey { .. })), "copy from a missing key"),
                    }
                }
                Op::Get { key } => match (s.get_object("model", &format!("k{key}")), model.get(&format!("k{key}"))) {
                    (Ok(object), Some(body)) => prop_assert!(object.body == *body),
                    (Err(Error::NoSuchKey { .. }), None) => {}
                    (other, expected) => prop_assert!(false, "get k{key}: {:?} vs model {:?}", other.map(|o| o.meta), expected.map(Bytes::len)),
                },
                Op::Range { key, a, b } => {
                    if let Some(body) = model.get(&format!("k{key}")) {
                        let (a, b) = (a % (body.len() + 1), b % (body.len() + 1));
                        let range = a.min(b) as u64..a.max(b) as u64;
                        let got = s.get_object_range("model", &format!("k{key}"), range.clone()).expect("range");
                        prop_assert!(got.body[..] == body[range.start as usize..range.end as usize]);
                    }
                }
            }
        }
        let listed: Vec<String> = s.list_objects("model", &Default::default()).expect("list").objects.into_iter().map(|o| o.key).collect();
        prop_assert_eq!(listed, model.keys().cloned().collect::<Vec<_>>());
        prop_assert!(s.check_consistency().expect("check").orphan_segment_objects.is_empty());
    }
}
