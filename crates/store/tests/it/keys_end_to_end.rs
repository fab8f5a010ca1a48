//! Keys end to end: objects under a disabled CMK, a CMK pending deletion and a
//! destroyed CMK; master key rotation and rewrap, proving the data segments are
//! byte-identical afterwards.

use crate::common;

use std::time::Duration;

use coffer_keyring::Caller;
use coffer_store::{EncryptionRule, Error, ProtectionMode, PutOptions, Store};
use common::{MIB, data, fixture};

const TRUSTED: Caller = Caller::Trusted;
const DAY: Duration = Duration::from_secs(86_400);

fn segments(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
    coffer_store::test_util::raw_family(store, "chunks").expect("scan")
}

#[test]
fn cmk_states_govern_reads_and_writes() {
    let f = fixture();
    let s = &f.store;
    let kms = s.kms();
    let cmk = kms
        .create_key(Default::default(), &TRUSTED)
        .expect("cmk")
        .key_id;
    s.create_bucket("bkt").expect("bucket");
    s.put_bucket_encryption("bkt", EncryptionRule::kms(Some(&cmk)))
        .expect("rule");
    s.put_object("bkt", "k", data(MIB + 3, 1), PutOptions::default())
        .expect("put");

    kms.disable_key(&cmk, &TRUSTED).expect("disable");
    assert!(matches!(
        s.get_object("bkt", "k"),
        Err(Error::KeyDisabled(_))
    ));
    assert!(matches!(
        s.put_object("bkt", "k2", data(5, 1), PutOptions::default()),
        Err(Error::KeyDisabled(_))
    ));
    assert!(matches!(
        s.put_bucket_encryption("bkt", EncryptionRule::kms(Some(&cmk))),
        Err(Error::KeyDisabled(_))
    ));
    kms.enable_key(&cmk, &TRUSTED).expect("enable");
    assert!(s.get_object("bkt", "k").expect("readable again").body == data(MIB + 3, 1));

    kms.schedule_key_deletion(&cmk, 7, &TRUSTED)
        .expect("schedule");
    assert!(matches!(
        s.get_object("bkt", "k"),
        Err(Error::KeyPendingDeletion(_))
    ));
    f.clock.advance(6 * DAY);
    kms.cancel_key_deletion(&cmk, &TRUSTED).expect("cancel");
    assert!(
        matches!(s.get_object("bkt", "k"), Err(Error::KeyDisabled(_))),
        "a cancelled deletion leaves the key disabled"
    );
    kms.enable_key(&cmk, &TRUSTED).expect("enable");
    assert!(
        s.get_object("bkt", "k").is_ok(),
        "enabling it restores access"
    );

    kms.schedule_key_deletion(&cmk, 7, &TRUSTED)
        .expect("schedule");
    f.clock.advance(8 * DAY);
    assert!(matches!(
        s.get_object("bkt", "k"),
        Err(Error::KeyDestroyed(_))
    ));
    assert!(matches!(
        s.get_object_range("bkt", "k", 0..10),
        Err(Error::KeyDestroyed(_))
    ));
    assert!(matches!(
        s.put_bucket_encryption("bkt", EncryptionRule::kms(Some("no-such-key"))),
        Err(Error::KeyNotFound(_))
    ));
    // Metadata stays readable, as in OSS.
    assert_eq!(
        s.head_object("bkt", "k").expect("head").protection.mode,
        ProtectionMode::Kms
    );
}

#[test]
fn rotation_then_rewrap_moves_keys_and_leaves_data_untouched() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let cmk = s
        .kms()
        .create_key(Default::default(), &TRUSTED)
        .expect("cmk")
        .key_id;
    s.put_object("bkt", "managed", data(2 * MIB, 1), PutOptions::managed())
        .expect("put");
    s.put_object("bkt", "managed-small", data(10, 2), PutOptions::managed())
        .expect("put");
    s.put_object("bkt", "kms", data(2 * MIB, 3), PutOptions::kms(Some(&cmk)))
        .expect("put");
    s.put_object("bkt", "plain", data(10, 4), PutOptions::default())
        .expect("put");
    let before = segments(s);

    assert_eq!(s.rotate_master_key().expect("rotate"), 2);
    s.kms().rotate_key(&cmk, &TRUSTED).expect("rotate cmk");
    assert_eq!(
        s.head_object("bkt", "managed")
            .expect("head")
            .protection
            .key_version,
        Some(1)
    );
    s.put_object("bkt", "new", data(10, 5), PutOptions::managed())
        .expect("put");
    assert_eq!(
        s.head_object("bkt", "new")
            .expect("head")
            .protection
            .key_version,
        Some(2)
    );
    assert!(
        s.get_object("bkt", "managed")
            .expect("old still readable")
            .body
            == data(2 * MIB, 1)
    );

    assert_eq!(
        s.rewrap_bucket("bkt").expect("rewrap"),
        3,
        "two managed objects and one KMS object"
    );
    assert_eq!(
        s.head_object("bkt", "managed")
            .expect("head")
            .protection
            .key_version,
        Some(2)
    );
    assert_eq!(
        s.head_object("bkt", "managed-small")
            .expect("head")
            .protection
            .key_version,
        Some(2)
    );
    assert_eq!(
        s.head_object("bkt", "kms")
            .expect("head")
            .protection
            .key_version,
        Some(2)
    );
    assert_eq!(segments(s), before, "rewrap must not rewrite object data");
    assert!(s.get_object("bkt", "managed").expect("get").body == data(2 * MIB, 1));
    assert!(s.get_object("bkt", "kms").expect("get").body == data(2 * MIB, 3));
    assert_eq!(
        s.rewrap_bucket("bkt").expect("rewrap"),
        0,
        "nothing left to move"
    );

    assert_eq!(s.retire_unused_master_keys().expect("retire"), 2);
    assert_eq!(s.master_keys().min_decryption_version(), 2);
    assert!(s.get_object("bkt", "managed").is_ok());
}

/// Reads of small objects keep their derived keys, but never past what the
/// keys themselves allow: a KMS-protected object asks its KMS on every read, and
/// an object under a retired master key version stops opening at once.
#[test]
fn kept_keys_never_outlive_the_keys_they_came_from() {
    let f = fixture();
    let s = &f.store;
    let kms = s.kms();
    let cmk = kms
        .create_key(Default::default(), &TRUSTED)
        .expect("cmk")
        .key_id;
    s.create_bucket("bkt").expect("bucket");
    s.put_object("bkt", "kms", data(100, 1), PutOptions::kms(Some(&cmk)))
        .expect("put");
    s.put_object("bkt", "managed", data(100, 2), PutOptions::managed())
        .expect("put");
    for _ in 0..3 {
        assert!(s.get_object("bkt", "kms").expect("read").body == data(100, 1));
        assert!(s.get_object("bkt", "managed").expect("read").body == data(100, 2));
    }

    kms.disable_key(&cmk, &TRUSTED).expect("disable");
    assert!(matches!(
        s.get_object("bkt", "kms"),
        Err(Error::KeyDisabled(_))
    ));
    kms.enable_key(&cmk, &TRUSTED).expect("enable");
    assert!(s.get_object("bkt", "kms").expect("readable again").body == data(100, 1));

    // Retire the version that wrapped "managed" behind the store's back (no
    // usage scan): the next read must fail, not use kept keys.
    coffer_store::test_util::rotate_and_retire_master_keys_unchecked(s).expect("retire");
    assert!(
        s.get_object("bkt", "managed").is_err(),
        "a read under a retired master key version succeeded"
    );
    // A fresh object under the current version reads, and keeps reading.
    s.put_object("bkt", "managed2", data(100, 3), PutOptions::managed())
        .expect("put");
    for _ in 0..2 {
        assert!(s.get_object("bkt", "managed2").expect("read").body == data(100, 3));
    }
}
