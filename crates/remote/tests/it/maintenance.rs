//! Keys after a rotation: rewrap of one object and of a prefix (the
//! payload's bytes untouched), re-encryption under another rule, and the
//! key-usage report that shows the rotation complete. Run over `InMemory`
//! here and over moto and SeaweedFS by their tests.

use std::sync::Arc;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_remote::RemoteStore;
use coffer_sse::{EncryptionRule, Error, KeyUsageReport, ProtectionMode, PutOptions, Session};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::common;

fn body(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// (mode, key id, version, objects, bucket-key objects) of every entry.
type Counted = Vec<(ProtectionMode, Option<String>, Option<u32>, u64, u64)>;

fn counted(report: &KeyUsageReport) -> Counted {
    report
        .usage
        .iter()
        .map(|u| {
            (
                u.mode,
                u.key_id.clone(),
                u.key_version,
                u.objects,
                u.bucket_key_objects,
            )
        })
        .collect()
}

fn stored(backend: &Arc<dyn ObjectStore>, path: &str) -> Bytes {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        backend
            .get(&Path::from(path))
            .await
            .expect("stored")
            .bytes()
            .await
            .expect("bytes")
    })
}

/// A rotation of the master key and of a CMK completed by rewrap, shown by
/// the key-usage report; then a prefix re-encrypted under the CMK.
pub(crate) fn rotations_complete_by_rewrap(backend: Arc<dyn ObjectStore>) {
    let options = common::options().with_part_size(5 << 20);
    let store = RemoteStore::create(Arc::clone(&backend), options).expect("a store");
    let kms = store.kms();
    let cmk = kms
        .create_key(Default::default(), &Caller::Trusted)
        .expect("a CMK")
        .key_id;
    let session = Session::trusted(store.clone());
    session.create_bucket("keys").expect("bucket");
    let large = body(11 << 20, 7);
    let puts = [
        ("a/1", body(100, 1), PutOptions::managed()),
        ("a/2", large.clone(), PutOptions::managed()),
        ("a/3", body(5000, 3), PutOptions::kms(Some(&cmk))),
        ("b/1", body(10, 4), PutOptions::managed()),
        (
            "b/2",
            body(20, 5),
            PutOptions::default()
                .with_encryption(Some(EncryptionRule::kms(Some(&cmk)).with_bucket_key(true))),
        ),
        ("c/plain", body(30, 6), PutOptions::default()),
    ];
    for (key, bytes, options) in puts.iter().cloned() {
        session
            .put_object("keys", key, bytes, options)
            .expect("put");
    }
    let master = Some(1);
    let before = store.key_usage(Some("keys")).expect("usage");
    assert_eq!(
        counted(&before),
        vec![
            (ProtectionMode::None, None, None, 1, 0),
            (ProtectionMode::Aes256, None, master, 3, 0),
            (ProtectionMode::Kms, Some(cmk.clone()), Some(1), 2, 1),
        ]
    );
    assert!(before.unreadable.is_empty());

    assert_eq!(store.rotate_master_key().expect("rotated"), 2);
    assert_eq!(kms.rotate_key(&cmk, &Caller::Trusted).expect("rotated"), 2);
    let usage = store.key_usage(Some("keys")).expect("usage");
    assert_eq!(usage.objects_below(None, 2), 3);
    assert_eq!(usage.objects_below(Some(&cmk), 2), 2);

    // One object: its wrapped key moves, its payload's bytes do not.
    let old = stored(&backend, "keys/a/2");
    assert!(store.rewrap_object("keys", "a/2").expect("rewrapped"));
    assert!(
        !store
            .rewrap_object("keys", "a/2")
            .expect("nothing left to do")
    );
    let new = stored(&backend, "keys/a/2");
    assert_eq!(old.len(), new.len(), "the stored length is the size's");
    let payload = large.len() + 16 * (large.len() / (16 << 10) + 3);
    assert_eq!(
        old[..payload - 200],
        new[..payload - 200],
        "rewrap did not touch the payload"
    );
    assert_ne!(old, new, "the trailer changed");
    assert!(!store.rewrap_object("keys", "c/plain").expect("unencrypted"));
    assert!(matches!(
        store.rewrap_object("keys", "missing"),
        Err(Error::NoSuchKey { .. })
    ));

    // A prefix, then the rest of the bucket with its bucket key.
    let report = store.rewrap_prefix("keys", "a/").expect("rewrap a/");
    assert_eq!((report.objects, report.rewrapped), (3, 2), "{report:?}");
    assert_eq!(
        report.bucket_keys, 1,
        "the bucket key moves with any prefix"
    );
    let report = store.rewrap_prefix("keys", "").expect("rewrap all");
    assert_eq!((report.objects, report.rewrapped), (6, 1), "{report:?}");
    assert!(report.failed.is_empty() && report.replaced_meanwhile == 0);
    let after = store.key_usage(Some("keys")).expect("usage");
    assert_eq!(after.objects_below(None, 2), 0, "{after:?}");
    assert_eq!(after.objects_below(Some(&cmk), 2), 0, "{after:?}");
    assert_eq!(
        counted(&after),
        vec![
            (ProtectionMode::None, None, None, 1, 0),
            (ProtectionMode::Aes256, None, Some(2), 3, 0),
            (ProtectionMode::Kms, Some(cmk.clone()), Some(2), 2, 1),
        ]
    );
    // Every object reads back, from this handle and from a fresh one.
    let reopened = RemoteStore::open(Arc::clone(&backend), common::options()).expect("reopen");
    for reader in [store.clone(), reopened] {
        let reader = Session::trusted(reader);
        for (key, bytes, _) in &puts {
            let got = reader.get_object("keys", key).expect("read after rewrap");
            assert_eq!(&got.body, bytes, "{key}");
        }
        let range = reader
            .get_object_range("keys", "a/2", (2 << 20) + 5..(2 << 20) + 9)
            .expect("a range after rewrap");
        assert_eq!(range.body, large.slice((2 << 20) + 5..(2 << 20) + 9));
    }

    // Re-encryption of a prefix under the CMK: fresh data keys, same bytes.
    let report = store
        .reencrypt_prefix("keys", "b/", Some(EncryptionRule::kms(Some(&cmk))))
        .expect("re-encrypted");
    assert_eq!(
        (report.objects, report.reencrypted, report.bytes),
        (2, 2, 30)
    );
    for (key, bytes) in [("b/1", body(10, 4)), ("b/2", body(20, 5))] {
        let got = session.get_object("keys", key).expect("read");
        assert_eq!(got.body, bytes);
        assert_eq!(got.meta.protection.mode, ProtectionMode::Kms);
        assert_eq!(
            got.meta.protection.kms_key_id.as_deref(),
            Some(cmk.as_str())
        );
        assert!(
            !got.meta.protection.bucket_key,
            "{key}: under the CMK itself"
        );
    }

    // An object damaged behind coffer's back is reported, not counted.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut damaged = stored(&backend, "keys/a/1").to_vec();
    let at = damaged.len() - 40;
    damaged[at] ^= 1;
    runtime
        .block_on(backend.put(&Path::from("keys/a/1"), PutPayload::from(damaged)))
        .expect("tampered");
    let usage = store.key_usage(Some("keys")).expect("usage");
    assert_eq!(usage.unreadable, vec!["keys/a/1".to_owned()]);
    let report = store.rewrap_prefix("keys", "a/").expect("rewrap");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].starts_with("a/1: "), "{report:?}");
    assert!(matches!(
        store.rewrap_prefix("nope", ""),
        Err(Error::NoSuchBucket(_))
    ));
}

#[test]
fn in_memory_rotations_complete_by_rewrap() {
    rotations_complete_by_rewrap(Arc::new(InMemory::new()));
}

#[test]
fn without_a_conditional_replace_rewrap_is_a_typed_error_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("a directory");
    let local: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("local"));
    let (store, _, _) = common::store(Arc::clone(&local));
    let session = Session::trusted(store.clone());
    session.create_bucket("keys").expect("bucket");
    session
        .put_object("keys", "k", body(10, 1), PutOptions::managed())
        .expect("put");
    let before = stored(&local, "keys/k");
    store.rotate_master_key().expect("rotated");
    let error = store.rewrap_object("keys", "k").expect_err("no If-Match");
    assert!(matches!(error, Error::NotImplemented { .. }), "{error}");
    assert_eq!(stored(&local, "keys/k"), before);
    assert_eq!(
        session.get_object("keys", "k").expect("read").body,
        body(10, 1)
    );
}
