//! [`Keys`]: the rule a write applies (resolved once), a fresh data key for
//! each write (from the master keyring, the KMS, or derived from a bucket
//! key), and the data key or payload keys of a stored object, with the
//! protection get and head report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use coffer_cipher::{DataKey, ObjectIdentity, PAYLOAD_PREFIX_LEN, PayloadCipher};
use coffer_keyring::{
    AuditEvent, AuditOutcome, AuditSink, Caller, Clock, EncryptionContext, KeyState, Kms,
    KmsBackend, KmsOptions, LocalKms, MasterKeyring, Provider, WrapAlgorithm, WrappedKey,
};
use parking_lot::Mutex;

use crate::keys::bucket_keys::BucketKeys;
use crate::keys::payload_key_cache::{CachedKeys, KeySource, PayloadKeyCache};
use crate::keys::pins::{Pin, VersionPins};
use crate::keys::{BucketKeyOptions, BucketRef, KeyRecords, OBJECT_ID_LEN, RecordKey};
use crate::{EncryptionRule, Error, Protection, ProtectionMode, Result};

/// The key id of the store's master keyring in audit events.
pub const MASTER_KEY_ID: &str = "master";

/// A fresh data key for one object write, and how it is protected.
pub struct NewKey {
    /// The data key (`None` for an unencrypted object).
    pub data_key: Option<DataKey>,
    /// The wrapped-key record the object's record keeps (a bucket key
    /// reference for bucket-key objects).
    pub wrapped: Vec<u8>,
    /// How the object is protected.
    pub protection: Protection,
    /// Keeps the master key or CMK version from being retired until the
    /// write ends.
    pub pin: Option<Pin>,
}

/// An encryption rule with its CMK resolved: what a write applies, decided once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedRule {
    /// Stored unencrypted.
    None,
    /// Store-managed keys.
    Managed {
        /// Derive data keys from a bucket key.
        bucket_key: bool,
    },
    /// A CMK.
    Kms {
        /// The id or alias as the rule gave it (`None`: the default managed CMK).
        given: Option<String>,
        /// The key id it resolved to.
        key_id: String,
        /// Derive data keys from a bucket key.
        bucket_key: bool,
    },
}

impl ResolvedRule {
    /// Whether data keys come from a bucket key.
    pub fn bucket_key(&self) -> bool {
        match self {
            Self::None => false,
            Self::Managed { bucket_key } | Self::Kms { bucket_key, .. } => *bucket_key,
        }
    }
}

/// What a stored object's record says of its key: enough to report its
/// protection and to unwrap it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredKey<'a> {
    /// How the object is protected.
    pub mode: ProtectionMode,
    /// The object's id, which its data key is bound to.
    pub object_id: &'a [u8; OBJECT_ID_LEN],
    /// The CMK's id (KMS objects), as the record names it.
    pub key_id: &'a str,
    /// The master key or CMK version the record was written under.
    pub key_version: u32,
    /// The wrapped-key record (a bucket key reference for bucket-key objects).
    pub wrapped_key: &'a [u8],
}

/// How an object with no encryption is protected.
pub const UNPROTECTED: Protection = Protection {
    mode: ProtectionMode::None,
    kms_key_id: None,
    key_version: None,
    bucket_key: false,
};

/// What [`Keys::new`] is made of: the engine opens the keyring and the KMS
/// backend (they persist through the engine), the rest is options.
pub struct KeysConfig {
    /// The store's id: part of every object's identity.
    pub store_id: [u8; 16],
    /// The store-managed master keyring.
    pub master: MasterKeyring,
    /// The KMS backend CMKs live in.
    pub kms_backend: Arc<dyn KmsBackend>,
    /// The built-in local KMS, if that is the backend.
    pub local_kms: Option<Arc<LocalKms>>,
    /// The KMS layer's options (account, clock, fail-fast); the audit sink
    /// and the revocation hook are set by [`Keys::new`].
    pub kms_options: KmsOptions,
    /// Where key events are recorded: the KMS layer's calls and the master
    /// keyring's rotations.
    pub audit: Arc<dyn AuditSink>,
    /// 32 bytes derived from the store's secret for [`RECORD_KEY_PURPOSE`](crate::keys::RECORD_KEY_PURPOSE).
    pub record_key: zeroize::Zeroizing<[u8; 32]>,
    /// Bucket keys' bounds and cache.
    pub bucket_keys: BucketKeyOptions,
    /// How many objects' payload keys are kept (`0`: none).
    pub payload_key_cache: usize,
    /// Threads of the payload cipher.
    pub cipher_threads: usize,
    /// The clock bucket keys and audit events read.
    pub clock: Arc<dyn Clock>,
}

/// The keys of one store: see the module documentation.
pub struct Keys {
    store_id: [u8; 16],
    master: MasterKeyring,
    kms: Kms,
    local_kms: Option<Arc<LocalKms>>,
    cipher: PayloadCipher,
    records: RecordKey,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    /// Payload keys of recently read objects under the master keys.
    payload_keys: PayloadKeyCache,
    pub(crate) bucket_keys: Arc<BucketKeys>,
    /// Master key and CMK versions that writes in flight wrapped under.
    pins: VersionPins,
    /// The newest master key version whose rotation the audit log has.
    master_audited: AtomicU32,
    /// Serializes recording master key rotations.
    rotation_audit: Mutex<()>,
}

impl Keys {
    /// The keys of a store, from what the engine opened.
    pub fn new(config: KeysConfig) -> Self {
        let bucket_keys = Arc::new(BucketKeys::new(config.bucket_keys));
        let forget = Arc::clone(&bucket_keys);
        let kms = Kms::new(
            config.kms_backend,
            config
                .kms_options
                .with_audit(Arc::clone(&config.audit))
                // A CMK the layer disables or deletes takes its bucket keys
                // with it at once, not after their cache TTL.
                .with_revoked(Arc::new(move |key_id| forget.forget_cmk(key_id))),
        );
        let master_audited = AtomicU32::new(config.master.current_version());
        Self {
            store_id: config.store_id,
            master: config.master,
            kms,
            local_kms: config.local_kms,
            cipher: PayloadCipher::new(config.cipher_threads),
            records: RecordKey::new(&config.record_key),
            audit: config.audit,
            clock: config.clock,
            payload_keys: PayloadKeyCache::new(config.payload_key_cache),
            bucket_keys,
            pins: VersionPins::default(),
            master_audited,
            rotation_audit: Mutex::new(()),
        }
    }

    /// The store's id.
    pub fn store_id(&self) -> &[u8; 16] {
        &self.store_id
    }

    /// The master keyring.
    pub fn master(&self) -> &MasterKeyring {
        &self.master
    }

    /// The KMS, behind its policy checks and audit.
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    /// The built-in local KMS, unless an external one is the backend.
    pub fn local_kms(&self) -> Option<&Arc<LocalKms>> {
        self.local_kms.as_ref()
    }

    /// The payload cipher (C2SP chunked AES-256-GCM).
    pub fn cipher(&self) -> &PayloadCipher {
        &self.cipher
    }

    /// The key records are tagged under.
    pub fn record_key(&self) -> &RecordKey {
        &self.records
    }

    /// Where key events are recorded (and an engine without a log of its
    /// own records its denials).
    pub fn audit(&self) -> &Arc<dyn AuditSink> {
        &self.audit
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The versions writes in flight pinned.
    pub fn pins(&self) -> &VersionPins {
        &self.pins
    }

    /// Forgets every payload key kept (after a retirement).
    pub fn forget_payload_keys(&self) {
        self.payload_keys.clear();
    }

    /// The identity a payload and its data key are bound to.
    pub fn identity(&self, bucket: &str, object_id: &[u8; OBJECT_ID_LEN]) -> ObjectIdentity {
        ObjectIdentity::new(&self.store_id, bucket, object_id)
    }

    /// Rotates the master key now, recorded as `coffer:RotateMasterKey`;
    /// returns the new version.
    pub fn rotate_master_key(&self) -> Result<u32> {
        let _recording = self.rotation_audit.lock();
        let result = self.master.rotate_now().map_err(Error::from);
        self.audit_master("coffer:RotateMasterKey", &result)?;
        if let Ok(version) = result {
            self.master_audited.fetch_max(version, Ordering::AcqRel);
        }
        result
    }

    /// Takes the master keyring's current version as recorded: an engine
    /// calls it once open (and migrated), so that only rotations from then on
    /// are recorded as they are found.
    pub fn rotations_recorded_to_current(&self) {
        self.master_audited
            .store(self.master.current_version(), Ordering::Release);
    }

    /// Records a rotation the rotation policy made while wrapping (the first
    /// wrap under a version newer than any recorded), before the write that
    /// found it goes on: a rotation is never unaudited.
    fn audit_automatic_rotation(&self, version: u32) -> Result<()> {
        let _recording = self.rotation_audit.lock();
        if version <= self.master_audited.load(Ordering::Acquire) {
            return Ok(());
        }
        self.audit_master("coffer:RotateMasterKeyAutomatically", &Ok(version))?;
        self.master_audited.fetch_max(version, Ordering::AcqRel);
        Ok(())
    }

    /// Records an administration of the master keyring that ended with
    /// `result` (a version on success); [`Error::AuditFailed`] if it cannot,
    /// and then the administration must fail.
    pub fn audit_master(&self, action: &str, result: &Result<u32>) -> Result<()> {
        let (key_version, outcome) = match result {
            Ok(version) => (Some(*version), AuditOutcome::Allowed),
            Err(error) => (None, AuditOutcome::Failed(error.to_string())),
        };
        let event = AuditEvent {
            time: self.clock.now(),
            caller: Caller::Trusted.name().to_owned(),
            source: "store".to_owned(),
            action: action.to_owned(),
            resource: None,
            key_id: Some(MASTER_KEY_ID.to_owned()),
            key_version,
            bucket: None,
            object_key: None,
            context: None,
            detail: None,
            outcome,
        };
        self.audit
            .record(&event)
            .map_err(|error| Error::AuditFailed {
                action: event.action,
                reason: error.0,
            })
    }

    /// A named CMK, checked usable with the caller's `kms:DescribeKey`: its id.
    pub fn check_key_usable(&self, key_id: &str, caller: &Caller) -> Result<String> {
        let metadata = self.kms.describe_key(key_id, caller)?;
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
    pub fn resolve_rule(
        &self,
        own: Option<&EncryptionRule>,
        bucket_default: Option<&EncryptionRule>,
        caller: &Caller,
    ) -> Result<ResolvedRule> {
        match own.or(bucket_default) {
            None => Ok(ResolvedRule::None),
            Some(EncryptionRule::Managed { bucket_key }) => Ok(ResolvedRule::Managed {
                bucket_key: *bucket_key,
            }),
            Some(EncryptionRule::Kms {
                key_id: None,
                bucket_key,
            }) => Ok(ResolvedRule::Kms {
                given: None,
                key_id: self.kms.default_key_id(caller)?,
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

    /// A data key for a new write of bucket/key under `rule`, bound to
    /// `object_id` (an object's, or a multipart upload's).
    pub fn new_data_key(
        &self,
        records: &dyn KeyRecords,
        bucket: BucketRef<'_>,
        key: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<NewKey> {
        if rule.bucket_key() {
            return self.new_bucket_key_data_key(records, bucket, object_id, rule, caller);
        }
        let context = EncryptionContext::from_identity(self.identity(bucket.name, object_id))
            .with_object_key(key);
        let ((data_key, wrapped), mode, pin) = match rule {
            ResolvedRule::None => {
                return Ok(NewKey {
                    data_key: None,
                    wrapped: Vec::new(),
                    protection: UNPROTECTED,
                    pin: None,
                });
            }
            ResolvedRule::Managed { .. } => {
                let (generated, pin) = self.master_data_key(&context)?;
                (generated, ProtectionMode::Aes256, pin)
            }
            ResolvedRule::Kms { key_id, .. } => {
                let (generated, pin) = self.kms_data_key(key_id, &context, caller)?;
                (generated, ProtectionMode::Kms, pin)
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
            pin: Some(pin),
        })
    }

    /// A fresh data key from the master keyring for `context`, with the master
    /// key version it is wrapped under pinned until the write ends.
    pub(crate) fn master_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<((DataKey, WrappedKey), Pin)> {
        let generated = self.pins.wrap_and_pin("", || {
            let generated = self.master.generate_data_key(context)?;
            let version = generated.1.key_version();
            Ok::<_, Error>((generated, String::new(), version))
        })?;
        let version = generated.0.1.key_version();
        if version > self.master_audited.load(Ordering::Acquire) {
            self.audit_automatic_rotation(version)?;
        }
        Ok(generated)
    }

    /// A fresh data key from the KMS under `key_id` (a key id, resolved
    /// already: the pins are by id) for `context`, with the CMK version it is
    /// wrapped under pinned until the write ends (so that retirement leaves
    /// it). No lock is held across the KMS call.
    pub(crate) fn kms_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<((DataKey, WrappedKey), Pin)> {
        self.pins.wrap_and_pin(key_id, || {
            let generated = self.kms.generate_data_key(key_id, context, caller)?;
            let (id, version) = (generated.1.key_id().to_owned(), generated.1.key_version());
            Ok::<_, Error>((generated, id, version))
        })
    }

    /// Unwraps the wrapped-key record of bucket/key, bound to `object_id`
    /// (an object's or its multipart upload's): by the master keyring, by the
    /// KMS with its checks for `caller`, or from its bucket key. Returns the
    /// data key with the version of the master key or CMK material it (or its
    /// bucket key) is wrapped under.
    pub fn unwrap_data_key(
        &self,
        records: &dyn KeyRecords,
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
            return self.bucket_key_data_key(records, bucket, &wrapped, &context, caller);
        }
        let data_key = match wrapped.provider() {
            Provider::MasterKeyring => self.master.unwrap(&wrapped, &context)?,
            _ => self.kms.decrypt(&wrapped, &context, caller)?,
        };
        Ok((data_key, wrapped.key_version()))
    }

    /// The wrapped-key record of bucket/key, bound to `object_id`, moved to
    /// the current master key version or CMK material, without touching the
    /// data key it wraps; `None` if it is there already, or if the data key
    /// comes from a bucket key (rewrap the bucket key instead:
    /// [`Keys::rewrap_bucket_keys`]).
    pub fn rewrap_data_key(
        &self,
        bucket: &str,
        key: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        wrapped_key: &[u8],
    ) -> Result<Option<WrappedKey>> {
        let wrapped = WrappedKey::decode(wrapped_key)?;
        if wrapped.algorithm() == WrapAlgorithm::BucketKey {
            return Ok(None);
        }
        let context =
            EncryptionContext::from_identity(self.identity(bucket, object_id)).with_object_key(key);
        Ok(match wrapped.provider() {
            Provider::MasterKeyring => self.master.rewrap(&wrapped, &context)?,
            _ => self.kms.rewrap(&wrapped, &context, &Caller::Trusted)?,
        })
    }

    /// The payload keys of the object bucket/key stored under `stored`,
    /// whose payload starts with `prefix`: from the cache for the trusted
    /// path and objects under the master keys, otherwise unwrapped (by the
    /// KMS, with its checks) and derived. `None` if the object is unencrypted.
    pub fn payload_keys(
        &self,
        records: &dyn KeyRecords,
        bucket: &str,
        key: &str,
        stored: StoredKey<'_>,
        prefix: &[u8],
        caller: &Caller,
    ) -> Result<Option<Arc<CachedKeys>>> {
        let StoredKey {
            mode,
            object_id,
            wrapped_key,
            ..
        } = stored;
        if mode == ProtectionMode::None {
            return Ok(None);
        }
        let prefix = prefix.get(..PAYLOAD_PREFIX_LEN).unwrap_or(prefix);
        let cacheable = mode == ProtectionMode::Aes256 && matches!(caller, Caller::Trusted);
        if cacheable
            && let Some(found) = self
                .payload_keys
                .get(object_id, bucket, wrapped_key, prefix)
            && found.master_version >= self.master.min_decryption_version()
        {
            return Ok(Some(found));
        }
        let (data_key, version) =
            self.unwrap_data_key(records, bucket, key, object_id, wrapped_key, caller)?;
        let identity = self.identity(bucket, object_id);
        let keys = Arc::new(CachedKeys {
            keys: self.cipher.payload_keys(&data_key, &identity, prefix)?,
            master_version: version,
        });
        if cacheable {
            let source = KeySource {
                bucket: bucket.to_owned(),
                wrapped_key: wrapped_key.to_vec(),
                prefix: prefix.to_vec(),
            };
            self.payload_keys
                .insert(*object_id, source, Arc::clone(&keys));
        }
        Ok(Some(keys))
    }

    /// How an object of `bucket` stored under `stored` is protected, as get
    /// and head report it: for a bucket-key object, the version its bucket
    /// key is wrapped under now.
    pub fn protection_of(
        &self,
        records: &dyn KeyRecords,
        bucket: &str,
        stored: StoredKey<'_>,
    ) -> Result<Protection> {
        let mode = stored.mode;
        if mode == ProtectionMode::None {
            return Ok(UNPROTECTED);
        }
        let (key_version, bucket_key) = match WrappedKey::peek_algorithm(stored.wrapped_key) {
            Some(WrapAlgorithm::BucketKey) => {
                let reference = WrappedKey::decode(stored.wrapped_key)?;
                (self.bucket_key_version(records, bucket, &reference)?, true)
            }
            _ => (stored.key_version, false),
        };
        Ok(Protection {
            mode,
            kms_key_id: (mode == ProtectionMode::Kms).then(|| stored.key_id.to_owned()),
            key_version: Some(key_version),
            bucket_key,
        })
    }
}
