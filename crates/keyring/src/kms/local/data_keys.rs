//! Data keys: generating them under a key's current material, unwrapping them,
//! and rewrapping them under the current material.

use super::LocalKms;
use super::state::usable;
use crate::{DataKey, EncryptionContext, Error, Provider, Result, WrapAlgorithm, WrappedKey};

impl LocalKms {
    /// A fresh data key under the key's current material (settled first).
    pub(super) fn generate(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey)> {
        let id = self.resolve(key_id)?;
        self.settle(&id)?;
        let data_key = DataKey::generate()?;
        let wrapped = self.wrap_under_current(&id, &data_key, context)?;
        Ok((data_key, wrapped))
    }

    /// Unwraps a data key wrapped by this KMS, if its key is usable.
    pub(super) fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        if wrapped.provider() != Provider::Kms
            || wrapped.algorithm() != WrapAlgorithm::HkdfSha256Aes256Gcm
        {
            return Err(wrapped.not_sealed_by("the local KMS"));
        }
        let id = wrapped.key_id();
        if !self.keys.read().entries.contains_key(id) {
            return Err(Error::KeyNotFound(id.to_owned()));
        }
        self.settle(id)?;
        self.with_material(id, Some(wrapped.key_version()), |material, _| {
            wrapped.open(material, context)
        })
    }

    /// The same data key under the key's current material; `None` if current.
    pub(super) fn rewrap_to_current(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Option<WrappedKey>> {
        let id = wrapped.key_id();
        self.settle(id)?;
        let current = self.describe(id)?.current_version;
        if wrapped.key_version() == current {
            return Ok(None);
        }
        let data_key = self.unwrap(wrapped, context)?;
        self.wrap_under_current(id, &data_key, context).map(Some)
    }

    /// Wraps `data_key` under the key's current material, if the key is usable.
    fn wrap_under_current(
        &self,
        id: &str,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey> {
        self.with_material(id, None, |material, version| {
            WrappedKey::seal(material, Provider::Kms, id, version, data_key, context)
        })
    }

    /// Runs `use_material` with material `version` (`None`: the current one)
    /// of a usable key, and its version; a version below the key's minimum
    /// decryption version is [`Error::UnknownKeyVersion`].
    fn with_material<T>(
        &self,
        id: &str,
        version: Option<u32>,
        use_material: impl FnOnce(&[u8; 32], u32) -> Result<T>,
    ) -> Result<T> {
        let keys = self.keys.read();
        let entry = keys
            .entries
            .get(id)
            .ok_or_else(|| Error::KeyNotFound(id.to_owned()))?;
        usable(&entry.record)?;
        let version = version.unwrap_or(entry.record.current_version);
        if entry
            .record
            .min_decryption_version
            .is_some_and(|floor| version < floor)
        {
            return Err(Error::UnknownKeyVersion {
                key_id: id.to_owned(),
                version,
            });
        }
        let material = entry
            .materials
            .get(&version)
            .ok_or_else(|| Error::UnknownKeyVersion {
                key_id: id.to_owned(),
                version,
            })?;
        use_material(material, version)
    }
}
