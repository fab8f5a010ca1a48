//! Bucket keys (S3's `BucketKeyEnabled`): KMS calls per bucket and period, not
//! per object.
//!
//! A bucket key is a data key from the KMS (or the master keyring), wrapped
//! once and stored once by the engine ([`KeyRecords`]). Each object's data key
//! is derived from it and the object's identity, so every object still has a
//! key of its own and the payload format is unchanged:
//!
//! ```text
//! object data key = HKDF-SHA256(salt = bucket key id, ikm = bucket key,
//!                               info = "coffer/bucket-key-object/v1" ‖ encryption context)
//! ```
//!
//! The object's record keeps, where a wrapped data key would be, a wrapped-key
//! record of algorithm "bucket key" whose body is the bucket key's id.
//!
//! Bounds ([`BucketKeyOptions`]): a bucket key serves new objects of one
//! bucket and rule for at most `period` and `max_objects`; an unwrapped bucket
//! key is kept in memory (zeroized when dropped) for `cache_ttl`, after which
//! the KMS is asked again: a disabled or deleted CMK takes effect within the
//! TTL. The caller's policies are checked on every use all the same (the KMS
//! layer's [`Kms::authorize`](coffer_keyring::Kms::authorize)); only the round
//! trip to the KMS is saved. A store that reopens starts new bucket keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_cipher::DataKey;
use coffer_keyring::{Caller, EncryptionContext, MASTER_KEYRING_ID, WrapAlgorithm, WrappedKey};
use parking_lot::Mutex;
use ring::hkdf;
use zeroize::Zeroizing;

use crate::ids::{millis, random_id};
use crate::keys::{
    BucketKeyId, BucketKeyRecord, BucketRef, KeyRecords, Keys, NewKey, ResolvedRule,
};
use crate::recent::Recent;
use crate::{Error, Protection, ProtectionMode, Result};

/// Prefixed to the id in the encryption context a bucket key is wrapped for,
/// so it can never be an object's (whose ids are 16 bytes).
const CONTEXT_PREFIX: &[u8] = b"coffer/bucket-key/";
const DERIVE_INFO: &[u8] = b"coffer/bucket-key-object/v1";

/// How long bucket keys serve and are kept: [`BucketKeyOptions::default`] and
/// the `with_` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketKeyOptions {
    /// How long one bucket key serves new objects. Default 1 hour.
    pub period: Duration,
    /// How many new objects one bucket key serves. Default 2^20.
    pub max_objects: u64,
    /// How long an unwrapped bucket key is kept in memory before the KMS is
    /// asked again (so how long a disabled CMK or a removed `kms:Decrypt` on
    /// the KMS's side can take to apply). Default 5 minutes.
    pub cache_ttl: Duration,
    /// How many unwrapped bucket keys are kept. Default 1024.
    pub cache_capacity: usize,
}

impl Default for BucketKeyOptions {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(3600),
            max_objects: 1 << 20,
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 1024,
        }
    }
}

impl BucketKeyOptions {
    /// How long one bucket key serves new objects.
    pub fn with_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// How many new objects one bucket key serves.
    pub fn with_max_objects(mut self, objects: u64) -> Self {
        self.max_objects = objects;
        self
    }

    /// How long an unwrapped bucket key is kept in memory.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many unwrapped bucket keys are kept.
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }
}

/// An unwrapped bucket key. No `Clone`, no `Debug`; zeroized on drop.
pub(crate) struct Secret(pub(crate) Zeroizing<[u8; 32]>);

/// An unwrapped bucket key kept until `until`.
struct Kept {
    secret: Arc<Secret>,
    /// The key wrapping it: a CMK id, or the master keyring's.
    wrapped_by: String,
    until: SystemTime,
}

/// Which bucket key new objects of a bucket and rule use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ActiveName {
    bucket: String,
    incarnation: u64,
    mode: ProtectionMode,
    key_id: String,
}

/// A bucket key ready to derive data keys: its id, secret and record.
type Usable = (BucketKeyId, Arc<Secret>, Arc<BucketKeyRecord>);

/// The bucket key new objects of one bucket and rule use now.
struct Active {
    id: BucketKeyId,
    created: SystemTime,
    uses: u64,
}

/// Bucket keys in memory: records seen (no secrets), unwrapped keys for their
/// TTL, the key each bucket and rule writes with, and CMK names resolved.
pub(crate) struct BucketKeys {
    options: BucketKeyOptions,
    records: Mutex<Recent<BucketKeyId, (String, Arc<BucketKeyRecord>)>>,
    kept: Mutex<Recent<BucketKeyId, Kept>>,
    active: Mutex<HashMap<ActiveName, Active>>,
    /// CMK names (ids or aliases) of bucket-key rules, resolved to a key id,
    /// until a time.
    resolved: Mutex<HashMap<String, (String, SystemTime)>>,
    /// One lock per bucket and rule, held while its bucket key is made (a KMS
    /// call): writes under that rule wait for the key they need, and no other.
    making: Mutex<HashMap<ActiveName, Arc<Mutex<()>>>>,
    /// Serializes rewrapping bucket keys.
    rewrapping: Mutex<()>,
}

impl BucketKeys {
    pub(crate) fn new(options: BucketKeyOptions) -> Self {
        let capacity = options.cache_capacity;
        Self {
            options,
            records: Mutex::new(Recent::new(capacity.saturating_mul(4).max(64))),
            kept: Mutex::new(Recent::new(capacity)),
            active: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
            making: Mutex::new(HashMap::new()),
            rewrapping: Mutex::new(()),
        }
    }

    /// The id of the key new objects under `name` use, counting one use; `None`
    /// if there is none or it served its period or its objects.
    fn take_use(&self, name: &ActiveName, now: SystemTime) -> Option<BucketKeyId> {
        let mut active = self.active.lock();
        let entry = active.get_mut(name)?;
        let fresh = now
            .duration_since(entry.created)
            .is_ok_and(|age| age < self.options.period);
        if !fresh || entry.uses >= self.options.max_objects {
            active.remove(name);
            return None;
        }
        entry.uses += 1;
        Some(entry.id)
    }

    fn secret(&self, id: &BucketKeyId, now: SystemTime) -> Option<Arc<Secret>> {
        let mut kept = self.kept.lock();
        let entry = kept.get(id)?;
        (now < entry.until).then(|| Arc::clone(&entry.secret))
    }

    fn keep(
        &self,
        id: BucketKeyId,
        record: &BucketKeyRecord,
        secret: Arc<Secret>,
        now: SystemTime,
    ) {
        let until = now + self.options.cache_ttl;
        let wrapped_by = record.wrapped.key_id().to_owned();
        self.kept.lock().insert(
            id,
            Kept {
                secret,
                wrapped_by,
                until,
            },
        );
    }

    /// Forgets everything kept of the CMK `key_id`, which the store's own KMS
    /// layer just made unusable: its unwrapped bucket keys, the bucket keys
    /// writes use, and the rules resolved to it. The next use asks the KMS,
    /// which refuses.
    pub(crate) fn forget_cmk(&self, key_id: &str) {
        self.kept.lock().retain(|_, kept| kept.wrapped_by != key_id);
        self.active.lock().retain(|name, _| name.key_id != key_id);
        self.resolved.lock().retain(|_, (id, _)| id != key_id);
    }

    fn remember(&self, bucket: &str, id: BucketKeyId, record: Arc<BucketKeyRecord>) {
        self.records.lock().insert(id, (bucket.to_owned(), record));
    }

    /// Forgets what is kept for a deleted bucket.
    pub(crate) fn forget_bucket(&self, bucket: &str) {
        self.active.lock().retain(|name, _| name.bucket != bucket);
        self.making.lock().retain(|name, _| name.bucket != bucket);
    }

    /// The lock held while the bucket key of `name` is made.
    fn making_lock(&self, name: &ActiveName) -> Arc<Mutex<()>> {
        Arc::clone(self.making.lock().entry(name.clone()).or_default())
    }
}

impl Keys {
    /// The CMK a bucket-key rule names, resolved to its id and checked usable
    /// (once per cache TTL); the caller's `kms:DescribeKey` is checked every time.
    pub(crate) fn resolve_for_bucket_keys(&self, given: &str, caller: &Caller) -> Result<String> {
        let keys = &self.bucket_keys;
        let now = self.clock().now();
        let known = keys
            .resolved
            .lock()
            .get(given)
            .filter(|(_, until)| now < *until)
            .map(|(id, _)| id.clone());
        if let Some(id) = known {
            self.kms().authorize(caller, "kms:DescribeKey", &id)?;
            return Ok(id);
        }
        let id = self.check_key_usable(given, caller)?;
        keys.resolved
            .lock()
            .insert(given.to_owned(), (id.clone(), now + keys.options.cache_ttl));
        Ok(id)
    }

    /// A data key for a new object, derived from the bucket key its bucket and
    /// rule write with now (made when there is none).
    pub(crate) fn new_bucket_key_data_key(
        &self,
        records: &dyn KeyRecords,
        bucket: BucketRef<'_>,
        object_id: &[u8; crate::keys::OBJECT_ID_LEN],
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<NewKey> {
        let (mode, key_id) = match rule {
            ResolvedRule::Managed { .. } => (ProtectionMode::Aes256, MASTER_KEYRING_ID),
            ResolvedRule::Kms { key_id, .. } => (ProtectionMode::Kms, key_id.as_str()),
            ResolvedRule::None => {
                return Err(Error::InvalidArgument(
                    "a bucket key needs a rule that encrypts".into(),
                ));
            }
        };
        let name = ActiveName {
            bucket: bucket.name.to_owned(),
            incarnation: bucket.incarnation,
            mode,
            key_id: key_id.to_owned(),
        };
        let (id, secret, record) = self.writing_bucket_key(records, bucket, &name, caller)?;
        let context = EncryptionContext::from_identity(self.identity(bucket.name, object_id));
        let version = record.wrapped.key_version();
        let reference = WrappedKey::opaque(
            record.wrapped.provider(),
            WrapAlgorithm::BucketKey,
            key_id,
            version,
            id.to_vec(),
        )?;
        Ok(NewKey {
            data_key: Some(derive(&secret, &id, &context)),
            wrapped: reference.encode(),
            protection: Protection {
                mode,
                kms_key_id: (mode == ProtectionMode::Kms).then(|| key_id.to_owned()),
                key_version: Some(version),
                bucket_key: true,
            },
            pin: None,
        })
    }

    /// The bucket key new objects under `name` use: the active one (its secret
    /// kept, or unwrapped again once its TTL passed), or a new one. A KMS
    /// caller's `kms:GenerateDataKey` is checked on every use.
    fn writing_bucket_key(
        &self,
        records: &dyn KeyRecords,
        bucket: BucketRef<'_>,
        name: &ActiveName,
        caller: &Caller,
    ) -> Result<Usable> {
        let keys = &self.bucket_keys;
        let now = self.clock().now();
        if name.mode == ProtectionMode::Kms {
            self.kms()
                .authorize(caller, "kms:GenerateDataKey", &name.key_id)?;
        }
        if let Some(found) = self.active_bucket_key(records, name, now)? {
            return Ok(found);
        }
        let making = keys.making_lock(name);
        let _making = making.lock();
        if let Some(found) = self.active_bucket_key(records, name, now)? {
            return Ok(found);
        }
        self.make_bucket_key(records, bucket, name, caller, now)
    }

    fn active_bucket_key(
        &self,
        records: &dyn KeyRecords,
        name: &ActiveName,
        now: SystemTime,
    ) -> Result<Option<Usable>> {
        let keys = &self.bucket_keys;
        let Some(id) = keys.take_use(name, now) else {
            return Ok(None);
        };
        let record = self.bucket_key_record(records, &name.bucket, &id)?;
        let secret = match keys.secret(&id, now) {
            Some(secret) => secret,
            None => match self.unwrap_bucket_key(&name.bucket, &id, &record, &Caller::Trusted) {
                Ok(secret) => secret,
                Err(error) => {
                    keys.active.lock().remove(name);
                    return Err(error);
                }
            },
        };
        Ok(Some((id, secret, record)))
    }

    /// Makes, stores and activates a bucket key for `name`. The KMS's
    /// `kms:GenerateDataKey` is the caller's (checked and audited); the master
    /// key or CMK version stays pinned until the record is written.
    fn make_bucket_key(
        &self,
        records: &dyn KeyRecords,
        bucket: BucketRef<'_>,
        name: &ActiveName,
        caller: &Caller,
        now: SystemTime,
    ) -> Result<Usable> {
        let id = random_id()?;
        let context = bucket_key_context(self.store_id(), bucket.name, &id);
        let ((data_key, wrapped), _pin) = match name.mode {
            ProtectionMode::Aes256 => self.master_data_key(&context)?,
            _ => self.kms_data_key(&name.key_id, &context, caller)?,
        };
        let record = Arc::new(BucketKeyRecord {
            incarnation: bucket.incarnation,
            created_ms: millis(now),
            mode: name.mode,
            wrapped,
        });
        let sealed = self
            .record_key()
            .seal_bucket_key(bucket.name, &id, &record)?;
        records.put_bucket_key(bucket, &id, sealed)?;
        let keys = &self.bucket_keys;
        let secret = Arc::new(Secret(Zeroizing::new(*data_key.expose_secret())));
        keys.remember(bucket.name, id, Arc::clone(&record));
        keys.keep(id, &record, Arc::clone(&secret), now);
        keys.active.lock().insert(
            name.clone(),
            Active {
                id,
                created: now,
                uses: 1,
            },
        );
        tracing::debug!(bucket = %bucket.name, key_id = %name.key_id, "made a bucket key");
        Ok((id, secret, record))
    }

    /// The data key of an object whose record points at a bucket key, with
    /// the version the bucket key is wrapped under. A kept bucket key is used
    /// after the caller's `kms:Decrypt` is checked; otherwise the KMS (or the
    /// master keyring) unwraps it, as the caller.
    pub(crate) fn bucket_key_data_key(
        &self,
        records: &dyn KeyRecords,
        bucket: &str,
        reference: &WrappedKey,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<(DataKey, u32)> {
        let id = reference_id(reference)?;
        let record = self.bucket_key_record(records, bucket, &id)?;
        if record.wrapped.provider() != reference.provider()
            || record.wrapped.key_id() != reference.key_id()
        {
            return Err(Error::Integrity(
                "an object's bucket key is not the key its record names".into(),
            ));
        }
        let now = self.clock().now();
        let secret = match self.bucket_keys.secret(&id, now) {
            Some(secret) => {
                if record.mode == ProtectionMode::Kms {
                    self.kms()
                        .authorize(caller, "kms:Decrypt", record.wrapped.key_id())?;
                }
                secret
            }
            None => self.unwrap_bucket_key(bucket, &id, &record, caller)?,
        };
        Ok((derive(&secret, &id, context), record.wrapped.key_version()))
    }

    /// The version the bucket key a reference names is wrapped under now.
    pub(crate) fn bucket_key_version(
        &self,
        records: &dyn KeyRecords,
        bucket: &str,
        reference: &WrappedKey,
    ) -> Result<u32> {
        let id = reference_id(reference)?;
        Ok(self
            .bucket_key_record(records, bucket, &id)?
            .wrapped
            .key_version())
    }

    /// Unwraps a bucket key (the KMS checks `caller`) and keeps it for the TTL.
    fn unwrap_bucket_key(
        &self,
        bucket: &str,
        id: &BucketKeyId,
        record: &BucketKeyRecord,
        caller: &Caller,
    ) -> Result<Arc<Secret>> {
        let context = bucket_key_context(self.store_id(), bucket, id);
        let data_key = match record.mode {
            ProtectionMode::Aes256 => self.master().unwrap(&record.wrapped, &context)?,
            _ => self.kms().decrypt(&record.wrapped, &context, caller)?,
        };
        let secret = Arc::new(Secret(Zeroizing::new(*data_key.expose_secret())));
        self.bucket_keys
            .keep(*id, record, Arc::clone(&secret), self.clock().now());
        Ok(secret)
    }

    /// The record of bucket key `id` of `bucket`, authenticated: from memory,
    /// else from the engine's records. A missing or forged one is
    /// [`Error::Integrity`].
    pub fn bucket_key_record(
        &self,
        records: &dyn KeyRecords,
        bucket: &str,
        id: &BucketKeyId,
    ) -> Result<Arc<BucketKeyRecord>> {
        if let Some((owner, record)) = self.bucket_keys.records.lock().get(id)
            && owner == bucket
        {
            return Ok(Arc::clone(record));
        }
        let raw = records.bucket_key(bucket, id)?.ok_or_else(|| {
            Error::Integrity(format!(
                "bucket {bucket}: bucket key {} is missing",
                hex::encode(id)
            ))
        })?;
        let record = Arc::new(self.record_key().open_bucket_key(bucket, id, &raw)?);
        self.bucket_keys.remember(bucket, *id, Arc::clone(&record));
        Ok(record)
    }

    /// Moves every bucket key of `bucket` to the current master key version or
    /// CMK material: one KMS call per bucket key, none per object. Bucket keys
    /// of another incarnation (orphans) are left. Returns how many changed.
    pub fn rewrap_bucket_keys(
        &self,
        records: &dyn KeyRecords,
        bucket: BucketRef<'_>,
    ) -> Result<usize> {
        // A bucket key made meanwhile is wrapped under the current version
        // (or, made across a rotation, under the one before: retirement
        // counts it, and the next rewrap moves it).
        let _rewrapping = self.bucket_keys.rewrapping.lock();
        let mut changed = 0;
        for (id, raw) in records.bucket_keys(bucket.name)? {
            let mut record = self.record_key().open_bucket_key(bucket.name, &id, &raw)?;
            if record.incarnation != bucket.incarnation {
                continue; // an orphan: the engine removes it
            }
            let context = bucket_key_context(self.store_id(), bucket.name, &id);
            let rewrapped = match record.mode {
                ProtectionMode::Aes256 => self.master().rewrap(&record.wrapped, &context)?,
                _ => self
                    .kms()
                    .rewrap(&record.wrapped, &context, &Caller::Trusted)?,
            };
            if let Some(rewrapped) = rewrapped {
                record.wrapped = rewrapped;
                let sealed = self
                    .record_key()
                    .seal_bucket_key(bucket.name, &id, &record)?;
                records.put_bucket_key(bucket, &id, sealed)?;
                self.bucket_keys.remember(bucket.name, id, Arc::new(record));
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Forgets the bucket keys writes to a deleted bucket used.
    pub fn forget_bucket(&self, bucket: &str) {
        self.bucket_keys.forget_bucket(bucket);
    }

    /// A bucket key's plaintext (feature `test-util` only: tests that look
    /// for key material on disk).
    #[cfg(feature = "test-util")]
    pub fn bucket_key_material_for_test(
        &self,
        bucket: &str,
        id: &BucketKeyId,
        record: &BucketKeyRecord,
    ) -> Result<[u8; 32]> {
        Ok(*self
            .unwrap_bucket_key(bucket, id, record, &Caller::Trusted)?
            .0)
    }
}

/// The encryption context a bucket key is wrapped for: its bucket, and its id
/// behind a prefix no object id has.
pub fn bucket_key_context(store_id: &[u8], bucket: &str, id: &BucketKeyId) -> EncryptionContext {
    EncryptionContext::new(store_id, bucket, &[CONTEXT_PREFIX, &id[..]].concat())
}

fn reference_id(reference: &WrappedKey) -> Result<BucketKeyId> {
    reference
        .body()
        .try_into()
        .map_err(|_| Error::Integrity("an object's bucket key reference is not 16 bytes".into()))
}

fn derive(secret: &Secret, id: &BucketKeyId, context: &EncryptionContext) -> DataKey {
    derive_object_key(&secret.0, id, context)
}

/// An object's data key, from the bucket key `secret` (its plaintext), the
/// bucket key's id and the object's encryption context.
pub fn derive_object_key(
    secret: &[u8; 32],
    id: &BucketKeyId,
    context: &EncryptionContext,
) -> DataKey {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, id).extract(&secret[..]);
    let context = context.to_bytes();
    let info = [DERIVE_INFO, &context[..]];
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand(&info, hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut key[..]))
        .expect("32 bytes is within HKDF-SHA256's output limit");
    DataKey::from_bytes(*key)
}

#[cfg(test)]
mod tests {
    use coffer_keyring::Provider;

    use super::*;

    fn secret(byte: u8) -> Secret {
        Secret(Zeroizing::new([byte; 32]))
    }

    #[test]
    fn every_object_gets_its_own_key() {
        let context = |object: &[u8]| EncryptionContext::new(b"store", "bucket", object);
        let a = derive(&secret(1), &[7; 16], &context(b"a"));
        let b = derive(&secret(1), &[7; 16], &context(b"b"));
        let other_key = derive(&secret(2), &[7; 16], &context(b"a"));
        let other_id = derive(&secret(1), &[8; 16], &context(b"a"));
        let again = derive(&secret(1), &[7; 16], &context(b"a"));
        assert_eq!(a.expose_secret(), again.expose_secret());
        for different in [&b, &other_key, &other_id] {
            assert_ne!(a.expose_secret(), different.expose_secret());
        }
    }

    #[test]
    fn records_round_trip_and_refuse_what_does_not_fit() {
        let wrapped = WrappedKey::opaque(
            Provider::Kms,
            WrapAlgorithm::TransitCiphertext,
            "k",
            3,
            b"vault:v3:AAAA".to_vec(),
        )
        .expect("builds");
        let record = BucketKeyRecord {
            incarnation: 9,
            created_ms: 1234,
            mode: ProtectionMode::Kms,
            wrapped,
        };
        let bytes = record.encode_unsealed().expect("encodes");
        assert_eq!(BucketKeyRecord::decode(&bytes).expect("decodes"), record);
        for len in 0..bytes.len() {
            assert!(BucketKeyRecord::decode(&bytes[..len]).is_err(), "{len}");
        }
        let mut managed_over_kms = bytes.clone();
        managed_over_kms[4 + 1 + 16] = 1;
        assert!(BucketKeyRecord::decode(&managed_over_kms).is_err());
    }

    #[test]
    fn a_key_serves_its_period_and_its_objects_only() {
        let keys = BucketKeys::new(
            BucketKeyOptions::default()
                .with_period(Duration::from_secs(60))
                .with_max_objects(3),
        );
        let name = ActiveName {
            bucket: "b".into(),
            incarnation: 1,
            mode: ProtectionMode::Kms,
            key_id: "k".into(),
        };
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(keys.take_use(&name, start), None);
        keys.active.lock().insert(
            name.clone(),
            Active {
                id: [1; 16],
                created: start,
                uses: 1,
            },
        );
        assert_eq!(keys.take_use(&name, start), Some([1; 16]));
        assert_eq!(keys.take_use(&name, start), Some([1; 16]));
        assert_eq!(keys.take_use(&name, start), None, "three objects served");
        keys.active.lock().insert(
            name.clone(),
            Active {
                id: [2; 16],
                created: start,
                uses: 0,
            },
        );
        assert_eq!(
            keys.take_use(&name, start + Duration::from_secs(60)),
            None,
            "the period is over"
        );
        let record = BucketKeyRecord {
            incarnation: 1,
            created_ms: 0,
            mode: ProtectionMode::Kms,
            wrapped: WrappedKey::opaque(
                Provider::Kms,
                WrapAlgorithm::TransitCiphertext,
                "k",
                1,
                b"vault:v1:AAAA".to_vec(),
            )
            .expect("builds"),
        };
        keys.keep([3; 16], &record, Arc::new(secret(3)), start);
        assert!(
            keys.secret(&[3; 16], start + Duration::from_secs(299))
                .is_some()
        );
        assert!(
            keys.secret(&[3; 16], start + Duration::from_secs(300))
                .is_none()
        );
        keys.keep([4; 16], &record, Arc::new(secret(4)), start);
        keys.forget_cmk("other");
        assert!(
            keys.secret(&[4; 16], start).is_some(),
            "another CMK's keys stay"
        );
        keys.forget_cmk("k");
        assert!(keys.secret(&[4; 16], start).is_none(), "forgotten at once");
    }
}
