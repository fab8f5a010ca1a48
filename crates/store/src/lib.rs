//! coffer: an embedded, encrypted object store.
//!
//! Open a directory, create buckets, store objects. Every object write gets a
//! fresh data key; data keys are wrapped by rotated master keys (store-managed,
//! "AES256") or by a KMS customer master key ("KMS"); reads decrypt
//! transparently and report how each object was protected.
//!
//! ```
//! use bytes::Bytes;
//! use coffer_store::{EncryptionRule, ProtectionMode, PutOptions, RootKey, Store, StoreOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), StoreOptions::new(RootKey::generate()?))?;
//! store.create_bucket("photos")?;
//! store.put_bucket_encryption("photos", EncryptionRule::kms(None))?;
//! store.put_object("photos", "a.jpg", Bytes::from_static(b"jpeg bytes"), PutOptions::default())?;
//! let object = store.get_object("photos", "a.jpg")?;
//! assert_eq!(object.body, "jpeg bytes");
//! assert_eq!(object.meta.protection.mode, ProtectionMode::Kms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout on disk: one RocksDB column family per kind of record
//! ([`ColumnFamily`]); small payloads live inline in their object record, large
//! ones in 1 MiB segments. Nothing under the directory holds a plaintext byte of
//! an encrypted object or a plaintext key. See `docs/design.md`.

pub mod columns;
mod error;
mod key_cache;
mod keys_family;
mod maintenance;
mod names;
mod objects;
mod options;
mod reader;
mod record;
mod rule;
mod session;
mod store;
#[cfg(feature = "test-util")]
pub mod test_util;

pub use coffer_keyring::{Principal, RootKey, RotationPolicy};
pub use coffer_policy::PolicyDocument;
pub use columns::ColumnFamily;
pub use error::{Error, Result};
pub use maintenance::ConsistencyReport;
pub use objects::{
    CopyOptions, ListOptions, ListResult, Object, ObjectMeta, ObjectSummary, PutOptions, PutResult,
};
pub use options::{StoreOptions, Tuning};
pub use reader::ObjectReader;
pub use rule::{EncryptionRule, Protection, ProtectionMode};
pub use session::{SSE_CONDITION_KEY, Session};
pub use store::{BucketInfo, Store};
