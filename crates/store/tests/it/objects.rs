//! Objects end to end: every protection mode at inline and segmented sizes, the
//! protection each get and head reports, ranges, streaming, listing, copying,
//! and what a rule change does (nothing to stored objects).

use crate::common;

use std::io::{Cursor, Read, Seek, SeekFrom};

use bytes::Bytes;
use coffer_store::{
    CopyOptions, EncryptionRule, Error, ListOptions, ProtectionMode, PutOptions, Store,
};
use common::{MIB, data, fixture};

const SIZES: [usize; 6] = [0, 1, 4096, 64 * 1024, MIB, 3 * MIB + 17];

#[test]
fn every_mode_round_trips_at_every_size() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let cmk = s
        .kms()
        .create_key(Default::default(), &coffer_keyring::Caller::Trusted)
        .expect("cmk")
        .key_id;
    s.kms()
        .create_alias("alias/photos", &cmk, &coffer_keyring::Caller::Trusted)
        .expect("alias");
    let modes = [
        (PutOptions::default(), ProtectionMode::None),
        (PutOptions::managed(), ProtectionMode::Aes256),
        (PutOptions::kms(None), ProtectionMode::Kms),
        (PutOptions::kms(Some("alias/photos")), ProtectionMode::Kms),
    ];
    for (i, (options, mode)) in modes.into_iter().enumerate() {
        for (j, size) in SIZES.into_iter().enumerate() {
            let key = format!("m{i}/s{j}");
            let body = data(size, (i * 10 + j) as u8);
            let put = s
                .put_object(
                    "bkt",
                    &key,
                    body.clone(),
                    options
                        .clone()
                        .with_content_type("application/x-test")
                        .with_metadata("owner", "alice"),
                )
                .expect("put");
            assert_eq!(put.protection.mode, mode);
            let got = s.get_object("bkt", &key).expect("get");
            assert!(got.body == body, "{key}: body differs");
            assert_eq!(got.meta.size, size as u64);
            assert_eq!(got.meta.protection, put.protection);
            assert_eq!(
                got.meta.attributes.content_type.as_deref(),
                Some("application/x-test")
            );
            assert_eq!(
                got.meta.user_metadata.get("owner").map(String::as_str),
                Some("alice")
            );
            assert_eq!(
                s.head_object("bkt", &key).expect("head").protection,
                put.protection
            );
            match mode {
                ProtectionMode::Kms if i == 3 => assert_eq!(
                    got.meta.protection.kms_key_id.as_deref(),
                    Some(cmk.as_str()),
                    "the id, never the alias"
                ),
                ProtectionMode::Kms => {
                    let default = s
                        .kms()
                        .default_key_id(&coffer_keyring::Caller::Trusted)
                        .expect("default");
                    assert_eq!(
                        got.meta.protection.kms_key_id.as_deref(),
                        Some(default.as_str())
                    );
                    assert_eq!(got.meta.protection.key_version, Some(1));
                }
                ProtectionMode::Aes256 => assert_eq!(
                    got.meta.protection.key_version,
                    Some(s.master_keys().current_version())
                ),
                _ => assert_eq!(got.meta.protection.key_version, None),
            }
        }
    }
}

#[test]
fn the_objects_rule_wins_and_rule_changes_touch_nothing_stored() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    assert!(matches!(
        s.get_bucket_encryption("bkt"),
        Err(Error::NoSuchEncryptionRule(_))
    ));
    s.put_object("bkt", "plain", data(10, 1), PutOptions::default())
        .expect("put");
    s.put_bucket_encryption("bkt", EncryptionRule::kms(None))
        .expect("rule");
    assert_eq!(
        s.get_bucket_encryption("bkt").expect("rule"),
        EncryptionRule::kms(None)
    );
    s.put_object("bkt", "default", data(10, 2), PutOptions::default())
        .expect("put");
    s.put_object("bkt", "own", data(10, 3), PutOptions::managed())
        .expect("put");
    s.put_bucket_encryption("bkt", EncryptionRule::managed())
        .expect("rule");
    s.delete_bucket_encryption("bkt").expect("delete rule");
    assert!(matches!(
        s.get_bucket_encryption("bkt"),
        Err(Error::NoSuchEncryptionRule(_))
    ));
    let mode = |k: &str| s.head_object("bkt", k).expect("head").protection.mode;
    assert_eq!(
        (mode("plain"), mode("default"), mode("own")),
        (
            ProtectionMode::None,
            ProtectionMode::Kms,
            ProtectionMode::Aes256
        )
    );
    assert_eq!(
        s.get_object("bkt", "default").expect("get").body,
        data(10, 2)
    );
}

#[test]
fn ranges_and_streaming_reads() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let cases = [
        ("enc", PutOptions::managed(), 3 * MIB + 5000),
        ("plain", PutOptions::default(), 3 * MIB + 5000),
        // Whole MiBs: the last segment carries an extra, empty final chunk.
        ("whole-mibs", PutOptions::kms(None), 3 * MIB),
        ("whole-mibs-plain", PutOptions::default(), 3 * MIB),
    ];
    for (key, options, size) in cases {
        let body = data(size, 9);
        let size = size as u64;
        s.put_object("bkt", key, body.clone(), options)
            .expect("put");
        for range in [
            0..0,
            0..1,
            100..70_000,
            MIB as u64 - 10..MIB as u64 + 10,
            size - 5000..size,
            size..size,
        ] {
            let got = s
                .get_object_range("bkt", key, range.clone())
                .expect("range");
            assert!(
                got.body[..] == body[range.start as usize..range.end as usize],
                "{key} {range:?}"
            );
        }
        assert!(matches!(
            s.get_object_range("bkt", key, 0..size + 1),
            Err(Error::InvalidRange { .. })
        ));
        let mut reader = s.open_object("bkt", key).expect("open");
        let mut all = Vec::new();
        reader.read_to_end(&mut all).expect("reads");
        assert!(all == body);
        reader.seek(SeekFrom::End(-100)).expect("seek");
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).expect("reads");
        assert!(tail[..] == body[body.len() - 100..]);
    }
}

#[test]
fn streaming_puts_of_every_shape() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    for (i, size) in [0, 10, MIB - 1, MIB, MIB + 1, 2 * MIB, 5 * MIB + 3]
        .into_iter()
        .enumerate()
    {
        let body = data(size, i as u8);
        let key = format!("stream-{i}");
        s.put_object_from_reader(
            "bkt",
            &key,
            Cursor::new(body.to_vec()),
            PutOptions::kms(None),
        )
        .expect("put");
        assert!(
            s.get_object("bkt", &key).expect("get").body == body,
            "size {size}"
        );
        let mut streamed = Vec::new();
        s.open_object("bkt", &key)
            .expect("open")
            .read_to_end(&mut streamed)
            .expect("streams back");
        assert!(streamed == body, "size {size}, streamed back");
    }
    // A source that fails midway stores nothing and leaves nothing behind.
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("source broke"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }
    assert!(matches!(
        s.put_object_from_reader("bkt", "broken", Failing(3 * MIB), PutOptions::managed()),
        Err(Error::Io(_))
    ));
    assert!(matches!(
        s.head_object("bkt", "broken"),
        Err(Error::NoSuchKey { .. })
    ));
    let report = s.check_consistency().expect("check");
    assert!(report.orphan_segment_objects.is_empty(), "{report:?}");
}

#[test]
fn listing_with_prefix_delimiter_and_pages() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    s.create_bucket("b-other").expect("bucket");
    for key in ["a/1", "a/2", "a/b/3", "c", "d/4"] {
        s.put_object("bkt", key, data(3, 0), PutOptions::default())
            .expect("put");
    }
    s.put_object("b-other", "a/9", data(3, 0), PutOptions::default())
        .expect("put");
    let keys =
        |r: &coffer_store::ListResult| r.objects.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
    let all = s
        .list_objects("bkt", &ListOptions::default())
        .expect("list");
    assert_eq!(keys(&all), ["a/1", "a/2", "a/b/3", "c", "d/4"]);
    let nested = ListOptions::new().delimiter("/");
    let top = s.list_objects("bkt", &nested).expect("list");
    assert_eq!(
        (keys(&top), top.common_prefixes.clone()),
        (
            vec!["c".to_string()],
            vec!["a/".to_string(), "d/".to_string()]
        )
    );
    let in_a = s
        .list_objects("bkt", &ListOptions::new().prefix("a/").delimiter("/"))
        .expect("list");
    assert_eq!(
        (keys(&in_a), in_a.common_prefixes.clone()),
        (
            vec!["a/1".to_string(), "a/2".to_string()],
            vec!["a/b/".to_string()]
        )
    );
    let mut page = s
        .list_objects("bkt", &ListOptions::new().max_keys(2))
        .expect("list");
    let mut seen = keys(&page);
    while page.is_truncated {
        page = s
            .list_objects(
                "bkt",
                &ListOptions::new()
                    .max_keys(2)
                    .start_after(page.next_start_after.as_deref().expect("a next page")),
            )
            .expect("list");
        seen.extend(keys(&page));
    }
    assert_eq!(seen, ["a/1", "a/2", "a/b/3", "c", "d/4"]);
    // Pages with a delimiter: a page that ends on a common prefix continues
    // after every key in it, so no prefix comes twice.
    let mut grouped = ListOptions::new().delimiter("/").max_keys(1);
    let mut entries = Vec::new();
    loop {
        let page = s.list_objects("bkt", &grouped).expect("list");
        entries.extend(keys(&page));
        entries.extend(page.common_prefixes.clone());
        match page.next_start_after {
            Some(next) if page.is_truncated => grouped = grouped.start_after(&next),
            _ => break,
        }
    }
    assert_eq!(entries, ["a/", "c", "d/"]);
}

#[test]
fn copying_over_itself_encrypts_historical_objects() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    for (key, size) in [("small", 100), ("large", 2 * MIB + 1)] {
        let body = data(size, 4);
        s.put_object(
            "bkt",
            key,
            body.clone(),
            PutOptions::default().with_metadata("k", "v"),
        )
        .expect("put");
        assert_eq!(
            s.head_object("bkt", key).expect("head").protection.mode,
            ProtectionMode::None
        );
        let before = s.head_object("bkt", key).expect("head").etag;
        s.copy_object(("bkt", key), ("bkt", key), CopyOptions::kms(None))
            .expect("copy over itself");
        let got = s.get_object("bkt", key).expect("get");
        assert!(got.body == body);
        assert_eq!(got.meta.protection.mode, ProtectionMode::Kms);
        assert_eq!(
            got.meta.user_metadata.get("k").map(String::as_str),
            Some("v")
        );
        assert_ne!(got.meta.etag, before);
        s.copy_object(("bkt", key), ("bkt", "copy"), CopyOptions::managed())
            .expect("copy");
        assert!(s.get_object("bkt", "copy").expect("get").body == body);
    }
    assert!(
        s.check_consistency()
            .expect("check")
            .orphan_segment_objects
            .is_empty()
    );
}

#[test]
fn etags_are_not_hashes_of_the_plaintext() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let a = s
        .put_object(
            "bkt",
            "x",
            Bytes::from_static(b"same"),
            PutOptions::managed(),
        )
        .expect("put")
        .etag;
    let b = s
        .put_object(
            "bkt",
            "y",
            Bytes::from_static(b"same"),
            PutOptions::managed(),
        )
        .expect("put")
        .etag;
    assert_ne!(a, b);
    // A quoted hex string, as object stores write it, and the same on read.
    assert_eq!(a.len(), 34);
    assert!(a.starts_with('"') && a.ends_with('"'));
    assert!(a[1..33].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(s.get_object("bkt", "x").expect("get").meta.etag, a);
}

#[test]
fn buckets_names_and_emptiness() {
    let f = fixture();
    let s = &f.store;
    assert!(matches!(
        s.create_bucket("No_Good"),
        Err(Error::InvalidArgument(_))
    ));
    s.create_bucket("photos").expect("bucket");
    assert!(matches!(
        s.create_bucket("photos"),
        Err(Error::BucketAlreadyExists(_))
    ));
    assert!(matches!(
        s.put_object("missing", "k", data(1, 0), PutOptions::default()),
        Err(Error::NoSuchBucket(_))
    ));
    assert!(matches!(
        s.put_object("photos", "/abs", data(1, 0), PutOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    s.put_object("photos", "k", data(1, 0), PutOptions::default())
        .expect("put");
    assert!(matches!(
        s.delete_bucket("photos"),
        Err(Error::BucketNotEmpty(_))
    ));
    s.delete_object("photos", "k").expect("delete");
    s.delete_object("photos", "k")
        .expect("deleting twice is fine");
    assert!(matches!(
        s.get_object("photos", "k"),
        Err(Error::NoSuchKey { .. })
    ));
    s.delete_bucket("photos").expect("delete bucket");
    assert!(s.list_buckets().expect("list").is_empty());
}

#[test]
fn a_reader_keeps_reading_an_object_overwritten_under_it() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let old = data(3 * MIB, 1);
    s.put_object("bkt", "k", old.clone(), PutOptions::managed())
        .expect("put");
    let mut reader = s.open_object("bkt", "k").expect("open");
    let mut first = vec![0; 1000];
    reader.read_exact(&mut first).expect("reads");
    s.put_object("bkt", "k", data(2 * MIB, 2), PutOptions::managed())
        .expect("overwrite");
    s.delete_object("bkt", "k").expect("delete");
    let mut rest = Vec::new();
    reader
        .read_to_end(&mut rest)
        .expect("old object still readable");
    first.extend(rest);
    assert!(first == old);
    drop(reader);
    let report = s.check_consistency().expect("check");
    assert!(
        report.orphan_segment_objects.is_empty(),
        "segments released after the reader: {report:?}"
    );
}

#[test]
fn reopening_keeps_everything_and_refuses_the_wrong_root_key() {
    let f = fixture();
    f.store.create_bucket("bkt").expect("bucket");
    f.store
        .put_object("bkt", "k", data(2 * MIB, 5), PutOptions::kms(None))
        .expect("put");
    f.store
        .put_object("bkt", "m", data(100, 6), PutOptions::managed())
        .expect("put");
    let store_id = *f.store.id();
    drop(f.store);
    let wrong = Store::open(
        f.dir.path(),
        coffer_store::StoreOptions::new(coffer_store::RootKey::from_bytes([9; 32])),
    );
    assert!(matches!(wrong.err(), Some(Error::WrongRootKey)));
    let store = Store::open(f.dir.path(), common::options(&f.clock)).expect("reopens");
    assert_eq!(store.id(), &store_id);
    assert!(store.get_object("bkt", "k").expect("get").body == data(2 * MIB, 5));
    assert!(store.get_object("bkt", "m").expect("get").body == data(100, 6));
}
