//! Creating, describing and listing keys (the store's default managed key
//! among them), and aliases.

use std::collections::BTreeMap;

use ring::rand::{SecureRandom, SystemRandom};

use super::persist::{KeyRecord, alias_name, key_name, storage};
use super::state::{StoredState, check_rotation_period};
use super::{Entry, LocalKms};
use crate::clock::to_millis;
use crate::{Caller, CreateKeyOptions, DEFAULT_MANAGED_ALIAS, Error, KeyMetadata, Result};

impl LocalKms {
    /// `default_key_id`: the managed key, created on first use.
    ///
    /// The creation is done for the store, so it is not checked against the
    /// caller's policies, but it is one `kms:CreateKey` event naming the new key
    /// and the caller whose use created it. Exactly one: callers that race the
    /// first use wait for the creation and record nothing, as every later
    /// lookup does.
    pub(super) fn default_key(&self, caller: &Caller) -> Result<String> {
        if let Ok(id) = self.resolve(DEFAULT_MANAGED_ALIAS) {
            return Ok(id);
        }
        let _creating = self.creating_default.lock();
        if let Ok(id) = self.resolve(DEFAULT_MANAGED_ALIAS) {
            return Ok(id);
        }
        let options = CreateKeyOptions {
            description: "default managed key of the store (alias/acs/oss)".into(),
            ..CreateKeyOptions::default()
        };
        let created = self
            .create(options, true, Some(DEFAULT_MANAGED_ALIAS))
            .map(|metadata| metadata.key_id);
        self.record(
            caller,
            "kms:CreateKey",
            created.as_deref().ok(),
            None,
            &created,
        );
        created
    }

    /// `kms:CreateKey`, checked on the account.
    pub(super) fn create_for(
        &self,
        options: CreateKeyOptions,
        caller: &Caller,
    ) -> Result<KeyMetadata> {
        self.audited(caller, "kms:CreateKey", None, None, || {
            caller.authorize("kms:CreateKey", &self.account_resource())?;
            self.create(options, false, None)
        })
    }

    /// `kms:DescribeKey`.
    pub(super) fn describe(&self, key_id: &str, caller: &Caller) -> Result<KeyMetadata> {
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

    /// `kms:ListKeys`, checked on the account; settles every key first.
    pub(super) fn list(&self, caller: &Caller) -> Result<Vec<KeyMetadata>> {
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

    /// `kms:ListAliases`, checked on the account.
    pub(super) fn aliases(&self, caller: &Caller) -> Result<Vec<(String, String)>> {
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

    /// `kms:CreateAlias`, checked on the key the alias points at.
    pub(super) fn add_alias(&self, alias: &str, key_id: &str, caller: &Caller) -> Result<()> {
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

    /// `kms:DeleteAlias`, checked on the key the alias points at.
    pub(super) fn remove_alias(&self, alias: &str, caller: &Caller) -> Result<()> {
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

    /// Creates and persists a key (and its alias, in the same write).
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
