//! `LocalKms`: the built-in KMS, persisted through a [`KeyStore`] with every key's
//! material sealed under the root key.
//!
//! The `Kms` impl below only dispatches; each concern has its own file:
//!
//! - `state`: the key state machine (which states allow data-key use, and the
//!   transitions time and callers make: rotation, disable, deletion windows).
//! - `persist`: the JSON records in the [`KeyStore`], loading them at open, and
//!   changing a key so memory and storage stay in step.
//! - `keys`: creating keys (the default managed key among them) and aliases.
//! - `data_keys`: generating, unwrapping and rewrapping data keys.
//! - `authorize`: resource names and the checks the managed key skips.
//! - `audit`: the audit event every call records.
//! - `import`: BYOK import tokens and installing imported material.

mod audit;
mod authorize;
mod data_keys;
mod import;
mod keys;
mod persist;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use ring::hmac;
use zeroize::Zeroizing;

use self::import::PendingImports;
use self::persist::KeyRecord;
use self::state::StoredState;
use super::byok::{ImportOptions, ImportParameters};
use super::{Caller, CreateKeyOptions, KeyMetadata, KeyOrigin, Kms};
use crate::audit::{AuditSink, NoAudit};
use crate::clock::{Clock, SystemClock, from_millis};
use crate::{DataKey, EncryptionContext, Error, KeyStore, Result, RootKey, WrappedKey};

/// Where the local KMS lives and what it reports to.
#[derive(Clone)]
pub struct LocalKmsOptions {
    /// The region in resource names (`acs:kms:<region>:...`).
    pub region: String,
    /// The account that owns the keys (`acs:kms:<region>:<account>:key/<id>`).
    pub account: String,
    /// The clock for rotation periods, deletion windows and import tokens.
    pub clock: Arc<dyn Clock>,
    /// Where audit events go.
    pub audit: Arc<dyn AuditSink>,
}

impl Default for LocalKmsOptions {
    /// Region `local`, account `0`, the system clock, no audit.
    fn default() -> Self {
        Self {
            region: "local".into(),
            account: "0".into(),
            clock: Arc::new(SystemClock),
            audit: Arc::new(NoAudit),
        }
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

/// The built-in KMS. Share it behind an `Arc`; every method takes `&self`.
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
        let (keys, legacy_ids) = persist::load(store.as_ref(), &root.sealer())?;
        let kms = Self {
            store,
            fingerprint_key,
            legacy_fingerprint_key,
            options,
            keys: RwLock::new(keys),
            imports: PendingImports::default(),
            creating_default: Mutex::new(()),
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
            resource_name: self.resource_name(&record.id),
            description: record.description.clone(),
            state: state::public_state(record.state),
            origin: if record.external {
                KeyOrigin::External
            } else {
                KeyOrigin::Generated
            },
            created_at: from_millis(record.created_at_ms),
            current_version: record.current_version,
            rotation_period: record.rotation_period_s.map(Duration::from_secs),
            last_rotated_at: record.last_rotated_ms.map(from_millis),
            managed: record.managed,
        }
    }
}

impl Kms for LocalKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<(DataKey, WrappedKey)> {
        self.generate(key_id, context, caller)
    }

    fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<DataKey> {
        self.unwrap(wrapped, context, caller)
    }

    fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<Option<WrappedKey>> {
        self.rewrap_to_current(wrapped, context, caller)
    }

    fn describe_key(&self, key_id: &str, caller: &Caller) -> Result<KeyMetadata> {
        self.describe(key_id, caller)
    }

    fn list_keys(&self, caller: &Caller) -> Result<Vec<KeyMetadata>> {
        self.list(caller)
    }

    fn list_aliases(&self, caller: &Caller) -> Result<Vec<(String, String)>> {
        self.aliases(caller)
    }

    fn default_key_id(&self, caller: &Caller) -> Result<String> {
        self.default_key(caller)
    }

    fn create_key(&self, options: CreateKeyOptions, caller: &Caller) -> Result<KeyMetadata> {
        self.create_for(options, caller)
    }

    fn create_alias(&self, alias: &str, key_id: &str, caller: &Caller) -> Result<()> {
        self.add_alias(alias, key_id, caller)
    }

    fn delete_alias(&self, alias: &str, caller: &Caller) -> Result<()> {
        self.remove_alias(alias, caller)
    }

    fn enable_key(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.set_enabled(key_id, caller, "kms:EnableKey", StoredState::Enabled)
    }

    fn disable_key(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.set_enabled(key_id, caller, "kms:DisableKey", StoredState::Disabled)
    }

    fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_days: u32,
        caller: &Caller,
    ) -> Result<SystemTime> {
        self.schedule_deletion(key_id, pending_days, caller)
    }

    fn cancel_key_deletion(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.cancel_deletion(key_id, caller)
    }

    fn rotate_key(&self, key_id: &str, caller: &Caller) -> Result<u32> {
        self.rotate(key_id, caller)
    }

    fn set_rotation_period(
        &self,
        key_id: &str,
        period: Option<Duration>,
        caller: &Caller,
    ) -> Result<()> {
        self.set_rotation(key_id, period, caller)
    }

    fn get_parameters_for_import(
        &self,
        key_id: &str,
        options: ImportOptions,
        caller: &Caller,
    ) -> Result<ImportParameters> {
        self.import_parameters(key_id, options, caller)
    }

    fn import_key_material(
        &self,
        key_id: &str,
        import_token: &str,
        wrapped_material: &[u8],
        caller: &Caller,
    ) -> Result<()> {
        self.import_wrapped(key_id, import_token, wrapped_material, caller)
    }

    fn delete_key_material(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.delete_imported(key_id, caller)
    }
}
