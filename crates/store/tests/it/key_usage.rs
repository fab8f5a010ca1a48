//! The key-usage report as proof of a rewrap: objects counted per mode, key
//! and version from the records, before and after rotation and rewrap; a
//! damaged record makes the report say it cannot prove anything about it;
//! retirement once nothing is left under the old versions.

use crate::common;

use coffer_keyring::Caller;
use coffer_store::test_util::raw_family;
use coffer_store::{KeyUsage, ProtectionMode, PutOptions, Store};
use common::{MIB, data, fixture, options};
use rocksdb::{DB, Options};

/// Mode, key id, version, objects, bytes.
type Counted = (ProtectionMode, Option<String>, Option<u32>, u64, u64);

fn counts(usage: &[KeyUsage]) -> Vec<Counted> {
    usage
        .iter()
        .map(|u| (u.mode, u.key_id.clone(), u.key_version, u.objects, u.bytes))
        .collect()
}

#[test]
fn usage_counts_versions_and_proves_a_rewrap_complete() {
    let f = fixture();
    let s = &f.store;
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    s.create_bucket("bkt").expect("bucket");
    s.create_bucket("other").expect("bucket");
    for i in 0..3 {
        s.put_object("bkt", &format!("m{i}"), data(100, i), PutOptions::managed())
            .expect("put");
    }
    s.put_object("bkt", "big", data(2 * MIB, 9), PutOptions::managed())
        .expect("put");
    s.put_object("bkt", "kms", data(10, 1), PutOptions::kms(Some(&cmk)))
        .expect("put");
    s.put_object("bkt", "plain", data(7, 1), PutOptions::default())
        .expect("put");
    s.put_object("other", "x", data(5, 1), PutOptions::managed())
        .expect("put");
    assert_eq!(s.rotate_master_key().expect("rotate"), 2);
    s.kms()
        .rotate_key(&cmk, &Caller::Trusted)
        .expect("rotate cmk");
    s.put_object("bkt", "new", data(1, 1), PutOptions::managed())
        .expect("put");

    let report = s.key_usage(Some("bkt")).expect("usage");
    assert_eq!(
        counts(&report.usage),
        [
            (ProtectionMode::None, None, None, 1, 7),
            (
                ProtectionMode::Aes256,
                None,
                Some(1),
                4,
                300 + 2 * MIB as u64
            ),
            (ProtectionMode::Aes256, None, Some(2), 1, 1),
            (ProtectionMode::Kms, Some(cmk.clone()), Some(1), 1, 10),
        ]
    );
    assert_eq!(report.objects_below(None, 2), 4);
    assert_eq!(report.objects_below(Some(&cmk), 2), 1);
    assert!(report.unreadable.is_empty());
    let whole = s.key_usage(None).expect("usage");
    assert_eq!(whole.objects_below(None, 2), 5, "other/x too");

    // While objects are under version 1, it is not retired.
    assert_eq!(s.retire_unused_master_keys().expect("retire"), 1);
    s.rewrap_bucket("bkt").expect("rewrap");
    s.rewrap_bucket("other").expect("rewrap");
    let after = s.key_usage(None).expect("usage");
    assert_eq!(after.objects_below(None, 2), 0);
    assert_eq!(after.objects_below(Some(&cmk), 2), 0);
    assert_eq!(
        counts(&after.usage),
        [
            (ProtectionMode::None, None, None, 1, 7),
            (
                ProtectionMode::Aes256,
                None,
                Some(2),
                6,
                306 + 2 * MIB as u64
            ),
            (ProtectionMode::Kms, Some(cmk.clone()), Some(2), 1, 10),
        ]
    );
    assert_eq!(s.retire_unused_master_keys().expect("retire"), 2);
    assert!(matches!(
        s.key_usage(Some("missing")),
        Err(coffer_store::Error::NoSuchBucket(_))
    ));
    // Uploads in progress are counted: their keys are wrapped too.
    s.create_multipart_upload("bkt", "mp", PutOptions::managed())
        .expect("create");
    assert_eq!(
        s.key_usage(Some("bkt")).expect("usage").uploads_in_progress,
        1
    );
    assert_eq!(
        s.key_usage(Some("other"))
            .expect("usage")
            .uploads_in_progress,
        0
    );
    assert!(!raw_family(s, "objects").expect("raw").is_empty());
}

#[test]
fn a_damaged_record_is_listed_as_unreadable() {
    let f = fixture();
    f.store.create_bucket("bkt").expect("bucket");
    for key in ["a", "b"] {
        f.store
            .put_object("bkt", key, data(10, 1), PutOptions::managed())
            .expect("put");
    }
    let common::Fixture { dir, clock, store } = f;
    drop(store);
    {
        let names = DB::list_cf(&Options::default(), dir.path()).expect("families");
        let db = DB::open_cf(&Options::default(), dir.path(), names).expect("opens raw");
        let objects = db.cf_handle("objects").expect("objects");
        let key = b"bkt\0a";
        let mut value = db.get_cf(objects, key).expect("reads").expect("present");
        value[3] ^= 1;
        db.put_cf(objects, key, value).expect("writes");
    }
    let s = Store::open(dir.path(), options(&clock)).expect("reopens");
    let report = s.key_usage(None).expect("usage");
    assert_eq!(report.unreadable, ["bkt/a"]);
    assert_eq!(report.usage.iter().map(|u| u.objects).sum::<u64>(), 1);
}

/// A fresh CMK's id.
fn new_cmk(store: &Store) -> String {
    store
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id
}

#[test]
fn retiring_cmk_versions_waits_for_every_object_bucket_key_and_upload() {
    let f = fixture();
    let s = &f.store;
    let trusted = &Caller::Trusted;
    let cmk = new_cmk(s);
    s.create_bucket("bkt").expect("bucket");
    s.put_object("bkt", "a", data(100, 1), PutOptions::kms(Some(&cmk)))
        .expect("put");
    s.put_object("bkt", "b", data(2 * MIB, 2), PutOptions::kms(Some(&cmk)))
        .expect("put");
    let upload = s
        .create_multipart_upload("bkt", "parts", PutOptions::kms(Some(&cmk)))
        .expect("upload");
    s.create_bucket("shared").expect("bucket");
    s.put_bucket_encryption(
        "shared",
        coffer_store::EncryptionRule::kms(Some(&cmk)).with_bucket_key(true),
    )
    .expect("rule");
    s.put_object("shared", "c", data(100, 3), PutOptions::default())
        .expect("put under a bucket key");
    let context = coffer_keyring::EncryptionContext::new(b"store", "bkt", b"probe");
    let (_, old) = s
        .kms()
        .generate_data_key(&cmk, &context, trusted)
        .expect("a data key under version 1");
    assert_eq!(s.kms().rotate_key(&cmk, trusted).expect("rotate"), 2);
    // Objects under version 1: nothing is retired.
    assert_eq!(s.retire_unused_kms_versions(&cmk).expect("retire"), 1);
    assert_eq!(s.rewrap_bucket("bkt").expect("rewrap"), 2);
    // The bucket key still holds version 1.
    assert_eq!(s.retire_unused_kms_versions(&cmk).expect("retire"), 1);
    s.rewrap_bucket("shared").expect("rewrap");
    // The upload in progress still holds version 1.
    assert_eq!(s.retire_unused_kms_versions(&cmk).expect("retire"), 1);
    s.abort_multipart_upload("bkt", "parts", &upload)
        .expect("abort");
    assert_eq!(s.retire_unused_kms_versions(&cmk).expect("retire"), 2);
    // Version 1 is refused now; every object still reads.
    assert!(s.kms().decrypt(&old, &context, trusted).is_err());
    assert_eq!(s.get_object("shared", "c").expect("get").body, data(100, 3));
    assert_eq!(s.get_object("bkt", "a").expect("get").body, data(100, 1));
    assert_eq!(
        s.get_object("bkt", "b").expect("get").body,
        data(2 * MIB, 2)
    );
    let before = s.key_usage(None).expect("usage");
    assert_eq!(before.objects_below(Some(&cmk), 2), 0);
    let events = s
        .audit_events(&coffer_store::AuditQuery::new().key_id(&cmk))
        .expect("audit");
    let raised: Vec<_> = events
        .iter()
        .filter(|e| e.action == "kms:UpdateMinDecryptionVersion")
        .map(|e| e.key_version)
        .collect();
    assert_eq!(
        raised,
        [Some(2)],
        "a retirement that changes nothing asks the KMS nothing"
    );
}

#[test]
fn a_damaged_record_blocks_cmk_retirement() {
    let f = fixture();
    let trusted = &Caller::Trusted;
    let cmk = new_cmk(&f.store);
    f.store.create_bucket("bkt").expect("bucket");
    f.store
        .put_object("bkt", "a", data(100, 1), PutOptions::kms(Some(&cmk)))
        .expect("put");
    f.store.kms().rotate_key(&cmk, trusted).expect("rotate");
    f.store.rewrap_bucket("bkt").expect("rewrap");
    let objects = raw_family(&f.store, "objects").expect("objects");
    f.store.close().expect("close");
    drop(f.store);
    {
        let families = DB::list_cf(&Options::default(), f.dir.path()).expect("families");
        let db = DB::open_cf(&Options::default(), f.dir.path(), &families).expect("raw open");
        let (key, mut value) = objects[0].clone();
        let last = value.len() - 1;
        value[last] ^= 1;
        db.put_cf(db.cf_handle("objects").expect("family"), key, value)
            .expect("edit");
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("reopen");
    match s.retire_unused_kms_versions(&cmk) {
        Err(coffer_store::Error::Integrity(message)) => {
            assert!(message.contains("bkt/a"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A reader that hands out one segment, then waits to be let go.
struct Held {
    first: Vec<u8>,
    rest: Vec<u8>,
    release: std::sync::mpsc::Receiver<()>,
    sent_first: bool,
}

impl std::io::Read for Held {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let source = if !self.first.is_empty() {
            &mut self.first
        } else {
            if !self.sent_first {
                self.sent_first = true;
                let _ = self.release.recv();
            }
            &mut self.rest
        };
        let n = out.len().min(source.len());
        out[..n].copy_from_slice(&source[..n]);
        source.drain(..n);
        Ok(n)
    }
}

#[test]
fn a_write_in_flight_keeps_its_cmk_version_through_a_retirement() {
    let f = fixture();
    let s = &f.store;
    let trusted = &Caller::Trusted;
    let cmk = new_cmk(s);
    s.create_bucket("bkt").expect("bucket");
    let body = data(3 * MIB, 7).to_vec();
    let (release, held) = std::sync::mpsc::channel();
    let reader = Held {
        first: body[..MIB].to_vec(),
        rest: body[MIB..].to_vec(),
        release: held,
        sent_first: false,
    };
    let writer = {
        let (s, cmk) = (s.clone(), cmk.clone());
        std::thread::spawn(move || {
            s.put_object_from_reader("bkt", "big", reader, PutOptions::kms(Some(&cmk)))
        })
    };
    // Wait until the put has its data key (under version 1).
    let generated = |s: &Store| {
        s.audit_events(&coffer_store::AuditQuery::new().key_id(&cmk))
            .expect("audit")
            .iter()
            .any(|e| e.action == "kms:GenerateDataKey")
    };
    while !generated(s) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(s.kms().rotate_key(&cmk, trusted).expect("rotate"), 2);
    assert_eq!(
        s.retire_unused_kms_versions(&cmk).expect("retire"),
        1,
        "the put in flight holds version 1"
    );
    release.send(()).expect("release");
    writer.join().expect("writer").expect("put");
    assert_eq!(s.get_object("bkt", "big").expect("get").body, body);
    // Retired versions stay retired: a minimum set higher is never lowered.
    s.rewrap_bucket("bkt").expect("rewrap");
    assert_eq!(s.kms().rotate_key(&cmk, trusted).expect("rotate"), 3);
    s.kms()
        .set_min_decryption_version(&cmk, 3, trusted)
        .expect("raise by hand");
    assert_eq!(s.retire_unused_kms_versions(&cmk).expect("retire"), 3);
    assert_eq!(
        s.kms()
            .describe_key(&cmk, trusted)
            .expect("describe")
            .min_decryption_version,
        3
    );
}
