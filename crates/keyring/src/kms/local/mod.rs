//! `LocalKms`: the built-in KMS, persisted through a [`KeyStore`] with every key's
//! material sealed under the root key.
//!
//! It is a [`KmsBackend`] like any other: the caller's policy checks and the
//! audit events are the [`Kms`](crate::Kms) layer's. The trait impls below
//! only dispatch; each concern has its own file:
//!
//! - `state`: the key state machine (which states allow data-key use, and the
//!   transitions time and callers make: rotation, disable, deletion windows).
//! - `persist`: the JSON records in the [`KeyStore`], loading them at open, and
//!   changing a key so memory and storage stay in step.
//! - `keys`: creating keys (the default managed key among them) and aliases.
//! - `data_keys`: generating, unwrapping and rewrapping data keys.
//! - `import`: BYOK import tokens and installing imported material.

mod data_keys;
pub(crate) mod import;
mod keys;
pub(crate) mod persist;
pub(crate) mod state;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use ring::hmac;
use zeroize::Zeroizing;

use self::import::PendingImports;
use self::persist::KeyRecord;
use self::state::StoredState;
use super::backend::{AdminOperation, DefaultKey, KeyAdministration, KeyImport, KmsBackend};
use super::byok::{ImportOptions, ImportParameters};
use super::{CreateKeyOptions, KeyMetadata, KeyOrigin};
use crate::clock::{Clock, SystemClock, from_millis};
use crate::{
    DEFAULT_MANAGED_ALIAS, DataKey, EncryptionContext, Error, KeyStore, Result, RootKey, WrappedKey,
};

/// The backend name of the local KMS.
pub(super) const BACKEND: &str = LocalKms::BACKEND;

/// What the local KMS keeps time by.
#[derive(Clone)]
#[non_exhaustive]
pub struct LocalKmsOptions {
    /// The clock for rotation periods, deletion windows and import tokens.
    pub clock: Arc<dyn Clock>,
}

impl Default for LocalKmsOptions {
    /// The system clock.
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
        }
    }
}

impl LocalKmsOptions {
    /// Keeps time by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// One key in memory: its record as persisted and its opened material versions.
struct Entry {
    record: KeyRecord,
    materials: BTreeMap<u32, Zeroizing<[u8; 32]>>,
}

/// Every key and alias, as loaded at open and kept in step with the store.
#[derive(Default)]
struct Keys {
    entries: BTreeMap<String, Entry>,
    aliases: BTreeMap<String, String>,
}

/// The built-in KMS, persisted in the store. Use it through [`Kms`](crate::Kms)
/// (which checks policies and audits); share it behind an `Arc`.
pub struct LocalKms {
    store: Arc<dyn KeyStore>,
    /// Fingerprints imported material (version 2, from the store secret).
    fingerprint_key: hmac::Key,
    /// Checks fingerprints of layout 1 (from the root key), for keys whose
    /// material was deleted before the store was upgraded.
    legacy_fingerprint_key: hmac::Key,
    options: LocalKmsOptions,
    keys: RwLock<Keys>,
    imports: PendingImports,
    /// Serializes the first-use creation of the default managed key.
    creating_default: Mutex<()>,
    /// Operations served, as [`KmsBackend::requests`] reports them.
    requests: AtomicU64,
}

impl LocalKms {
    /// The backend's name, in errors, audit events and a store's settings.
    pub const BACKEND: &'static str = "local";
}

impl LocalKms {
    /// Opens the KMS persisted in `store`. Fails with [`Error::WrongRootKey`] if
    /// `root` does not open the store's keys.
    pub fn open(
        store: Arc<dyn KeyStore>,
        root: &RootKey,
        options: LocalKmsOptions,
    ) -> Result<Self> {
        // Every record sealed whole, bound to its name (and the root key checked).
        let (sealed, _) = crate::SealedKeyStore::open(store, root)?;
        let fingerprint_key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &sealed.derive_key(b"coffer/byok-fingerprint/v2")[..],
        );
        let legacy_fingerprint_key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &root.derive(b"coffer/byok-fingerprint/v1")[..],
        );
        let store: Arc<dyn KeyStore> = Arc::new(sealed);
        let (keys, legacy_ids) = persist::load(store.as_ref(), Some(&root.sealer()))?;
        let kms = Self {
            store,
            fingerprint_key,
            legacy_fingerprint_key,
            options,
            keys: RwLock::new(keys),
            imports: PendingImports::default(),
            creating_default: Mutex::new(()),
            requests: AtomicU64::new(0),
        };
        kms.rewrite_legacy(&legacy_ids)?;
        Ok(kms)
    }

    /// Rewrites records of layout 1: material inside the (sealed) record, and
    /// fingerprints in version 2 where the material is there to compute them.
    fn rewrite_legacy(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut keys = self.keys.write();
        let mut changes = Vec::new();
        for id in ids {
            if let Some(entry) = keys.entries.get_mut(id) {
                if let Some(material) = entry.materials.values().next()
                    && entry.record.fingerprint.is_some()
                {
                    entry.record.fingerprint = Some(self.fingerprint(&material[..]));
                }
                changes.push((persist::key_name(id), Some(persist::encode(&entry.record)?)));
            }
        }
        self.store.apply(changes)
    }

    /// Destroys the material of every key whose deletion window has passed and
    /// rotates every key whose automatic rotation is due (both also happen lazily
    /// when a key is used). Returns how many keys changed.
    pub fn run_due_maintenance(&self) -> Result<usize> {
        let ids: Vec<String> = self.keys.read().entries.keys().cloned().collect();
        let mut changed = 0;
        for id in ids {
            changed += usize::from(self.settle(&id)?);
        }
        Ok(changed)
    }

    /// Every key's material (feature `test-util` only).
    #[cfg(feature = "test-util")]
    pub fn export_material_for_test(&self) -> Vec<[u8; 32]> {
        self.keys
            .read()
            .entries
            .values()
            .flat_map(|e| e.materials.values().map(|m| **m))
            .collect()
    }

    fn now(&self) -> SystemTime {
        self.options.clock.now()
    }

    /// An id or alias to the key id.
    fn resolve(&self, key_id_or_alias: &str) -> Result<String> {
        let keys = self.keys.read();
        let id = if key_id_or_alias.starts_with("alias/") {
            keys.aliases
                .get(key_id_or_alias)
                .cloned()
                .ok_or_else(|| Error::KeyNotFound(key_id_or_alias.to_owned()))?
        } else {
            key_id_or_alias.to_owned()
        };
        if keys.entries.contains_key(&id) {
            Ok(id)
        } else {
            Err(Error::KeyNotFound(key_id_or_alias.to_owned()))
        }
    }

    fn metadata(&self, entry: &Entry) -> KeyMetadata {
        let record = &entry.record;
        KeyMetadata {
            key_id: record.id.clone(),
            resource_name: String::new(),
            description: record.description.clone(),
            state: state::public_state(record.state),
            origin: if record.external {
                KeyOrigin::External
            } else {
                KeyOrigin::Generated
            },
            created_at: from_millis(record.created_at_ms),
            current_version: record.current_version,
            min_decryption_version: record.min_decryption_version.unwrap_or(1),
            rotation_period: record.rotation_period_s.map(Duration::from_secs),
            last_rotated_at: record.last_rotated_ms.map(from_millis),
            managed: record.managed,
        }
    }
}

impl LocalKms {
    fn served<T>(&self, call: impl FnOnce() -> Result<T>) -> Result<T> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        call()
    }
}

impl KmsBackend for LocalKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey)> {
        self.served(|| self.generate(key_id, context))
    }

    fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        self.served(|| self.unwrap(wrapped, context))
    }

    fn rewrap_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Option<WrappedKey>> {
        self.served(|| self.rewrap_to_current(wrapped, context))
    }

    fn describe_key(&self, key_id: &str) -> Result<KeyMetadata> {
        self.served(|| self.describe(key_id))
    }

    /// The local KMS's key ids are UUIDs it chose.
    fn is_key_id(&self, key_id: &str) -> bool {
        super::backend::is_uuid(key_id)
    }

    fn resolve_key_id(&self, key_id_or_alias: &str) -> Result<String> {
        self.resolve(key_id_or_alias)
    }

    fn default_key(&self) -> Result<DefaultKey> {
        self.served(|| self.default_key_created())
    }

    fn managed_key_id(&self) -> Option<String> {
        self.resolve(DEFAULT_MANAGED_ALIAS).ok()
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl KeyAdministration for LocalKms {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    /// Every operation but destroying a key with no waiting period (keys are
    /// deleted after a window of 7 to 366 days, as in OSS and AWS KMS).
    fn supports(&self, operation: AdminOperation) -> bool {
        operation != AdminOperation::DeleteKey
    }

    fn create_key(&self, options: CreateKeyOptions) -> Result<KeyMetadata> {
        self.served(|| self.create_for(options))
    }

    fn list_keys(&self) -> Result<Vec<KeyMetadata>> {
        self.served(|| self.list())
    }

    fn create_alias(&self, alias: &str, key_id: &str) -> Result<()> {
        self.served(|| self.add_alias(alias, key_id))
    }

    fn delete_alias(&self, alias: &str) -> Result<()> {
        self.served(|| self.remove_alias(alias))
    }

    fn list_aliases(&self) -> Result<Vec<(String, String)>> {
        self.served(|| Ok(self.aliases()))
    }

    fn enable_key(&self, key_id: &str) -> Result<()> {
        self.served(|| self.set_enabled(key_id, StoredState::Enabled))
    }

    fn disable_key(&self, key_id: &str) -> Result<()> {
        self.served(|| self.set_enabled(key_id, StoredState::Disabled))
    }

    fn schedule_key_deletion(&self, key_id: &str, pending_days: u32) -> Result<SystemTime> {
        self.served(|| self.schedule_deletion(key_id, pending_days))
    }

    fn cancel_key_deletion(&self, key_id: &str) -> Result<()> {
        self.served(|| self.cancel_deletion(key_id))
    }

    fn rotate_key(&self, key_id: &str) -> Result<u32> {
        self.served(|| self.rotate(key_id))
    }

    fn set_rotation_period(&self, key_id: &str, period: Option<Duration>) -> Result<()> {
        self.served(|| self.set_rotation(key_id, period))
    }

    fn set_min_decryption_version(&self, key_id: &str, version: u32) -> Result<()> {
        self.served(|| self.set_min_decryption(key_id, version))
    }

    fn get_parameters_for_import(
        &self,
        key_id: &str,
        options: ImportOptions,
    ) -> Result<ImportParameters> {
        self.served(|| self.import_parameters(key_id, options))
    }

    fn import_key_material(&self, key_id: &str, import: KeyImport<'_>) -> Result<()> {
        self.served(|| match import {
            KeyImport::Wrapped { token, material } => self.import_wrapped(key_id, token, material),
            KeyImport::Plain(material) => {
                let id = self.resolve(key_id)?;
                self.install_imported(&id, Zeroizing::new(*material))
            }
        })
    }

    fn delete_key_material(&self, key_id: &str) -> Result<()> {
        self.served(|| self.delete_imported(key_id))
    }
}
