//! Streamed writes in two steps: the payload first, the record after.
//!
//! A streamed put registers its object id as an upload, writes its segments,
//! then commits its record in one batch that also clears the upload. Between
//! the two steps the write is a [`StagedPut`]. User puts take both steps at
//! once, with every segment through the write-ahead log. A bulk job that
//! rewrites payloads stages a batch of objects with their segments written
//! around the log ([`SegmentLog::Unlogged`]), makes them durable with one flush
//! of the chunks family ([`Store::flush_segments`]), and only then commits the
//! records: each segment reaches the disk once (its blob file) instead of twice
//! (log and blob file), and a record never names a segment a crash could lose.
//! An interruption before the commits leaves only registered uploads, which the
//! next open removes with their segments.

use bytes::Bytes;
use coffer_keyring::Caller;

use crate::columns::{OBJECT_ID_LEN, object_key, segment_key};
use crate::data_keys::{NewKey, ResolvedRule};
use crate::object_types::{PutCondition, PutOptions, PutResult};
use crate::objects::{SEGMENT_PLAINTEXT, SegmentFeed, etag};
use crate::record::{Body, BucketRecord, ObjectRecord};
use crate::store::random_id;
use crate::{ColumnFamily, Result, Store};

/// How a streamed write's segments go to the chunks family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SegmentLog {
    /// Through the write-ahead log, as every other write: durable as soon as
    /// the log is.
    Logged,
    /// Around the log, into the memtable only: durable once the chunks family
    /// is flushed, which must happen before the record commits.
    Unlogged,
}

/// A streamed write whose payload is written and whose record is not.
pub(crate) struct StagedPut {
    bucket: BucketRecord,
    key: String,
    record: ObjectRecord,
    condition: PutCondition,
    /// Keeps the key version pinned until the record commits.
    new_key: NewKey,
    /// Whether the payload is in segments (registered as an upload).
    segmented: bool,
}

impl StagedPut {
    /// Whether committing waits on segments written outside the record.
    pub(crate) fn has_segments(&self) -> bool {
        self.segmented
    }
}

impl Store {
    /// Seals and writes the payload a segment at a time as `feed` yields it,
    /// registered as an upload; a payload small enough stays inline in the
    /// record instead. Nothing is visible until [`Store::commit_staged`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_streamed(
        &self,
        bucket: &BucketRecord,
        key: &str,
        mut feed: impl SegmentFeed,
        options: PutOptions,
        rule: &ResolvedRule,
        caller: &Caller,
        log: SegmentLog,
    ) -> Result<StagedPut> {
        let object_id = random_id()?;
        let new_key = self.new_data_key(bucket, key, &object_id, rule, caller)?;
        let first = feed.next_segment()?;
        if first.len() < SEGMENT_PLAINTEXT && first.len() <= self.inner.inline_threshold {
            return self.stage_inline(bucket, key, first, options, new_key, object_id);
        }
        let condition = options.condition.clone();
        // Register the upload before any segment is written, so an
        // interruption is cleaned up on the next open. Through the log: it is
        // what finds unlogged segments after a crash.
        {
            let db = self.db()?;
            db.put_cf_opt(
                db.cf(ColumnFamily::Uploads)?,
                object_id,
                object_key(&bucket.name, key),
                &self.inner.write_options,
            )?;
        }
        let upload = (|| -> Result<(Vec<u8>, u32, u64)> {
            let sealer = new_key
                .data_key
                .as_ref()
                .map(|k| {
                    self.inner
                        .cipher
                        .sealer(k, &self.identity(&bucket.name, &object_id))
                })
                .transpose()?;
            let (index, size) = self.write_segments(
                sealer.as_ref(),
                first,
                &mut feed,
                |index| segment_key(&object_id, index).to_vec(),
                log,
            )?;
            Ok((
                sealer.map(|s| s.prefix().to_vec()).unwrap_or_default(),
                index,
                size,
            ))
        })();
        let (prefix, segments, size) = match upload {
            Ok(done) => done,
            Err(error) => {
                self.abandon_upload(&object_id);
                return Err(error);
            }
        };
        let record = self.new_record(
            object_id,
            size,
            &new_key,
            options,
            Body::Segmented { prefix, segments },
        );
        Ok(StagedPut {
            bucket: bucket.clone(),
            key: key.to_owned(),
            record,
            condition,
            new_key,
            segmented: true,
        })
    }

    /// A write whose payload, sealed, lives in its record: nothing to write
    /// before the commit.
    pub(crate) fn stage_inline(
        &self,
        bucket: &BucketRecord,
        key: &str,
        body: Bytes,
        options: PutOptions,
        new_key: NewKey,
        object_id: [u8; OBJECT_ID_LEN],
    ) -> Result<StagedPut> {
        let size = body.len() as u64;
        let body = match &new_key.data_key {
            Some(data_key) => Body::Inline(self.inner.cipher.seal(
                data_key,
                &self.identity(&bucket.name, &object_id),
                body,
            )?),
            None => Body::Inline(body),
        };
        let condition = options.condition.clone();
        let record = self.new_record(object_id, size, &new_key, options, body);
        Ok(StagedPut {
            bucket: bucket.clone(),
            key: key.to_owned(),
            record,
            condition,
            new_key,
            segmented: false,
        })
    }

    /// Commits a staged write's record if its condition holds (its segments
    /// unlogged must have been flushed); on failure its segments go.
    pub(crate) fn commit_staged(&self, staged: StagedPut) -> Result<PutResult> {
        let object_id = staged.record.object_id;
        let committed = self.commit(
            &staged.bucket,
            &staged.key,
            Some(&staged.record),
            &staged.condition,
            |batch, db| {
                if staged.segmented {
                    batch.delete_cf(db.cf(ColumnFamily::Uploads)?, object_id);
                }
                Ok(())
            },
        );
        if let Err(error) = committed {
            self.abandon_staged(staged);
            return Err(error);
        }
        Ok(PutResult {
            etag: etag(&object_id),
            protection: staged.new_key.protection,
        })
    }

    /// Drops a staged write that will not commit, with its segments.
    pub(crate) fn abandon_staged(&self, staged: StagedPut) {
        if staged.segmented {
            self.abandon_upload(&staged.record.object_id);
        }
    }

    /// Makes every segment written so far durable, logged or not: flushes the
    /// chunks family's memtables to its files and waits for them.
    pub(crate) fn flush_segments(&self) -> Result<()> {
        let db = self.db()?;
        db.flush_cf(db.cf(ColumnFamily::Chunks)?)?;
        Ok(())
    }
}
