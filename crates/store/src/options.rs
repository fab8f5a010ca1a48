//! Options for opening a store, and the RocksDB tuning derived from them.

use std::sync::Arc;
use std::time::Duration;

use coffer_keyring::{AuditSink, Clock, KmsBackend, NoAudit, RootKey, RotationPolicy, SystemClock};
use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options};

use crate::{AuditRetention, BucketKeyOptions, ColumnFamily};

/// Payloads up to this many bytes stay in the object record by default.
pub(crate) const DEFAULT_INLINE_THRESHOLD: usize = 64 * 1024;

/// How to open a store. Built with [`StoreOptions::new`] and the `with_` methods.
pub struct StoreOptions {
    pub(crate) root_key: RootKey,
    pub(crate) rotation: RotationPolicy,
    pub(crate) threads: usize,
    pub(crate) inline_threshold: usize,
    pub(crate) payload_key_cache: usize,
    pub(crate) kms: Option<Arc<dyn KmsBackend>>,
    pub(crate) region: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) create_if_missing: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) audit_retention: AuditRetention,
    pub(crate) tuning: Tuning,
    pub(crate) bucket_keys: BucketKeyOptions,
    pub(crate) kms_fail_fast: Duration,
    pub(crate) multipart_expiry: Option<Duration>,
}

/// RocksDB settings. The defaults suit objects from a few KiB to many GiB; they
/// were chosen by measurement against RocksDB opened with its own defaults
/// (`docs/design.md`, "Storage defaults"). Start from [`Tuning::default`] and
/// change fields with the `with_` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Tuning {
    /// Make every write durable against power loss before it returns (fsync of
    /// the WAL). Off by default, as in RocksDB: a killed process loses nothing
    /// acknowledged, a power cut may lose the last writes.
    pub sync_writes: bool,
    /// Shared block cache for all column families.
    pub block_cache_bytes: usize,
    /// Memtable size of the objects family.
    pub object_write_buffer_bytes: usize,
    /// Memtable size of the chunks family; with `chunk_write_buffers`, what a
    /// streaming put holds in memory at most (default 64 MiB, RocksDB's own:
    /// smaller memtables flush more often, and each flush syncs files).
    pub chunk_write_buffer_bytes: usize,
    /// Memtables of the chunks family that may fill while older ones flush:
    /// the chunks family holds at most this many times
    /// `chunk_write_buffer_bytes` in memory.
    pub chunk_write_buffers: usize,
    /// Keep segment values in RocksDB blob files, so compaction does not rewrite them.
    pub blob_files: bool,
    /// A cache of blob values (segments) read from blob files, when
    /// `blob_files` is on; `0`: none (every read goes to the file).
    pub blob_cache_bytes: usize,
    /// Bloom filter bits per key on the objects family (`0.0`: none), so a
    /// lookup skips the table files that do not hold the key.
    pub object_bloom_bits: f64,
    /// Object records at least this large (those with an inline payload) are
    /// kept in blob files of the objects family, so compactions do not rewrite
    /// them; `0`: none are.
    pub object_blob_min_bytes: usize,
    /// Writers waiting for RocksDB's write group spin (and yield) a while
    /// before they block, RocksDB's default: on few cores with many writers
    /// the spinning takes the cores the writers' encryption needs.
    pub write_thread_spin: bool,
    /// With blob files: compactions move live segments out of the oldest
    /// this fraction of blob files, so that the space of replaced and deleted
    /// segments comes back (higher: less space, more rewriting).
    pub blob_gc_age_cutoff: f64,
}

/// The objects family's memtable bloom filter, as a fraction of its write
/// buffer (6.4 MiB of 64 MiB by default).
const MEMTABLE_BLOOM_RATIO: f64 = 0.1;

impl Default for Tuning {
    fn default() -> Self {
        Self {
            sync_writes: false,
            block_cache_bytes: 64 << 20,
            object_write_buffer_bytes: 64 << 20,
            chunk_write_buffer_bytes: 64 << 20,
            chunk_write_buffers: 2,
            blob_files: true,
            blob_cache_bytes: 0,
            object_bloom_bits: 0.0,
            blob_gc_age_cutoff: 0.4,
            object_blob_min_bytes: 0,
            write_thread_spin: true,
        }
    }
}

impl StoreOptions {
    /// Defaults around the application's root key: open an existing store only
    /// (see [`StoreOptions::create_if_missing`]), master keys rotate every 90
    /// days (or 2^32 wraps), every core seals and opens, payloads up to 64 KiB stay
    /// in the object record, the keys of 8192 recently read objects are kept, the
    /// built-in local KMS holds the CMKs, and a new store is in region
    /// [`crate::DEFAULT_REGION`] (`local`) of account [`crate::DEFAULT_ACCOUNT`]
    /// (`0`).
    pub fn new(root_key: RootKey) -> Self {
        Self {
            root_key,
            rotation: RotationPolicy::default(),
            threads: 0,
            inline_threshold: DEFAULT_INLINE_THRESHOLD,
            payload_key_cache: 8192,
            kms: None,
            region: None,
            account: None,
            create_if_missing: false,
            clock: Arc::new(SystemClock),
            audit: Arc::new(NoAudit),
            audit_retention: AuditRetention::keep_all(),
            tuning: Tuning::default(),
            bucket_keys: BucketKeyOptions::default(),
            kms_fail_fast: Duration::from_secs(2),
            multipart_expiry: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }

    /// When master keys rotate.
    pub fn with_rotation(mut self, policy: RotationPolicy) -> Self {
        self.rotation = policy;
        self
    }

    /// Threads per seal or open (`0`: every core).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Largest object whose payload is kept inside its record (one read, one write).
    pub fn with_inline_threshold(mut self, bytes: usize) -> Self {
        self.inline_threshold = bytes;
        self
    }

    /// How many objects' derived payload keys to keep in memory (zeroized when
    /// dropped), so that reading them again skips unwrapping and key derivation.
    /// Only objects under the store's master keys ("AES256") read by the
    /// trusted path are kept; `0` keeps none. Default 8192 (about 4 MiB). The
    /// same number of recently verified object records is remembered byte for
    /// byte, so that reading one again skips recomputing its tag.
    pub fn with_payload_key_cache(mut self, entries: usize) -> Self {
        self.payload_key_cache = entries;
        self
    }

    /// Keeps CMKs in `backend` (OpenBao/Vault Transit, the AWS KMS API, ...)
    /// instead of the built-in local KMS. The store puts it behind the same
    /// policy checks and audit as the local one.
    pub fn with_kms(mut self, kms: Arc<dyn KmsBackend>) -> Self {
        self.kms = Some(kms);
        self
    }

    /// Creates the store if the directory holds none (default: `false`, so
    /// that a mistyped path fails with [`crate::Error::StoreNotFound`] instead
    /// of creating an empty store).
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// The region and account of the store, in every resource name policies
    /// match: `acs:oss:<region>:<account>:<bucket>/<key>` and the local KMS's
    /// `acs:kms:<region>:<account>:key/<id>`. Letters, digits, `-` and `_`.
    /// Fixed when the store is created and kept with it; opening an existing
    /// store with other values fails ([`crate::Error::InvalidArgument`]), and
    /// opening without them takes the store's.
    pub fn with_account(mut self, region: &str, account: &str) -> Self {
        self.region = Some(region.to_owned());
        self.account = Some(account.to_owned());
        self
    }

    /// The clock for key rotation and deletion windows.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where audit events go besides the store's own audit log (the `audit`
    /// column family, [`crate::Store::audit_events`]), which always records
    /// them: each event is written to the log first, then to `audit`; if
    /// either fails, the operation fails ([`crate::Error::AuditFailed`]).
    pub fn with_audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// How long and how much of the audit log to keep (default: everything).
    /// Applied when the store opens and as events are appended.
    pub fn with_audit_retention(mut self, retention: AuditRetention) -> Self {
        self.audit_retention = retention;
        self
    }

    /// After a KMS call finds the service unavailable, KMS calls fail at once
    /// with [`crate::Error::KmsUnavailable`] for this long (default 2 s), then
    /// one goes through to see whether it is back: callers fail fast instead of
    /// each waiting out the backend's timeouts, and service resumes by itself.
    pub fn with_kms_fail_fast(mut self, period: Duration) -> Self {
        self.kms_fail_fast = period;
        self
    }

    /// Multipart uploads created longer ago than this are aborted when the
    /// store opens (and by `Store::sweep_multipart_uploads`); `None` keeps
    /// them until completed or aborted. Default 7 days.
    pub fn with_multipart_expiry(mut self, expiry: Option<Duration>) -> Self {
        self.multipart_expiry = expiry;
        self
    }

    /// How long bucket keys serve new objects and how long unwrapped ones are
    /// kept (for rules with `bucket_key`).
    pub fn with_bucket_keys(mut self, options: BucketKeyOptions) -> Self {
        self.bucket_keys = options;
        self
    }

    /// RocksDB settings.
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }
}

impl Tuning {
    /// Whether every write is synced to disk before it returns.
    pub fn with_sync_writes(mut self, sync: bool) -> Self {
        self.sync_writes = sync;
        self
    }

    /// The shared block cache's size.
    pub fn with_block_cache_bytes(mut self, bytes: usize) -> Self {
        self.block_cache_bytes = bytes;
        self
    }

    /// Whether segments live in RocksDB blob files.
    pub fn with_blob_files(mut self, blob_files: bool) -> Self {
        self.blob_files = blob_files;
        self
    }

    /// The blob cache's size (with blob files).
    pub fn with_blob_cache_bytes(mut self, bytes: usize) -> Self {
        self.blob_cache_bytes = bytes;
        self
    }

    /// The objects family's memtable size.
    pub fn with_object_write_buffer_bytes(mut self, bytes: usize) -> Self {
        self.object_write_buffer_bytes = bytes;
        self
    }

    /// The chunks family's memtable size.
    pub fn with_chunk_write_buffer_bytes(mut self, bytes: usize) -> Self {
        self.chunk_write_buffer_bytes = bytes;
        self
    }

    /// How many memtables of the chunks family may be in memory at once (at
    /// least 2).
    pub fn with_chunk_write_buffers(mut self, count: usize) -> Self {
        self.chunk_write_buffers = count;
        self
    }

    /// The smallest object record kept in a blob file (`0`: none).
    pub fn with_object_blob_min_bytes(mut self, bytes: usize) -> Self {
        self.object_blob_min_bytes = bytes;
        self
    }

    /// The fraction of oldest blob files compactions collect garbage from.
    pub fn with_blob_gc_age_cutoff(mut self, fraction: f64) -> Self {
        self.blob_gc_age_cutoff = fraction;
        self
    }

    /// Bloom filter bits per key on the objects family (`0.0`: none).
    pub fn with_object_bloom_bits(mut self, bits: f64) -> Self {
        self.object_bloom_bits = bits;
        self
    }

    /// Whether writers waiting for the write group spin first
    /// ([`Tuning::write_thread_spin`]).
    pub fn with_write_thread_spin(mut self, spin: bool) -> Self {
        self.write_thread_spin = spin;
        self
    }

    /// The block cache all column families share.
    pub(crate) fn block_cache(&self) -> Cache {
        Cache::new_lru_cache(self.block_cache_bytes)
    }

    /// Options for the database as a whole.
    pub(crate) fn db_options(&self) -> Options {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_background_jobs(2);
        options.set_enable_write_thread_adaptive_yield(self.write_thread_spin);
        options
    }

    /// Options for one column family: no compression where values are
    /// ciphertext (it does not compress), blob files for segments.
    pub(crate) fn column_family_options(&self, family: ColumnFamily, cache: &Cache) -> Options {
        let mut options = Options::default();
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(cache);
        options.set_block_based_table_factory(&table);
        match family {
            ColumnFamily::Objects => {
                options.set_compression_type(DBCompressionType::None);
                options.set_write_buffer_size(self.object_write_buffer_bytes);
                // A bloom filter over the memtable's keys: a read of a key not
                // written since the last flush (most reads; every read of a
                // job's walk, whose memtable fills with the keys before it)
                // skips the skiplist search, a cache miss per level.
                options.set_memtable_whole_key_filtering(true);
                options.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
                if self.object_blob_min_bytes > 0 {
                    options.set_enable_blob_files(true);
                    options.set_min_blob_size(self.object_blob_min_bytes as u64);
                    options.set_blob_compression_type(DBCompressionType::None);
                    options.set_enable_blob_gc(true);
                    options.set_blob_gc_age_cutoff(self.blob_gc_age_cutoff);
                }
                if self.object_bloom_bits > 0.0 {
                    let mut table = BlockBasedOptions::default();
                    table.set_block_cache(cache);
                    table.set_bloom_filter(self.object_bloom_bits, false);
                    options.set_block_based_table_factory(&table);
                }
            }
            ColumnFamily::Chunks => {
                options.set_compression_type(DBCompressionType::None);
                options.set_write_buffer_size(self.chunk_write_buffer_bytes);
                options.set_max_write_buffer_number(
                    i32::try_from(self.chunk_write_buffers.max(2)).unwrap_or(i32::MAX),
                );
                if self.blob_files {
                    options.set_enable_blob_files(true);
                    options.set_min_blob_size(0);
                    options.set_blob_compression_type(DBCompressionType::None);
                    // Relocate live segments out of old blob files during
                    // compaction, so replaced and deleted segments leave the disk.
                    options.set_enable_blob_gc(true);
                    options.set_blob_gc_age_cutoff(self.blob_gc_age_cutoff);
                    if self.blob_cache_bytes > 0 {
                        options.set_blob_cache(&Cache::new_lru_cache(self.blob_cache_bytes));
                    }
                }
            }
            // Key records are sealed: ciphertext too.
            ColumnFamily::Keys | ColumnFamily::BucketKeys => {
                options.set_compression_type(DBCompressionType::None)
            }
            _ => options.set_compression_type(DBCompressionType::Lz4),
        }
        options
    }
}
