//! Opening, creating and closing a store: a mistyped path does not create an
//! empty store; the region and account are fixed at creation and kept; a
//! closed store releases its directory and answers `Closed` to every clone,
//! session and reader still alive; the root key can be rotated, after which
//! only the new one opens the store and the old sealed records are gone from
//! its files.

use crate::common;

use std::io::Read;

use coffer_keyring::Caller;
use coffer_store::{Error, PutOptions, RootKey, Store, StoreOptions};
use common::{ACCOUNT, MIB, data, files_containing, fixture, options, root};

#[test]
fn a_missing_store_is_not_created_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo");
    match Store::open(&path, StoreOptions::new(root())) {
        Err(Error::StoreNotFound(at)) => assert_eq!(at, path),
        Err(other) => panic!("expected StoreNotFound, got {other}"),
        Ok(_) => panic!("a mistyped path created a store"),
    }
    assert!(!path.join("CURRENT").exists(), "nothing was created");
    let store = Store::create(&path, StoreOptions::new(root())).expect("creates");
    assert_eq!(store.region(), coffer_store::DEFAULT_REGION);
    assert_eq!(store.account(), coffer_store::DEFAULT_ACCOUNT);
    store.close().expect("closes");
    Store::open(&path, StoreOptions::new(root())).expect("opens what exists");
}

#[test]
fn region_and_account_are_kept_with_the_store() {
    let f = fixture();
    assert_eq!(
        (f.store.region(), f.store.account()),
        ("cn-hangzhou", ACCOUNT)
    );
    let key = f
        .store
        .kms()
        .default_key_id(&Caller::Trusted)
        .expect("default key");
    let resource = f
        .store
        .kms()
        .describe_key(&key, &Caller::Trusted)
        .expect("describes")
        .resource_name;
    assert_eq!(resource, format!("acs:kms:cn-hangzhou:{ACCOUNT}:key/{key}"));
    f.store.close().expect("closes");
    // Opened without them: the store's own.
    let store = Store::open(f.dir.path(), StoreOptions::new(root())).expect("opens");
    assert_eq!((store.region(), store.account()), ("cn-hangzhou", ACCOUNT));
    store.close().expect("closes");
    // Opened with others: refused, nothing changed.
    for (region, account) in [("cn-beijing", ACCOUNT), ("cn-hangzhou", "999")] {
        match Store::open(
            f.dir.path(),
            StoreOptions::new(root()).with_account(region, account),
        ) {
            Err(Error::InvalidArgument(message)) => assert!(message.contains("cannot change")),
            Err(other) => panic!("expected InvalidArgument, got {other}"),
            Ok(_) => panic!("opened with another region or account"),
        }
    }
    match Store::create(
        tempfile::tempdir().expect("tempdir").path(),
        StoreOptions::new(root()).with_account("cn:hangzhou", "1*"),
    ) {
        Err(Error::InvalidArgument(_)) => {}
        other => panic!(
            "a resource-name wildcard was accepted: {:?}",
            other.map(drop)
        ),
    }
}

#[test]
fn close_releases_the_directory_and_everything_alive_gets_closed() {
    let f = fixture();
    let store = f.store.clone();
    store.create_bucket("bkt").expect("bucket");
    store
        .put_object("bkt", "big", data(3 * MIB, 1), PutOptions::managed())
        .expect("put");
    let session = store.session(
        coffer_store::Principal::new("p", ACCOUNT).with_policy(
            coffer_store::PolicyDocument::parse(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"}]}"#,
            )
            .expect("parses"),
        ),
    );
    let mut reader = store.open_object("bkt", "big").expect("opens");
    let mut first = vec![0; 1000];
    reader.read_exact(&mut first).expect("reads");
    f.store.close().expect("closes");
    assert!(matches!(store.get_object("bkt", "big"), Err(Error::Closed)));
    assert!(matches!(store.head_bucket("bkt"), Err(Error::Closed)));
    assert!(matches!(store.list_buckets(), Err(Error::Closed)));
    assert!(matches!(
        session.get_object("bkt", "big"),
        Err(Error::Closed)
    ));
    let mut rest = Vec::new();
    let error = reader
        .read_to_end(&mut rest)
        .expect_err("the reader is closed too");
    assert!(error.to_string().contains("closed"), "{error}");
    // The directory is free: another open succeeds while the clones live.
    let reopened = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    assert_eq!(
        reopened.get_object("bkt", "big").expect("reads").body,
        data(3 * MIB, 1)
    );
    f.store.close().expect("closing twice is fine");
}

#[test]
fn rotating_the_root_key_reseals_every_key_record() {
    let f = fixture();
    f.store.create_bucket("bkt").expect("bucket");
    let cmk = f
        .store
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    f.store
        .put_object("bkt", "managed", data(1000, 1), PutOptions::managed())
        .expect("put");
    f.store
        .put_object("bkt", "kms", data(1000, 2), PutOptions::kms(Some(&cmk)))
        .expect("put");
    let old_check = coffer_store::test_util::raw_family(&f.store, "keys")
        .expect("scans")
        .into_iter()
        .find(|(name, _)| name == b"root/check")
        .expect("check record")
        .1;
    f.store.close().expect("closes");

    let new_root = RootKey::from_bytes([0x44; 32]);
    assert!(matches!(
        Store::rotate_root_key(f.dir.path(), &new_root, &root()),
        Err(Error::WrongRootKey)
    ));
    let resealed = Store::rotate_root_key(f.dir.path(), &root(), &new_root).expect("rotates");
    assert!(resealed >= 4, "check, settings, master keys and the CMK");
    assert!(matches!(
        Store::open(f.dir.path(), options(&f.clock)),
        Err(Error::WrongRootKey)
    ));
    assert!(
        files_containing(f.dir.path(), &old_check).is_empty(),
        "a file still holds a record sealed under the old root key"
    );
    let store = Store::open(
        f.dir.path(),
        StoreOptions::new(RootKey::from_bytes([0x44; 32])),
    )
    .expect("the new root key opens the store");
    assert_eq!(
        store.get_object("bkt", "managed").expect("reads").body,
        data(1000, 1)
    );
    assert_eq!(
        store.get_object("bkt", "kms").expect("reads").body,
        data(1000, 2)
    );
}
