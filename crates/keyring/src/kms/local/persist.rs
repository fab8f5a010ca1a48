//! The local KMS's records in the [`KeyStore`] and how they change.
//!
//! A key is one JSON record `kms/key/<id>` holding its metadata and every
//! material version sealed under the root key (label
//! `kms/key/<id>/material/<version>`); an alias is a record `kms/alias/<alias>`
//! whose value is the key id. Field names are the persisted format: renaming one
//! makes existing stores unreadable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::state::StoredState;
use super::{Entry, Keys, LocalKms};
use crate::clock::to_millis;
use crate::root_key::RecordSealer;
use crate::{DataKey, Error, KeyStore, Result};

/// One sealed material version of a key.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct MaterialRecord {
    pub(super) version: u32,
    pub(super) created_at_ms: u64,
    /// Hex of the material sealed under the root key.
    pub(super) sealed: String,
}

/// A key as persisted. Holds no key material in the clear.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct KeyRecord {
    pub(super) id: String,
    pub(super) description: String,
    pub(super) external: bool,
    pub(super) managed: bool,
    pub(super) state: StoredState,
    pub(super) created_at_ms: u64,
    pub(super) rotation_period_s: Option<u64>,
    pub(super) last_rotated_ms: Option<u64>,
    pub(super) current_version: u32,
    pub(super) materials: Vec<MaterialRecord>,
    /// HMAC of imported material under a root-derived key: re-imports must match.
    pub(super) fingerprint: Option<String>,
}

pub(super) fn key_name(id: &str) -> String {
    format!("kms/key/{id}")
}

pub(super) fn alias_name(alias: &str) -> String {
    format!("kms/alias/{alias}")
}

fn material_label(id: &str, version: u32) -> String {
    format!("kms/key/{id}/material/{version}")
}

pub(super) fn storage(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Storage(Box::new(error))
}

/// Reads every key (opening its material) and alias. A material that does not
/// open is [`Error::WrongRootKey`].
pub(super) fn load(store: &dyn KeyStore, sealer: &RecordSealer) -> Result<Keys> {
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
    Ok(keys)
}

impl LocalKms {
    /// Runs `change` on a key under the write lock, then persists the record; if
    /// persisting fails the in-memory key is restored.
    pub(super) fn mutate<T>(
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores written before must keep opening: the field names and the shape
    /// of the state are the format.
    #[test]
    fn key_records_keep_their_json_field_names() {
        let written = r#"{"id":"k","description":"d","external":true,"managed":false,"state":{"PendingDeletion":{"delete_at_ms":5}},"created_at_ms":1,"rotation_period_s":null,"last_rotated_ms":2,"current_version":1,"materials":[{"version":1,"created_at_ms":2,"sealed":"00"}],"fingerprint":"ab"}"#;
        let record: KeyRecord = serde_json::from_str(written).expect("parses");
        assert_eq!(serde_json::to_string(&record).expect("serializes"), written);
        for state in ["Enabled", "Disabled", "PendingImport", "Destroyed"] {
            let json = format!("\"{state}\"");
            let parsed: StoredState = serde_json::from_str(&json).expect("parses");
            assert_eq!(serde_json::to_string(&parsed).expect("serializes"), json);
        }
    }
}
