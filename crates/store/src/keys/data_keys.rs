//! Data keys of objects: the rule a write applies (resolved once), a fresh data
//! key for each write (from the master keyring, the KMS, or derived from a
//! bucket key), and the data key or payload keys of a stored object.

use std::sync::Arc;

use coffer_cipher::{DataKey, ObjectIdentity, PAYLOAD_PREFIX_LEN};
use coffer_keyring::{Caller, EncryptionContext, KeyState, Provider, WrapAlgorithm, WrappedKey};

use crate::format::columns::OBJECT_ID_LEN;
use crate::format::record::{BucketRecord, ObjectRecord};
use crate::keys::key_cache::{CachedKeys, KeySource};
use crate::keys::pins::Pin;
use crate::{EncryptionRule, Protection, ProtectionMode};
use crate::{Error, Result, Store};

/// A fresh data key for one object write, and how it is protected.
pub(crate) struct NewKey {
    pub(crate) data_key: Option<DataKey>,
    /// The wrapped-key record the object's record keeps (a bucket key
    /// reference for bucket-key objects).
    pub(crate) wrapped: Vec<u8>,
    pub(crate) protection: Protection,
    /// Keeps the master key version from being retired until the write ends.
    pub(crate) _pin: Option<Pin>,
}

/// An encryption rule with its CMK resolved: what a write applies, decided once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolvedRule {
    /// Stored unencrypted.
    None,
    /// Store-managed keys.
    Managed {
        /// Derive data keys from a bucket key.
        bucket_key: bool,
    },
    /// A CMK: the id or alias as the rule gave it (`None`: the default managed
    /// CMK), and the key id it resolved to.
    Kms {
        given: Option<String>,
        key_id: String,
        /// Derive data keys from a bucket key.
        bucket_key: bool,
    },
}

impl ResolvedRule {
    /// Whether data keys come from a bucket key.
    pub(crate) fn bucket_key(&self) -> bool {
        match self {
            Self::None => false,
            Self::Managed { bucket_key } | Self::Kms { bucket_key, .. } => *bucket_key,
        }
    }
}

/// How an object with no encryption is protected.
pub(crate) const UNPROTECTED: Protection = Protection {
    mode: ProtectionMode::None,
    kms_key_id: None,
    key_version: None,
    bucket_key: false,
};

impl Store {
    /// The identity a payload and its data key are bound to.
    pub(crate) fn identity(&self, bucket: &str, object_id: &[u8; OBJECT_ID_LEN]) -> ObjectIdentity {
        ObjectIdentity::new(&self.inner.store_id, bucket, object_id)
    }

    /// A named CMK, checked usable with the caller's `kms:DescribeKey`: its id.
    pub(crate) fn check_key_usable(&self, key_id: &str, caller: &Caller) -> Result<String> {
        let metadata = self.inner.kms.describe_key(key_id, caller)?;
        match metadata.state {
            KeyState::Enabled => Ok(metadata.key_id),
            KeyState::Disabled => Err(Error::KeyDisabled(metadata.key_id)),
            KeyState::PendingDeletion { .. } => Err(Error::KeyPendingDeletion(metadata.key_id)),
            KeyState::Destroyed => Err(Error::KeyDestroyed(metadata.key_id)),
            KeyState::PendingImport => Err(Error::KeyPendingImport(metadata.key_id)),
            _ => Err(Error::KeyNotFound(metadata.key_id)),
        }
    }

    /// The rule a write applies, decided once: the put's own rule or the
    /// bucket's default, with its CMK resolved to a key id (checked usable, with
    /// the caller's `kms:DescribeKey` unless it is the default managed CMK).
    /// Under a bucket-key rule a named CMK resolved within the bucket-key cache
    /// TTL is not asked of the KMS again; the caller's `kms:DescribeKey` still is
    /// checked.
    pub(crate) fn resolve_rule(
        &self,
        own: Option<&EncryptionRule>,
        bucket: &BucketRecord,
        caller: &Caller,
    ) -> Result<ResolvedRule> {
        match own.or(bucket.rule.as_ref()) {
            None => Ok(ResolvedRule::None),
            Some(EncryptionRule::Managed { bucket_key }) => Ok(ResolvedRule::Managed {
                bucket_key: *bucket_key,
            }),
            Some(EncryptionRule::Kms {
                key_id: None,
                bucket_key,
            }) => Ok(ResolvedRule::Kms {
                given: None,
                key_id: self.inner.kms.default_key_id(caller)?,
                bucket_key: *bucket_key,
            }),
            Some(EncryptionRule::Kms {
                key_id: Some(given),
                bucket_key,
            }) => {
                let key_id = if *bucket_key {
                    self.resolve_for_bucket_keys(given, caller)?
                } else {
                    self.check_key_usable(given, caller)?
                };
                Ok(ResolvedRule::Kms {
                    key_id,
                    given: Some(given.clone()),
                    bucket_key: *bucket_key,
                })
            }
        }
    }

    /// A data key for a new object write under `rule`.
    pub(crate) fn new_data_key(
        &self,
        bucket: &BucketRecord,
        key: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<NewKey> {
        if rule.bucket_key() {
            return self.new_bucket_key_data_key(bucket, object_id, rule, caller);
        }
        let context = EncryptionContext::from_identity(self.identity(&bucket.name, object_id))
            .with_object_key(key);
        let ((data_key, wrapped), mode, pin) = match rule {
            ResolvedRule::None => {
                return Ok(NewKey {
                    data_key: None,
                    wrapped: Vec::new(),
                    protection: UNPROTECTED,
                    _pin: None,
                });
            }
            ResolvedRule::Managed { .. } => {
                let (generated, pin) = self.master_data_key(&context)?;
                (generated, ProtectionMode::Aes256, Some(pin))
            }
            ResolvedRule::Kms { key_id, .. } => {
                let (generated, pin) = self.kms_data_key(key_id, &context, caller)?;
                (generated, ProtectionMode::Kms, Some(pin))
            }
        };
        Ok(NewKey {
            data_key: Some(data_key),
            protection: Protection {
                mode,
                kms_key_id: (mode == ProtectionMode::Kms).then(|| wrapped.key_id().to_owned()),
                key_version: Some(wrapped.key_version()),
                bucket_key: false,
            },
            wrapped: wrapped.encode(),
            _pin: pin,
        })
    }

    /// A fresh data key from the master keyring for `context`, with the master
    /// key version it is wrapped under pinned until the write ends.
    pub(crate) fn master_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<((DataKey, WrappedKey), Pin)> {
        let generated = self.inner.pins.wrap_and_pin("", || {
            let generated = self.inner.master.generate_data_key(context)?;
            let version = generated.1.key_version();
            Ok::<_, Error>((generated, String::new(), version))
        })?;
        let version = generated.0.1.key_version();
        if version
            > self
                .inner
                .master_audited
                .load(std::sync::atomic::Ordering::Acquire)
        {
            self.audit_automatic_rotation(version)?;
        }
        Ok(generated)
    }

    /// A fresh data key from the KMS under `key_id` (a key id, resolved
    /// already: the pins are by id) for `context`, with the CMK version it is
    /// wrapped under pinned until the write ends (so that
    /// `retire_unused_kms_versions` leaves it). No lock is held across the
    /// KMS call.
    pub(crate) fn kms_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<((DataKey, WrappedKey), Pin)> {
        self.inner.pins.wrap_and_pin(key_id, || {
            let generated = self.inner.kms.generate_data_key(key_id, context, caller)?;
            let (id, version) = (generated.1.key_id().to_owned(), generated.1.key_version());
            Ok::<_, Error>((generated, id, version))
        })
    }

    /// The data key of a stored object (`None` if it is unencrypted).
    pub(crate) fn data_key(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        caller: &Caller,
    ) -> Result<Option<DataKey>> {
        if record.mode == ProtectionMode::None {
            return Ok(None);
        }
        Ok(Some(self.unwrap_data_key(bucket, key, record, caller)?.0))
    }

    /// Unwraps an encrypted object's data key: by the master keyring, by the
    /// KMS with its checks for `caller`, or from its bucket key. Returns it
    /// with the version of the master key or CMK material it (or its bucket
    /// key) is wrapped under.
    pub(crate) fn unwrap_data_key(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        caller: &Caller,
    ) -> Result<(DataKey, u32)> {
        self.unwrap_wrapped_key(bucket, key, &record.object_id, &record.wrapped_key, caller)
    }

    /// Unwraps the wrapped-key record of the object `object_id` (or its
    /// multipart upload): see [`Store::unwrap_data_key`].
    pub(crate) fn unwrap_wrapped_key(
        &self,
        bucket: &str,
        key: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        wrapped_key: &[u8],
        caller: &Caller,
    ) -> Result<(DataKey, u32)> {
        let wrapped = WrappedKey::decode(wrapped_key)?;
        let context =
            EncryptionContext::from_identity(self.identity(bucket, object_id)).with_object_key(key);
        if wrapped.algorithm() == WrapAlgorithm::BucketKey {
            return self.bucket_key_data_key(bucket, &wrapped, &context, caller);
        }
        let data_key = match wrapped.provider() {
            Provider::MasterKeyring => self.inner.master.unwrap(&wrapped, &context)?,
            _ => self.inner.kms.decrypt(&wrapped, &context, caller)?,
        };
        Ok((data_key, wrapped.key_version()))
    }

    /// The payload keys of an object whose payload starts with `prefix` (none if
    /// it is unencrypted): from the cache for the trusted path and objects under
    /// the master keys, otherwise unwrapped (by the KMS, with its checks) and
    /// derived.
    pub(crate) fn payload_keys(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        prefix: &[u8],
        caller: &Caller,
    ) -> Result<Option<Arc<CachedKeys>>> {
        if record.mode == ProtectionMode::None {
            return Ok(None);
        }
        let prefix = prefix.get(..PAYLOAD_PREFIX_LEN).unwrap_or(prefix);
        let cacheable = record.mode == ProtectionMode::Aes256 && matches!(caller, Caller::Trusted);
        if cacheable
            && let Some(found) =
                self.inner
                    .payload_keys
                    .get(&record.object_id, bucket, &record.wrapped_key, prefix)
            && found.master_version >= self.inner.master.min_decryption_version()
        {
            return Ok(Some(found));
        }
        let (data_key, version) = self.unwrap_data_key(bucket, key, record, caller)?;
        let identity = self.identity(bucket, &record.object_id);
        let keys = Arc::new(CachedKeys {
            keys: self
                .inner
                .cipher
                .payload_keys(&data_key, &identity, prefix)?,
            master_version: version,
        });
        if cacheable {
            let source = KeySource {
                bucket: bucket.to_owned(),
                wrapped_key: record.wrapped_key.clone(),
                prefix: prefix.to_vec(),
            };
            self.inner
                .payload_keys
                .insert(record.object_id, source, Arc::clone(&keys));
        }
        Ok(Some(keys))
    }

    /// How a stored object is protected, as get and head report it: for a
    /// bucket-key object, the version its bucket key is wrapped under now.
    pub(crate) fn protection_of(&self, bucket: &str, record: &ObjectRecord) -> Result<Protection> {
        if record.mode == ProtectionMode::None {
            return Ok(UNPROTECTED);
        }
        let (key_version, bucket_key) = match WrappedKey::peek_algorithm(&record.wrapped_key) {
            Some(WrapAlgorithm::BucketKey) => {
                let reference = WrappedKey::decode(&record.wrapped_key)?;
                (self.bucket_key_version(bucket, &reference)?, true)
            }
            _ => (record.key_version, false),
        };
        Ok(Protection {
            mode: record.mode,
            kms_key_id: (record.mode == ProtectionMode::Kms).then(|| record.key_id.clone()),
            key_version: Some(key_version),
            bucket_key,
        })
    }
}
