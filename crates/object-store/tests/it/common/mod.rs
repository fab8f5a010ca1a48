//! A fresh store in a temporary directory, one bucket of it as an
//! `ObjectStore`, protected by default as the test asks.
#![allow(dead_code)]

use coffer_keyring::Caller;
use coffer_object_store::CofferObjectStore;
use coffer_store::{EncryptionRule, RootKey, Store, StoreOptions};
use tempfile::TempDir;

pub(crate) const BUCKET: &str = "objects";

/// The bucket's default protection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Default {
    Aes256,
    Kms,
}

pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) store: Store,
    pub(crate) objects: CofferObjectStore<Store>,
    /// The CMK of the bucket's KMS rule, if it has one.
    pub(crate) cmk: Option<String>,
}

pub(crate) fn options() -> StoreOptions {
    StoreOptions::new(RootKey::from_bytes([0x5a; 32]))
        .with_threads(2)
        .create_if_missing(true)
}

pub(crate) fn fixture(default: Default) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), options()).expect("opens");
    store.create_bucket(BUCKET).expect("bucket");
    let cmk = match default {
        Default::Aes256 => {
            store
                .put_bucket_encryption(BUCKET, EncryptionRule::managed())
                .expect("rule");
            None
        }
        Default::Kms => {
            let cmk = store
                .kms()
                .create_key(std::default::Default::default(), &Caller::Trusted)
                .expect("cmk")
                .key_id;
            store
                .put_bucket_encryption(BUCKET, EncryptionRule::kms(Some(&cmk)))
                .expect("rule");
            Some(cmk)
        }
    };
    let objects = CofferObjectStore::new(store.clone(), BUCKET);
    Fixture {
        dir,
        store,
        objects,
        cmk,
    }
}
