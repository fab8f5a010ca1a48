//! Creating, describing and listing keys (the store's default managed key
//! among them), and aliases.

use std::collections::BTreeMap;

use ring::rand::{SecureRandom, SystemRandom};

use super::persist::{KeyRecord, alias_name, key_name, storage};
use super::state::StoredState;
use super::{BACKEND, Entry, LocalKms};
use crate::clock::to_millis;
use crate::kms::{DefaultKey, unsupported};
use crate::{CreateKeyOptions, DEFAULT_MANAGED_ALIAS, Error, KeyMetadata, Result};

impl LocalKms {
    /// The managed key, created on first use: exactly one creation, however
    /// many callers race the first use (they wait for it, and learn that they
    /// did not create it).
    pub(super) fn default_key_created(&self) -> Result<DefaultKey> {
        if let Ok(key_id) = self.resolve(DEFAULT_MANAGED_ALIAS) {
            return Ok(DefaultKey {
                key_id,
                created: false,
            });
        }
        let _creating = self.creating_default.lock();
        // Another handle sharing the store may have created it: read again.
        if self
            .store
            .get(&alias_name(DEFAULT_MANAGED_ALIAS))?
            .is_some()
        {
            self.reload()?;
        }
        if let Ok(key_id) = self.resolve(DEFAULT_MANAGED_ALIAS) {
            return Ok(DefaultKey {
                key_id,
                created: false,
            });
        }
        let options = CreateKeyOptions::new()
            .with_description("default managed key of the store (alias/acs/oss)");
        let created = self.create(options, true, Some(DEFAULT_MANAGED_ALIAS))?;
        Ok(DefaultKey {
            key_id: created.key_id,
            created: true,
        })
    }

    /// Creates a customer key.
    pub(super) fn create_for(&self, options: CreateKeyOptions) -> Result<KeyMetadata> {
        if options.name.is_some() {
            return Err(Error::InvalidArgument(
                "the local KMS chooses key ids itself; give a description or an alias instead of a name".into(),
            ));
        }
        self.create(options, false, None)
    }

    /// A key by id or alias, settled first.
    pub(super) fn describe(&self, key_id: &str) -> Result<KeyMetadata> {
        let id = self.resolve(key_id)?;
        self.settle(&id)?;
        let keys = self.keys.read();
        let entry = keys
            .entries
            .get(&id)
            .ok_or_else(|| Error::KeyNotFound(id.clone()))?;
        Ok(self.metadata(entry))
    }

    /// Every key, each settled first.
    pub(super) fn list(&self) -> Result<Vec<KeyMetadata>> {
        self.run_due_maintenance()?;
        Ok(self
            .keys
            .read()
            .entries
            .values()
            .map(|e| self.metadata(e))
            .collect())
    }

    /// Every alias with its key id.
    pub(super) fn aliases(&self) -> Vec<(String, String)> {
        self.keys
            .read()
            .aliases
            .iter()
            .map(|(a, k)| (a.clone(), k.clone()))
            .collect()
    }

    /// Points a new alias at a key.
    pub(super) fn add_alias(&self, alias: &str, key_id: &str) -> Result<()> {
        validate_alias(alias)?;
        let id = self.resolve(key_id)?;
        let mut keys = self.keys.write();
        if self.alias_taken(&keys, alias)? {
            return Err(Error::InvalidArgument(format!("alias {alias} exists")));
        }
        self.store
            .apply(vec![(alias_name(alias), Some(id.clone().into_bytes()))])?;
        keys.aliases.insert(alias.to_owned(), id);
        Ok(())
    }

    /// Removes an alias.
    pub(super) fn remove_alias(&self, alias: &str) -> Result<()> {
        validate_alias(alias)?;
        self.resolve(alias)?;
        let mut keys = self.keys.write();
        self.store.apply(vec![(alias_name(alias), None)])?;
        keys.aliases.remove(alias);
        Ok(())
    }

    /// Whether `alias` points at a key, here or in the store (where another
    /// handle sharing it may have added it since this one read it).
    fn alias_taken(&self, keys: &super::Keys, alias: &str) -> Result<bool> {
        Ok(keys.aliases.contains_key(alias) || self.store.get(&alias_name(alias))?.is_some())
    }

    /// Creates and persists a key (and its alias, in the same write).
    fn create(
        &self,
        options: CreateKeyOptions,
        managed: bool,
        alias: Option<&str>,
    ) -> Result<KeyMetadata> {
        if options.rotation_period.is_some() && options.external {
            return Err(unsupported(
                BACKEND,
                "automatic rotation of imported key material",
            ));
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
                min_decryption_version: None,
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
            if self.alias_taken(&keys, alias)? {
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
}

/// A random (version 4) UUID.
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
