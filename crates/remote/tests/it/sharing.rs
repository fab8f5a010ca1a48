//! Several handles on one store, as several processes would have: what one
//! writes the other reads, and changes to the shared records never lose
//! each other.

use std::sync::Arc;

use bytes::Bytes;
use coffer_remote::RemoteStore;
use coffer_sse::{EncryptionRule, Error, ObjectApi, PutOptions, Session};

use crate::common;

#[test]
fn what_one_handle_writes_the_other_reads() {
    for (name, backend, _dir) in common::backends() {
        let (first, cmk, _) = common::store(Arc::clone(&backend));
        let second = RemoteStore::open(Arc::clone(&backend), common::options()).expect("open");
        assert_eq!(first.id(), second.id());
        let (a, b) = (Session::trusted(first), Session::trusted(second));
        a.create_bucket("shared").expect("bucket");
        assert!(matches!(
            b.create_bucket("shared"),
            Err(Error::BucketAlreadyExists(_))
        ));
        for (key, options) in [
            ("managed", PutOptions::managed()),
            ("kms", PutOptions::kms(Some(&cmk))),
        ] {
            a.put_object("shared", key, Bytes::from_static(b"from a"), options)
                .expect("put");
            let got = b.get_object("shared", key).expect("read by the other");
            assert_eq!(got.body, "from a", "{name}: {key}");
        }
        b.put_bucket_encryption("shared", EncryptionRule::kms(Some(&cmk)))
            .expect("rule");
        assert_eq!(
            a.api()
                .get_bucket_encryption_as("shared", a.caller())
                .expect("rule"),
            EncryptionRule::kms(Some(&cmk)),
            "{name}: a rule read back from the store, not a stale cache"
        );
    }
}

#[test]
fn rotations_from_two_handles_leave_one_keyring_and_every_object_readable() {
    for (name, backend, _dir) in common::backends() {
        let (first, _, _) = common::store(Arc::clone(&backend));
        let second = RemoteStore::open(Arc::clone(&backend), common::options()).expect("open");
        let (a, b) = (
            Session::trusted(first.clone()),
            Session::trusted(second.clone()),
        );
        a.create_bucket("rotations").expect("bucket");
        a.put_object(
            "rotations",
            "v1",
            Bytes::from_static(b"one"),
            PutOptions::managed(),
        )
        .expect("put");

        // Both rotate from version 1: the version A took is not taken
        // again; B's rotation fails, changing nothing, and B then holds A's
        // keyring, from which a retry rotates.
        assert_eq!(first.rotate_master_key().expect("rotate"), 2);
        let raced = second.rotate_master_key();
        assert!(
            matches!(&raced, Err(Error::Key(coffer_keyring::Error::Storage(inner))) if inner.to_string().contains("another process")),
            "{name}: {raced:?}"
        );
        assert_eq!(second.master_key_version(), 2, "{name}");
        let put = a
            .put_object(
                "rotations",
                "v2",
                Bytes::from_static(b"two"),
                PutOptions::managed(),
            )
            .expect("put");
        assert_eq!(put.protection.key_version, Some(2));
        assert_eq!(
            b.get_object("rotations", "v2").expect("get").body,
            "two",
            "{name}"
        );
        assert_eq!(second.rotate_master_key().expect("a retry rotates"), 3);
        let put = b
            .put_object(
                "rotations",
                "v3",
                Bytes::from_static(b"three"),
                PutOptions::managed(),
            )
            .expect("put");
        assert_eq!(put.protection.key_version, Some(3));
        // A meets version 3 in a read and reads the keyring again.
        for (key, body) in [("v1", "one"), ("v2", "two"), ("v3", "three")] {
            assert_eq!(
                a.get_object("rotations", key).expect("get").body,
                body,
                "{name}: {key}"
            );
            assert_eq!(
                b.get_object("rotations", key).expect("get").body,
                body,
                "{name}: {key}"
            );
        }
        assert_eq!(first.master_key_version(), 3, "{name}");
        // A third handle opened now sees the one keyring both wrote.
        let third = RemoteStore::open(backend, common::options()).expect("open");
        assert_eq!(third.master_key_version(), 3, "{name}");
    }
}

/// CMKs of the built-in KMS changed by one handle while the other holds an
/// older copy: the other's rotation goes past the first's version (whose
/// objects stay readable everywhere), and a CMK created by one after the
/// other opened serves the other's puts and reads.
#[test]
fn local_cmks_changed_by_two_handles_keep_every_object_readable() {
    for (name, backend, _dir) in common::backends() {
        let (first, cmk, _) = common::store(Arc::clone(&backend));
        let second = RemoteStore::open(Arc::clone(&backend), common::options()).expect("open");
        let (a, b) = (Session::trusted(first), Session::trusted(second));
        a.create_bucket("cmks").expect("bucket");
        let trusted = coffer_keyring::Caller::Trusted;
        assert_eq!(
            a.api().kms().rotate_key(&cmk, &trusted).expect("a rotates"),
            2
        );
        a.put_object(
            "cmks",
            "v2",
            Bytes::from_static(b"two"),
            PutOptions::kms(Some(&cmk)),
        )
        .expect("put under version 2");
        // From its stale copy, b's first rotation may meet a's change as a
        // keyring conflict (changing nothing); its retry starts from a's.
        let rotate = || b.api().kms().rotate_key(&cmk, &trusted);
        let rotated = rotate().or_else(|_| rotate()).expect("b rotates");
        assert_eq!(rotated, 3, "{name}: past a's version");
        b.put_object(
            "cmks",
            "v3",
            Bytes::from_static(b"three"),
            PutOptions::kms(Some(&cmk)),
        )
        .expect("put under version 3");
        let third = Session::trusted(
            RemoteStore::open(Arc::clone(&backend), common::options()).expect("open"),
        );
        for reader in [&a, &b, &third] {
            assert_eq!(
                reader.get_object("cmks", "v2").expect("v2").body,
                "two",
                "{name}"
            );
            assert_eq!(
                reader.get_object("cmks", "v3").expect("v3").body,
                "three",
                "{name}"
            );
        }

        let late = a
            .api()
            .kms()
            .create_key(coffer_keyring::CreateKeyOptions::default(), &trusted)
            .expect("a CMK b has not seen")
            .key_id;
        a.put_object(
            "cmks",
            "late-a",
            Bytes::from_static(b"a"),
            PutOptions::kms(Some(&late)),
        )
        .expect("put by a");
        assert_eq!(
            b.get_object("cmks", "late-a").expect("read by b").body,
            "a",
            "{name}"
        );
        b.put_object(
            "cmks",
            "late-b",
            Bytes::from_static(b"b"),
            PutOptions::kms(Some(&late)),
        )
        .expect("put by b");
        assert_eq!(
            a.get_object("cmks", "late-b").expect("read by a").body,
            "b",
            "{name}"
        );
    }
}
