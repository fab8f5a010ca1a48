//! The store: opening, buckets and their encryption rules, and the shared
//! machinery objects use (data keys, atomic commits, readers of replaced objects).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use coffer_cipher::{DataKey, ObjectIdentity, PAYLOAD_PREFIX_LEN, PayloadCipher};
use coffer_keyring::{
    Caller, Clock, EncryptionContext, KeyState, Kms, LocalKms, LocalKmsOptions, MasterKeyring,
    Provider, WrappedKey,
};
use parking_lot::Mutex;
use ring::rand::{SecureRandom, SystemRandom};
use rocksdb::{Cache, ColumnFamilyDescriptor, DB, IteratorMode, WriteBatch, WriteOptions};

use crate::columns::{OBJECT_ID_LEN, object_key, segment_range};
use crate::key_cache::{CachedKeys, KeySource, PayloadKeyCache};
use crate::keys_family::KeysFamily;
use crate::names::validate_bucket;
use crate::record::{BucketRecord, ObjectRecord};
use crate::rule::{EncryptionRule, Protection, ProtectionMode};
use crate::{ColumnFamily, Error, Result, StoreOptions};

const STORE_ID: &[u8] = b"store_id";
const STRIPES: usize = 256;

/// An open store. `Send + Sync` and cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Arc<DB>,
    pub(crate) store_id: [u8; 16],
    pub(crate) cipher: PayloadCipher,
    pub(crate) master: MasterKeyring,
    pub(crate) kms: Arc<dyn Kms>,
    pub(crate) local_kms: Option<Arc<LocalKms>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) inline_threshold: usize,
    pub(crate) write_options: WriteOptions,
    /// Payload keys of recently read objects under the master keys.
    pub(crate) payload_keys: PayloadKeyCache,
    /// Serializes writers of one key: read the old record, commit the new one.
    stripes: Vec<Mutex<()>>,
    /// Object ids with open readers, and those replaced while being read.
    readers: Mutex<Readers>,
    /// Object commits hold it shared, `delete_bucket` exclusively, so that no
    /// object lands in a bucket being deleted.
    bucket_gate: parking_lot::RwLock<()>,
    /// Bucket records, read once: only this process writes them (RocksDB's lock).
    buckets: parking_lot::RwLock<HashMap<String, BucketRecord>>,
}

#[derive(Default)]
struct Readers {
    open: HashMap<[u8; OBJECT_ID_LEN], usize>,
    deferred: HashSet<[u8; OBJECT_ID_LEN]>,
}

/// A bucket as `list_buckets` and `head_bucket` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// The name.
    pub name: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// Its default encryption rule, if any.
    pub encryption: Option<EncryptionRule>,
}

/// A fresh data key for one object write, and how it is protected.
pub(crate) struct NewKey {
    pub(crate) data_key: Option<DataKey>,
    pub(crate) wrapped: Vec<u8>,
    pub(crate) protection: Protection,
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    ///
    /// Fails with [`Error::WrongRootKey`], changing nothing, if the root key is
    /// not the one the store was created with. Removes what interrupted uploads
    /// left behind.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let cache = Cache::new_lru_cache(options.tuning.block_cache_bytes);
        let families = ColumnFamily::ALL.iter().map(|&family| {
            ColumnFamilyDescriptor::new(
                family.name(),
                options.tuning.column_family_options(family, &cache),
            )
        });
        let db = Arc::new(DB::open_cf_descriptors(
            &options.tuning.db_options(),
            dir.as_ref(),
            families,
        )?);
        let keys: Arc<dyn coffer_keyring::KeyStore> = Arc::new(KeysFamily {
            db: Arc::clone(&db),
        });
        let master = MasterKeyring::open(
            Arc::clone(&keys),
            &options.root_key,
            options.rotation,
            Arc::clone(&options.clock),
        )?;
        let (kms, local_kms): (Arc<dyn Kms>, _) = match options.kms {
            Some(kms) => (kms, None),
            None => {
                let local = Arc::new(LocalKms::open(
                    keys,
                    &options.root_key,
                    LocalKmsOptions {
                        region: options.kms_region.clone(),
                        account: options.kms_account.clone(),
                        clock: Arc::clone(&options.clock),
                        audit: Arc::clone(&options.audit),
                    },
                )?);
                (local.clone(), Some(local))
            }
        };
        let meta = cf(&db, ColumnFamily::Meta)?;
        let store_id = match db.get_cf(meta, STORE_ID)? {
            Some(id) => id
                .as_slice()
                .try_into()
                .map_err(|_| Error::CorruptRecord("store id".into()))?,
            None => {
                let id = random_id()?;
                let mut sync = WriteOptions::default();
                sync.set_sync(true);
                db.put_cf_opt(meta, STORE_ID, id, &sync)?;
                id
            }
        };
        let mut write_options = WriteOptions::default();
        write_options.set_sync(options.tuning.sync_writes);
        let store = Self {
            inner: Arc::new(Inner {
                db,
                store_id,
                cipher: PayloadCipher::new(options.threads),
                master,
                kms,
                local_kms,
                clock: options.clock,
                inline_threshold: options.inline_threshold,
                payload_keys: PayloadKeyCache::new(options.payload_key_cache),
                write_options,
                stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
                readers: Mutex::new(Readers::default()),
                bucket_gate: parking_lot::RwLock::new(()),
                buckets: parking_lot::RwLock::new(HashMap::new()),
            }),
        };
        store.remove_leftovers()?;
        Ok(store)
    }

    /// The store's id (part of every object's identity).
    pub fn id(&self) -> &[u8; 16] {
        &self.inner.store_id
    }

    /// The KMS the store uses (the local one unless another was configured).
    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.inner.kms
    }

    /// The built-in local KMS, unless an external KMS was configured.
    pub fn local_kms(&self) -> Option<&Arc<LocalKms>> {
        self.inner.local_kms.as_ref()
    }

    /// The master keyring of store-managed encryption.
    pub fn master_keyring(&self) -> &MasterKeyring {
        &self.inner.master
    }

    /// Rotates the master key now; returns the new version. Existing objects stay
    /// readable; [`Store::rewrap_bucket`] moves them to the new version.
    pub fn rotate_master_key(&self) -> Result<u32> {
        Ok(self.inner.master.rotate_now()?)
    }

    // ---- buckets -------------------------------------------------------------

    /// Creates a bucket. [`Error::InvalidArgument`] for a bad name,
    /// [`Error::BucketAlreadyExists`] if it exists.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        validate_bucket(name)?;
        let _guard = self.stripe(name.as_bytes()).lock();
        if self.bucket_record(name).is_ok() {
            return Err(Error::BucketAlreadyExists(name.to_owned()));
        }
        let record = BucketRecord {
            name: name.to_owned(),
            created_ms: millis(self.inner.clock.now()),
            rule: None,
        };
        self.put_bucket_record(&record)
    }

    /// Deletes an empty bucket ([`Error::BucketNotEmpty`] otherwise).
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        // No object commit may run while the bucket is checked empty and removed.
        let _gate = self.inner.bucket_gate.write();
        let _guard = self.stripe(name.as_bytes()).lock();
        self.bucket_record(name)?;
        let prefix = object_key(name, "");
        let objects = self.cf(ColumnFamily::Objects)?;
        let mut iter = self.inner.db.iterator_cf(
            objects,
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        );
        if let Some(item) = iter.next()
            && item?.0.starts_with(&prefix)
        {
            return Err(Error::BucketNotEmpty(name.to_owned()));
        }
        self.inner.db.delete_cf_opt(
            self.cf(ColumnFamily::Buckets)?,
            name.as_bytes(),
            &self.inner.write_options,
        )?;
        self.inner.buckets.write().remove(name);
        Ok(())
    }

    /// Every bucket, by name.
    pub fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let mut out = Vec::new();
        for item in self
            .inner
            .db
            .iterator_cf(self.cf(ColumnFamily::Buckets)?, IteratorMode::Start)
        {
            let (_, value) = item?;
            out.push(bucket_info(decode_bucket(&value)?));
        }
        Ok(out)
    }

    /// One bucket ([`Error::NoSuchBucket`] if missing).
    pub fn head_bucket(&self, name: &str) -> Result<BucketInfo> {
        self.bucket_record(name).map(bucket_info)
    }

    /// Sets the bucket's default encryption. A named CMK must exist and be
    /// enabled ([`Error::KeyNotFound`], [`Error::KeyDisabled`],
    /// [`Error::KeyPendingDeletion`]). Objects already stored are not touched.
    pub fn put_bucket_encryption(&self, bucket: &str, rule: EncryptionRule) -> Result<()> {
        self.put_bucket_encryption_as(bucket, rule, &Caller::Trusted)
    }

    pub(crate) fn put_bucket_encryption_as(
        &self,
        bucket: &str,
        rule: EncryptionRule,
        caller: &Caller,
    ) -> Result<()> {
        if let EncryptionRule::Kms {
            key_id: Some(key_id),
        } = &rule
        {
            self.check_key_usable(key_id, caller)?;
        }
        let _guard = self.stripe(bucket.as_bytes()).lock();
        let mut record = self.bucket_record(bucket)?;
        record.rule = Some(rule);
        self.put_bucket_record(&record)
    }

    /// The bucket's default encryption ([`Error::NoSuchEncryptionRule`] if none).
    pub fn get_bucket_encryption(&self, bucket: &str) -> Result<EncryptionRule> {
        self.bucket_record(bucket)?
            .rule
            .ok_or_else(|| Error::NoSuchEncryptionRule(bucket.to_owned()))
    }

    /// Removes the bucket's default encryption; objects already stored keep
    /// theirs. Succeeds if there was none.
    pub fn delete_bucket_encryption(&self, bucket: &str) -> Result<()> {
        let _guard = self.stripe(bucket.as_bytes()).lock();
        let mut record = self.bucket_record(bucket)?;
        record.rule = None;
        self.put_bucket_record(&record)
    }

    // ---- shared machinery ----------------------------------------------------

    pub(crate) fn cf(&self, family: ColumnFamily) -> Result<&rocksdb::ColumnFamily> {
        cf(&self.inner.db, family)
    }

    pub(crate) fn bucket_record(&self, name: &str) -> Result<BucketRecord> {
        if let Some(record) = self.inner.buckets.read().get(name) {
            return Ok(record.clone());
        }
        match self
            .inner
            .db
            .get_cf(self.cf(ColumnFamily::Buckets)?, name.as_bytes())?
        {
            Some(value) => {
                let record = decode_bucket(&value)?;
                self.inner
                    .buckets
                    .write()
                    .insert(name.to_owned(), record.clone());
                Ok(record)
            }
            None => Err(Error::NoSuchBucket(name.to_owned())),
        }
    }

    fn put_bucket_record(&self, record: &BucketRecord) -> Result<()> {
        let value = serde_json::to_vec(record).map_err(|e| Error::CorruptRecord(e.to_string()))?;
        self.inner.db.put_cf_opt(
            self.cf(ColumnFamily::Buckets)?,
            record.name.as_bytes(),
            value,
            &self.inner.write_options,
        )?;
        self.inner
            .buckets
            .write()
            .insert(record.name.clone(), record.clone());
        Ok(())
    }

    fn check_key_usable(&self, key_id: &str, caller: &Caller) -> Result<()> {
        let metadata = self.inner.kms.describe_key(key_id, caller)?;
        match metadata.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(Error::KeyDisabled(metadata.key_id)),
            KeyState::PendingDeletion { .. } => Err(Error::KeyPendingDeletion(metadata.key_id)),
            KeyState::Destroyed => Err(Error::KeyDestroyed(metadata.key_id)),
            _ => Err(Error::InvalidArgument(format!(
                "KMS key {} has no key material",
                metadata.key_id
            ))),
        }
    }

    pub(crate) fn identity(&self, bucket: &str, object_id: &[u8; OBJECT_ID_LEN]) -> ObjectIdentity {
        ObjectIdentity::new(&self.inner.store_id, bucket, object_id)
    }

    /// A data key for a new object write under `rule` (none: unencrypted).
    pub(crate) fn new_data_key(
        &self,
        bucket: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        rule: Option<&EncryptionRule>,
        caller: &Caller,
    ) -> Result<NewKey> {
        let context = EncryptionContext::from_identity(self.identity(bucket, object_id));
        let (data_key, wrapped, mode) = match rule {
            None => {
                return Ok(NewKey {
                    data_key: None,
                    wrapped: Vec::new(),
                    protection: Protection {
                        mode: ProtectionMode::None,
                        kms_key_id: None,
                        key_version: None,
                    },
                });
            }
            Some(EncryptionRule::Managed) => {
                let (key, wrapped) = self.inner.master.generate_data_key(&context)?;
                (key, wrapped, ProtectionMode::Aes256)
            }
            Some(EncryptionRule::Kms { key_id }) => {
                let key_id = match key_id {
                    Some(id) => id.clone(),
                    None => self.inner.kms.default_key_id(caller)?,
                };
                let (key, wrapped) = self
                    .inner
                    .kms
                    .generate_data_key(&key_id, &context, caller)?;
                (key, wrapped, ProtectionMode::Kms)
            }
        };
        Ok(NewKey {
            data_key: Some(data_key),
            protection: protection_of(mode, &wrapped),
            wrapped: wrapped.encode(),
        })
    }

    /// The data key of a stored object (`None` if it is unencrypted).
    pub(crate) fn data_key(
        &self,
        bucket: &str,
        record: &ObjectRecord,
        caller: &Caller,
    ) -> Result<Option<DataKey>> {
        if record.mode == ProtectionMode::None {
            return Ok(None);
        }
        Ok(Some(self.unwrap_data_key(bucket, record, caller)?.2))
    }

    /// Unwraps an encrypted object's data key: by the master keyring, or by the
    /// KMS with its checks for `caller`.
    fn unwrap_data_key(
        &self,
        bucket: &str,
        record: &ObjectRecord,
        caller: &Caller,
    ) -> Result<(WrappedKey, EncryptionContext, DataKey)> {
        let wrapped = WrappedKey::decode(&record.wrapped_key)?;
        let context = EncryptionContext::from_identity(self.identity(bucket, &record.object_id));
        let data_key = match wrapped.provider() {
            Provider::MasterKeyring => self.inner.master.unwrap(&wrapped, &context)?,
            _ => self.inner.kms.decrypt(&wrapped, &context, caller)?,
        };
        Ok((wrapped, context, data_key))
    }

    /// The payload keys of an object whose payload starts with `prefix` (none if
    /// it is unencrypted): from the cache for the trusted path and objects under
    /// the master keys, otherwise unwrapped (by the KMS, with its checks) and
    /// derived.
    pub(crate) fn payload_keys(
        &self,
        bucket: &str,
        record: &ObjectRecord,
        prefix: &[u8],
        caller: &Caller,
    ) -> Result<Option<Arc<CachedKeys>>> {
        if record.mode == ProtectionMode::None {
            return Ok(None);
        }
        let prefix = prefix.get(..PAYLOAD_PREFIX_LEN).unwrap_or(prefix);
        let cacheable = record.mode == ProtectionMode::Aes256 && matches!(caller, Caller::Trusted);
        if cacheable
            && let Some(found) =
                self.inner
                    .payload_keys
                    .get(&record.object_id, bucket, &record.wrapped_key, prefix)
            && found.master_version >= self.inner.master.min_decryption_version()
        {
            return Ok(Some(found));
        }
        let (wrapped, context, data_key) = self.unwrap_data_key(bucket, record, caller)?;
        let keys = Arc::new(CachedKeys {
            keys: self
                .inner
                .cipher
                .payload_keys(&data_key, context.identity(), prefix)?,
            master_version: wrapped.key_version(),
        });
        if cacheable && wrapped.provider() == Provider::MasterKeyring {
            let source = KeySource {
                bucket: bucket.to_owned(),
                wrapped_key: record.wrapped_key.clone(),
                prefix: prefix.to_vec(),
            };
            self.inner
                .payload_keys
                .insert(record.object_id, source, Arc::clone(&keys));
        }
        Ok(Some(keys))
    }

    pub(crate) fn stripe(&self, key: &[u8]) -> &Mutex<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        &self.inner.stripes[(hasher.finish() as usize) % STRIPES]
    }

    pub(crate) fn read_record(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        match self
            .inner
            .db
            .get_cf(self.cf(ColumnFamily::Objects)?, object_key(bucket, key))?
        {
            Some(raw) => ObjectRecord::decode(raw.into()).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `record` for bucket/key in one batch with `extra` (segments, upload
    /// markers), dropping the replaced object's segments (or deferring that to
    /// its last reader).
    pub(crate) fn commit(
        &self,
        bucket: &str,
        key: &str,
        record: Option<&ObjectRecord>,
        extra: impl FnOnce(&mut WriteBatch, &Self) -> Result<()>,
    ) -> Result<()> {
        // The bucket must still exist when the object lands in it.
        let _gate = self.inner.bucket_gate.read();
        self.bucket_record(bucket)?;
        let raw_key = object_key(bucket, key);
        let _guard = self.stripe(&raw_key).lock();
        let objects = self.cf(ColumnFamily::Objects)?;
        let old_segmented = match self.inner.db.get_pinned_cf(objects, &raw_key)? {
            Some(raw) => ObjectRecord::segmented_id(&raw)?,
            None => None,
        };
        let mut batch = WriteBatch::default();
        extra(&mut batch, self)?;
        match record {
            Some(record) => batch.put_cf(objects, &raw_key, record.encode()?),
            None => batch.delete_cf(objects, &raw_key),
        }
        if let Some(old_id) = old_segmented
            && record.is_none_or(|r| r.object_id != old_id)
        {
            self.dispose_segments(&mut batch, &old_id)?;
        }
        self.inner.db.write_opt(batch, &self.inner.write_options)?;
        Ok(())
    }

    fn dispose_segments(
        &self,
        batch: &mut WriteBatch,
        object_id: &[u8; OBJECT_ID_LEN],
    ) -> Result<()> {
        let mut readers = self.inner.readers.lock();
        if readers.open.contains_key(object_id) {
            readers.deferred.insert(*object_id);
            batch.put_cf(self.cf(ColumnFamily::Garbage)?, object_id, []);
        } else {
            let (start, end) = segment_range(object_id);
            batch.delete_range_cf(self.cf(ColumnFamily::Chunks)?, start, end);
        }
        Ok(())
    }

    /// Reads a record and, if its payload is in segments, registers a reader so
    /// that the segments outlive a concurrent overwrite or delete.
    pub(crate) fn read_record_for_reading(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(ObjectRecord, Option<ReaderGuard>)> {
        let missing = || {
            self.bucket_record(bucket)?;
            Err(Error::NoSuchKey {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })
        };
        // An inline record is the whole object, read in one atomic get.
        match self.read_record(bucket, key)? {
            Some(record) if matches!(record.body, crate::record::Body::Inline(_)) => {
                return Ok((record, None));
            }
            Some(_) => {}
            None => return missing(),
        }
        // Segments are read later: register as a reader under the key's lock, so
        // that a concurrent overwrite keeps them until this reader is done.
        let raw_key = object_key(bucket, key);
        let _guard = self.stripe(&raw_key).lock();
        let Some(record) = self.read_record(bucket, key)? else {
            return missing();
        };
        let guard = match record.body {
            crate::record::Body::Segmented { .. } => {
                *self
                    .inner
                    .readers
                    .lock()
                    .open
                    .entry(record.object_id)
                    .or_default() += 1;
                Some(ReaderGuard {
                    store: self.clone(),
                    object_id: record.object_id,
                })
            }
            crate::record::Body::Inline(_) => None,
        };
        Ok((record, guard))
    }

    /// Drops segments of interrupted uploads and of objects replaced while being
    /// read when the process stopped.
    fn remove_leftovers(&self) -> Result<()> {
        let chunks = self.cf(ColumnFamily::Chunks)?;
        for family in [ColumnFamily::Uploads, ColumnFamily::Garbage] {
            let cf = self.cf(family)?;
            let mut batch = WriteBatch::default();
            let mut count = 0;
            for item in self.inner.db.iterator_cf(cf, IteratorMode::Start) {
                let (id, _) = item?;
                let object_id: [u8; OBJECT_ID_LEN] = id
                    .as_ref()
                    .try_into()
                    .map_err(|_| Error::CorruptRecord("object id".into()))?;
                let (start, end) = segment_range(&object_id);
                batch.delete_range_cf(chunks, start, end);
                batch.delete_cf(cf, id);
                count += 1;
            }
            if count > 0 {
                tracing::info!(count, family = family.name(), "removing leftover segments");
                self.inner.db.write_opt(batch, &self.inner.write_options)?;
            }
        }
        Ok(())
    }
}

/// Keeps an object's segments alive while it is being read.
pub(crate) struct ReaderGuard {
    store: Store,
    object_id: [u8; OBJECT_ID_LEN],
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        let release = {
            let mut readers = self.store.inner.readers.lock();
            let count = readers.open.entry(self.object_id).or_default();
            *count = count.saturating_sub(1);
            if *count == 0 {
                readers.open.remove(&self.object_id);
                readers.deferred.remove(&self.object_id)
            } else {
                false
            }
        };
        if release {
            let result = (|| -> Result<()> {
                let mut batch = WriteBatch::default();
                let (start, end) = segment_range(&self.object_id);
                batch.delete_range_cf(self.store.cf(ColumnFamily::Chunks)?, start, end);
                batch.delete_cf(self.store.cf(ColumnFamily::Garbage)?, self.object_id);
                self.store
                    .inner
                    .db
                    .write_opt(batch, &self.store.inner.write_options)?;
                Ok(())
            })();
            if let Err(error) = result {
                tracing::warn!(%error, "could not drop a replaced object's segments; they go at the next open");
            }
        }
    }
}

pub(crate) fn cf(db: &DB, family: ColumnFamily) -> Result<&rocksdb::ColumnFamily> {
    db.cf_handle(family.name())
        .ok_or_else(|| Error::CorruptRecord(format!("column family {} is missing", family.name())))
}

pub(crate) fn protection_of(mode: ProtectionMode, wrapped: &WrappedKey) -> Protection {
    Protection {
        mode,
        kms_key_id: (mode == ProtectionMode::Kms).then(|| wrapped.key_id().to_owned()),
        key_version: Some(wrapped.key_version()),
    }
}

pub(crate) fn random_id() -> Result<[u8; OBJECT_ID_LEN]> {
    let mut id = [0u8; OBJECT_ID_LEN];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| Error::Key(coffer_keyring::Error::Randomness))?;
    Ok(id)
}

pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn decode_bucket(value: &[u8]) -> Result<BucketRecord> {
    serde_json::from_slice(value).map_err(|e| Error::CorruptRecord(e.to_string()))
}

fn bucket_info(record: BucketRecord) -> BucketInfo {
    BucketInfo {
        name: record.name,
        created_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(record.created_ms),
        encryption: record.rule,
    }
}
