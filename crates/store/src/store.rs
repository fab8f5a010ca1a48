//! The store: opening, buckets and their encryption rules, and the shared
//! machinery objects use (data keys, atomic commits, readers of replaced objects).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use coffer_keyring::{
    Caller, KeysLayout, Kms, KmsBackend, KmsOptions, LocalKms, LocalKmsOptions, MasterKeyring,
    SealedKeyStore,
};
use coffer_sse::keys::{Keys, KeysConfig, RECORD_KEY_PURPOSE};
use parking_lot::Mutex;
use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use crate::EncryptionRule;
use crate::PutCondition;
use crate::engine::audit::{AUDIT_KEY_PURPOSE, AuditKey, AuditLog, LogState};
use crate::engine::blob_relocation::BlobRelocation;
use crate::engine::db::{DbRef, borrow_db, millis, open_db, random_id, storage};
use crate::engine::keys_family::KeysFamily;
use crate::engine::state::{Engine, stripe_index};
use crate::format::columns::{OBJECT_ID_LEN, object_key, segment_range};
use crate::format::record::{BucketRecord, ObjectRecord, RecordAuth};
use crate::format::settings::{
    AUDIT_LOG, JOB_RECORDS, KmsBinding, OBJECT_RECORDS, SETTINGS_RECORD, StoreSettings,
};
use crate::{BucketInfo, ObjectApi};
use crate::{ColumnFamily, Error, Result, StoreOptions};
use coffer_sse::validate_bucket;

pub(crate) const STORE_ID: &[u8] = b"store_id";
/// An open store. `Send + Sync` and cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The database and everything that orders access to it.
    pub(crate) engine: Engine,
    /// Data keys, bucket keys, pins, the KMS and the master keyring: the
    /// core's part (`coffer_sse::keys`).
    pub(crate) keys: Keys,
    pub(crate) settings: StoreSettings,
    /// Authenticates object and bucket records.
    pub(crate) records: RecordAuth,
    pub(crate) inline_threshold: usize,
    /// Test hook: runs between the two scans of a key retirement.
    #[cfg(feature = "test-util")]
    pub(crate) between_retirement_scans: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

/// The store's master keyring, read-only ([`Store::master_keys`]).
pub struct MasterKeys<'a>(&'a MasterKeyring);

impl MasterKeys<'_> {
    /// The version new data keys are wrapped under.
    pub fn current_version(&self) -> u32 {
        self.0.current_version()
    }

    /// The oldest version that still unwraps (older ones were retired).
    pub fn min_decryption_version(&self) -> u32 {
        self.0.min_decryption_version()
    }

    /// Every version held, oldest first (no key material).
    pub fn versions(&self) -> Vec<coffer_keyring::MasterKeyVersion> {
        self.0.versions()
    }
}

impl Store {
    /// Opens the store in `dir`.
    ///
    /// Fails with [`Error::StoreNotFound`] if `dir` holds no store, unless the
    /// options ask to create one ([`StoreOptions::create_if_missing`]); with
    /// [`Error::WrongRootKey`], changing nothing, if the root key is not the one
    /// the store was created with; with [`Error::InvalidArgument`] if the options
    /// name a region or account other than the store's. Removes what interrupted
    /// uploads left behind, and migrates a store written by an earlier version.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let exists = dir.join("CURRENT").exists();
        if !exists && !options.create_if_missing {
            return Err(Error::StoreNotFound(dir.to_owned()));
        }
        for (what, value) in [("region", &options.region), ("account", &options.account)] {
            if let Some(value) = value {
                crate::format::settings::validate_name_part(what, value)?;
            }
        }
        let db = open_db(dir, &options.tuning, options.create_if_missing)?;
        let keys: Arc<dyn coffer_keyring::KeyStore> = Arc::new(KeysFamily {
            db: Arc::clone(&db),
        });
        // The backend the store's CMKs will live in (checked against the
        // one the store was created with).
        let opened_kms = match &options.kms {
            Some(backend) => KmsBinding {
                backend: backend.backend_name().to_owned(),
                location: backend.location(),
            },
            None => KmsBinding {
                backend: LocalKms::BACKEND.to_owned(),
                location: None,
            },
        };
        let wanted = StoreSettings {
            region: options
                .region
                .clone()
                .unwrap_or_else(|| crate::format::settings::DEFAULT_REGION.into()),
            account: options
                .account
                .clone()
                .unwrap_or_else(|| crate::format::settings::DEFAULT_ACCOUNT.into()),
            object_records: OBJECT_RECORDS,
            job_records: JOB_RECORDS,
            audit_log: AUDIT_LOG,
            kms: Some(opened_kms.clone()),
        };
        // The settings are written with the root key's check record, in the
        // same atomic write: a store has both or neither. A store of the
        // layout before settings gets the oldest versions, to migrate.
        let initial = |layout: KeysLayout| {
            let settings = if layout == KeysLayout::New {
                wanted.clone()
            } else {
                StoreSettings {
                    object_records: 1,
                    job_records: 1,
                    audit_log: 1,
                    kms: None,
                    ..wanted.clone()
                }
            };
            vec![(SETTINGS_RECORD.to_owned(), settings.encode())]
        };
        let (sealed, layout) =
            SealedKeyStore::open_with(Arc::clone(&keys), &options.root_key, &initial)?;
        let settings = match coffer_keyring::KeyStore::get(&sealed, SETTINGS_RECORD)? {
            Some(bytes) => StoreSettings::decode(&bytes)?,
            None => {
                return Err(Error::Integrity(
                    "the store's settings record is missing: it was removed".into(),
                ));
            }
        };
        if layout != KeysLayout::New {
            settings.check(options.region.as_deref(), options.account.as_deref())?;
        }
        settings.check_kms(&opened_kms)?;
        let record_key = sealed.derive_key(RECORD_KEY_PURPOSE);
        let records = RecordAuth::new(&record_key, options.payload_key_cache);
        let master = MasterKeyring::open(
            Arc::clone(&keys),
            &options.root_key,
            options.rotation,
            Arc::clone(&options.clock),
        )?;
        let (backend, local_kms): (Arc<dyn KmsBackend>, _) = match options.kms {
            Some(backend) => (backend, None),
            None => {
                let local = Arc::new(LocalKms::open(
                    keys,
                    &options.root_key,
                    LocalKmsOptions::default().with_clock(Arc::clone(&options.clock)),
                )?);
                (local.clone(), Some(local))
            }
        };
        let audit_state = if layout == KeysLayout::New {
            LogState::New
        } else if settings.audit_log < AUDIT_LOG {
            LogState::Unsealed
        } else {
            LogState::Sealed
        };
        let audit = Arc::new(AuditLog::open(
            Arc::clone(&db),
            AuditKey::new(&sealed.derive_key(AUDIT_KEY_PURPOSE)),
            audit_state,
            Arc::clone(&options.audit),
            options.audit_retention,
            Arc::clone(&options.clock),
            options.tuning.sync_writes,
        )?);
        let store_id = {
            let guard = borrow_db(&db).ok_or(Error::Closed)?;
            let meta = guard.cf(ColumnFamily::Meta)?;
            match guard.get_cf(meta, STORE_ID).map_err(storage)? {
                Some(id) => id
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::CorruptRecord("store id".into()))?,
                None => {
                    let id = random_id()?;
                    let mut sync = WriteOptions::default();
                    sync.set_sync(true);
                    guard
                        .put_cf_opt(meta, STORE_ID, id, &sync)
                        .map_err(storage)?;
                    id
                }
            }
        };
        let multipart_expiry = options.multipart_expiry;
        let keys = Keys::new(KeysConfig {
            store_id,
            master,
            kms_backend: backend,
            local_kms,
            kms_options: KmsOptions::default()
                .with_account(&settings.region, &settings.account)
                .with_clock(Arc::clone(&options.clock))
                .with_fail_fast_for(options.kms_fail_fast),
            audit: Arc::clone(&audit) as Arc<dyn coffer_keyring::AuditSink>,
            record_key,
            bucket_keys: options.bucket_keys,
            payload_key_cache: options.payload_key_cache,
            cipher_threads: options.threads,
            clock: options.clock,
        });
        let engine = Engine::new(
            db,
            audit,
            BlobRelocation::new(options.tuning.blob_gc_age_cutoff),
            options.tuning.sync_writes,
        );
        let store = Self {
            inner: Arc::new(Inner {
                engine,
                keys,
                settings,
                records,
                inline_threshold: options.inline_threshold,
                #[cfg(feature = "test-util")]
                between_retirement_scans: Mutex::new(None),
            }),
        };
        if store.inner.settings.outdated() {
            store.migrate(&sealed, opened_kms)?;
        }
        store.inner.keys.rotations_recorded_to_current();
        store.load_buckets()?;
        store.remove_leftovers()?;
        store.drop_orphan_uploads()?;
        // A damaged bucket key record is `verify`'s to report; the store
        // opens all the same.
        if let Err(error) = store.drop_orphan_bucket_keys() {
            tracing::warn!(%error, "could not look for bucket keys of deleted buckets");
        }
        if let Some(expiry) = multipart_expiry {
            store.sweep_multipart_uploads(expiry)?;
        }
        Ok(store)
    }

    /// Creates a store in `dir` (or opens the one there): [`Store::open`] with
    /// [`StoreOptions::create_if_missing`].
    ///
    /// ```
    /// use coffer_store::{RootKey, Store, StoreOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let root = RootKey::generate()?; // keep it outside the store's directory
    /// let store = Store::create(dir.path(), StoreOptions::new(root))?;
    /// assert!(store.list_buckets()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        Self::open(dir, options.create_if_missing(true))
    }

    /// Flushes everything to disk and releases the directory. Calls on this
    /// store, its clones, sessions and open readers then fail with
    /// [`Error::Closed`]; calls in progress finish first.
    pub fn close(&self) -> Result<()> {
        self.inner.engine.closed.store(true, Ordering::Release);
        let Some(db) = self.inner.engine.db.write().take() else {
            return Ok(());
        };
        let mut flushed = Ok(());
        for family in ColumnFamily::ALL {
            if let Some(handle) = db.cf_handle(family.name()) {
                flushed = flushed.and(db.flush_cf(handle).map_err(storage));
            }
        }
        drop(db);
        flushed
    }

    /// The store's id (part of every object's identity).
    pub fn id(&self) -> &[u8; 16] {
        self.inner.keys.store_id()
    }

    /// The region the store was created in (in every resource name).
    pub fn region(&self) -> &str {
        &self.inner.settings.region
    }

    /// The account the store belongs to (in every resource name).
    pub fn account(&self) -> &str {
        &self.inner.settings.account
    }

    /// The KMS the store uses, behind its policy checks and audit (the local
    /// one unless another backend was configured).
    pub fn kms(&self) -> &Kms {
        self.inner.keys.kms()
    }

    /// The built-in local KMS, unless an external KMS was configured. Calls
    /// made on it directly skip the policy checks and the audit log that
    /// [`Store::kms`] applies: use that for anything a caller asks for.
    pub fn local_kms(&self) -> Option<&Arc<LocalKms>> {
        self.inner.keys.local_kms()
    }

    /// The master keyring of store-managed encryption, to read: its versions.
    /// Rotate it with [`Store::rotate_master_key`] and retire versions with
    /// [`Store::retire_unused_master_keys`], which scans for them first: the
    /// keyring itself is never handed out, so neither can be done unaudited
    /// or unchecked.
    pub fn master_keys(&self) -> MasterKeys<'_> {
        MasterKeys(self.inner.keys.master())
    }

    /// Rotates the master key now; returns the new version. Existing objects stay
    /// readable; [`Store::rewrap_bucket`] moves them to the new version.
    /// Recorded in the audit log as `coffer:RotateMasterKey`.
    pub fn rotate_master_key(&self) -> Result<u32> {
        self.inner.keys.rotate_master_key()
    }

    // ---- buckets -------------------------------------------------------------

    /// Creates a bucket. [`Error::InvalidArgument`] for a bad name,
    /// [`Error::BucketAlreadyExists`] if it exists.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        validate_bucket(name)?;
        let mut buckets = self.inner.engine.buckets.write();
        if buckets.contains_key(name) {
            return Err(Error::BucketAlreadyExists(name.to_owned()));
        }
        let record = BucketRecord {
            name: name.to_owned(),
            created_ms: millis(self.inner.keys.clock().now()),
            rule: None,
            incarnation: u64::from_le_bytes(random_id()?[..8].try_into().expect("8 bytes")),
        };
        self.write_bucket(&mut buckets, record)
    }

    /// Deletes an empty bucket ([`Error::BucketNotEmpty`] otherwise), with
    /// its bucket keys and the multipart uploads in progress into it (which
    /// could never complete).
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        // The uploads' locks come before the gate, as when an upload
        // completes; an upload created before the gate closed is seen by the
        // look under it, and then the locks are taken again.
        loop {
            let uploads = self.uploads_into(name)?;
            let mut stripes: Vec<usize> = uploads.iter().map(|id| stripe_index(id)).collect();
            stripes.sort_unstable();
            stripes.dedup();
            let _held: Vec<_> = stripes
                .iter()
                .map(|&at| self.inner.engine.upload_stripes[at].lock())
                .collect();
            // No object commit, upload creation or bucket key may land while
            // the bucket is checked empty and removed.
            let _gate = self.inner.engine.bucket_gate.write();
            let now = self.uploads_into(name)?;
            if now.iter().all(|id| uploads.contains(id)) {
                return self.delete_bucket_gated(name, &now);
            }
        }
    }

    /// [`Store::delete_bucket`] with the gate and the locks of `uploads`
    /// held.
    fn delete_bucket_gated(&self, name: &str, uploads: &[[u8; OBJECT_ID_LEN]]) -> Result<()> {
        let mut buckets = self.inner.engine.buckets.write();
        if !buckets.contains_key(name) {
            return Err(Error::NoSuchBucket(name.to_owned()));
        }
        let db = self.db()?;
        let prefix = object_key(name, "");
        let mut iter = db.iterator_cf(
            db.cf(ColumnFamily::Objects)?,
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        );
        if let Some(item) = iter.next()
            && item.map_err(storage)?.0.starts_with(&prefix)
        {
            return Err(Error::BucketNotEmpty(name.to_owned()));
        }
        let mut batch = WriteBatch::default();
        batch.delete_cf(db.cf(ColumnFamily::Buckets)?, name.as_bytes());
        self.drop_bucket_keys(&db, &mut batch, name)?;
        for upload in uploads {
            self.drop_upload_into(&db, &mut batch, upload)?;
        }
        db.write_opt(batch, &self.inner.engine.write_options)
            .map_err(storage)?;
        buckets.remove(name);
        Ok(())
    }

    /// Every bucket, by name.
    pub fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        self.db()?;
        let mut out: Vec<_> = self
            .inner
            .engine
            .buckets
            .read()
            .values()
            .cloned()
            .map(bucket_info)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
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
        ObjectApi::put_bucket_encryption_as(self, bucket, rule, &TRUSTED)
    }

    /// Sets the rule, a named CMK checked for `caller`.
    pub(crate) fn set_bucket_encryption(
        &self,
        bucket: &str,
        rule: EncryptionRule,
        caller: &Caller,
    ) -> Result<()> {
        if let Some(key_id) = rule.kms_key_id() {
            self.inner.keys.check_key_usable(key_id, caller)?;
        }
        self.update_bucket(bucket, |record| record.rule = Some(rule))
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
        self.update_bucket(bucket, |record| record.rule = None)
    }

    // ---- shared machinery ----------------------------------------------------

    /// The database for one operation ([`Error::Closed`] after [`Store::close`]).
    pub(crate) fn db(&self) -> Result<DbRef<'_>> {
        if self.inner.engine.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        borrow_db(&self.inner.engine.db).ok_or(Error::Closed)
    }

    pub(crate) fn bucket_record(&self, name: &str) -> Result<BucketRecord> {
        if self.inner.engine.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.inner
            .engine
            .buckets
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))
    }

    fn update_bucket(&self, name: &str, change: impl FnOnce(&mut BucketRecord)) -> Result<()> {
        let mut buckets = self.inner.engine.buckets.write();
        let mut record = buckets
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))?;
        change(&mut record);
        self.write_bucket(&mut buckets, record)
    }

    /// Writes a bucket record, then the map: called with the map's write lock.
    fn write_bucket(
        &self,
        buckets: &mut HashMap<String, BucketRecord>,
        record: BucketRecord,
    ) -> Result<()> {
        let db = self.db()?;
        db.put_cf_opt(
            db.cf(ColumnFamily::Buckets)?,
            record.name.as_bytes(),
            self.inner.records.seal_bucket(&record)?,
            &self.inner.engine.write_options,
        )
        .map_err(storage)?;
        buckets.insert(record.name.clone(), record);
        Ok(())
    }

    fn load_buckets(&self) -> Result<()> {
        let db = self.db()?;
        let mut buckets = self.inner.engine.buckets.write();
        for item in db.iterator_cf(db.cf(ColumnFamily::Buckets)?, IteratorMode::Start) {
            let (name, value) = item.map_err(storage)?;
            let name = String::from_utf8(name.to_vec())
                .map_err(|_| Error::CorruptRecord("bucket name".into()))?;
            let record = self.inner.records.open_bucket(&name, &value)?;
            buckets.insert(name, record);
        }
        Ok(())
    }

    pub(crate) fn stripe(&self, key: &[u8]) -> &Mutex<()> {
        self.inner.engine.stripe(key)
    }

    /// The lock of a multipart upload: apart from the keys' locks, and always
    /// taken before a key's (completing an upload commits its object), so the
    /// two never wait on each other in a cycle, nor one on itself.
    pub(crate) fn upload_stripe(&self, upload_id: &[u8]) -> &Mutex<()> {
        self.inner.engine.upload_stripe(upload_id)
    }

    /// Reads and authenticates the record of bucket/key.
    pub(crate) fn read_record(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        self.read_record_with(bucket, key, RecordAuth::open)
    }

    /// [`Store::read_record`] for a scan: authenticated, not remembered.
    pub(crate) fn read_record_scanned(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>> {
        self.read_record_with(bucket, key, RecordAuth::open_scanned)
    }

    fn read_record_with(
        &self,
        bucket: &str,
        key: &str,
        open: fn(&RecordAuth, &str, &str, bytes::Bytes) -> Result<ObjectRecord>,
    ) -> Result<Option<ObjectRecord>> {
        let db = self.db()?;
        match db
            .get_cf(db.cf(ColumnFamily::Objects)?, object_key(bucket, key))
            .map_err(storage)?
        {
            Some(raw) => open(&self.inner.records, bucket, key, raw.into()).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `record` for bucket/key in one batch with `extra` (segments, upload
    /// markers), dropping the replaced object's segments (or deferring that to
    /// its last reader), if `condition` holds for what is there — checked
    /// under the key's lock, so no other writer of the key comes between. The
    /// bucket must still be the one the write began in (not deleted, nor
    /// deleted and created again).
    pub(crate) fn commit(
        &self,
        bucket: &BucketRecord,
        key: &str,
        record: Option<&ObjectRecord>,
        condition: &PutCondition,
        extra: impl FnOnce(&mut WriteBatch, &DbRef<'_>) -> Result<()>,
    ) -> Result<()> {
        self.gated_write(bucket, |db| {
            self.commit_gated(db, bucket, key, record, condition, extra)
        })
    }

    /// Runs `write` under the bucket gate if `bucket` is still the one the
    /// write began in (not deleted, nor deleted and created again;
    /// [`Error::NoSuchBucket`] otherwise): whatever lands in a bucket (an
    /// object, an upload, a bucket key) never lands in one being deleted.
    pub(crate) fn gated_write<T>(
        &self,
        bucket: &BucketRecord,
        write: impl FnOnce(&DbRef<'_>) -> Result<T>,
    ) -> Result<T> {
        self.gated_write_to(&bucket.name, bucket.incarnation, write)
    }

    /// [`Store::gated_write`] for the bucket `name` of `incarnation`.
    pub(crate) fn gated_write_to<T>(
        &self,
        name: &str,
        incarnation: u64,
        write: impl FnOnce(&DbRef<'_>) -> Result<T>,
    ) -> Result<T> {
        let _gate = self.inner.engine.bucket_gate.read();
        if self.bucket_record(name)?.incarnation != incarnation {
            return Err(Error::NoSuchBucket(name.to_owned()));
        }
        write(&self.db()?)
    }

    fn commit_gated(
        &self,
        db: &DbRef<'_>,
        bucket: &BucketRecord,
        key: &str,
        record: Option<&ObjectRecord>,
        condition: &PutCondition,
        extra: impl FnOnce(&mut WriteBatch, &DbRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let name = bucket.name.as_str();
        let raw_key = object_key(name, key);
        let _guard = self.stripe(&raw_key).lock();
        let objects = db.cf(ColumnFamily::Objects)?;
        let old = db.get_pinned_cf(objects, &raw_key).map_err(storage)?;
        check_put_condition(condition, old.as_deref(), name, key, &self.inner.records)?;
        let old_segmented = match old {
            // The old record names the segments to drop: only trust it if it
            // authenticates. A damaged one leaves its segments to
            // `check_consistency` rather than drop another object's.
            Some(raw) => match ObjectRecord::segmented_id(&raw) {
                Ok(Some(id)) if self.inner.records.verify(name, key, &raw).is_ok() => Some(id),
                _ => None,
            },
            None => None,
        };
        let mut batch = WriteBatch::default();
        extra(&mut batch, db)?;
        match record {
            Some(record) => batch.put_cf(
                objects,
                &raw_key,
                self.inner.records.seal(name, key, record)?,
            ),
            None => batch.delete_cf(objects, &raw_key),
        }
        if let Some(old_id) = old_segmented
            && record.is_none_or(|r| r.object_id != old_id)
        {
            self.dispose_segments(db, &mut batch, &old_id)?;
        }
        db.write_opt(batch, &self.inner.engine.write_options)
            .map_err(storage)?;
        Ok(())
    }

    fn dispose_segments(
        &self,
        db: &DbRef<'_>,
        batch: &mut WriteBatch,
        object_id: &[u8; OBJECT_ID_LEN],
    ) -> Result<()> {
        let mut readers = self.inner.engine.readers.lock();
        if readers.open.contains_key(object_id) {
            readers.deferred.insert(*object_id);
            batch.put_cf(db.cf(ColumnFamily::Garbage)?, object_id, []);
        } else {
            let (start, end) = segment_range(object_id);
            batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, start, end);
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
            Some(record) if matches!(record.body, crate::format::record::Body::Inline(_)) => {
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
            crate::format::record::Body::Segmented { .. }
            | crate::format::record::Body::Multipart { .. } => {
                *self
                    .inner
                    .engine
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
            crate::format::record::Body::Inline(_) => None,
        };
        Ok((record, guard))
    }

    /// Drops segments of interrupted uploads and of objects replaced while being
    /// read when the process stopped.
    fn remove_leftovers(&self) -> Result<()> {
        let db = self.db()?;
        let chunks = db.cf(ColumnFamily::Chunks)?;
        for family in [ColumnFamily::Uploads, ColumnFamily::Garbage] {
            let cf = db.cf(family)?;
            let mut batch = WriteBatch::default();
            let mut count = 0;
            for item in db.iterator_cf(cf, IteratorMode::Start) {
                let (id, _) = item.map_err(storage)?;
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
                db.write_opt(batch, &self.inner.engine.write_options)
                    .map_err(storage)?;
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
            let mut readers = self.store.inner.engine.readers.lock();
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
                let db = self.store.db()?;
                let mut batch = WriteBatch::default();
                let (start, end) = segment_range(&self.object_id);
                batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, start, end);
                batch.delete_cf(db.cf(ColumnFamily::Garbage)?, self.object_id);
                db.write_opt(batch, &self.store.inner.engine.write_options)
                    .map_err(storage)?;
                Ok(())
            })();
            if let Err(error) = result {
                tracing::warn!(%error, "could not drop a replaced object's segments; they go at the next open");
            }
        }
    }
}

/// The caller of the store's own trusted forms of the object API.
pub(crate) const TRUSTED: Caller = Caller::Trusted;

fn bucket_info(record: BucketRecord) -> BucketInfo {
    BucketInfo {
        name: record.name,
        created_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(record.created_ms),
        encryption: record.rule,
    }
}

/// Whether a write under `condition` may replace `old` (the raw record there,
/// if any): [`Error::AlreadyExists`] or [`Error::PreconditionFailed`] if not,
/// [`Error::Integrity`] if the record there does not authenticate.
fn check_put_condition(
    condition: &PutCondition,
    old: Option<&[u8]>,
    bucket: &str,
    key: &str,
    records: &RecordAuth,
) -> Result<()> {
    let failed = |condition: &str| Error::PreconditionFailed {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        condition: condition.to_owned(),
    };
    match (condition, old) {
        (PutCondition::None, _) | (PutCondition::IfNotExists, None) => Ok(()),
        (PutCondition::IfNotExists, Some(_)) => Err(Error::AlreadyExists {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }),
        (PutCondition::IfMatch(_), None) => Err(failed("If-Match: there is no object")),
        (PutCondition::IfMatch(expected), Some(raw)) => {
            records.verify(bucket, key, raw)?;
            let current = raw
                .get(1..=OBJECT_ID_LEN)
                .and_then(|id| <[u8; OBJECT_ID_LEN]>::try_from(id).ok())
                .map(|id| crate::format::columns::etag(&id))
                .ok_or_else(|| Error::CorruptRecord("object id".into()))?;
            if *expected == current {
                Ok(())
            } else {
                Err(failed("If-Match"))
            }
        }
    }
}
