//! The keys of the objects this engine writes and reads, through the core's
//! [`Keys`](coffer_sse::keys::Keys): the rule a write applies, a fresh data
//! key for each write, the data key or payload keys of a stored record and
//! the protection reported for it. Bucket key records live in the
//! `bucket_keys` family ([`KeyRecords`]).

use std::sync::Arc;

use coffer_cipher::{DataKey, ObjectIdentity};
use coffer_keyring::Caller;
use coffer_sse::keys::{
    BucketKeyId, BucketRef, CachedKeys, KeyRecords, NewKey, ResolvedRule, StoredKey,
};
use rocksdb::IteratorMode;

use crate::engine::db::storage;
use crate::format::columns::{
    OBJECT_ID_LEN, bucket_key_key, bucket_key_prefix, split_bucket_key_key,
};
use crate::format::record::{BucketRecord, ObjectRecord};
use crate::{ColumnFamily, EncryptionRule, Error, Protection, ProtectionMode, Result, Store};

impl Store {
    /// The identity a payload and its data key are bound to.
    pub(crate) fn identity(&self, bucket: &str, object_id: &[u8; OBJECT_ID_LEN]) -> ObjectIdentity {
        self.inner.keys.identity(bucket, object_id)
    }

    /// The rule a write applies, decided once: the put's own rule or the
    /// bucket's default, with its CMK resolved (see
    /// [`Keys::resolve_rule`](coffer_sse::keys::Keys::resolve_rule)).
    pub(crate) fn resolve_rule(
        &self,
        own: Option<&EncryptionRule>,
        bucket: &BucketRecord,
        caller: &Caller,
    ) -> Result<ResolvedRule> {
        self.inner
            .keys
            .resolve_rule(own, bucket.rule.as_ref(), caller)
    }

    /// A data key for a new write of bucket/key under `rule`, bound to
    /// `object_id` (an object's, or a multipart upload's).
    pub(crate) fn new_data_key(
        &self,
        bucket: &BucketRecord,
        key: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<NewKey> {
        self.inner
            .keys
            .new_data_key(self, bucket_ref(bucket), key, object_id, rule, caller)
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

    /// Unwraps an encrypted object's data key, with the version of the master
    /// key or CMK material it (or its bucket key) is wrapped under.
    pub(crate) fn unwrap_data_key(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        caller: &Caller,
    ) -> Result<(DataKey, u32)> {
        self.unwrap_wrapped_key(bucket, key, &record.object_id, &record.wrapped_key, caller)
    }

    /// Unwraps the wrapped-key record of the object (or multipart upload)
    /// `object_id`.
    pub(crate) fn unwrap_wrapped_key(
        &self,
        bucket: &str,
        key: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        wrapped_key: &[u8],
        caller: &Caller,
    ) -> Result<(DataKey, u32)> {
        self.inner
            .keys
            .unwrap_data_key(self, bucket, key, object_id, wrapped_key, caller)
    }

    /// The payload keys of an object whose payload starts with `prefix` (none
    /// if it is unencrypted).
    pub(crate) fn payload_keys(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        prefix: &[u8],
        caller: &Caller,
    ) -> Result<Option<Arc<CachedKeys>>> {
        self.inner
            .keys
            .payload_keys(self, bucket, key, stored_key(record), prefix, caller)
    }

    /// How a stored object is protected, as get and head report it.
    pub(crate) fn protection_of(&self, bucket: &str, record: &ObjectRecord) -> Result<Protection> {
        self.inner
            .keys
            .protection_of(self, bucket, stored_key(record))
    }
}

/// What an object's record says of its key, as the core reads it.
pub(crate) fn stored_key(record: &ObjectRecord) -> StoredKey<'_> {
    StoredKey {
        mode: record.mode,
        object_id: &record.object_id,
        key_id: &record.key_id,
        key_version: record.key_version,
        wrapped_key: &record.wrapped_key,
    }
}

/// The bucket a write goes to, as the core binds keys to it.
pub(crate) fn bucket_ref(bucket: &BucketRecord) -> BucketRef<'_> {
    BucketRef {
        name: &bucket.name,
        incarnation: bucket.incarnation,
    }
}

/// Bucket key records, in the `bucket_keys` family.
impl KeyRecords for Store {
    fn bucket_key(&self, bucket: &str, id: &BucketKeyId) -> Result<Option<Vec<u8>>> {
        let db = self.db()?;
        db.get_cf(db.cf(ColumnFamily::BucketKeys)?, bucket_key_key(bucket, id))
            .map_err(storage)
    }

    fn bucket_keys(&self, bucket: &str) -> Result<Vec<(BucketKeyId, Vec<u8>)>> {
        Ok(self
            .raw_bucket_keys(Some(bucket))?
            .into_iter()
            .map(|(_, id, raw)| (id, raw))
            .collect())
    }

    /// Under the bucket gate: one made or rewrapped while its bucket is
    /// deleted never outlives it.
    fn put_bucket_key(
        &self,
        bucket: BucketRef<'_>,
        id: &BucketKeyId,
        sealed: Vec<u8>,
    ) -> Result<()> {
        self.gated_write_to(bucket.name, bucket.incarnation, |db| {
            db.put_cf_opt(
                db.cf(ColumnFamily::BucketKeys)?,
                bucket_key_key(bucket.name, id),
                sealed,
                &self.inner.engine.write_options,
            )
            .map_err(storage)
        })
    }
}

impl Store {
    /// Every bucket key record of `bucket` (or of every bucket), sealed:
    /// (bucket, id, bytes).
    pub(crate) fn raw_bucket_keys(
        &self,
        bucket: Option<&str>,
    ) -> Result<Vec<(String, BucketKeyId, Vec<u8>)>> {
        let db = self.db()?;
        let prefix = bucket.map(bucket_key_prefix).unwrap_or_default();
        let mut out = Vec::new();
        for item in db.iterator_cf(
            db.cf(ColumnFamily::BucketKeys)?,
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        ) {
            let (raw_key, value) = item.map_err(storage)?;
            if !raw_key.starts_with(&prefix) {
                break;
            }
            let (name, id) = split_bucket_key_key(&raw_key)
                .ok_or_else(|| Error::CorruptRecord("bucket key key".into()))?;
            out.push((name.to_owned(), id, value.into_vec()));
        }
        Ok(out)
    }
}
