//! Committing an object: its record read and authenticated, the write's
//! condition checked under the key's lock, record and segments written in
//! one batch under the bucket gate; the segments of a replaced object
//! dropped at once or by its last reader.

use rocksdb::WriteBatch;

use crate::PutCondition;
use crate::engine::db::{DbRef, storage};
use crate::format::columns::{OBJECT_ID_LEN, object_key, segment_range};
use crate::format::record::{BucketRecord, ObjectRecord, RecordAuth};
use crate::store::Store;
use crate::{ColumnFamily, Error, Result};

impl Store {
    /// Reads and authenticates the record of bucket/key.
    pub(crate) fn read_record(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        self.read_record_with(bucket, key, RecordAuth::open)
    }

    /// [`Store::read_record`] for a scan: authenticated, not remembered.
    pub(crate) fn read_record_scanned(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>> {
        self.read_record_with(bucket, key, RecordAuth::open_scanned)
    }

    fn read_record_with(
        &self,
        bucket: &str,
        key: &str,
        open: fn(&RecordAuth, &str, &str, bytes::Bytes) -> Result<ObjectRecord>,
    ) -> Result<Option<ObjectRecord>> {
        let db = self.db()?;
        match db
            .get_cf(db.cf(ColumnFamily::Objects)?, object_key(bucket, key))
            .map_err(storage)?
        {
            Some(raw) => open(&self.inner.records, bucket, key, raw.into()).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `record` for bucket/key in one batch with `extra` (segments, upload
    /// markers), dropping the replaced object's segments (or deferring that to
    /// its last reader), if `condition` holds for what is there — checked
    /// under the key's lock, so no other writer of the key comes between. The
    /// bucket must still be the one the write began in (not deleted, nor
    /// deleted and created again).
    pub(crate) fn commit(
        &self,
        bucket: &BucketRecord,
        key: &str,
        record: Option<&ObjectRecord>,
        condition: &PutCondition,
        extra: impl FnOnce(&mut WriteBatch, &DbRef<'_>) -> Result<()>,
    ) -> Result<()> {
        self.gated_write(bucket, |db| {
            self.commit_gated(db, bucket, key, record, condition, extra)
        })
    }

    /// Runs `write` under the bucket gate if `bucket` is still the one the
    /// write began in (not deleted, nor deleted and created again;
    /// [`Error::NoSuchBucket`] otherwise): whatever lands in a bucket (an
    /// object, an upload, a bucket key) never lands in one being deleted.
    pub(crate) fn gated_write<T>(
        &self,
        bucket: &BucketRecord,
        write: impl FnOnce(&DbRef<'_>) -> Result<T>,
    ) -> Result<T> {
        self.gated_write_to(&bucket.name, bucket.incarnation, write)
    }

    /// [`Store::gated_write`] for the bucket `name` of `incarnation`.
    pub(crate) fn gated_write_to<T>(
        &self,
        name: &str,
        incarnation: u64,
        write: impl FnOnce(&DbRef<'_>) -> Result<T>,
    ) -> Result<T> {
        let _gate = self.inner.engine.bucket_gate.read();
        if self.bucket_record(name)?.incarnation != incarnation {
            return Err(Error::NoSuchBucket(name.to_owned()));
        }
        write(&self.db()?)
    }

    fn commit_gated(
        &self,
        db: &DbRef<'_>,
        bucket: &BucketRecord,
        key: &str,
        record: Option<&ObjectRecord>,
        condition: &PutCondition,
        extra: impl FnOnce(&mut WriteBatch, &DbRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let name = bucket.name.as_str();
        let raw_key = object_key(name, key);
        let _guard = self.stripe(&raw_key).lock();
        let objects = db.cf(ColumnFamily::Objects)?;
        let old = db.get_pinned_cf(objects, &raw_key).map_err(storage)?;
        check_put_condition(condition, old.as_deref(), name, key, &self.inner.records)?;
        let old_segmented = match old {
            // The old record names the segments to drop: only trust it if it
            // authenticates. A damaged one leaves its segments to
            // `check_consistency` rather than drop another object's.
            Some(raw) => match ObjectRecord::segmented_id(&raw) {
                Ok(Some(id)) if self.inner.records.verify(name, key, &raw).is_ok() => Some(id),
                _ => None,
            },
            None => None,
        };
        let mut batch = WriteBatch::default();
        extra(&mut batch, db)?;
        match record {
            Some(record) => batch.put_cf(
                objects,
                &raw_key,
                self.inner.records.seal(name, key, record)?,
            ),
            None => batch.delete_cf(objects, &raw_key),
        }
        if let Some(old_id) = old_segmented
            && record.is_none_or(|r| r.object_id != old_id)
        {
            self.dispose_segments(db, &mut batch, &old_id)?;
        }
        db.write_opt(batch, &self.inner.engine.write_options)
            .map_err(storage)?;
        Ok(())
    }

    fn dispose_segments(
        &self,
        db: &DbRef<'_>,
        batch: &mut WriteBatch,
        object_id: &[u8; OBJECT_ID_LEN],
    ) -> Result<()> {
        let mut readers = self.inner.engine.readers.lock();
        if readers.open.contains_key(object_id) {
            readers.deferred.insert(*object_id);
            batch.put_cf(db.cf(ColumnFamily::Garbage)?, object_id, []);
        } else {
            let (start, end) = segment_range(object_id);
            batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, start, end);
        }
        Ok(())
    }

    /// Reads a record and, if its payload is in segments, registers a reader so
    /// that the segments outlive a concurrent overwrite or delete.
    pub(crate) fn read_record_for_reading(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(ObjectRecord, Option<ReaderGuard>)> {
        let missing = || {
            self.bucket_record(bucket)?;
            Err(Error::NoSuchKey {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })
        };
        // An inline record is the whole object, read in one atomic get.
        match self.read_record(bucket, key)? {
            Some(record) if matches!(record.body, crate::format::record::Body::Inline(_)) => {
                return Ok((record, None));
            }
            Some(_) => {}
            None => return missing(),
        }
        // Segments are read later: register as a reader under the key's lock, so
        // that a concurrent overwrite keeps them until this reader is done.
        let raw_key = object_key(bucket, key);
        let _guard = self.stripe(&raw_key).lock();
        let Some(record) = self.read_record(bucket, key)? else {
            return missing();
        };
        let guard = match record.body {
            crate::format::record::Body::Segmented { .. }
            | crate::format::record::Body::Multipart { .. } => {
                *self
                    .inner
                    .engine
                    .readers
                    .lock()
                    .open
                    .entry(record.object_id)
                    .or_default() += 1;
                Some(ReaderGuard {
                    store: self.clone(),
                    object_id: record.object_id,
                })
            }
            crate::format::record::Body::Inline(_) => None,
        };
        Ok((record, guard))
    }
}

/// Keeps an object's segments alive while it is being read.
pub(crate) struct ReaderGuard {
    store: Store,
    object_id: [u8; OBJECT_ID_LEN],
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        let release = {
            let mut readers = self.store.inner.engine.readers.lock();
            let count = readers.open.entry(self.object_id).or_default();
            *count = count.saturating_sub(1);
            if *count == 0 {
                readers.open.remove(&self.object_id);
                readers.deferred.remove(&self.object_id)
            } else {
                false
            }
        };
        if release {
            let result = (|| -> Result<()> {
                let db = self.store.db()?;
                let mut batch = WriteBatch::default();
                let (start, end) = segment_range(&self.object_id);
                batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, start, end);
                batch.delete_cf(db.cf(ColumnFamily::Garbage)?, self.object_id);
                db.write_opt(batch, &self.store.inner.engine.write_options)
                    .map_err(storage)?;
                Ok(())
            })();
            if let Err(error) = result {
                tracing::warn!(%error, "could not drop a replaced object's segments; they go at the next open");
            }
        }
    }
}

/// Whether a write under `condition` may replace `old` (the raw record there,
/// if any): [`Error::AlreadyExists`] or [`Error::PreconditionFailed`] if not,
/// [`Error::Integrity`] if the record there does not authenticate.
fn check_put_condition(
    condition: &PutCondition,
    old: Option<&[u8]>,
    bucket: &str,
    key: &str,
    records: &RecordAuth,
) -> Result<()> {
    let failed = |condition: &str| Error::PreconditionFailed {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        condition: condition.to_owned(),
    };
    match (condition, old) {
        (PutCondition::None, _) | (PutCondition::IfNotExists, None) => Ok(()),
        (PutCondition::IfNotExists, Some(_)) => Err(Error::AlreadyExists {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }),
        (PutCondition::IfMatch(_), None) => Err(failed("If-Match: there is no object")),
        (PutCondition::IfMatch(expected), Some(raw)) => {
            records.verify(bucket, key, raw)?;
            let current = raw
                .get(1..=OBJECT_ID_LEN)
                .and_then(|id| <[u8; OBJECT_ID_LEN]>::try_from(id).ok())
                .map(|id| crate::format::columns::etag(&id))
                .ok_or_else(|| Error::CorruptRecord("object id".into()))?;
            if *expected == current {
                Ok(())
            } else {
                Err(failed("If-Match"))
            }
        }
    }
}
