//! `LocalKms`: the built-in KMS, persisted through a [`KeyStore`] with every key's
//! material sealed under the root key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use ring::agreement::EphemeralPrivateKey;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::byok::{self, ImportParameters};
use super::{
    Caller, CreateKeyOptions, DEFAULT_MANAGED_ALIAS, KeyMetadata, KeyOrigin, KeyState, Kms,
};
use crate::audit::{AuditEvent, AuditOutcome, AuditSink, NoAudit};
use crate::clock::{Clock, SystemClock, from_millis, to_millis};
use crate::root_key::RecordSealer;
use crate::{DataKey, EncryptionContext, Error, KeyStore, Provider, Result, RootKey, WrappedKey};

const MIN_PENDING_DAYS: u32 = 7;
const MAX_PENDING_DAYS: u32 = 366;
const MIN_ROTATION: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_ROTATION: Duration = Duration::from_secs(365 * 24 * 3600);
const IMPORT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

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

#[derive(Clone, Serialize, Deserialize)]
struct MaterialRecord {
    version: u32,
    created_at_ms: u64,
    sealed: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct KeyRecord {
    id: String,
    description: String,
    external: bool,
    managed: bool,
    state: StoredState,
    created_at_ms: u64,
    rotation_period_s: Option<u64>,
    last_rotated_ms: Option<u64>,
    current_version: u32,
    materials: Vec<MaterialRecord>,
    /// HMAC of imported material under a root-derived key: re-imports must match.
    fingerprint: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum StoredState {
    Enabled,
    Disabled,
    PendingDeletion { delete_at_ms: u64 },
    PendingImport,
    Destroyed,
}

struct Entry {
    record: KeyRecord,
    materials: BTreeMap<u32, Zeroizing<[u8; 32]>>,
}

#[derive(Default)]
struct Keys {
    entries: BTreeMap<String, Entry>,
    aliases: BTreeMap<String, String>,
}

struct PendingImportKey {
    key_id: String,
    private: EphemeralPrivateKey,
    expires_at: SystemTime,
}

/// The built-in KMS. Share it behind an `Arc`; every method takes `&self`.
pub struct LocalKms {
    store: Arc<dyn KeyStore>,
    sealer: RecordSealer,
    fingerprint_key: hmac::Key,
    options: LocalKmsOptions,
    keys: RwLock<Keys>,
    imports: Mutex<HashMap<String, PendingImportKey>>,
    /// Serializes the first-use creation of the default managed key.
    creating_default: Mutex<()>,
}

fn key_name(id: &str) -> String {
    format!("kms/key/{id}")
}

fn alias_name(alias: &str) -> String {
    format!("kms/alias/{alias}")
}

fn material_label(id: &str, version: u32) -> String {
    format!("kms/key/{id}/material/{version}")
}

fn storage(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Storage(Box::new(error))
}

impl LocalKms {
    /// Opens the KMS persisted in `store`. Fails with [`Error::WrongRootKey`] if
    /// `root` does not open the store's keys.
    pub fn open(
        store: Arc<dyn KeyStore>,
        root: &RootKey,
        options: LocalKmsOptions,
    ) -> Result<Self> {
        let sealer = root.sealer();
        sealer.verify_or_enroll(store.as_ref())?;
        let mut keys = Keys::default();
        for (_, value) in store.scan("kms/key/")? {
            let record: KeyRecord = serde_json::from_slice(&value).map_err(storage)?;
            let mut materials = BTreeMap::new();
            for material in &record.materials {
                let sealed = hex::decode(&material.sealed).map_err(storage)?;
                let key = sealer
                    .open_key(&material_label(&record.id, material.version), &sealed)
                    .map_err(|_| Error::WrongRootKey)?;
                materials.insert(material.version, key);
            }
            keys.entries
                .insert(record.id.clone(), Entry { record, materials });
        }
        for (name, value) in store.scan("kms/alias/")? {
            let alias = name.trim_start_matches("kms/alias/").to_owned();
            keys.aliases
                .insert(alias, String::from_utf8(value).map_err(storage)?);
        }
        let fingerprint_key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &root.derive(b"coffer/byok-fingerprint/v1")[..],
        );
        Ok(Self {
            store,
            sealer,
            fingerprint_key,
            options,
            keys: RwLock::new(keys),
            imports: Mutex::new(HashMap::new()),
            creating_default: Mutex::new(()),
        })
    }

    /// The resource name of a key, as policies match it.
    pub fn resource_name(&self, key_id: &str) -> String {
        format!(
            "acs:kms:{}:{}:key/{key_id}",
            self.options.region, self.options.account
        )
    }

    fn account_resource(&self) -> String {
        format!(
            "acs:kms:{}:{}:key",
            self.options.region, self.options.account
        )
    }

    /// Imports plain key material into an external key (embedded use, where the
    /// material never crosses a network). Action `kms:ImportKeyMaterial`.
    pub fn import_key_material_plain(
        &self,
        key_id: &str,
        material: &[u8; 32],
        caller: &Caller,
    ) -> Result<()> {
        self.audited(caller, "kms:ImportKeyMaterial", Some(key_id), None, || {
            let id = self.resolve(key_id)?;
            caller.authorize("kms:ImportKeyMaterial", &self.resource_name(&id))?;
            self.install_imported(&id, Zeroizing::new(*material))
        })
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

    fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        key_id: Option<&str>,
        context: Option<&EncryptionContext>,
        call: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let result = call();
        let outcome = match &result {
            Ok(_) => AuditOutcome::Allowed,
            Err(Error::AccessDenied { .. }) => AuditOutcome::Denied,
            Err(error) => AuditOutcome::Failed(error.to_string()),
        };
        self.options.audit.record(AuditEvent {
            time: self.now(),
            caller: caller.name().to_owned(),
            action: action.to_owned(),
            key_id: key_id.map(str::to_owned),
            context: context.map(ToString::to_string),
            outcome,
        });
        result
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

    /// Applies what time has made due for one key: destruction after the
    /// deletion window, automatic rotation. Returns whether it changed anything.
    fn settle(&self, id: &str) -> Result<bool> {
        let now = self.now();
        let due = |entry: &Entry| match entry.record.state {
            StoredState::PendingDeletion { delete_at_ms } => from_millis(delete_at_ms) <= now,
            StoredState::Enabled => rotation_due(&entry.record, now),
            _ => false,
        };
        if !self.keys.read().entries.get(id).is_some_and(due) {
            return Ok(false);
        }
        self.mutate(id, |entry, kms| {
            if !due(entry) {
                return Ok(false);
            }
            match entry.record.state {
                StoredState::PendingDeletion { .. } => {
                    entry.materials.clear();
                    entry.record.materials.clear();
                    entry.record.state = StoredState::Destroyed;
                    tracing::info!(
                        key_id = id,
                        "key material destroyed after its deletion window"
                    );
                }
                _ => kms.add_material(entry, None)?,
            }
            Ok(true)
        })
    }

    /// Runs `change` on a key under the write lock, then persists the record; if
    /// persisting fails the in-memory key is restored.
    fn mutate<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Entry, &Self) -> Result<T>,
    ) -> Result<T> {
        let mut keys = self.keys.write();
        let entry = keys
            .entries
            .get_mut(id)
            .ok_or_else(|| Error::KeyNotFound(id.to_owned()))?;
        let before = (entry.record.clone(), entry.materials.clone());
        let result = change(entry, self);
        if result.is_ok() {
            let value = serde_json::to_vec(&entry.record).map_err(storage)?;
            if let Err(error) = self.store.apply(vec![(key_name(id), Some(value))]) {
                (entry.record, entry.materials) = before;
                return Err(error);
            }
        } else {
            (entry.record, entry.materials) = before;
        }
        result
    }

    /// Adds a new material version (random, or the given imported material).
    fn add_material(&self, entry: &mut Entry, material: Option<Zeroizing<[u8; 32]>>) -> Result<()> {
        let material = match material {
            Some(m) => m,
            None => Zeroizing::new(*DataKey::generate()?.expose_secret()),
        };
        let version = entry.record.current_version + 1;
        let now = self.now();
        let sealed = self
            .sealer
            .seal(&material_label(&entry.record.id, version), &material[..])?;
        entry.record.materials.push(MaterialRecord {
            version,
            created_at_ms: to_millis(now),
            sealed: hex::encode(sealed),
        });
        entry.record.current_version = version;
        entry.record.last_rotated_ms = Some(to_millis(now));
        entry.materials.insert(version, material);
        Ok(())
    }

    fn install_imported(&self, id: &str, material: Zeroizing<[u8; 32]>) -> Result<()> {
        let fingerprint = hex::encode(hmac::sign(&self.fingerprint_key, &material[..]));
        self.mutate(id, |entry, kms| {
            if !entry.record.external {
                return Err(Error::Unsupported("key material can only be imported into an external key".into()));
            }
            if entry.record.state != StoredState::PendingImport {
                return Err(Error::InvalidArgument("the key already has material; delete it first".into()));
            }
            if entry.record.fingerprint.as_ref().is_some_and(|previous| *previous != fingerprint) {
                return Err(Error::InvalidArgument(
                    "this is not the material the key had before; data under the key would be unreadable".into(),
                ));
            }
            entry.record.fingerprint = Some(fingerprint);
            kms.add_material(entry, Some(material))?;
            entry.record.state = StoredState::Enabled;
            Ok(())
        })
    }

    /// Enables or disables a key; a key in any other state keeps it and the
    /// caller gets the error that state means.
    fn set_enabled(
        &self,
        key_id: &str,
        caller: &Caller,
        action: &str,
        to: StoredState,
    ) -> Result<()> {
        self.set_state(key_id, caller, action, |record| match record.state {
            StoredState::Enabled | StoredState::Disabled => {
                record.state = to;
                Ok(())
            }
            _ => usable(record),
        })
    }

    /// Wraps `data_key` under the key's current material, if the key is usable.
    fn wrap_under_current(
        &self,
        id: &str,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey> {
        let keys = self.keys.read();
        let entry = keys
            .entries
            .get(id)
            .ok_or_else(|| Error::KeyNotFound(id.to_owned()))?;
        usable(&entry.record)?;
        let version = entry.record.current_version;
        let material = entry
            .materials
            .get(&version)
            .ok_or_else(|| Error::UnknownKeyVersion {
                key_id: id.to_owned(),
                version,
            })?;
        WrappedKey::seal(material, Provider::Kms, id, version, data_key, context)
    }

    fn metadata(&self, entry: &Entry) -> KeyMetadata {
        let record = &entry.record;
        KeyMetadata {
            key_id: record.id.clone(),
            resource_name: self.resource_name(&record.id),
            description: record.description.clone(),
            state: public_state(record.state),
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

    /// Checks `action` on the key, except the data-key actions on the managed
    /// default key, which the store uses on every caller's behalf (as OSS does).
    fn authorize_on_key(&self, caller: &Caller, action: &str, id: &str) -> Result<()> {
        let managed = self
            .keys
            .read()
            .entries
            .get(id)
            .is_some_and(|e| e.record.managed);
        if managed
            && matches!(
                action,
                "kms:GenerateDataKey" | "kms:Decrypt" | "kms:DescribeKey"
            )
        {
            return Ok(());
        }
        caller.authorize(action, &self.resource_name(id))
    }

    fn create(
        &self,
        options: CreateKeyOptions,
        managed: bool,
        alias: Option<&str>,
    ) -> Result<KeyMetadata> {
        if let Some(period) = options.rotation_period {
            check_rotation_period(period)?;
            if options.external {
                return Err(Error::Unsupported(
                    "imported keys are not rotated automatically".into(),
                ));
            }
        }
        let id = new_key_id()?;
        let now = self.now();
        let mut entry = Entry {
            record: KeyRecord {
                id: id.clone(),
                description: options.description,
                external: options.external,
                managed,
                state: if options.external {
                    StoredState::PendingImport
                } else {
                    StoredState::Enabled
                },
                created_at_ms: to_millis(now),
                rotation_period_s: options.rotation_period.map(|p| p.as_secs()),
                last_rotated_ms: None,
                current_version: 0,
                materials: Vec::new(),
                fingerprint: None,
            },
            materials: BTreeMap::new(),
        };
        if !options.external {
            self.add_material(&mut entry, None)?;
        }
        let mut changes = vec![(
            key_name(&id),
            Some(serde_json::to_vec(&entry.record).map_err(storage)?),
        )];
        let mut keys = self.keys.write();
        if let Some(alias) = alias {
            if keys.aliases.contains_key(alias) {
                return Err(Error::InvalidArgument(format!("alias {alias} exists")));
            }
            changes.push((alias_name(alias), Some(id.clone().into_bytes())));
        }
        self.store.apply(changes)?;
        let metadata = self.metadata(&entry);
        keys.entries.insert(id.clone(), entry);
        if let Some(alias) = alias {
            keys.aliases.insert(alias.to_owned(), id);
        }
        Ok(metadata)
    }

    fn set_state(
        &self,
        key_id: &str,
        caller: &Caller,
        action: &str,
        change: impl FnOnce(&mut KeyRecord) -> Result<()>,
    ) -> Result<()> {
        self.audited(caller, action, Some(key_id), None, || {
            let id = self.resolve(key_id)?;
            caller.authorize(action, &self.resource_name(&id))?;
            self.settle(&id)?;
            self.mutate(&id, |entry, _| {
                if entry.record.managed {
                    return Err(Error::ManagedKey(id.clone()));
                }
                change(&mut entry.record)
            })
        })
    }
}

fn rotation_due(record: &KeyRecord, now: SystemTime) -> bool {
    match (record.rotation_period_s, record.last_rotated_ms) {
        (Some(period), Some(last)) if !record.external => now
            .duration_since(from_millis(last))
            .is_ok_and(|age| age >= Duration::from_secs(period)),
        _ => false,
    }
}

fn check_rotation_period(period: Duration) -> Result<()> {
    if (MIN_ROTATION..=MAX_ROTATION).contains(&period) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "the rotation period must be 7 to 365 days".into(),
        ))
    }
}

fn public_state(state: StoredState) -> KeyState {
    match state {
        StoredState::Enabled => KeyState::Enabled,
        StoredState::Disabled => KeyState::Disabled,
        StoredState::PendingDeletion { delete_at_ms } => KeyState::PendingDeletion {
            delete_at: from_millis(delete_at_ms),
        },
        StoredState::PendingImport => KeyState::PendingImport,
        StoredState::Destroyed => KeyState::Destroyed,
    }
}

/// Refuses data-key use unless the key is enabled, with the error that says why.
fn usable(record: &KeyRecord) -> Result<()> {
    let id = record.id.clone();
    match record.state {
        StoredState::Enabled => Ok(()),
        StoredState::Disabled => Err(Error::KeyDisabled(id)),
        StoredState::PendingDeletion { delete_at_ms } => Err(Error::KeyPendingDeletion {
            key_id: id,
            delete_at: from_millis(delete_at_ms),
        }),
        StoredState::PendingImport => Err(Error::KeyPendingImport(id)),
        StoredState::Destroyed => Err(Error::KeyDestroyed(id)),
    }
}

fn new_key_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Randomness)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex::encode(bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn validate_alias(alias: &str) -> Result<()> {
    let valid = alias.len() <= 255
        && alias.strip_prefix("alias/").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        })
        && !alias.starts_with("alias/acs/");
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "alias {alias:?} must be alias/ followed by letters, digits, '/', '_' or '-', and not alias/acs/"
        )))
    }
}

impl Kms for LocalKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<(DataKey, WrappedKey)> {
        self.audited(
            caller,
            "kms:GenerateDataKey",
            Some(key_id),
            Some(context),
            || {
                let id = self.resolve(key_id)?;
                self.authorize_on_key(caller, "kms:GenerateDataKey", &id)?;
                self.settle(&id)?;
                let data_key = DataKey::generate()?;
                let wrapped = self.wrap_under_current(&id, &data_key, context)?;
                Ok((data_key, wrapped))
            },
        )
    }

    fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<DataKey> {
        let id = wrapped.key_id().to_owned();
        self.audited(caller, "kms:Decrypt", Some(&id), Some(context), || {
            if wrapped.provider() != Provider::Kms {
                return Err(Error::InvalidArgument(
                    "the wrapped key is not from a KMS".into(),
                ));
            }
            if !self.keys.read().entries.contains_key(&id) {
                return Err(Error::KeyNotFound(id.clone()));
            }
            self.authorize_on_key(caller, "kms:Decrypt", &id)?;
            self.settle(&id)?;
            let keys = self.keys.read();
            let entry = keys
                .entries
                .get(&id)
                .ok_or_else(|| Error::KeyNotFound(id.clone()))?;
            usable(&entry.record)?;
            let material = entry.materials.get(&wrapped.key_version()).ok_or_else(|| {
                Error::UnknownKeyVersion {
                    key_id: id.clone(),
                    version: wrapped.key_version(),
                }
            })?;
            wrapped.open(material, context)
        })
    }

    fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<Option<WrappedKey>> {
        let current = self.describe_key(wrapped.key_id(), caller)?.current_version;
        if wrapped.key_version() == current {
            return Ok(None);
        }
        let data_key = self.decrypt(wrapped, context, caller)?;
        let id = wrapped.key_id().to_owned();
        self.audited(
            caller,
            "kms:GenerateDataKey",
            Some(&id),
            Some(context),
            || {
                self.authorize_on_key(caller, "kms:GenerateDataKey", &id)?;
                self.wrap_under_current(&id, &data_key, context).map(Some)
            },
        )
    }

    fn describe_key(&self, key_id: &str, caller: &Caller) -> Result<KeyMetadata> {
        self.audited(caller, "kms:DescribeKey", Some(key_id), None, || {
            let id = self.resolve(key_id)?;
            self.authorize_on_key(caller, "kms:DescribeKey", &id)?;
            self.settle(&id)?;
            let keys = self.keys.read();
            let entry = keys
                .entries
                .get(&id)
                .ok_or_else(|| Error::KeyNotFound(id.clone()))?;
            Ok(self.metadata(entry))
        })
    }

    fn list_keys(&self, caller: &Caller) -> Result<Vec<KeyMetadata>> {
        self.audited(caller, "kms:ListKeys", None, None, || {
            caller.authorize("kms:ListKeys", &self.account_resource())?;
            self.run_due_maintenance()?;
            Ok(self
                .keys
                .read()
                .entries
                .values()
                .map(|e| self.metadata(e))
                .collect())
        })
    }

    fn list_aliases(&self, caller: &Caller) -> Result<Vec<(String, String)>> {
        self.audited(caller, "kms:ListAliases", None, None, || {
            caller.authorize("kms:ListAliases", &self.account_resource())?;
            Ok(self
                .keys
                .read()
                .aliases
                .iter()
                .map(|(a, k)| (a.clone(), k.clone()))
                .collect())
        })
    }

    fn default_key_id(&self, caller: &Caller) -> Result<String> {
        if let Ok(id) = self.resolve(DEFAULT_MANAGED_ALIAS) {
            return Ok(id);
        }
        self.audited(caller, "kms:CreateKey", None, None, || {
            let _guard = self.creating_default.lock();
            if let Ok(id) = self.resolve(DEFAULT_MANAGED_ALIAS) {
                return Ok(id);
            }
            let options = CreateKeyOptions {
                description: "default managed key of the store (alias/acs/oss)".into(),
                ..CreateKeyOptions::default()
            };
            Ok(self
                .create(options, true, Some(DEFAULT_MANAGED_ALIAS))?
                .key_id)
        })
    }

    fn create_key(&self, options: CreateKeyOptions, caller: &Caller) -> Result<KeyMetadata> {
        self.audited(caller, "kms:CreateKey", None, None, || {
            caller.authorize("kms:CreateKey", &self.account_resource())?;
            self.create(options, false, None)
        })
    }

    fn create_alias(&self, alias: &str, key_id: &str, caller: &Caller) -> Result<()> {
        self.audited(caller, "kms:CreateAlias", Some(key_id), None, || {
            validate_alias(alias)?;
            let id = self.resolve(key_id)?;
            caller.authorize("kms:CreateAlias", &self.resource_name(&id))?;
            let mut keys = self.keys.write();
            if keys.aliases.contains_key(alias) {
                return Err(Error::InvalidArgument(format!("alias {alias} exists")));
            }
            self.store
                .apply(vec![(alias_name(alias), Some(id.clone().into_bytes()))])?;
            keys.aliases.insert(alias.to_owned(), id);
            Ok(())
        })
    }

    fn delete_alias(&self, alias: &str, caller: &Caller) -> Result<()> {
        self.audited(caller, "kms:DeleteAlias", None, None, || {
            validate_alias(alias)?;
            let id = self.resolve(alias)?;
            caller.authorize("kms:DeleteAlias", &self.resource_name(&id))?;
            let mut keys = self.keys.write();
            self.store.apply(vec![(alias_name(alias), None)])?;
            keys.aliases.remove(alias);
            Ok(())
        })
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
        if !(MIN_PENDING_DAYS..=MAX_PENDING_DAYS).contains(&pending_days) {
            return Err(Error::InvalidArgument(format!(
                "the deletion window must be {MIN_PENDING_DAYS} to {MAX_PENDING_DAYS} days, got {pending_days}"
            )));
        }
        let delete_at = self.now() + DAY * pending_days;
        self.set_state(
            key_id,
            caller,
            "kms:ScheduleKeyDeletion",
            |record| match record.state {
                StoredState::Destroyed => Err(Error::KeyDestroyed(record.id.clone())),
                StoredState::PendingDeletion { .. } => Err(Error::InvalidArgument(
                    "the key is already pending deletion".into(),
                )),
                _ => {
                    record.state = StoredState::PendingDeletion {
                        delete_at_ms: to_millis(delete_at),
                    };
                    Ok(())
                }
            },
        )?;
        Ok(delete_at)
    }

    fn cancel_key_deletion(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.set_state(
            key_id,
            caller,
            "kms:CancelKeyDeletion",
            |record| match record.state {
                StoredState::PendingDeletion { .. } => {
                    record.state = if record.current_version == 0 {
                        StoredState::PendingImport
                    } else {
                        StoredState::Enabled
                    };
                    Ok(())
                }
                _ => Err(Error::InvalidArgument(
                    "the key is not pending deletion".into(),
                )),
            },
        )
    }

    fn rotate_key(&self, key_id: &str, caller: &Caller) -> Result<u32> {
        self.audited(caller, "kms:RotateKey", Some(key_id), None, || {
            let id = self.resolve(key_id)?;
            caller.authorize("kms:RotateKey", &self.resource_name(&id))?;
            self.settle(&id)?;
            self.mutate(&id, |entry, kms| {
                if entry.record.external {
                    return Err(Error::Unsupported(
                        "imported key material cannot be rotated; import a new key".into(),
                    ));
                }
                usable(&entry.record)?;
                kms.add_material(entry, None)?;
                Ok(entry.record.current_version)
            })
        })
    }

    fn set_rotation_period(
        &self,
        key_id: &str,
        period: Option<Duration>,
        caller: &Caller,
    ) -> Result<()> {
        if let Some(period) = period {
            check_rotation_period(period)?;
        }
        self.set_state(key_id, caller, "kms:UpdateRotationPolicy", |record| {
            if record.external && period.is_some() {
                return Err(Error::Unsupported(
                    "imported keys are not rotated automatically".into(),
                ));
            }
            record.rotation_period_s = period.map(|p| p.as_secs());
            Ok(())
        })
    }

    fn get_parameters_for_import(&self, key_id: &str, caller: &Caller) -> Result<ImportParameters> {
        self.audited(
            caller,
            "kms:GetParametersForImport",
            Some(key_id),
            None,
            || {
                let id = self.resolve(key_id)?;
                caller.authorize("kms:GetParametersForImport", &self.resource_name(&id))?;
                {
                    let keys = self.keys.read();
                    let record = &keys
                        .entries
                        .get(&id)
                        .ok_or_else(|| Error::KeyNotFound(id.clone()))?
                        .record;
                    if !record.external {
                        return Err(Error::Unsupported(
                            "the key's material is generated, not imported".into(),
                        ));
                    }
                    if record.state != StoredState::PendingImport {
                        return Err(Error::InvalidArgument(
                            "the key already has material".into(),
                        ));
                    }
                }
                let (private, public_key) = byok::new_import_key()?;
                let mut token = [0u8; 16];
                SystemRandom::new()
                    .fill(&mut token)
                    .map_err(|_| Error::Randomness)?;
                let import_token = hex::encode(token);
                let expires_at = self.now() + IMPORT_TOKEN_LIFETIME;
                let mut imports = self.imports.lock();
                let now = self.now();
                imports.retain(|_, pending| pending.expires_at > now);
                imports.insert(
                    import_token.clone(),
                    PendingImportKey {
                        key_id: id.clone(),
                        private,
                        expires_at,
                    },
                );
                Ok(ImportParameters {
                    key_id: id,
                    public_key,
                    import_token,
                    expires_at,
                })
            },
        )
    }

    fn import_key_material(
        &self,
        key_id: &str,
        import_token: &str,
        wrapped_material: &[u8],
        caller: &Caller,
    ) -> Result<()> {
        self.audited(caller, "kms:ImportKeyMaterial", Some(key_id), None, || {
            let id = self.resolve(key_id)?;
            caller.authorize("kms:ImportKeyMaterial", &self.resource_name(&id))?;
            let pending = self
                .imports
                .lock()
                .remove(import_token)
                .ok_or(Error::InvalidImportToken)?;
            if pending.key_id != id {
                return Err(Error::InvalidImportToken);
            }
            if pending.expires_at <= self.now() {
                return Err(Error::ImportTokenExpired);
            }
            let material =
                byok::unwrap_imported(pending.private, import_token, &id, wrapped_material)?;
            self.install_imported(&id, material)
        })
    }

    fn delete_key_material(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.set_state(key_id, caller, "kms:DeleteKeyMaterial", |record| {
            if !record.external {
                return Err(Error::Unsupported(
                    "only imported material can be deleted".into(),
                ));
            }
            if matches!(
                record.state,
                StoredState::Destroyed | StoredState::PendingDeletion { .. }
            ) {
                return usable(record);
            }
            // Re-importing the same material restores the same version numbers,
            // so data keys wrapped before keep decrypting.
            record.materials.clear();
            record.current_version = 0;
            record.state = StoredState::PendingImport;
            Ok(())
        })?;
        // The in-memory material goes too.
        let id = self.resolve(key_id)?;
        if let Some(entry) = self.keys.write().entries.get_mut(&id) {
            entry.materials.clear();
        }
        Ok(())
    }
}
