//! coffer's key hierarchy.
//!
//! - Every object write gets a fresh [`DataKey`]; it is wrapped for the object's
//!   [`EncryptionContext`] into a [`WrappedKey`] record stored with the object.
//! - Store-managed protection ("AES256") wraps data keys with the
//!   [`MasterKeyring`]: versioned key-encryption keys sealed under the
//!   application's [`RootKey`], rotated by age and by use.
//! - KMS protection ("KMS") asks a [`Kms`] for a data key under a customer master
//!   key. [`LocalKms`] is the built-in one: key lifecycle, aliases, the store's
//!   default managed key, rotation of material, BYOK import, policy checks on
//!   every call and an audit event for each.
//! - Both persist through the small [`KeyStore`] trait, which the store
//!   implements over RocksDB.
//!
//! ```
//! use std::sync::Arc;
//! use coffer_keyring::{Caller, EncryptionContext, Kms, LocalKms, LocalKmsOptions, MemoryKeyStore, RootKey};
//!
//! let store = Arc::new(MemoryKeyStore::new());
//! let kms = LocalKms::open(store, &RootKey::generate()?, LocalKmsOptions::default())?;
//! let key_id = kms.default_key_id(&Caller::Trusted)?;
//! let context = EncryptionContext::new(b"store", "photos", b"object-1");
//! let (data_key, wrapped) = kms.generate_data_key(&key_id, &context, &Caller::Trusted)?;
//! let again = kms.decrypt(&wrapped, &context, &Caller::Trusted)?;
//! assert_eq!(data_key.expose_secret(), again.expose_secret());
//! # Ok::<(), coffer_keyring::Error>(())
//! ```

mod audit;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod context;
mod error;
mod kms;
mod legacy;
mod master;
mod persist;
mod root_key;
mod sealed_store;
mod wrapped;

pub use audit::{AuditEvent, AuditOutcome, AuditSink, MemoryAuditSink, NoAudit};
pub use clock::{Clock, ManualClock, SystemClock};
pub use coffer_cipher::DataKey;
pub use coffer_policy::Principal;
pub use context::EncryptionContext;
pub use error::{Error, Result};
pub use kms::{
    Caller, CreateKeyOptions, DEFAULT_MANAGED_ALIAS, ImportOptions, ImportParameters, KeyMetadata,
    KeyOrigin, KeyState, Kms, LocalKms, LocalKmsOptions, WrappingKeySpec,
    wrap_key_material_for_import,
};
pub use master::{
    MASTER_KEYRING_ID, MasterKeyVersion, MasterKeyring, NothingReferencesOlderVersions,
    RotationPolicy,
};
pub use persist::{KeyStore, MemoryKeyStore};
pub use root_key::RootKey;
pub use sealed_store::{InitialRecords, KeysLayout, SealedKeyStore};
pub use wrapped::{Provider, WrapAlgorithm, WrappedKey};
