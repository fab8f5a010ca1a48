//! `Store::verify` against a store damaged from outside with the tamper cases
//! of the other tests (a flipped segment byte, swapped records, an edited
//! inline record, a deleted segment, planted orphan segments) and a disabled
//! CMK: it names each damaged object with what is wrong, and no healthy one;
//! one bucket's verification names only that bucket's objects.

use crate::common;

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_store::test_util::raw_family;
use coffer_store::{CompletedPart, ProblemKind, PutCondition, PutOptions, Store};
use common::{MIB, data, fixture, options};
use rocksdb::{DB, Options};

fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    [bucket.as_bytes(), &[0], key.as_bytes()].concat()
}

/// Puts with `put`, and returns the chunk-family keys it added.
fn new_segments(store: &Store, put: impl FnOnce()) -> Vec<Vec<u8>> {
    let before: HashSet<Vec<u8>> = raw_family(store, "chunks")
        .expect("chunks")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    put();
    let mut added: Vec<Vec<u8>> = raw_family(store, "chunks")
        .expect("chunks")
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !before.contains(k))
        .collect();
    added.sort();
    added
}

#[test]
fn verify_names_every_damaged_object_and_no_healthy_one() {
    let f = fixture();
    let s = &f.store;
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    for bucket in ["bkt", "other"] {
        s.create_bucket(bucket).expect("bucket");
    }
    // Healthy objects of every layout.
    let healthy = [
        ("inline", PutOptions::managed(), data(3000, 1)),
        ("big", PutOptions::managed(), data(3 * MIB, 2)),
        ("plain", PutOptions::default(), data(2 * MIB, 3)),
        ("kms-small", PutOptions::kms(Some(&cmk)), data(100, 4)),
    ];
    for (key, options, body) in &healthy {
        s.put_object("bkt", key, body.clone(), options.clone())
            .expect("put");
    }
    let upload = s
        .create_multipart_upload("bkt", "mp", PutOptions::managed())
        .expect("create");
    let parts: Vec<CompletedPart> = [data(MIB + 1, 5), data(10, 6)]
        .into_iter()
        .zip(1..)
        .map(|(body, n)| {
            CompletedPart::from(&s.upload_part("bkt", "mp", &upload, n, body).expect("part"))
        })
        .collect();
    s.complete_multipart_upload("bkt", "mp", &upload, &parts, &PutCondition::None)
        .expect("complete");
    s.put_object("other", "x", data(2 * MIB, 7), PutOptions::managed())
        .expect("put");

    // Objects to damage, with their segments.
    let flipped = new_segments(s, || {
        s.put_object("bkt", "seg-flip", data(3 * MIB, 8), PutOptions::managed())
            .expect("put");
    });
    let missing = new_segments(s, || {
        s.put_object(
            "bkt",
            "seg-missing",
            data(2 * MIB, 9),
            PutOptions::kms(Some(&cmk)),
        )
        .expect("put");
    });
    for key in ["swapped-a", "swapped-b", "inline-edit"] {
        s.put_object("bkt", key, data(500, 10), PutOptions::managed())
            .expect("put");
    }
    let other_cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    s.put_object(
        "bkt",
        "key-disabled",
        data(50, 11),
        PutOptions::kms(Some(&other_cmk)),
    )
    .expect("put");
    assert!(
        s.verify(None, |_| {}).expect("verifies").is_clean(),
        "nothing is damaged yet"
    );

    let common::Fixture { dir, clock, store } = f;
    drop(store);
    {
        let names = DB::list_cf(&Options::default(), dir.path()).expect("families");
        let db = DB::open_cf(&Options::default(), dir.path(), names).expect("opens raw");
        let chunks = db.cf_handle("chunks").expect("chunks");
        let objects = db.cf_handle("objects").expect("objects");
        let mut value = db
            .get_cf(chunks, &flipped[1])
            .expect("reads")
            .expect("present");
        value[5000] ^= 0x01;
        db.put_cf(chunks, &flipped[1], value).expect("writes");
        db.delete_cf(chunks, &missing[0]).expect("deletes");
        let a = db
            .get_cf(objects, object_key("bkt", "swapped-a"))
            .expect("a")
            .expect("a");
        let b = db
            .get_cf(objects, object_key("bkt", "swapped-b"))
            .expect("b")
            .expect("b");
        db.put_cf(objects, object_key("bkt", "swapped-a"), b)
            .expect("writes");
        db.put_cf(objects, object_key("bkt", "swapped-b"), a)
            .expect("writes");
        let mut edited = db
            .get_cf(objects, object_key("bkt", "inline-edit"))
            .expect("reads")
            .expect("present");
        let at = edited.len() - 20;
        edited[at] ^= 0x80;
        db.put_cf(objects, object_key("bkt", "inline-edit"), edited)
            .expect("writes");
        let mut orphan = vec![0xAB; 16];
        orphan.extend_from_slice(&0u32.to_be_bytes());
        db.put_cf(chunks, orphan, vec![0u8; 1000]).expect("plants");
    }
    let s = Store::open(dir.path(), options(&clock)).expect("reopens");
    s.kms()
        .disable_key(&other_cmk, &Caller::Trusted)
        .expect("disable");

    let mut calls = Vec::new();
    let report = s.verify(None, |p| calls.push(*p)).expect("verifies");
    let found: BTreeMap<String, ProblemKind> = report
        .problems
        .iter()
        .map(|p| (format!("{}/{}", p.bucket, p.key), p.kind))
        .collect();
    let expected = BTreeMap::from([
        (
            "/abababababababababababababababab".to_owned(),
            ProblemKind::OrphanSegments,
        ),
        ("bkt/key-disabled".to_owned(), ProblemKind::KeyUnavailable),
        ("bkt/seg-flip".to_owned(), ProblemKind::DamagedPayload),
        ("bkt/seg-missing".to_owned(), ProblemKind::MissingSegment),
        ("bkt/swapped-a".to_owned(), ProblemKind::DamagedRecord),
        ("bkt/swapped-b".to_owned(), ProblemKind::DamagedRecord),
        ("bkt/inline-edit".to_owned(), ProblemKind::DamagedRecord),
    ]);
    assert_eq!(found, expected, "{:#?}", report.problems);
    for problem in &report.problems {
        assert!(!problem.detail.is_empty());
    }
    // Every object counted, progress after each, every healthy byte read.
    assert_eq!(report.objects, 12);
    assert_eq!(calls.len(), 12);
    assert!(calls.iter().all(|p| p.objects_total == 12));
    assert_eq!(calls.last().map(|p| p.objects), Some(12));
    let healthy_bytes: u64 = healthy.iter().map(|(_, _, b)| b.len() as u64).sum::<u64>()
        + (MIB + 11) as u64
        + 2 * MIB as u64;
    assert!(
        report.bytes >= healthy_bytes,
        "{} < {healthy_bytes}",
        report.bytes
    );

    // One bucket: only its objects, no orphans (they belong to no bucket).
    let other = s.verify(Some("other"), |_| {}).expect("verifies");
    assert!(other.is_clean(), "{:#?}", other.problems);
    assert_eq!(other.objects, 1);
    assert_eq!(other.bytes, 2 * MIB as u64);
    let bkt = s.verify(Some("bkt"), |_| {}).expect("verifies");
    assert_eq!(bkt.problems.len(), expected.len() - 1);
    assert!(matches!(
        s.verify(Some("missing"), |_| {}),
        Err(coffer_store::Error::NoSuchBucket(_))
    ));
    // Healthy objects still read.
    for (key, _, body) in &healthy {
        assert_eq!(&s.get_object("bkt", key).expect("reads").body, body);
    }
    let _: Bytes = s.get_object("bkt", "mp").expect("reads").body;
}

#[test]
fn a_clean_store_verifies_clean() {
    let f = fixture();
    f.store.create_bucket("bkt").expect("bucket");
    f.store
        .put_object("bkt", "k", data(3 * MIB, 1), PutOptions::managed())
        .expect("put");
    let report = f.store.verify(None, |_| {}).expect("verifies");
    assert!(report.is_clean());
    assert_eq!((report.objects, report.bytes), (1, 3 * MIB as u64));
}

/// A source that yields `first` bytes, says so, then waits to be let go
/// before it yields the rest.
struct HeldSource {
    first: usize,
    rest: usize,
    reached: std::sync::mpsc::Sender<()>,
    release: Option<std::sync::mpsc::Receiver<()>>,
}

impl std::io::Read for HeldSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.first > 0 {
            let n = buf.len().min(self.first);
            buf[..n].fill(7);
            self.first -= n;
            return Ok(n);
        }
        if self.rest > 0 {
            if let Some(release) = self.release.take() {
                let _ = self.reached.send(());
                let _ = release.recv();
            }
            let n = buf.len().min(self.rest);
            buf[..n].fill(8);
            self.rest -= n;
            return Ok(n);
        }
        Ok(0)
    }
}

#[test]
fn the_segments_of_a_write_in_progress_are_not_orphans() {
    let f = fixture();
    f.store.create_bucket("bkt").expect("bucket");
    let (reached, reached_rx) = std::sync::mpsc::channel();
    let (release_tx, release) = std::sync::mpsc::channel();
    let store = f.store.clone();
    let writer = std::thread::spawn(move || {
        let source = HeldSource {
            first: 3 * MIB,
            rest: MIB,
            reached,
            release: Some(release),
        };
        store.put_object_from_reader("bkt", "big", source, PutOptions::managed())
    });
    // Three segments are written; the fourth waits on the source.
    reached_rx.recv().expect("the writer reached the held part");
    let chunks = raw_family(&f.store, "chunks").expect("chunks");
    assert!(
        chunks.len() >= 2,
        "segments of the write are on disk: {}",
        chunks.len()
    );
    let report = f.store.verify(None, |_| {}).expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    release_tx.send(()).expect("release");
    writer.join().expect("writer").expect("put");
    assert_eq!(
        f.store.get_object("bkt", "big").expect("get").meta.size,
        4 * MIB as u64
    );
}
