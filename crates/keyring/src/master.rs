//! The master keyring of store-managed ("AES256") protection: versioned
//! key-encryption keys sealed under the root key; the current version wraps new
//! data keys, older versions keep unwrapping until they are retired.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::clock::{Clock, from_millis, to_millis};
use crate::sealed_store::SealedKeyStore;
use crate::{DataKey, EncryptionContext, Error, KeyStore, Provider, Result, RootKey, WrappedKey};

/// The key id master-keyring records carry.
pub const MASTER_KEYRING_ID: &str = "coffer-master";
pub(crate) const STATE: &str = "master/state";
/// Wrap counts are persisted every this many wraps (and at each rotation),
/// without waiting for the disk. A count read at open may therefore lag by up to
/// twice this (the wraps since the last write, and that write if a crash lost
/// it), so opening adds twice this to every count: counts err high, never low.
const COUNT_FLUSH_EVERY: u64 = 4096;

/// When the current master key is replaced automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Rotate once the current version is this old (`None`: never by age).
    pub max_age: Option<Duration>,
    /// Rotate once the current version has wrapped this many data keys.
    pub max_wraps: Option<u64>,
}

impl Default for RotationPolicy {
    /// 90 days or 2^32 wraps, whichever comes first.
    fn default() -> Self {
        Self {
            max_age: Some(Duration::from_secs(90 * 24 * 3600)),
            max_wraps: Some(1 << 32),
        }
    }
}

/// What the caller asserts when retiring old versions: no stored wrapped key
/// references a version below the new floor. Only the owner of every record
/// the keyring's keys wrap can know that: a store makes it with its own scan
/// and never hands its keyring out ([`MasterKeyring::retire_versions_below`]
/// destroys material for good).
#[derive(Debug, Clone, Copy)]
pub struct NothingReferencesOlderVersions(());

impl NothingReferencesOlderVersions {
    /// The caller's word that it has scanned every wrapped key under this
    /// keyring and found none below the version it retires to.
    pub fn after_scanning_every_wrapped_key() -> Self {
        Self(())
    }
}

/// A master key version as described to callers (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyVersion {
    /// The version number, from 1.
    pub version: u32,
    /// When it was created.
    pub created_at: SystemTime,
    /// Data keys it has wrapped, an upper bound: counts are recorded every 4096
    /// wraps and at rotation, and reopening adds 8192 for any not recorded.
    pub wraps: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StateRecord {
    pub(crate) current: u32,
    pub(crate) min_decryption_version: u32,
}

/// A key-encryption key as persisted: the whole record is sealed under the root
/// key by [`SealedKeyStore`], so the material sits in it as hex.
#[derive(Serialize, Deserialize)]
pub(crate) struct KekRecord {
    pub(crate) version: u32,
    pub(crate) created_at_ms: u64,
    pub(crate) wraps: u64,
    /// The material, hex (layout 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) material: Option<Zeroizing<String>>,
    /// The material sealed on its own under the root key (layout 1, converted
    /// to `material` on open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sealed: Option<String>,
}

struct Kek {
    material: Zeroizing<[u8; 32]>,
    created_at: SystemTime,
    wraps: AtomicU64,
}

struct State {
    keks: BTreeMap<u32, Kek>,
    current: u32,
    min_decryption_version: u32,
}

/// Store-managed key-encryption keys. Cheap to share behind an `Arc`; every
/// method takes `&self`.
pub struct MasterKeyring {
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    policy: RotationPolicy,
    state: RwLock<State>,
    /// Serializes automatic rotations.
    rotation: parking_lot::Mutex<()>,
}

/// The key versions `store` holds; a record of layout 1 (material sealed on
/// its own) is opened with `legacy` and its version listed for rewriting.
fn read_keks(
    store: &dyn KeyStore,
    legacy: Option<&crate::root_key::RecordSealer>,
) -> Result<(BTreeMap<u32, Kek>, Vec<u32>)> {
    let mut keks = BTreeMap::new();
    let mut converted = Vec::new();
    for (name, value) in store.scan("master/kek/")? {
        let value = Zeroizing::new(value);
        let record: KekRecord =
            serde_json::from_slice(&value).map_err(|e| Error::Storage(e.into()))?;
        let material = match (&record.material, &record.sealed, legacy) {
            (Some(hex), _, _) => {
                crate::sealed_store::material_from_hex(hex, "a master key record")?
            }
            (None, Some(sealed), Some(legacy)) => {
                converted.push(record.version);
                let sealed = hex::decode(sealed).map_err(|e| Error::Storage(e.into()))?;
                legacy
                    .open_key(&name, &sealed)
                    .map_err(|_| Error::WrongRootKey)?
            }
            _ => {
                return Err(Error::Integrity("a master key record has no material"));
            }
        };
        keks.insert(
            record.version,
            Kek {
                material,
                created_at: from_millis(record.created_at_ms),
                wraps: AtomicU64::new(record.wraps.saturating_add(2 * COUNT_FLUSH_EVERY)),
            },
        );
    }
    Ok((keks, converted))
}

/// The keyring's state as `store` records it, over `keks`.
fn read_state(store: &dyn KeyStore, keks: BTreeMap<u32, Kek>) -> Result<State> {
    Ok(match store.get(STATE)? {
        Some(bytes) => {
            let record: StateRecord =
                serde_json::from_slice(&bytes).map_err(|e| Error::Storage(e.into()))?;
            State {
                keks,
                current: record.current,
                min_decryption_version: record.min_decryption_version,
            }
        }
        None => State {
            keks,
            current: 0,
            min_decryption_version: 1,
        },
    })
}

pub(crate) fn kek_name(version: u32) -> String {
    format!("master/kek/{version:010}")
}

impl MasterKeyring {
    /// Opens the keyring persisted in `store`, creating version 1 in a new store.
    ///
    /// Fails with [`Error::WrongRootKey`] (changing nothing) if `root` is not the
    /// key the store was created with.
    pub fn open(
        store: Arc<dyn KeyStore>,
        root: &RootKey,
        policy: RotationPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let (sealed, _) = SealedKeyStore::open(store, root)?;
        let store: Arc<dyn KeyStore> = Arc::new(sealed);
        let legacy = root.sealer();
        let (keks, converted) = read_keks(store.as_ref(), Some(&legacy))?;
        let state = read_state(store.as_ref(), keks)?;
        let keyring = Self {
            store,
            clock,
            policy,
            state: RwLock::new(state),
            rotation: parking_lot::Mutex::new(()),
        };
        if !converted.is_empty() {
            // Layout 1 kept each version's material sealed on its own; rewrite
            // those records with the material inside the sealed record.
            let state = keyring.state.read();
            let changes = converted
                .iter()
                .filter_map(|v| state.keks.get(v).map(|kek| keyring.kek_record(*v, kek)))
                .collect::<Result<Vec<_>>>()?;
            keyring.store.apply(changes)?;
        }
        let has_current = {
            let state = keyring.state.read();
            state.keks.contains_key(&state.current)
        };
        if !has_current {
            keyring.rotate_now()?;
        }
        Ok(keyring)
    }

    /// Reads the keyring again from its store: the versions that another
    /// process sharing the store rotated to or retired since this one read
    /// it. Wrap counts already counted here are kept where they are higher.
    pub fn reload(&self) -> Result<()> {
        let (keks, _) = read_keks(self.store.as_ref(), None)?;
        let fresh = read_state(self.store.as_ref(), keks)?;
        let mut state = self.state.write();
        for (version, kek) in &fresh.keks {
            if let Some(known) = state.keks.get(version) {
                kek.wraps
                    .fetch_max(known.wraps.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        *state = fresh;
        Ok(())
    }

    /// The version that wraps new data keys.
    pub fn current_version(&self) -> u32 {
        self.state.read().current
    }

    /// The lowest version that still unwraps.
    pub fn min_decryption_version(&self) -> u32 {
        self.state.read().min_decryption_version
    }

    /// Every version still held, oldest first.
    pub fn versions(&self) -> Vec<MasterKeyVersion> {
        self.state
            .read()
            .keks
            .iter()
            .map(|(&version, kek)| MasterKeyVersion {
                version,
                created_at: kek.created_at,
                wraps: kek.wraps.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Draws a fresh data key and wraps it under the current version (rotating
    /// first if the policy says the current version is due).
    pub fn generate_data_key(&self, context: &EncryptionContext) -> Result<(DataKey, WrappedKey)> {
        let data_key = DataKey::generate()?;
        let wrapped = self.wrap(&data_key, context)?;
        Ok((data_key, wrapped))
    }

    /// Wraps `data_key` under the current version.
    pub fn wrap(&self, data_key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey> {
        if self.rotation_due() {
            self.rotate_if_still_due()?;
        }
        let (wrapped, flush) = {
            let state = self.state.read();
            let kek = state
                .keks
                .get(&state.current)
                .ok_or(Error::UnknownKeyVersion {
                    key_id: MASTER_KEYRING_ID.into(),
                    version: state.current,
                })?;
            let wrapped = WrappedKey::seal(
                &kek.material,
                Provider::MasterKeyring,
                MASTER_KEYRING_ID,
                state.current,
                data_key,
                context,
            )?;
            let wraps = kek.wraps.fetch_add(1, Ordering::Relaxed) + 1;
            (wrapped, wraps % COUNT_FLUSH_EVERY == 0)
        };
        if flush {
            self.persist_count(wrapped.key_version())?;
        }
        Ok(wrapped)
    }

    /// Unwraps a data key wrapped by any version from the minimum decryption
    /// version up.
    pub fn unwrap(&self, wrapped: &WrappedKey, context: &EncryptionContext) -> Result<DataKey> {
        if wrapped.provider() != Provider::MasterKeyring || wrapped.key_id() != MASTER_KEYRING_ID {
            return Err(Error::InvalidArgument(
                "the wrapped key is not from the master keyring".into(),
            ));
        }
        let state = self.state.read();
        let version = wrapped.key_version();
        let kek = state
            .keks
            .get(&version)
            .filter(|_| version >= state.min_decryption_version)
            .ok_or(Error::UnknownKeyVersion {
                key_id: MASTER_KEYRING_ID.into(),
                version,
            })?;
        wrapped.open(&kek.material, context)
    }

    /// Re-wraps a data key under the current version without handing it out.
    /// `None` if it is wrapped under the current version already.
    pub fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Option<WrappedKey>> {
        if wrapped.key_version() == self.current_version() {
            return Ok(None);
        }
        let data_key = self.unwrap(wrapped, context)?;
        self.wrap(&data_key, context).map(Some)
    }

    /// Creates a new version and makes it current; returns its number.
    ///
    /// Never over a version another handle sharing the store created since
    /// this one read it (a process whose store merged that change in without
    /// this keyring being reloaded): the keyring is reloaded and the new
    /// version follows the newest.
    pub fn rotate_now(&self) -> Result<u32> {
        if self
            .store
            .get(&kek_name(self.current_version() + 1))?
            .is_some()
        {
            self.reload()?;
        }
        let mut state = self.state.write();
        let mut version = state.current + 1;
        while self.store.get(&kek_name(version))?.is_some() {
            version += 1;
        }
        let material = Zeroizing::new(*DataKey::generate()?.expose_secret());
        let created_at = self.clock.now();
        let name = kek_name(version);
        let record = KekRecord {
            version,
            created_at_ms: to_millis(created_at),
            wraps: 0,
            material: Some(Zeroizing::new(hex::encode(&material[..]))),
            sealed: None,
        };
        let mut changes = vec![
            (
                name,
                Some(serde_json::to_vec(&record).map_err(|e| Error::Storage(e.into()))?),
            ),
            (
                STATE.to_owned(),
                Some(state_record(version, state.min_decryption_version)?),
            ),
        ];
        if let Some(old) = state.keks.get(&state.current) {
            changes.push(self.kek_record(state.current, old)?);
        }
        self.store.apply(changes)?;
        state.keks.insert(
            version,
            Kek {
                material,
                created_at,
                wraps: AtomicU64::new(0),
            },
        );
        state.current = version;
        tracing::info!(version, "master key rotated");
        Ok(version)
    }

    /// Retires (destroys) every version below `version`: data keys wrapped under
    /// them can no longer be unwrapped. The caller asserts that nothing references
    /// them any more (rewrap first). `version` may not exceed the current one.
    pub fn retire_versions_below(
        &self,
        version: u32,
        _assurance: NothingReferencesOlderVersions,
    ) -> Result<()> {
        let mut state = self.state.write();
        if version > state.current {
            return Err(Error::InvalidArgument(format!(
                "cannot retire versions below {version}: the current version is {}",
                state.current
            )));
        }
        if version <= state.min_decryption_version {
            return Ok(());
        }
        let retired: Vec<u32> = state.keks.range(..version).map(|(&v, _)| v).collect();
        let mut changes: Vec<_> = retired.iter().map(|&v| (kek_name(v), None)).collect();
        changes.push((
            STATE.to_owned(),
            Some(state_record(state.current, version)?),
        ));
        self.store.apply(changes)?;
        for v in retired {
            state.keks.remove(&v);
        }
        state.min_decryption_version = version;
        drop(state);
        // Deleted records stay in the storage's files until compacted away.
        self.store.compact()?;
        Ok(())
    }

    /// Every held version's material (feature `test-util` only).
    #[cfg(feature = "test-util")]
    pub fn export_material_for_test(&self) -> Vec<[u8; 32]> {
        self.state
            .read()
            .keks
            .values()
            .map(|k| *k.material)
            .collect()
    }

    fn rotation_due(&self) -> bool {
        let state = self.state.read();
        let Some(kek) = state.keks.get(&state.current) else {
            return true;
        };
        let too_old = self.policy.max_age.is_some_and(|max| {
            self.clock
                .now()
                .duration_since(kek.created_at)
                .is_ok_and(|age| age >= max)
        });
        let too_used = self
            .policy
            .max_wraps
            .is_some_and(|max| kek.wraps.load(Ordering::Relaxed) >= max);
        too_old || too_used
    }

    fn rotate_if_still_due(&self) -> Result<()> {
        // Two writers may both see rotation due; only one rotates.
        let before = self.current_version();
        let _guard = self.rotation.lock();
        if self.current_version() == before && self.rotation_due() {
            self.rotate_now()?;
        }
        Ok(())
    }

    /// Records a version's wrap count, lazily (see [`COUNT_FLUSH_EVERY`]).
    fn persist_count(&self, version: u32) -> Result<()> {
        let state = self.state.read();
        if let Some(kek) = state.keks.get(&version) {
            let change = self.kek_record(version, kek)?;
            self.store.apply_lazily(vec![change])?;
        }
        Ok(())
    }

    fn kek_record(&self, version: u32, kek: &Kek) -> Result<(String, Option<Vec<u8>>)> {
        let name = kek_name(version);
        let record = KekRecord {
            version,
            created_at_ms: to_millis(kek.created_at),
            wraps: kek.wraps.load(Ordering::Relaxed),
            material: Some(Zeroizing::new(hex::encode(&kek.material[..]))),
            sealed: None,
        };
        Ok((
            name,
            Some(serde_json::to_vec(&record).map_err(|e| Error::Storage(e.into()))?),
        ))
    }
}

pub(crate) fn state_record(current: u32, min_decryption_version: u32) -> Result<Vec<u8>> {
    serde_json::to_vec(&StateRecord {
        current,
        min_decryption_version,
    })
    .map_err(|e| Error::Storage(e.into()))
}
