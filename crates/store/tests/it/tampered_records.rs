//! Records edited from outside, as an attacker with write access to the
//! directory would: the store is closed, its RocksDB directory opened with the
//! `rocksdb` crate, object records swapped, replaced by an unencrypted one,
//! given other metadata or another size; segments cut short or made longer
//! than their record says; key records flipped or swapped. Every read of a
//! damaged object, by every read path, is an integrity error naming it (never
//! a panic, never other bytes); untouched objects read as before; damaged key
//! records stop the store from opening.

use crate::common;

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;
use coffer_keyring::{Caller, CreateKeyOptions};
use coffer_store::{CompletedPart, Error, ListOptions, PutCondition, PutOptions, Store};
use common::{MIB, data, fixture, options};
use rocksdb::{DB, Options};

fn raw_db(path: &Path) -> DB {
    let names = DB::list_cf(&Options::default(), path).expect("lists families");
    DB::open_cf(&Options::default(), path, names).expect("opens raw")
}

fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    [bucket.as_bytes(), &[0], key.as_bytes()].concat()
}

fn raw_get(db: &DB, family: &str, key: &[u8]) -> Vec<u8> {
    db.get_cf(db.cf_handle(family).expect("family"), key)
        .expect("reads")
        .expect("present")
}

fn raw_put(db: &DB, family: &str, key: &[u8], value: &[u8]) {
    db.put_cf(db.cf_handle(family).expect("family"), key, value)
        .expect("writes");
}

fn assert_integrity_error<T: std::fmt::Debug>(result: coffer_store::Result<T>, object: &str) {
    match result {
        Err(Error::Integrity(message)) => assert!(
            message.contains(object),
            "the error names {object}: {message}"
        ),
        other => panic!("{object}: expected an integrity error, got {other:?}"),
    }
}

#[test]
fn edited_swapped_and_planted_object_records_are_refused_by_name() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let objects: [(&str, PutOptions, Bytes); 8] = [
        ("kms-a", PutOptions::kms(None), data(3000, 1)),
        ("managed-b", PutOptions::managed(), data(4000, 2)),
        ("plain", PutOptions::default(), data(5000, 3)),
        (
            "with-meta",
            PutOptions::managed().with_metadata("owner", "alice"),
            data(100, 4),
        ),
        ("resized", PutOptions::managed(), data(2 * MIB + 5, 5)),
        ("victim", PutOptions::kms(None), data(6000, 6)),
        ("untouched", PutOptions::managed(), data(7000, 7)),
        ("untouched-big", PutOptions::kms(None), data(3 * MIB, 8)),
    ];
    for (key, options, body) in &objects {
        s.put_object("bkt", key, body.clone(), options.clone())
            .expect("put");
    }
    s.close().expect("closes");

    {
        let db = raw_db(f.dir.path());
        // Swap two encrypted objects' records.
        let a = raw_get(&db, "objects", &object_key("bkt", "kms-a"));
        let b = raw_get(&db, "objects", &object_key("bkt", "managed-b"));
        raw_put(&db, "objects", &object_key("bkt", "kms-a"), &b);
        raw_put(&db, "objects", &object_key("bkt", "managed-b"), &a);
        // Plant an unencrypted object's record in place of an encrypted one.
        let plain = raw_get(&db, "objects", &object_key("bkt", "plain"));
        raw_put(&db, "objects", &object_key("bkt", "victim"), &plain);
        // Change a metadata value (same length, so the record still parses).
        let mut meta = raw_get(&db, "objects", &object_key("bkt", "with-meta"));
        let at = meta
            .windows(5)
            .position(|w| w == b"alice")
            .expect("metadata in the record");
        meta[at..at + 5].copy_from_slice(b"mallo");
        raw_put(&db, "objects", &object_key("bkt", "with-meta"), &meta);
        // Change the size (u64 after the version byte and the object id).
        let mut resized = raw_get(&db, "objects", &object_key("bkt", "resized"));
        resized[17..25].copy_from_slice(&(1u64 << 40).to_le_bytes());
        raw_put(&db, "objects", &object_key("bkt", "resized"), &resized);
    }

    let store = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    for key in ["kms-a", "managed-b", "victim", "with-meta", "resized"] {
        let object = format!("bkt/{key}");
        assert_integrity_error(store.get_object("bkt", key), &object);
        assert_integrity_error(store.head_object("bkt", key), &object);
        assert_integrity_error(store.get_object_range("bkt", key, 0..10), &object);
        assert_integrity_error(store.open_object("bkt", key).map(drop), &object);
        assert_integrity_error(
            store.copy_object(("bkt", key), ("bkt", "copy"), Default::default()),
            &object,
        );
    }
    for (key, _, body) in &objects {
        if ["plain", "untouched", "untouched-big"].contains(key) {
            assert_eq!(&store.get_object("bkt", key).expect("reads").body, body);
        }
    }
    assert!(matches!(
        store.list_objects("bkt", &ListOptions::new()),
        Err(Error::Integrity(_))
    ));
    let mut damaged = store.check_consistency().expect("checks").damaged_records;
    damaged.sort();
    assert_eq!(
        damaged,
        [
            "bkt/kms-a",
            "bkt/managed-b",
            "bkt/resized",
            "bkt/victim",
            "bkt/with-meta"
        ]
    );
    // A damaged object can still be deleted (or overwritten) by its owner.
    store.delete_object("bkt", "victim").expect("deletes");
    store
        .put_object("bkt", "kms-a", data(10, 9), PutOptions::default())
        .expect("overwrites");
    assert_eq!(
        store.get_object("bkt", "kms-a").expect("reads").body,
        data(10, 9)
    );
}

#[test]
fn edited_or_swapped_key_records_stop_the_store_from_opening() {
    for edit in ["flip", "swap", "remove-check"] {
        let f = fixture();
        let kms = f.store.kms();
        let enabled = kms
            .create_key(CreateKeyOptions::default(), &Caller::Trusted)
            .expect("key")
            .key_id;
        let disabled = kms
            .create_key(CreateKeyOptions::default(), &Caller::Trusted)
            .expect("key")
            .key_id;
        kms.disable_key(&disabled, &Caller::Trusted)
            .expect("disables");
        f.store.close().expect("closes");
        {
            let db = raw_db(f.dir.path());
            let enabled_name = format!("kms/key/{enabled}");
            let disabled_name = format!("kms/key/{disabled}");
            match edit {
                "flip" => {
                    let mut value = raw_get(&db, "keys", disabled_name.as_bytes());
                    let middle = value.len() / 2;
                    value[middle] ^= 0x01;
                    raw_put(&db, "keys", disabled_name.as_bytes(), &value);
                }
                "swap" => {
                    // Re-enable the disabled key by giving it the enabled one's record.
                    let value = raw_get(&db, "keys", enabled_name.as_bytes());
                    raw_put(&db, "keys", disabled_name.as_bytes(), &value);
                }
                _ => db
                    .delete_cf(db.cf_handle("keys").expect("keys"), b"root/check")
                    .expect("deletes"),
            }
        }
        match Store::open(f.dir.path(), options(&f.clock)) {
            Err(Error::Integrity(_)) => {}
            Err(other) => panic!("{edit}: expected an integrity error, got {other}"),
            Ok(_) => panic!("{edit}: a store with an edited key record opened"),
        }
    }
}

/// Bucket key records edited, swapped between buckets or removed: objects
/// derived from them are integrity errors (and never garbage); objects under
/// untouched bucket keys read on.
#[test]
fn edited_swapped_and_removed_bucket_keys_are_refused() {
    let f = fixture();
    let s = &f.store;
    let rule = coffer_store::EncryptionRule::kms(None).with_bucket_key(true);
    for bucket in ["edited", "swapped-a", "swapped-b", "removed", "untouched"] {
        s.create_bucket(bucket).expect("bucket");
        s.put_bucket_encryption(bucket, rule.clone()).expect("rule");
        s.put_object(bucket, "k", data(5000, 1), PutOptions::default())
            .expect("put");
    }
    s.close().expect("closes");
    {
        let db = raw_db(f.dir.path());
        let family = db.cf_handle("bucket_keys").expect("family");
        let records: Vec<(Vec<u8>, Vec<u8>)> = db
            .iterator_cf(family, rocksdb::IteratorMode::Start)
            .map(|item| {
                let (k, v) = item.expect("reads");
                (k.to_vec(), v.to_vec())
            })
            .collect();
        let of = |bucket: &str| {
            records
                .iter()
                .find(|(k, _)| k.starts_with(&object_key(bucket, "")))
                .cloned()
                .expect("a bucket key")
        };
        let (edited_key, mut edited) = of("edited");
        // A bit in the wrapped bucket key.
        let at = edited.len() - 40;
        edited[at] ^= 0x01;
        raw_put(&db, "bucket_keys", &edited_key, &edited);
        let (a_key, a) = of("swapped-a");
        let (b_key, b) = of("swapped-b");
        // The values under each other's keys (with each other's ids).
        let a_id = &a_key[a_key.len() - 16..];
        let b_id = &b_key[b_key.len() - 16..];
        raw_put(
            &db,
            "bucket_keys",
            &[&b"swapped-a\0"[..], b_id].concat(),
            &b,
        );
        raw_put(
            &db,
            "bucket_keys",
            &[&b"swapped-b\0"[..], a_id].concat(),
            &a,
        );
        db.delete_cf(family, &a_key).expect("deletes");
        db.delete_cf(family, &b_key).expect("deletes");
        let (removed_key, _) = of("removed");
        db.delete_cf(family, &removed_key).expect("deletes");
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    for bucket in ["edited", "swapped-a", "swapped-b", "removed"] {
        let got = s.get_object(bucket, "k");
        assert!(matches!(got, Err(Error::Integrity(_))), "{bucket}: {got:?}");
        assert!(matches!(
            s.head_object(bucket, "k"),
            Err(Error::Integrity(_))
        ));
    }
    assert_eq!(
        s.get_object("untouched", "k").expect("reads").body,
        data(5000, 1)
    );
}

/// How a test edits a stored segment value.
#[derive(Clone, Copy, Debug)]
enum Edit {
    /// Keep only the first `n` bytes.
    Truncate(usize),
    /// Drop the last `n` bytes.
    DropLast(usize),
    /// Add `n` bytes at the end.
    Append(usize),
}

impl Edit {
    fn apply(self, value: &mut Vec<u8>) {
        match self {
            Edit::Truncate(n) => value.truncate(n),
            Edit::DropLast(n) => value.truncate(value.len() - n),
            Edit::Append(n) => value.extend(std::iter::repeat_n(0x5a, n)),
        }
    }
}

/// Every way to read `key` fails with an integrity error naming it: the whole
/// object, `range`, a reader read to its end, a reader's range, a stream, a
/// stream of `range`.
fn every_read_is_refused(s: &Store, key: &str, range: Range<u64>) {
    let object = format!("bkt/{key}");
    assert_integrity_error(s.get_object("bkt", key), &object);
    assert_integrity_error(s.get_object_range("bkt", key, range.clone()), &object);
    let read = s.open_object("bkt", key).and_then(|mut reader| {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).map_err(Error::from)?;
        Ok(out.len())
    });
    assert_integrity_error(read, &object);
    let ranged = s
        .open_object("bkt", key)
        .and_then(|mut reader| reader.read_range(range.clone()));
    assert_integrity_error(ranged, &object);
    let streamed = s
        .get_object_stream("bkt", key, &coffer_store::GetConditions::new())
        .and_then(|stream| stream.collect::<coffer_store::Result<Vec<Bytes>>>());
    assert_integrity_error(streamed, &object);
    let streamed_range = s
        .get_object_stream("bkt", key, &coffer_store::GetConditions::new())
        .and_then(|stream| stream.with_range(range.clone()))
        .and_then(|stream| stream.collect::<coffer_store::Result<Vec<Bytes>>>());
    assert_integrity_error(streamed_range, &object);
}

#[test]
fn segments_shorter_or_longer_than_their_record_says_are_refused_by_every_read_path() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let size = 2 * MIB + MIB / 2;
    let mib = MIB as u64;
    // The object, how it is protected, which segment is edited and how, and a
    // range inside that segment.
    let cases: [(&str, PutOptions, u32, Edit, Range<u64>); 8] = [
        (
            "short-last",
            PutOptions::managed(),
            2,
            Edit::Truncate(10),
            2 * mib + 5..2 * mib + 9,
        ),
        (
            "short-middle",
            PutOptions::managed(),
            1,
            Edit::DropLast(1),
            mib + 5..mib + 100,
        ),
        (
            "long-first",
            PutOptions::kms(None),
            0,
            Edit::Append(1),
            10..20,
        ),
        (
            "long-last",
            PutOptions::managed(),
            2,
            Edit::Append(100),
            2 * mib..2 * mib + 1,
        ),
        (
            "empty-last",
            PutOptions::managed(),
            2,
            Edit::Truncate(0),
            2 * mib + 1..2 * mib + 2,
        ),
        (
            "plain-short",
            PutOptions::default(),
            2,
            Edit::Truncate(10),
            2 * mib + 20..2 * mib + 30,
        ),
        (
            "plain-long",
            PutOptions::default(),
            1,
            Edit::Append(5),
            mib..mib + 10,
        ),
        (
            "plain-long-last",
            PutOptions::default(),
            2,
            Edit::Append(5),
            2 * mib..2 * mib + 10,
        ),
    ];
    for (key, options, ..) in &cases {
        s.put_object("bkt", key, data(size, 3), options.clone())
            .expect("put");
    }
    // A multipart object whose second part's last segment is cut short.
    let upload = s
        .create_multipart_upload("bkt", "parts", PutOptions::managed())
        .expect("upload");
    let parts: Vec<CompletedPart> = (1..=2)
        .map(|number| {
            let part = s
                .upload_part(
                    "bkt",
                    "parts",
                    &upload,
                    number,
                    data(3 * MIB / 2, number as u8),
                )
                .expect("part");
            CompletedPart::from(&part)
        })
        .collect();
    s.complete_multipart_upload("bkt", "parts", &upload, &parts, &PutCondition::None)
        .expect("completes");
    s.put_object("bkt", "untouched", data(size, 4), PutOptions::managed())
        .expect("put");
    s.close().expect("closes");
    {
        let db = raw_db(f.dir.path());
        let chunks = db.cf_handle("chunks").expect("chunks");
        for (key, _, index, edit, _) in &cases {
            let record = raw_get(&db, "objects", &object_key("bkt", key));
            let segment = [&record[1..17], &index.to_be_bytes()[..]].concat();
            let mut value = raw_get(&db, "chunks", &segment);
            edit.apply(&mut value);
            raw_put(&db, "chunks", &segment, &value);
        }
        let record = raw_get(&db, "objects", &object_key("bkt", "parts"));
        let id = record[1..17].to_vec();
        let last = db
            .iterator_cf(
                chunks,
                rocksdb::IteratorMode::From(&id, rocksdb::Direction::Forward),
            )
            .map(|item| item.expect("reads").0.to_vec())
            .take_while(|key| key.starts_with(&id))
            .last()
            .expect("the parts' segments");
        let mut value = raw_get(&db, "chunks", &last);
        Edit::Truncate(10).apply(&mut value);
        raw_put(&db, "chunks", &last, &value);
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    for (key, _, _, edit, range) in &cases {
        eprintln!("{key}: {edit:?}");
        every_read_is_refused(&s, key, range.clone());
    }
    // Part 2 holds bytes 1.5 to 3 MiB; its last segment, from 2.5 MiB.
    every_read_is_refused(&s, "parts", 5 * mib / 2 + 1..5 * mib / 2 + 5);
    assert_eq!(
        s.get_object("bkt", "untouched").expect("reads").body,
        data(size, 4)
    );
}
