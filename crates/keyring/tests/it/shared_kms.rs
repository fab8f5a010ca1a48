//! Two handles of the local KMS over one key store, as processes sharing a
//! remote store hold them: a change one makes from its stale copy of a key
//! never writes over the other's (a rotation, a disabled key).

use std::sync::Arc;

use coffer_keyring::{
    CreateKeyOptions, EncryptionContext, KeyAdministration, KeyState, KmsBackend, LocalKms,
    LocalKmsOptions, MemoryKeyStore, RootKey,
};

fn open(store: &Arc<MemoryKeyStore>) -> LocalKms {
    LocalKms::open(
        store.clone(),
        &RootKey::from_bytes([3; 32]),
        LocalKmsOptions::default(),
    )
    .expect("opens")
}

/// A new key in `kms`: its id.
fn new_key(kms: &LocalKms) -> String {
    kms.create_key(CreateKeyOptions::default())
        .expect("a key")
        .key_id
}

fn ctx() -> EncryptionContext {
    EncryptionContext::new(b"store", "bucket", b"object")
}

#[test]
fn a_stale_handle_rotates_past_the_version_another_created() {
    let store = Arc::new(MemoryKeyStore::new());
    let first = open(&store);
    let key = new_key(&first);
    let stale = open(&store);
    assert_eq!(first.rotate_key(&key).expect("rotates"), 2);
    let (data_key, wrapped) = first.generate_data_key(&key, &ctx()).expect("wraps");
    assert_eq!(
        stale.rotate_key(&key).expect("rotates"),
        3,
        "past version 2"
    );
    for kms in [&stale, &open(&store)] {
        let unwrapped = kms
            .decrypt_data_key(&wrapped, &ctx())
            .expect("version 2 kept");
        assert_eq!(unwrapped.expose_secret(), data_key.expose_secret());
    }
}

#[test]
fn a_stale_handle_does_not_enable_a_key_another_disabled() {
    let store = Arc::new(MemoryKeyStore::new());
    let first = open(&store);
    let key = new_key(&first);
    let stale = open(&store);
    first.disable_key(&key).expect("disables");
    // Whatever the stale handle's rotation answers, the key stays disabled.
    let _ = stale.rotate_key(&key);
    assert_eq!(
        open(&store).describe_key(&key).expect("described").state,
        KeyState::Disabled
    );
    assert_eq!(
        stale.describe_key(&key).expect("described").state,
        KeyState::Disabled,
        "the stale handle read the key again"
    );
}

#[test]
fn a_reload_reads_keys_another_handle_created() {
    let store = Arc::new(MemoryKeyStore::new());
    let first = open(&store);
    let stale = open(&store);
    let key = new_key(&first);
    let (data_key, wrapped) = first.generate_data_key(&key, &ctx()).expect("wraps");
    stale.reload().expect("reloads");
    let unwrapped = stale.decrypt_data_key(&wrapped, &ctx()).expect("opens");
    assert_eq!(unwrapped.expose_secret(), data_key.expose_secret());
}

#[test]
fn a_stale_handle_finds_the_default_key_and_aliases_another_created() {
    let store = Arc::new(MemoryKeyStore::new());
    let first = open(&store);
    let stale = open(&store);
    let created = first.default_key().expect("the default key");
    assert!(created.created);
    let found = stale.default_key().expect("the default key");
    assert!(!found.created, "one default key for the store");
    assert_eq!(found.key_id, created.key_id);

    let (key, other) = (new_key(&first), new_key(&first));
    let stale = open(&store);
    first.create_alias("alias/shared", &key).expect("an alias");
    assert!(
        stale.create_alias("alias/shared", &other).is_err(),
        "the alias is taken in the store"
    );
    assert_eq!(
        open(&store)
            .describe_key("alias/shared")
            .expect("resolves")
            .key_id,
        key
    );
}
