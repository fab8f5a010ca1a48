//! The store: `Store` and its `Inner` (the engine's state beside the core's
//! keys), opening (with recovery: migration, leftovers, orphans, expired
//! uploads) and closing, and the accessors every operation starts from.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use coffer_keyring::{
    Caller, KeysLayout, Kms, KmsBackend, KmsOptions, LocalKms, LocalKmsOptions, MasterKeyring,
    SealedKeyStore,
};
use coffer_sse::keys::{Keys, KeysConfig, RECORD_KEY_PURPOSE};
use parking_lot::Mutex;
use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use crate::engine::audit::{AUDIT_KEY_PURPOSE, AuditKey, AuditLog, LogState};
use crate::engine::blob_relocation::BlobRelocation;
use crate::engine::db::{DbRef, borrow_db, open_db, random_id, storage};
use crate::engine::keys_family::KeysFamily;
use crate::engine::state::Engine;
use crate::format::columns::{OBJECT_ID_LEN, segment_range};
use crate::format::record::{BucketRecord, RecordAuth};
use crate::format::settings::{
    AUDIT_LOG, JOB_RECORDS, KmsBinding, OBJECT_RECORDS, SETTINGS_RECORD, StoreSettings,
};
use crate::{ColumnFamily, Error, Result, StoreOptions};

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

    pub(crate) fn stripe(&self, key: &[u8]) -> &Mutex<()> {
        self.inner.engine.stripe(key)
    }

    /// The lock of a multipart upload: apart from the keys' locks, and always
    /// taken before a key's (completing an upload commits its object), so the
    /// two never wait on each other in a cycle, nor one on itself.
    pub(crate) fn upload_stripe(&self, upload_id: &[u8]) -> &Mutex<()> {
        self.inner.engine.upload_stripe(upload_id)
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

/// The caller of the store's own trusted forms of the object API.
pub(crate) const TRUSTED: Caller = Caller::Trusted;
