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
//! let store = Store::create(dir.path(), StoreOptions::new(RootKey::generate()?))?;
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
//! (`docs/format.md`); small payloads live inline in their object record, large
//! ones in 1 MiB segments. Nothing under the directory holds a plaintext byte of
//! an encrypted object or a plaintext key. See `docs/design.md`.

mod admin;
mod engine;
mod format;
#[cfg(test)]
mod format_vectors;
mod objects;
mod options;
mod store;
#[cfg(feature = "test-util")]
pub mod test_util;

pub use coffer_keyring::{AuditEvent, AuditOutcome};
pub use coffer_keyring::{Principal, RootKey, RotationPolicy};
pub use coffer_policy::PolicyDocument;
pub use coffer_sse::access::{SSE_CONDITION_KEY, SSE_KEY_ID_CONDITION_KEY};
pub use coffer_sse::keys::BucketKeyOptions;
/// The semantics every engine shares, re-exported: the object API, rules and
/// protection, options and results, and the error type.
pub use coffer_sse::{
    BucketInfo, CompletedPart, CopyOptions, EncryptionRule, Error, GetConditions, GetOptions,
    ListOptions, ListResult, MAX_PART_NUMBER, MultipartUpload, Object, ObjectApi, ObjectAttributes,
    ObjectMeta, ObjectRead, ObjectSummary, PlaintextStream, Protection, ProtectionMode,
    PutCondition, PutOptions, PutPayload, PutResult, Result, StorageError, UploadedPart, access,
};
pub use engine::audit::{
    AuditOutcomeKind, AuditPage, AuditQuery, AuditRetention, AuditVerification,
};
/// The store as seen by one principal ([`Store::session`]).
pub type Session = coffer_sse::Session<Store>;
pub use admin::jobs::{JobKind, JobLimits, JobState, JobStatus};
pub use admin::maintenance::ConsistencyReport;
pub use admin::verify::{ProblemKind, VerifyProblem, VerifyProgress, VerifyReport};
pub use coffer_sse::{KeyUsage, KeyUsageReport};
pub(crate) use format::columns::ColumnFamily;
pub use format::settings::{DEFAULT_ACCOUNT, DEFAULT_REGION};
pub use objects::reader::ObjectReader;
pub use objects::stream::ObjectStream;
pub use options::{StoreOptions, Tuning};
pub use store::{MasterKeys, Store};

/// The column families and key layout, for the benchmarks' same-layout
/// baseline only (feature `bench-internals`): not a stable API.
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod internals {
    use crate::format::columns::ColumnFamily;

    /// The objects family's name.
    pub const OBJECTS: &str = "objects";
    /// The chunks family's name.
    pub const CHUNKS: &str = "chunks";

    /// Every column family's name.
    pub fn family_names() -> Vec<&'static str> {
        ColumnFamily::ALL.iter().map(|f| f.name()).collect()
    }

    /// Every column family with its options, as the store opens them.
    pub fn column_families(
        tuning: &crate::Tuning,
        cache: &rocksdb::Cache,
    ) -> Vec<rocksdb::ColumnFamilyDescriptor> {
        ColumnFamily::ALL
            .iter()
            .map(|&f| {
                rocksdb::ColumnFamilyDescriptor::new(
                    f.name(),
                    tuning.column_family_options(f, cache),
                )
            })
            .collect()
    }

    /// The block cache the store makes for `tuning`.
    pub fn block_cache(tuning: &crate::Tuning) -> rocksdb::Cache {
        tuning.block_cache()
    }

    /// RocksDB's database options as the store sets them.
    pub fn db_options(tuning: &crate::Tuning) -> rocksdb::Options {
        tuning.db_options()
    }

    /// Waits until the store's database runs no flush or compaction and has
    /// none pending (every column family).
    pub fn wait_for_background_work(store: &crate::Store) -> crate::Result<()> {
        let db = store.db()?;
        let handles: Vec<_> = ColumnFamily::ALL
            .iter()
            .map(|&f| db.cf(f))
            .collect::<crate::Result<_>>()?;
        wait_until_idle(|name| {
            let mut total = 0;
            for cf in &handles {
                total += db.property_int_value_cf(*cf, name)?.unwrap_or(0);
            }
            Ok(total)
        })
    }

    /// Waits until `db` runs no flush or compaction and has none pending.
    pub fn wait_until_idle_db(db: &rocksdb::DB) -> crate::Result<()> {
        wait_until_idle(|name| Ok(db.property_int_value(name)?.unwrap_or(0)))
    }

    fn wait_until_idle(
        mut value: impl FnMut(&str) -> Result<u64, rocksdb::Error>,
    ) -> crate::Result<()> {
        loop {
            let busy = value("rocksdb.num-running-flushes").map_err(crate::engine::db::storage)?
                + value("rocksdb.num-running-compactions").map_err(crate::engine::db::storage)?
                + value("rocksdb.compaction-pending").map_err(crate::engine::db::storage)?
                + value("rocksdb.mem-table-flush-pending").map_err(crate::engine::db::storage)?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The default largest payload kept inside its object record.
    pub fn inline_threshold() -> usize {
        crate::options::DEFAULT_INLINE_THRESHOLD
    }

    /// The objects family's key of bucket/key.
    pub fn object_key(bucket: &str, key: &str) -> Vec<u8> {
        crate::format::columns::object_key(bucket, key)
    }

    /// The chunks family's key of an object's segment.
    pub fn segment_key(object_id: &[u8; 16], index: u32) -> [u8; 20] {
        crate::format::columns::segment_key(object_id, index)
    }
}
