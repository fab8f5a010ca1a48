//! The local KMS's records in the [`KeyStore`] and how they change.
//!
//! A key is one JSON record `kms/key/<id>` holding its metadata and every
//! material version (hex); an alias is a record `kms/alias/<alias>` whose value
//! is the key id. Every record is sealed whole under the root key by the
//! [`crate::SealedKeyStore`] the KMS writes through. Field names are the
//! persisted format: renaming one makes existing stores unreadable.
//!
//! Layout 1 kept each material sealed on its own inside the (then unsealed)
//! record, in a `sealed` field (label `kms/key/<id>/material/<version>`); such
//! records are rewritten with the material inside on open.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::state::StoredState;
use super::{Entry, Keys, LocalKms};
use crate::clock::to_millis;
use crate::root_key::RecordSealer;
use crate::{DataKey, Error, KeyStore, Result};

/// One material version of a key.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct MaterialRecord {
    pub(crate) version: u32,
    pub(crate) created_at_ms: u64,
    /// The material, hex (layout 2; the record is sealed whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) material: Option<Zeroizing<String>>,
    /// Hex of the material sealed on its own under the root key (layout 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sealed: Option<String>,
}

/// A key as persisted (sealed whole by the store it is written through).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) external: bool,
    pub(crate) managed: bool,
    pub(crate) state: StoredState,
    pub(crate) created_at_ms: u64,
    pub(crate) rotation_period_s: Option<u64>,
    pub(crate) last_rotated_ms: Option<u64>,
    pub(crate) current_version: u32,
    pub(crate) materials: Vec<MaterialRecord>,
    /// HMAC of imported material: re-imports must match. `v2:<hex>` under a key
    /// derived from the store secret; plain hex (layout 1) under a key derived
    /// from the root key.
    pub(crate) fingerprint: Option<String>,
    /// Material versions below this one refuse to decrypt (absent: none do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) min_decryption_version: Option<u32>,
}

pub(crate) fn key_name(id: &str) -> String {
    format!("kms/key/{id}")
}

pub(crate) fn alias_name(alias: &str) -> String {
    format!("kms/alias/{alias}")
}

fn material_label(id: &str, version: u32) -> String {
    format!("kms/key/{id}/material/{version}")
}

pub(super) fn storage(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Storage(Box::new(error))
}

/// Reads every key and alias. Returns the ids of keys whose records are in
/// layout 1 (material sealed on its own, opened with `legacy`), to be rewritten.
/// Without `legacy` (a reload), such a record is [`Error::Integrity`].
/// A layout-1 material that does not open is [`Error::WrongRootKey`].
pub(super) fn load(
    store: &dyn KeyStore,
    legacy: Option<&RecordSealer>,
) -> Result<(Keys, Vec<String>)> {
    let mut keys = Keys::default();
    let mut legacy_ids = Vec::new();
    for (_, value) in store.scan("kms/key/")? {
        let (entry, converted) = decode_entry(&value, legacy)?;
        if converted
            || entry
                .record
                .fingerprint
                .as_ref()
                .is_some_and(|f| !f.starts_with("v2:"))
        {
            legacy_ids.push(entry.record.id.clone());
        }
        keys.entries.insert(entry.record.id.clone(), entry);
    }
    for (name, value) in store.scan("kms/alias/")? {
        let alias = name.trim_start_matches("kms/alias/").to_owned();
        keys.aliases
            .insert(alias, String::from_utf8(value).map_err(storage)?);
    }
    Ok((keys, legacy_ids))
}

/// A key in memory from its record's bytes, and whether they were in layout
/// 1 (a material sealed on its own, opened with `legacy`; without it, such a
/// record is [`Error::Integrity`]: only opening a store converts them).
fn decode_entry(value: &[u8], legacy: Option<&RecordSealer>) -> Result<(Entry, bool)> {
    let value = Zeroizing::new(value.to_vec());
    let mut record: KeyRecord = serde_json::from_slice(&value).map_err(storage)?;
    let mut materials = BTreeMap::new();
    let mut converted = false;
    for material in &mut record.materials {
        let key = match (&material.material, &material.sealed, legacy) {
            (Some(hex), _, _) => crate::sealed_store::material_from_hex(hex, "a CMK record")?,
            (None, Some(sealed), Some(legacy)) => {
                converted = true;
                let sealed = hex::decode(sealed).map_err(storage)?;
                legacy
                    .open_key(&material_label(&record.id, material.version), &sealed)
                    .map_err(|_| Error::WrongRootKey)?
            }
            (None, Some(_), None) => {
                return Err(Error::Integrity(
                    "a CMK record in layout 1 written since the store was opened",
                ));
            }
            (None, None, _) => return Err(Error::Integrity("a CMK record has no material")),
        };
        material.material = Some(Zeroizing::new(hex::encode(&key[..])));
        material.sealed = None;
        materials.insert(material.version, key);
    }
    Ok((Entry { record, materials }, converted))
}

/// A key record's bytes.
pub(crate) fn encode(record: &KeyRecord) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(storage)
}

impl LocalKms {
    /// Runs `change` on a key under the write lock, then persists the record; if
    /// persisting fails the in-memory key is restored.
    ///
    /// The change starts from the record in the store: where that is not the
    /// one in memory (another handle sharing the store changed the key:
    /// rotated it, disabled it, cancelled its deletion), the key is read again
    /// first, so that a change made from a stale copy never writes over
    /// another's (two handles rotating one key would otherwise both create
    /// version n + 1, with different material).
    pub(super) fn mutate<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Entry, &Self) -> Result<T>,
    ) -> Result<T> {
        let mut keys = self.keys.write();
        let stored = self.store.get(&key_name(id))?.map(Zeroizing::new);
        if let Some(stored) = &stored
            && !keys.entries.contains_key(id)
        {
            let (fresh, _) = decode_entry(stored, None)?;
            keys.entries.insert(id.to_owned(), fresh);
        }
        let entry = keys
            .entries
            .get_mut(id)
            .ok_or_else(|| Error::KeyNotFound(id.to_owned()))?;
        if let Some(stored) = &stored
            && **stored != *Zeroizing::new(encode(&entry.record)?)
        {
            *entry = decode_entry(stored, None)?.0;
        }
        let before = (entry.record.clone(), entry.materials.clone());
        let result = change(entry, self);
        if result.is_ok() {
            let value = encode(&entry.record)?;
            if let Err(error) = self.store.apply(vec![(key_name(id), Some(value))]) {
                (entry.record, entry.materials) = before;
                return Err(error);
            }
        } else {
            (entry.record, entry.materials) = before;
        }
        result
    }

    /// Reads every key and alias again from the store: what other handles
    /// sharing it created or changed since this one read it.
    pub fn reload(&self) -> Result<()> {
        let mut keys = self.keys.write();
        let (fresh, _) = load(self.store.as_ref(), None)?;
        *keys = fresh;
        Ok(())
    }

    /// Adds a new material version (random, or the given imported material).
    pub(super) fn add_material(
        &self,
        entry: &mut Entry,
        material: Option<Zeroizing<[u8; 32]>>,
    ) -> Result<()> {
        let material = match material {
            Some(m) => m,
            None => Zeroizing::new(*DataKey::generate()?.expose_secret()),
        };
        let version = entry.record.current_version + 1;
        let now = self.now();
        entry.record.materials.push(MaterialRecord {
            version,
            created_at_ms: to_millis(now),
            material: Some(Zeroizing::new(hex::encode(&material[..]))),
            sealed: None,
        });
        entry.record.current_version = version;
        entry.record.last_rotated_ms = Some(to_millis(now));
        entry.materials.insert(version, material);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores written before must keep opening: the field names and the shape
    /// of the state are the format.
    #[test]
    fn key_records_keep_their_json_field_names() {
        for written in [
            r#"{"id":"k","description":"d","external":true,"managed":false,"state":{"PendingDeletion":{"delete_at_ms":5}},"created_at_ms":1,"rotation_period_s":null,"last_rotated_ms":2,"current_version":1,"materials":[{"version":1,"created_at_ms":2,"sealed":"00"}],"fingerprint":"ab"}"#,
            r#"{"id":"k","description":"d","external":true,"managed":false,"state":"Enabled","created_at_ms":1,"rotation_period_s":null,"last_rotated_ms":2,"current_version":1,"materials":[{"version":1,"created_at_ms":2,"material":"00"}],"fingerprint":"v2:ab"}"#,
        ] {
            let record: KeyRecord = serde_json::from_str(written).expect("parses");
            assert_eq!(serde_json::to_string(&record).expect("serializes"), written);
        }
        for state in ["Enabled", "Disabled", "PendingImport", "Destroyed"] {
            let json = format!("\"{state}\"");
            let parsed: StoredState = serde_json::from_str(&json).expect("parses");
            assert_eq!(serde_json::to_string(&parsed).expect("serializes"), json);
        }
    }
}
