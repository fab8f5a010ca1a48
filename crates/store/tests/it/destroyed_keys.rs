//! Destroyed keys are gone from the directory: after a CMK's deletion window
//! passes, or master key versions are retired, no file under the store
//! directory (write-ahead log, table or blob file) still holds any record that
//! carried their sealed material, so even the root key and a copy of the
//! directory cannot bring them back.

use crate::common;

use std::time::Duration;

use coffer_keyring::Caller;
use coffer_store::{Error, PutOptions};
use common::{data, files_containing, fixture};

/// 32 bytes from the middle of a key record's sealed value: ciphertext, which
/// no file could hold by chance.
fn keys_record(store: &coffer_store::Store, name: &str) -> Vec<u8> {
    let value = coffer_store::test_util::raw_family(store, "keys")
        .expect("scans")
        .into_iter()
        .find(|(key, _)| key == name.as_bytes())
        .unwrap_or_else(|| panic!("no record {name}"))
        .1;
    value[20..52].to_vec()
}

#[test]
fn a_destroyed_cmk_leaves_no_sealed_material_in_any_file() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let kms = s.kms();
    let cmk = kms
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    let name = format!("kms/key/{cmk}");
    let first = keys_record(s, &name);
    kms.rotate_key(&cmk, &Caller::Trusted).expect("rotates");
    s.put_object("bkt", "k", data(5000, 1), PutOptions::kms(Some(&cmk)))
        .expect("put");
    let before_deletion = keys_record(s, &name);
    // The records are on disk (in the log at least) before the destruction.
    assert!(!files_containing(f.dir.path(), &before_deletion).is_empty());
    kms.schedule_key_deletion(&cmk, 7, &Caller::Trusted)
        .expect("schedules");
    f.clock.advance(Duration::from_secs(8 * 24 * 3600));
    s.local_kms()
        .expect("local kms")
        .run_due_maintenance()
        .expect("destroys");
    assert!(matches!(
        s.get_object("bkt", "k"),
        Err(Error::KeyDestroyed(_))
    ));
    for (what, record) in [("first", &first), ("last", &before_deletion)] {
        let holders = files_containing(f.dir.path(), record);
        assert!(
            holders.is_empty(),
            "the {what} sealed record of the destroyed key is still in {holders:?}"
        );
    }
}

#[test]
fn retired_master_keys_leave_no_sealed_material_in_any_file() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_object("bkt", "k", data(5000, 1), PutOptions::managed())
        .expect("put");
    let kek1 = keys_record(s, "master/kek/0000000001");
    assert!(!files_containing(f.dir.path(), &kek1).is_empty());
    s.rotate_master_key().expect("rotates");
    let kek1_after_rotation = keys_record(s, "master/kek/0000000001");
    s.rewrap_bucket("bkt").expect("rewraps");
    assert_eq!(s.retire_unused_master_keys().expect("retires"), 2);
    for record in [&kek1, &kek1_after_rotation] {
        let holders = files_containing(f.dir.path(), record);
        assert!(
            holders.is_empty(),
            "a retired master key's record is still in {holders:?}"
        );
    }
    assert_eq!(s.get_object("bkt", "k").expect("reads").body, data(5000, 1));
}
