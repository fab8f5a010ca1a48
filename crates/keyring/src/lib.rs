//! coffer's key hierarchy.
//!
//! - Every object write gets a fresh [`DataKey`]; it is wrapped for the object's
//!   [`EncryptionContext`] into a [`WrappedKey`] record stored with the object.
//! - Store-managed protection ("AES256") wraps data keys with the
//!   [`MasterKeyring`]: versioned key-encryption keys sealed under the
//!   application's [`RootKey`], rotated by age and by use.
//! - KMS protection ("KMS") asks a [`Kms`] for a data key under a customer master
//!   key. A [`Kms`] is a [`KmsBackend`] (the protocol of one key management
//!   service) behind the one layer every backend shares: the caller's policy
//!   checks, an audit event for every call, failing fast while the service is
//!   unreachable. [`LocalKms`] is the built-in backend: key lifecycle, aliases,
//!   the store's default managed key, rotation of material, BYOK import.
//! - Both persist through the small [`KeyStore`] trait, which the store
//!   implements over RocksDB.
//!
//! ```
//! use std::sync::Arc;
//! use coffer_keyring::{Caller, EncryptionContext, Kms, KmsOptions, LocalKms, LocalKmsOptions, MemoryKeyStore, RootKey};
//!
//! let store = Arc::new(MemoryKeyStore::new());
//! let local = LocalKms::open(store, &RootKey::generate()?, LocalKmsOptions::default())?;
//! let kms = Kms::new(Arc::new(local), KmsOptions::default());
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
#[cfg(test)]
mod format_vectors;
mod kms;
mod legacy;
mod master;
mod persist;
mod root_key;
mod sealed_store;
mod wrapped;

pub use audit::{AuditEvent, AuditOutcome, AuditSink, AuditWriteError, MemoryAuditSink, NoAudit};
pub use clock::{Clock, ManualClock, SystemClock};
pub use coffer_cipher::DataKey;
pub use coffer_policy::Principal;
pub use context::EncryptionContext;
pub use error::{Error, Result};
pub use kms::{
    AdminOperation, Caller, CreateKeyOptions, DEFAULT_MANAGED_ALIAS, DefaultKey, ImportOptions,
    ImportParameters, KeyAdministration, KeyImport, KeyMetadata, KeyOrigin, KeyState, Kms,
    KmsBackend, KmsOptions, LocalKms, LocalKmsOptions, RevokedHook, WrappingKeySpec, is_uuid,
    unsupported, wrap_key_material_for_import,
};
pub use master::{
    MASTER_KEYRING_ID, MasterKeyVersion, MasterKeyring, NothingReferencesOlderVersions,
    RotationPolicy,
};
pub use persist::{KeyStore, MemoryKeyStore};
pub use root_key::RootKey;
pub use sealed_store::{InitialRecords, KeysLayout, SealedKeyStore};
pub use wrapped::{MAX_OPAQUE_BODY, Provider, WrapAlgorithm, WrappedKey};
