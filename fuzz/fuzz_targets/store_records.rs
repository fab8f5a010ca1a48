//! Arbitrary bytes planted in the families whose records steer the store (job
//! records, audit events, the audit log's head and anchor, multipart uploads
//! and parts), as an attacker with the directory would: every read of them
//! (job status and list, audit queries and verification, upload listing,
//! consistency) returns a result or a typed error, never a panic, and a
//! planted record never passes as the store's own.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use coffer_store::test_util::{raw_delete, raw_get, raw_put};
use coffer_store::{AuditQuery, Error, JobKind, PutOptions, RootKey, Store, StoreOptions};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Plant {
    family: u8,
    /// For the meta family: the head, the anchor, or `key`.
    which: u8,
    key: Vec<u8>,
    /// Prefixed with a record magic when asked, so the bytes after it are
    /// what gets parsed.
    magic: u8,
    value: Vec<u8>,
}

const FAMILIES: [&str; 4] = ["jobs", "audit", "meta", "multipart"];
const MAGICS: [&[u8]; 5] = [b"", b"CFJ2", b"CFA2", b"CFAH", b"CFAN"];

fn store() -> &'static Store {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let options = StoreOptions::new(RootKey::from_bytes([9; 32]))
                .with_threads(1)
                .create_if_missing(true);
            let store = Store::open(dir.path(), options).expect("opens");
            store.create_bucket("fuzz").expect("bucket");
            store
                .put_object("fuzz", "k", Bytes::from_static(b"kept"), PutOptions::managed())
                .expect("put");
            store.create_job("fuzz", JobKind::Rewrap).expect("job");
            (dir, store)
        })
        .1
}

fuzz_target!(|plants: Vec<Plant>| {
    let store = store();
    let mut planted = Vec::new();
    for plant in plants.into_iter().take(6) {
        let family = FAMILIES[usize::from(plant.family) % FAMILIES.len()];
        let key = match (family, plant.which % 3) {
            ("meta", 0) => b"audit/head".to_vec(),
            ("meta", 1) => b"audit/anchor".to_vec(),
            ("meta", _) if plant.key == b"store_id" => continue,
            _ => plant.key,
        };
        let magic = MAGICS[usize::from(plant.magic) % MAGICS.len()];
        let value = [magic, &plant.value[..]].concat();
        let original = raw_get(store, family, &key).expect("reads");
        if original.as_deref() == Some(&value[..]) {
            continue; // not a plant
        }
        raw_put(store, family, &key, &value).expect("plants");
        planted.push((family, key, original));
    }
    for (family, key, _) in &planted {
        if *family == "jobs" {
            match store.job_status(&String::from_utf8_lossy(key)) {
                Ok(status) => panic!("a planted job record was read as the store's: {status:?}"),
                Err(Error::Integrity(_) | Error::CorruptRecord(_) | Error::NoSuchJob(_)) => {}
                Err(other) => panic!("job status: {other}"),
            }
        }
    }
    let _ = store.list_jobs();
    let page = store.audit_log(&AuditQuery::new()).expect("the audit log reads around what it meets");
    let verified = store.verify_audit_log().expect("verification runs");
    let steers_the_log = |family: &str, key: &[u8]| {
        family == "audit" || (family == "meta" && (key == b"audit/head" || key == b"audit/anchor"))
    };
    if planted.iter().any(|(family, key, _)| steers_the_log(family, key)) {
        assert!(
            !verified.problems.is_empty() && !page.damaged.is_empty(),
            "a planted audit record passed as the store's own: {planted:?}"
        );
    }
    let _ = store.list_multipart_uploads("fuzz");
    let _ = store.check_consistency();
    // Put the store back as it was for the next input.
    for (family, key, original) in planted.into_iter().rev() {
        match original {
            Some(value) => raw_put(store, family, &key, &value).expect("restores"),
            None => raw_delete(store, family, &key).expect("removes"),
        }
    }
    assert!(store.verify_audit_log().expect("verifies").problems.is_empty(), "restored");
});
