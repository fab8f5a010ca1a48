//! Arbitrary bytes decoded as a wrapped-key record: an error or a record that
//! re-encodes to the same bytes; opening one never succeeds (forgery is
//! infeasible) and never panics.
#![no_main]

use std::sync::{Arc, OnceLock};

use coffer_keyring::{Caller, EncryptionContext, Kms, KmsOptions, LocalKms, LocalKmsOptions, MasterKeyring, MemoryKeyStore, RootKey, RotationPolicy, WrappedKey};
use libfuzzer_sys::fuzz_target;

struct Keys {
    master: MasterKeyring,
    kms: Kms,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let root = RootKey::from_bytes([1; 32]);
        let master = MasterKeyring::open(Arc::new(MemoryKeyStore::new()), &root, RotationPolicy::default(), Arc::new(coffer_keyring::SystemClock)).expect("keyring");
        let local = LocalKms::open(Arc::new(MemoryKeyStore::new()), &root, LocalKmsOptions::default()).expect("kms");
        let kms = Kms::new(Arc::new(local), KmsOptions::default());
        Keys { master, kms }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(wrapped) = WrappedKey::decode(data) else { return };
    assert_eq!(wrapped.encode(), data, "decode/encode is not a bijection");
    let context = EncryptionContext::new(b"fuzz", "bucket", b"object");
    assert!(keys().master.unwrap(&wrapped, &context).is_err());
    assert!(keys().kms.decrypt(&wrapped, &context, &Caller::Trusted).is_err());
});
