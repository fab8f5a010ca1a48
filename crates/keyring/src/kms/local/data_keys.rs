//! Data keys: generating them under a key's current material, unwrapping them,
//! and rewrapping them under the current material.

use super::LocalKms;
use super::state::usable;
use crate::{Caller, DataKey, EncryptionContext, Error, Kms, Provider, Result, WrappedKey};

impl LocalKms {
    /// `kms:GenerateDataKey`.
    pub(super) fn generate(
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

    /// `kms:Decrypt`.
    pub(super) fn unwrap(
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

    /// `rewrap`: three audited calls, `kms:DescribeKey` (is the wrapped key
    /// current?), then `kms:Decrypt` and `kms:GenerateDataKey`.
    pub(super) fn rewrap_to_current(
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
}
