//! The engine's state: the database and how it is written, the locks that
//! order writers and readers of one key or upload, the bucket gate and the
//! buckets in memory, blob relocation and the audit log. `Store`'s `Inner`
//! holds it beside the core's `Keys`.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use parking_lot::{Mutex, RwLock};
use rocksdb::WriteOptions;

use crate::engine::audit::AuditLog;
use crate::engine::blob_relocation::BlobRelocation;
use crate::engine::db::SharedDb;
use crate::format::columns::OBJECT_ID_LEN;
use crate::format::record::BucketRecord;

/// Locks that serialize writers of the same key (by hash of the key). A rewrap
/// holds up to 64 at once while it batches; with 256, another worker's next
/// key hit one of them about one time in five and waited for the whole batch
/// (two cores ran at the speed of one). 4096 bytes of locks make that 1.6 %.
/// Multipart uploads have locks of their own (`upload_stripes`).
const STRIPES: usize = 4096;

/// See the module documentation.
pub(crate) struct Engine {
    /// The database, until the store is closed.
    pub(crate) db: SharedDb,
    /// Set by `Store::close`: calls fail with `Error::Closed` from then on.
    pub(crate) closed: AtomicBool,
    /// The persisted audit log (also the KMS layer's sink).
    pub(crate) audit: Arc<AuditLog>,
    /// When compactions relocate segments out of old blob files.
    pub(crate) blob_relocation: Arc<BlobRelocation>,
    pub(crate) write_options: WriteOptions,
    /// For segments a flush makes durable (see `staged_put`): no log.
    pub(crate) unlogged_write_options: WriteOptions,
    /// Serializes changes to job records (a run's checkpoint and a pause).
    pub(crate) jobs_lock: Mutex<()>,
    /// Serializes writers of one key: read the old record, commit the new one.
    pub(crate) stripes: Vec<Mutex<()>>,
    /// Locks of multipart uploads, by upload id.
    pub(crate) upload_stripes: Vec<Mutex<()>>,
    /// Object ids with open readers, and those replaced while being read.
    pub(crate) readers: Mutex<Readers>,
    /// Object commits hold it shared, `delete_bucket` exclusively, so that no
    /// object lands in a bucket being deleted.
    pub(crate) bucket_gate: RwLock<()>,
    /// Every bucket, loaded at open. Only this process writes buckets (RocksDB's
    /// lock), and it writes the database and this map under the map's write
    /// lock, so the map is never older than the database.
    pub(crate) buckets: RwLock<HashMap<String, BucketRecord>>,
}

/// Object ids with open readers, and those replaced while being read (whose
/// segments the last reader drops).
#[derive(Default)]
pub(crate) struct Readers {
    pub(crate) open: HashMap<[u8; OBJECT_ID_LEN], usize>,
    pub(crate) deferred: HashSet<[u8; OBJECT_ID_LEN]>,
}

impl Engine {
    /// The state of a database just opened, writing with `sync_writes`.
    pub(crate) fn new(
        db: SharedDb,
        audit: Arc<AuditLog>,
        blob_relocation: BlobRelocation,
        sync_writes: bool,
    ) -> Self {
        let mut write_options = WriteOptions::default();
        write_options.set_sync(sync_writes);
        let mut unlogged_write_options = WriteOptions::default();
        unlogged_write_options.disable_wal(true);
        Self {
            db,
            closed: AtomicBool::new(false),
            audit,
            blob_relocation: Arc::new(blob_relocation),
            write_options,
            unlogged_write_options,
            jobs_lock: Mutex::new(()),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            upload_stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            readers: Mutex::new(Readers::default()),
            bucket_gate: RwLock::new(()),
            buckets: RwLock::new(HashMap::new()),
        }
    }

    /// The lock of `key` (an object's key in the objects family).
    pub(crate) fn stripe(&self, key: &[u8]) -> &Mutex<()> {
        &self.stripes[stripe_index(key)]
    }

    /// The lock of a multipart upload: apart from the keys' locks, and always
    /// taken before a key's (completing an upload commits its object), so the
    /// two never wait on each other in a cycle, nor one on itself.
    pub(crate) fn upload_stripe(&self, upload_id: &[u8]) -> &Mutex<()> {
        &self.upload_stripes[stripe_index(upload_id)]
    }
}

/// Which of the locks `key` takes.
pub(crate) fn stripe_index(key: &[u8]) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() as usize) % STRIPES
}
