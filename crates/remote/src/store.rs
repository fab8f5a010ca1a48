//! [`RemoteStore`]: opening (or creating) coffer's store in an object store,
//! its settings record, and the accessors every operation starts from.

use std::path::PathBuf;
use std::sync::Arc;

use coffer_keyring::{
    KeyStore, KmsBackend, KmsOptions, LocalKms, LocalKmsOptions, MasterKeyring, SealedKeyStore,
};
use coffer_sse::codec::{Reader, put_len16};
use coffer_sse::keys::{Keys, KeysConfig, RECORD_KEY_PURPOSE};
use coffer_sse::{Error, Result, validate_name_part};
use object_store::ObjectStore;

use crate::RemoteOptions;
use crate::backend::Backend;
use crate::buckets::BucketCache;
use crate::shared_keys::{SharedKeys, is_conflict};

/// The keyring record that holds the store's settings.
const SETTINGS_RECORD: &str = "remote/settings";
const SETTINGS_VERSION: u8 = 1;
/// The region resource names use unless the store was created with another.
pub const DEFAULT_REGION: &str = "local";
/// The account resource names use unless the store was created with another.
pub const DEFAULT_ACCOUNT: &str = "0";

/// coffer's encrypted buckets in an object store: bucket `b`'s object `k` is
/// the backend's object `b/k`, and coffer's own records (the keyring, the
/// buckets' rules, bucket keys, uploads in progress) are under `.coffer/`.
/// Several processes, on several machines, may open the same store. `Send +
/// Sync` and cheap to clone: clones share everything.
#[derive(Clone)]
pub struct RemoteStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) backend: Arc<Backend>,
    /// The keyring's records, shared with every process that opens the store.
    pub(crate) shared: Arc<SharedKeys>,
    pub(crate) keys: Keys,
    pub(crate) settings: Settings,
    pub(crate) buckets: BucketCache,
    pub(crate) part_size: usize,
    pub(crate) max_conditional_write: usize,
}

impl Inner {
    /// A writer's part length and the most a conditional write may hold.
    pub(crate) fn write_limits(&self) -> (usize, usize) {
        (self.part_size, self.max_conditional_write)
    }
}

/// What a store is created with and every process opens it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) store_id: [u8; 16],
    pub(crate) region: String,
    pub(crate) account: String,
    /// The KMS backend its CMKs live in (`local`, `transit`, `aws-kms`).
    pub(crate) kms_backend: String,
}

impl Settings {
    /// `u8 version ‖ 16 store id ‖ str16 region ‖ str16 account ‖ str16 KMS backend`.
    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = vec![SETTINGS_VERSION];
        out.extend_from_slice(&self.store_id);
        put_len16(&mut out, self.region.as_bytes())?;
        put_len16(&mut out, self.account.as_bytes())?;
        put_len16(&mut out, self.kms_backend.as_bytes())?;
        Ok(out)
    }

    fn decode(raw: &[u8]) -> Result<Self> {
        let mut r = Reader::new(raw);
        if r.u8()? != SETTINGS_VERSION {
            return Err(Error::CorruptRecord("remote settings version".into()));
        }
        let store_id = r
            .take(16)?
            .try_into()
            .map_err(|_| Error::CorruptRecord("store id".into()))?;
        Ok(Self {
            store_id,
            region: r.str16()?,
            account: r.str16()?,
            kms_backend: r.str16()?,
        })
    }
}

impl RemoteStore {
    /// Opens the coffer store in `backend` (the whole object store: an S3
    /// bucket, a directory, …).
    ///
    /// Fails with [`Error::StoreNotFound`] if it holds none, unless the
    /// options ask to create one; with [`Error::WrongRootKey`], changing
    /// nothing, if the root key is not the one the store was created with;
    /// with [`Error::InvalidArgument`] if the options name a region or
    /// account other than the store's, and [`Error::KmsMismatch`] for
    /// another KMS backend.
    pub fn open(backend: Arc<dyn ObjectStore>, options: RemoteOptions) -> Result<Self> {
        for (what, value) in [("region", &options.region), ("account", &options.account)] {
            if let Some(value) = value {
                validate_name_part(what, value)?;
            }
        }
        let described = backend.to_string();
        let backend = Arc::new(Backend::new(
            backend,
            options.multipart.clone(),
            options.threads,
        )?);
        let shared = Arc::new(SharedKeys::open(Arc::clone(&backend))?);
        if !shared.exists() && !options.create_if_missing {
            return Err(Error::StoreNotFound(PathBuf::from(described)));
        }
        let records: Arc<dyn KeyStore> = Arc::clone(&shared) as Arc<dyn KeyStore>;
        let kms_backend = match &options.kms {
            Some(kms) => kms.backend_name().to_owned(),
            None => LocalKms::BACKEND.to_owned(),
        };
        let wanted = Settings {
            store_id: coffer_sse::ids::random_id()?,
            region: options
                .region
                .clone()
                .unwrap_or_else(|| DEFAULT_REGION.into()),
            account: options
                .account
                .clone()
                .unwrap_or_else(|| DEFAULT_ACCOUNT.into()),
            kms_backend: kms_backend.clone(),
        };
        let initial_settings = wanted.encode()?;
        let initial = |_| vec![(SETTINGS_RECORD.to_owned(), initial_settings.clone())];
        let (sealed, _) =
            SealedKeyStore::open_with(Arc::clone(&records), &options.root_key, &initial)?;
        let settings = match KeyStore::get(&sealed, SETTINGS_RECORD)? {
            Some(raw) => Settings::decode(&raw)?,
            None => {
                return Err(Error::Integrity(
                    "the store's settings record is missing from its keyring: it was removed"
                        .into(),
                ));
            }
        };
        for (what, asked, kept) in [
            ("region", &options.region, &settings.region),
            ("account", &options.account, &settings.account),
        ] {
            if let Some(asked) = asked
                && asked != kept
            {
                return Err(Error::InvalidArgument(format!(
                    "the store was created in {what} {kept:?}, not {asked:?}"
                )));
            }
        }
        if settings.kms_backend != kms_backend {
            return Err(Error::KmsMismatch {
                store: settings.kms_backend.clone(),
                opened: kms_backend,
            });
        }
        let record_key = sealed.derive_key(RECORD_KEY_PURPOSE);
        let master = MasterKeyring::open(
            Arc::clone(&records),
            &options.root_key,
            options.rotation,
            Arc::clone(&options.clock),
        )?;
        let (kms_backend, local_kms): (Arc<dyn KmsBackend>, _) = match options.kms {
            Some(kms) => (kms, None),
            None => {
                let local = Arc::new(LocalKms::open(
                    records,
                    &options.root_key,
                    LocalKmsOptions::default().with_clock(Arc::clone(&options.clock)),
                )?);
                (local.clone(), Some(local))
            }
        };
        let keys = Keys::new(KeysConfig {
            store_id: settings.store_id,
            master,
            kms_backend,
            local_kms,
            kms_options: KmsOptions::default()
                .with_account(&settings.region, &settings.account)
                .with_clock(Arc::clone(&options.clock))
                .with_fail_fast_for(options.kms_fail_fast),
            audit: options.audit,
            record_key,
            bucket_keys: options.bucket_keys,
            payload_key_cache: 0,
            cipher_threads: options.threads,
            clock: options.clock,
        });
        keys.rotations_recorded_to_current();
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                shared,
                keys,
                settings,
                buckets: BucketCache::new(options.bucket_cache_ttl),
                part_size: options.part_size,
                max_conditional_write: options.max_conditional_write,
            }),
        })
    }

    /// Creates a store in `backend` (or opens the one there).
    pub fn create(backend: Arc<dyn ObjectStore>, options: RemoteOptions) -> Result<Self> {
        Self::open(backend, options.create_if_missing(true))
    }

    /// The store's id (part of every object's identity).
    pub fn id(&self) -> &[u8; 16] {
        &self.inner.settings.store_id
    }

    /// The region in resource names.
    pub fn region(&self) -> &str {
        &self.inner.settings.region
    }

    /// The account in resource names.
    pub fn account(&self) -> &str {
        &self.inner.settings.account
    }

    /// The KMS, behind its policy checks and audit.
    pub fn kms(&self) -> &coffer_keyring::Kms {
        self.inner.keys.kms()
    }

    /// The built-in local KMS, unless an external one was configured.
    pub fn local_kms(&self) -> Option<&Arc<LocalKms>> {
        self.inner.keys.local_kms()
    }

    /// The master keyring's current version.
    pub fn master_key_version(&self) -> u32 {
        self.inner.keys.master().current_version()
    }

    /// Rotates the master key now (recorded as `coffer:RotateMasterKey`);
    /// the new version. Fails with a [`KeyringConflict`](crate::KeyringConflict)
    /// (inside [`Error::Key`]), changing nothing, if another process changed
    /// the keyring first; this handle then holds that process's keyring, and
    /// a retry rotates from there.
    pub fn rotate_master_key(&self) -> Result<u32> {
        let rotated = self.inner.keys.rotate_master_key();
        if let Err(error) = &rotated
            && is_conflict(error)
        {
            self.refresh_keyring()?;
        }
        rotated
    }

    /// Reads the shared keyring again: master key versions other processes
    /// rotated to or retired. Reads do it by themselves when they meet a
    /// version this handle does not know yet.
    pub fn refresh_keyring(&self) -> Result<()> {
        self.inner.shared.refresh()?;
        self.inner.keys.master().reload()?;
        if let Some(local) = self.inner.keys.local_kms() {
            local.reload()?;
        }
        Ok(())
    }

    /// Whether `error` from a KMS call may come from this handle's stale
    /// copy of the built-in KMS's keys (a CMK another process created,
    /// rotated, enabled or cancelled the deletion of): worth one retry after
    /// [`RemoteStore::refresh_keyring`].
    pub(crate) fn may_be_stale(&self, error: &Error) -> bool {
        self.inner.keys.local_kms().is_some()
            && matches!(
                error,
                Error::KeyNotFound(_)
                    | Error::KeyDisabled(_)
                    | Error::KeyPendingDeletion(_)
                    | Error::KeyDestroyed(_)
                    | Error::Integrity(_)
                    | Error::Key(_)
            )
    }

    /// The object store underneath.
    pub fn backend(&self) -> &Arc<dyn ObjectStore> {
        self.inner.backend.store()
    }

    pub(crate) fn resources(&self) -> coffer_sse::access::Resources<'_> {
        coffer_sse::access::Resources::new(self.region(), self.account())
    }
}
