//! Buckets: create, delete (with their bucket keys and the uploads into
//! them), list, head, and their default encryption rules; the bucket records
//! and the map of them kept in memory.

use std::collections::HashMap;
use std::time::SystemTime;

use coffer_keyring::Caller;
use rocksdb::{IteratorMode, WriteBatch};

use crate::EncryptionRule;
use crate::engine::db::{millis, random_id, storage};
use crate::engine::state::stripe_index;
use crate::format::columns::{OBJECT_ID_LEN, object_key};
use crate::format::record::BucketRecord;
use crate::store::{Store, TRUSTED};
use crate::{BucketInfo, ObjectApi};
use crate::{ColumnFamily, Error, Result};
use coffer_sse::validate_bucket;

impl Store {
    /// Creates a bucket. [`Error::InvalidArgument`] for a bad name,
    /// [`Error::BucketAlreadyExists`] if it exists.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        validate_bucket(name)?;
        let mut buckets = self.inner.engine.buckets.write();
        if buckets.contains_key(name) {
            return Err(Error::BucketAlreadyExists(name.to_owned()));
        }
        let record = BucketRecord {
            name: name.to_owned(),
            created_ms: millis(self.inner.keys.clock().now()),
            rule: None,
            incarnation: u64::from_le_bytes(random_id()?[..8].try_into().expect("8 bytes")),
        };
        self.write_bucket(&mut buckets, record)
    }

    /// Deletes an empty bucket ([`Error::BucketNotEmpty`] otherwise), with
    /// its bucket keys and the multipart uploads in progress into it (which
    /// could never complete).
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        // The uploads' locks come before the gate, as when an upload
        // completes; an upload created before the gate closed is seen by the
        // look under it, and then the locks are taken again.
        loop {
            let uploads = self.uploads_into(name)?;
            let mut stripes: Vec<usize> = uploads.iter().map(|id| stripe_index(id)).collect();
            stripes.sort_unstable();
            stripes.dedup();
            let _held: Vec<_> = stripes
                .iter()
                .map(|&at| self.inner.engine.upload_stripes[at].lock())
                .collect();
            // No object commit, upload creation or bucket key may land while
            // the bucket is checked empty and removed.
            let _gate = self.inner.engine.bucket_gate.write();
            let now = self.uploads_into(name)?;
            if now.iter().all(|id| uploads.contains(id)) {
                return self.delete_bucket_gated(name, &now);
            }
        }
    }

    /// [`Store::delete_bucket`] with the gate and the locks of `uploads`
    /// held.
    fn delete_bucket_gated(&self, name: &str, uploads: &[[u8; OBJECT_ID_LEN]]) -> Result<()> {
        let mut buckets = self.inner.engine.buckets.write();
        if !buckets.contains_key(name) {
            return Err(Error::NoSuchBucket(name.to_owned()));
        }
        let db = self.db()?;
        let prefix = object_key(name, "");
        let mut iter = db.iterator_cf(
            db.cf(ColumnFamily::Objects)?,
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        );
        if let Some(item) = iter.next()
            && item.map_err(storage)?.0.starts_with(&prefix)
        {
            return Err(Error::BucketNotEmpty(name.to_owned()));
        }
        let mut batch = WriteBatch::default();
        batch.delete_cf(db.cf(ColumnFamily::Buckets)?, name.as_bytes());
        self.drop_bucket_keys(&db, &mut batch, name)?;
        for upload in uploads {
            self.drop_upload_into(&db, &mut batch, upload)?;
        }
        db.write_opt(batch, &self.inner.engine.write_options)
            .map_err(storage)?;
        buckets.remove(name);
        Ok(())
    }

    /// Every bucket, by name.
    pub fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        self.db()?;
        let mut out: Vec<_> = self
            .inner
            .engine
            .buckets
            .read()
            .values()
            .cloned()
            .map(bucket_info)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One bucket ([`Error::NoSuchBucket`] if missing).
    pub fn head_bucket(&self, name: &str) -> Result<BucketInfo> {
        self.bucket_record(name).map(bucket_info)
    }

    /// Sets the bucket's default encryption. A named CMK must exist and be
    /// enabled ([`Error::KeyNotFound`], [`Error::KeyDisabled`],
    /// [`Error::KeyPendingDeletion`]). Objects already stored are not touched.
    pub fn put_bucket_encryption(&self, bucket: &str, rule: EncryptionRule) -> Result<()> {
        ObjectApi::put_bucket_encryption_as(self, bucket, rule, &TRUSTED)
    }

    /// Sets the rule, a named CMK checked for `caller`.
    pub(crate) fn set_bucket_encryption(
        &self,
        bucket: &str,
        rule: EncryptionRule,
        caller: &Caller,
    ) -> Result<()> {
        if let Some(key_id) = rule.kms_key_id() {
            self.inner.keys.check_key_usable(key_id, caller)?;
        }
        self.update_bucket(bucket, |record| record.rule = Some(rule))
    }

    /// The bucket's default encryption ([`Error::NoSuchEncryptionRule`] if none).
    pub fn get_bucket_encryption(&self, bucket: &str) -> Result<EncryptionRule> {
        self.bucket_record(bucket)?
            .rule
            .ok_or_else(|| Error::NoSuchEncryptionRule(bucket.to_owned()))
    }

    /// Removes the bucket's default encryption; objects already stored keep
    /// theirs. Succeeds if there was none.
    pub fn delete_bucket_encryption(&self, bucket: &str) -> Result<()> {
        self.update_bucket(bucket, |record| record.rule = None)
    }

    fn update_bucket(&self, name: &str, change: impl FnOnce(&mut BucketRecord)) -> Result<()> {
        let mut buckets = self.inner.engine.buckets.write();
        let mut record = buckets
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))?;
        change(&mut record);
        self.write_bucket(&mut buckets, record)
    }

    /// Writes a bucket record, then the map: called with the map's write lock.
    fn write_bucket(
        &self,
        buckets: &mut HashMap<String, BucketRecord>,
        record: BucketRecord,
    ) -> Result<()> {
        let db = self.db()?;
        db.put_cf_opt(
            db.cf(ColumnFamily::Buckets)?,
            record.name.as_bytes(),
            self.inner.records.seal_bucket(&record)?,
            &self.inner.engine.write_options,
        )
        .map_err(storage)?;
        buckets.insert(record.name.clone(), record);
        Ok(())
    }

    pub(crate) fn load_buckets(&self) -> Result<()> {
        let db = self.db()?;
        let mut buckets = self.inner.engine.buckets.write();
        for item in db.iterator_cf(db.cf(ColumnFamily::Buckets)?, IteratorMode::Start) {
            let (name, value) = item.map_err(storage)?;
            let name = String::from_utf8(name.to_vec())
                .map_err(|_| Error::CorruptRecord("bucket name".into()))?;
            let record = self.inner.records.open_bucket(&name, &value)?;
            buckets.insert(name, record);
        }
        Ok(())
    }
}

fn bucket_info(record: BucketRecord) -> BucketInfo {
    BucketInfo {
        name: record.name,
        created_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(record.created_ms),
        encryption: record.rule,
    }
}
