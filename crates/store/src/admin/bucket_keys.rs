//! Bucket keys as the engine administers them: every record in the
//! `bucket_keys` family, authenticated; the orphans a deleted bucket left and
//! their removal; rewrapping a bucket's keys (the core's
//! [`Keys::rewrap_bucket_keys`](coffer_sse::keys::Keys::rewrap_bucket_keys)).

use coffer_sse::keys::{BucketKeyId, BucketKeyRecord};
use rocksdb::WriteBatch;

use crate::engine::db::{DbRef, storage};
use crate::format::columns::{bucket_key_key, bucket_key_prefix};
use crate::objects::keys::bucket_ref;
use crate::{ColumnFamily, Error, Result, Store};

impl Store {
    /// Every bucket key of `bucket` (or of every bucket), authenticated.
    pub(crate) fn bucket_keys_of(
        &self,
        bucket: Option<&str>,
    ) -> Result<Vec<(String, BucketKeyId, BucketKeyRecord)>> {
        self.raw_bucket_keys(bucket)?
            .into_iter()
            .map(|(name, id, raw)| {
                let record = self
                    .inner
                    .keys
                    .record_key()
                    .open_bucket_key(&name, &id, &raw)?;
                Ok((name, id, record))
            })
            .collect()
    }

    /// Moves every bucket key of `bucket` to the current master key version or
    /// CMK material: one KMS call per bucket key, none per object. Returns how
    /// many changed.
    pub(crate) fn rewrap_bucket_keys(&self, bucket: &str) -> Result<usize> {
        let record = self.bucket_record(bucket)?;
        self.inner
            .keys
            .rewrap_bucket_keys(self, bucket_ref(&record))
    }

    /// Every bucket key's plaintext (feature `test-util` only).
    #[cfg(feature = "test-util")]
    pub(crate) fn bucket_key_material_for_test(&self) -> Result<Vec<[u8; 32]>> {
        self.bucket_keys_of(None)?
            .iter()
            .map(|(bucket, id, record)| {
                self.inner
                    .keys
                    .bucket_key_material_for_test(bucket, id, record)
            })
            .collect()
    }

    /// Whether a bucket key of `bucket` is an orphan: its bucket is gone
    /// (deleted, or deleted and created again). No object refers to one,
    /// since an object lands only in the bucket incarnation it was written
    /// for, and so does the bucket key it derives its key from.
    ///
    /// Only a bucket key of a bucket that holds no object is taken for one:
    /// a bucket record lost or rolled back (an edit from outside) must not
    /// take its objects' keys with it.
    fn is_orphan(&self, bucket: &str, record: &BucketKeyRecord) -> bool {
        let gone = match self.bucket_record(bucket) {
            Ok(live) => live.incarnation != record.incarnation,
            Err(error) => matches!(error, Error::NoSuchBucket(_)),
        };
        gone && self.holds_no_object(bucket).unwrap_or(false)
    }

    /// Whether the objects family holds no record under `bucket`'s prefix.
    fn holds_no_object(&self, bucket: &str) -> Result<bool> {
        let prefix = crate::format::columns::object_key(bucket, "");
        let db = self.db()?;
        let mut iter = db.raw_iterator_cf(db.cf(ColumnFamily::Objects)?);
        iter.seek(&prefix);
        let empty = !iter.key().is_some_and(|key| key.starts_with(&prefix));
        iter.status().map_err(storage)?;
        Ok(empty)
    }

    /// Every bucket key record whose bucket is gone: (bucket, id).
    pub(crate) fn orphan_bucket_keys(&self) -> Result<Vec<(String, BucketKeyId)>> {
        Ok(self
            .bucket_keys_of(None)?
            .into_iter()
            .filter(|(bucket, _, record)| self.is_orphan(bucket, record))
            .map(|(bucket, id, _)| (bucket, id))
            .collect())
    }

    /// Every bucket key an object may use (orphans left out): what key
    /// retirement must keep the versions of.
    pub(crate) fn live_bucket_keys(&self) -> Result<Vec<(String, BucketKeyId, BucketKeyRecord)>> {
        let mut keys = self.bucket_keys_of(None)?;
        keys.retain(|(bucket, _, record)| !self.is_orphan(bucket, record));
        Ok(keys)
    }

    /// Removes the bucket keys [`Store::orphan_bucket_keys`] finds (left by a
    /// bucket key made while its bucket was deleted, before such writes went
    /// under the bucket gate). Run when the store opens; returns how many.
    pub(crate) fn drop_orphan_bucket_keys(&self) -> Result<usize> {
        let orphans = self.orphan_bucket_keys()?;
        if orphans.is_empty() {
            return Ok(0);
        }
        let db = self.db()?;
        let family = db.cf(ColumnFamily::BucketKeys)?;
        let mut batch = WriteBatch::default();
        for (bucket, id) in &orphans {
            batch.delete_cf(family, bucket_key_key(bucket, id));
        }
        db.write_opt(batch, &self.inner.engine.write_options)
            .map_err(storage)?;
        tracing::info!(
            count = orphans.len(),
            "removed bucket keys of deleted buckets"
        );
        Ok(orphans.len())
    }

    /// Adds the deletion of every bucket key of `bucket` to `batch`.
    pub(crate) fn drop_bucket_keys(
        &self,
        db: &DbRef<'_>,
        batch: &mut WriteBatch,
        bucket: &str,
    ) -> Result<()> {
        let start = bucket_key_prefix(bucket);
        let mut end = start.clone();
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        batch.delete_range_cf(db.cf(ColumnFamily::BucketKeys)?, start, end);
        self.inner.keys.forget_bucket(bucket);
        Ok(())
    }
}
