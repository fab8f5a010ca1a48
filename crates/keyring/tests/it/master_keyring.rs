//! The master keyring: rotation by age, by use and on demand; old versions keep
//! unwrapping until retired; persistence across reopen; the wrong root key.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_keyring::{
    EncryptionContext, Error, KeyStore, ManualClock, MasterKeyring, MemoryKeyStore,
    NothingReferencesOlderVersions, RootKey, RotationPolicy,
};

fn setup(policy: RotationPolicy) -> (Arc<MemoryKeyStore>, ManualClock, MasterKeyring) {
    let store = Arc::new(MemoryKeyStore::new());
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let keyring = MasterKeyring::open(
        store.clone(),
        &RootKey::from_bytes([7; 32]),
        policy,
        Arc::new(clock.clone()),
    )
    .expect("opens");
    (store, clock, keyring)
}

/// Another handle on `store` (a reopen, or a second process).
fn open_on(
    store: &Arc<MemoryKeyStore>,
    clock: &ManualClock,
    policy: RotationPolicy,
) -> MasterKeyring {
    MasterKeyring::open(
        store.clone(),
        &RootKey::from_bytes([7; 32]),
        policy,
        Arc::new(clock.clone()),
    )
    .expect("opens")
}

fn ctx(object: &[u8]) -> EncryptionContext {
    EncryptionContext::new(b"store", "bucket", object)
}

#[test]
fn rotation_by_age_keeps_old_keys_readable() {
    let policy = RotationPolicy {
        max_age: Some(Duration::from_secs(3600)),
        max_wraps: None,
    };
    let (_, clock, keyring) = setup(policy);
    assert_eq!(keyring.current_version(), 1);
    let (key, old) = keyring.generate_data_key(&ctx(b"a")).expect("wraps");
    clock.advance(Duration::from_secs(3599));
    assert_eq!(
        keyring
            .generate_data_key(&ctx(b"b"))
            .expect("wraps")
            .1
            .key_version(),
        1
    );
    clock.advance(Duration::from_secs(1));
    let (_, new) = keyring.generate_data_key(&ctx(b"c")).expect("wraps");
    assert_eq!(
        new.key_version(),
        2,
        "rotated when the current version reached max age"
    );
    assert_eq!(
        keyring
            .unwrap(&old, &ctx(b"a"))
            .expect("old unwraps")
            .expose_secret(),
        key.expose_secret()
    );
}

#[test]
fn rotation_by_wrap_count_and_on_demand() {
    let policy = RotationPolicy {
        max_age: None,
        max_wraps: Some(3),
    };
    let (_, _, keyring) = setup(policy);
    let versions: Vec<u32> = (0..7)
        .map(|i| {
            keyring
                .generate_data_key(&ctx(&[i]))
                .expect("wraps")
                .1
                .key_version()
        })
        .collect();
    assert_eq!(versions, [1, 1, 1, 2, 2, 2, 3]);
    assert_eq!(keyring.rotate_now().expect("rotates"), 4);
    assert_eq!(
        keyring
            .versions()
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}

#[test]
fn rewrap_moves_to_current_without_revealing_the_key() {
    let (_, _, keyring) = setup(RotationPolicy::default());
    let (key, old) = keyring.generate_data_key(&ctx(b"a")).expect("wraps");
    assert!(
        keyring.rewrap(&old, &ctx(b"a")).expect("rewrap").is_none(),
        "already current"
    );
    keyring.rotate_now().expect("rotates");
    let moved = keyring
        .rewrap(&old, &ctx(b"a"))
        .expect("rewrap")
        .expect("moved");
    assert_eq!(moved.key_version(), 2);
    assert_eq!(
        keyring
            .unwrap(&moved, &ctx(b"a"))
            .expect("unwraps")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(matches!(
        keyring.rewrap(&old, &ctx(b"other")),
        Err(Error::Integrity(_))
    ));
}

#[test]
fn retiring_old_versions_needs_the_assertion_and_destroys_them() {
    let (store, _, keyring) = setup(RotationPolicy::default());
    let (_, old) = keyring.generate_data_key(&ctx(b"a")).expect("wraps");
    keyring.rotate_now().expect("rotates");
    assert!(matches!(
        keyring.retire_versions_below(
            3,
            NothingReferencesOlderVersions::after_scanning_every_wrapped_key()
        ),
        Err(Error::InvalidArgument(_))
    ));
    keyring
        .retire_versions_below(
            2,
            NothingReferencesOlderVersions::after_scanning_every_wrapped_key(),
        )
        .expect("retires");
    assert_eq!(keyring.min_decryption_version(), 2);
    assert!(matches!(
        keyring.unwrap(&old, &ctx(b"a")),
        Err(Error::UnknownKeyVersion { version: 1, .. })
    ));
    assert!(
        store.get("master/kek/0000000001").expect("get").is_none(),
        "retired material is deleted"
    );
}

#[test]
fn state_survives_reopen_and_the_wrong_root_key_is_refused() {
    let (store, clock, keyring) = setup(RotationPolicy::default());
    let (key, wrapped) = keyring.generate_data_key(&ctx(b"a")).expect("wraps");
    keyring.rotate_now().expect("rotates");
    drop(keyring);
    let before = store.scan("").expect("scan");
    let wrong = MasterKeyring::open(
        store.clone(),
        &RootKey::from_bytes([8; 32]),
        RotationPolicy::default(),
        Arc::new(clock.clone()),
    );
    assert!(matches!(wrong.err(), Some(Error::WrongRootKey)));
    assert_eq!(
        store.scan("").expect("scan"),
        before,
        "a wrong root key changes nothing"
    );
    let reopened = MasterKeyring::open(
        store,
        &RootKey::from_bytes([7; 32]),
        RotationPolicy::default(),
        Arc::new(clock),
    )
    .expect("reopens");
    assert_eq!(reopened.current_version(), 2);
    assert_eq!(
        reopened
            .unwrap(&wrapped, &ctx(b"a"))
            .expect("unwraps")
            .expose_secret(),
        key.expose_secret()
    );
}

#[test]
fn nothing_secret_is_stored_in_the_clear() {
    let (store, _, keyring) = setup(RotationPolicy::default());
    let (key, _) = keyring.generate_data_key(&ctx(b"a")).expect("wraps");
    for (_, value) in store.scan("").expect("scan") {
        assert!(
            !value.windows(32).any(|w| w == key.expose_secret()),
            "a data key was stored"
        );
        assert!(
            !value.windows(32).any(|w| w == [7; 32]),
            "the root key was stored"
        );
    }
}

/// Wrap counts are written lazily, so a reopened keyring counts high, never low:
/// the wraps since the last write may not be on disk.
#[test]
fn wrap_counts_err_high_after_reopen() {
    let policy = RotationPolicy {
        max_age: None,
        max_wraps: None,
    };
    let (store, clock, keyring) = setup(policy);
    for i in 0..10u8 {
        keyring.generate_data_key(&ctx(&[i])).expect("wraps");
    }
    assert_eq!(keyring.versions()[0].wraps, 10);
    drop(keyring);
    let reopened = open_on(&store, &clock, policy);
    assert!(reopened.versions()[0].wraps >= 10);
}

/// Two handles on one store, the second not reloaded after the first
/// rotated (as a process whose shared keyring merged the other's rotation
/// in): its rotation follows the newest version instead of writing over it,
/// and what the first wrapped under that version still unwraps everywhere.
#[test]
fn a_stale_handle_rotates_past_a_version_another_created() {
    let policy = RotationPolicy {
        max_age: None,
        max_wraps: None,
    };
    let (store, clock, first) = setup(policy);
    let open = || open_on(&store, &clock, policy);
    let stale = open();
    assert_eq!(first.rotate_now().expect("rotates"), 2);
    let (key, wrapped) = first.generate_data_key(&ctx(b"x")).expect("wraps");
    assert_eq!(wrapped.key_version(), 2);
    assert_eq!(stale.current_version(), 1, "not reloaded yet");
    assert_eq!(stale.rotate_now().expect("rotates"), 3);
    for keyring in [&stale, &open()] {
        let unwrapped = keyring
            .unwrap(&wrapped, &ctx(b"x"))
            .expect("version 2 kept");
        assert_eq!(unwrapped.expose_secret(), key.expose_secret());
    }
}
