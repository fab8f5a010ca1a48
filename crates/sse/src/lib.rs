//! coffer's server-side encryption semantics, without a storage engine.
//!
//! What a coffer object means is the same whatever keeps its bytes: a bucket
//! may carry a default [`EncryptionRule`], a put may name its own, every write
//! gets a fresh data key, and every read reports the [`Protection`] that was
//! applied. This crate holds those semantics and the one object API
//! ([`ObjectApi`]) that every engine implements — the embedded RocksDB engine
//! (`coffer-store`) today — so that sessions, the `object_store` face and the
//! conformance suite work over any of them. It never depends on RocksDB.
//!
//! - [`ObjectApi`]: the operations, each taking its options and the caller
//!   ([`Caller::Trusted`] or a principal) explicitly, with the convenience
//!   forms as provided methods.
//! - [`Session`]: the same API bound to one caller, over any implementation.
//! - [`access`]: the `oss:*` actions, resources and condition keys a
//!   principal's request is checked against.
//! - [`keys`]: data keys for each write (master keyring, KMS, bucket keys
//!   with their bounds and cache, version pins) and for each read, and the
//!   record key that authenticates what an engine stores ([`keys::Keys`]);
//!   an engine keeps bucket key records through [`keys::KeyRecords`].
//! - [`codec`], [`ids`], [`recent`]: the records' binary encoding, their ids
//!   and times, and the bounded map the caches use.
//! - [`KeyUsageReport`]: the objects each key version protects, as every
//!   engine's `key_usage` counts them ([`KeyUsageTally`]).
//! - The value types: rules and protection, put/get/copy/list options and
//!   results, multipart parts and uploads, and the shared [`Error`].
//! - `conformance` (feature `conformance`): the suite every implementation
//!   runs unchanged.

pub mod access;
mod api;
pub mod codec;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
pub mod ids;
mod key_usage;
pub mod keys;
mod multipart;
mod names;
mod object_types;
pub mod recent;
mod rule;
mod session;

pub use api::{ChunksReader, ObjectApi, ObjectRead, PlaintextStream, PutPayload};
pub use coffer_keyring::{Caller, Principal};
pub use error::{Error, Result, StorageError};
pub use key_usage::{KeyUsage, KeyUsageReport, KeyUsageTally};
pub use multipart::{CompletedPart, MAX_PART_NUMBER, MultipartUpload, UploadedPart};
pub use names::{validate_bucket, validate_key, validate_name_part};
pub use object_types::{
    BucketInfo, ByteRange, CopyOptions, GetConditions, GetOptions, ListOptions, ListResult, Object,
    ObjectAttributes, ObjectMeta, ObjectSummary, PutCondition, PutOptions, PutResult,
};
pub use rule::{EncryptionRule, Protection, ProtectionMode};
pub use session::Session;
