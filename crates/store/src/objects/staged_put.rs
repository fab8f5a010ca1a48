//! Streamed writes in two steps: the payload first, the record after.
//!
//! A streamed put registers its object id as an upload, writes its segments,
//! then commits its record in one batch that also clears the upload. Between
//! the two steps the write is a [`StagedPut`]. User puts take both steps at
//! once, in bounded memory ([`SegmentLog::Bounded`]: past their first few
//! segments around the write-ahead log, with a flush started every few more
//! and one waited for before the commit). A bulk job that rewrites payloads stages a batch of objects with their segments
//! written around the log ([`SegmentLog::Unlogged`]), makes them durable with
//! one flush of the chunks family ([`Store::flush_segments`]), and only then
//! commits the records: each segment reaches the disk once (its blob file)
//! instead of twice (log and blob file), and a record never names a segment a
//! crash could lose. An interruption before the commits leaves only
//! registered uploads, which the next open removes with their segments.

use bytes::Bytes;
use coffer_keyring::Caller;

use crate::engine::db::random_id;
use crate::engine::db::storage;
use crate::format::columns::SEGMENT_PLAINTEXT;
use crate::format::columns::etag;
use crate::format::columns::{OBJECT_ID_LEN, object_key, segment_key};
use crate::format::record::{Body, BucketRecord, ObjectRecord};
use crate::objects::put::SegmentFeed;
use crate::{ColumnFamily, Result, Store};
use crate::{PutCondition, PutOptions, PutResult};
use coffer_sse::keys::{NewKey, ResolvedRule};

/// How a streamed write's segments go to the chunks family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SegmentLog {
    /// Around the log, into the memtable only: durable once the chunks family
    /// is flushed, which must happen before the record commits.
    Unlogged,
    /// A write of any size in bounded memory, each byte of it written once
    /// past its first few segments: the first [`LOGGED_SEGMENTS`] through the
    /// log (an object that small flushes nothing), the rest around it, with a
    /// flush of the chunks family started after every [`FLUSH_EVERY`] of them
    /// (not waited for: sealing goes on while the disk writes; a write waits
    /// only when both memtables are full) and one waited for before the
    /// record commits. The memtables then hold at most two such batches of its
    /// segments, where the log would keep them until they filled (two of
    /// 64 MiB); the price is the wait for the disk before the commit (the log
    /// is not synced, a flush is).
    Bounded,
}

/// Segments a [`SegmentLog::Bounded`] write sends through the log first.
pub(crate) const LOGGED_SEGMENTS: u32 = 8;
/// Segments a [`SegmentLog::Bounded`] write writes around the log between
/// the flushes it starts.
pub(crate) const FLUSH_EVERY: u32 = 16;

impl SegmentLog {
    /// Whether segment `index` goes around the log.
    pub(crate) fn unlogged(self, index: u32) -> bool {
        match self {
            Self::Unlogged => true,
            Self::Bounded => index >= LOGGED_SEGMENTS,
        }
    }

    /// Whether to start a flush of the chunks family after writing segment
    /// `index`.
    pub(crate) fn flush_after(self, index: u32) -> bool {
        self == Self::Bounded
            && index >= LOGGED_SEGMENTS
            && (index - LOGGED_SEGMENTS + 1).is_multiple_of(FLUSH_EVERY)
    }
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
    /// Whether some of them went around the log (a flush must be waited for
    /// before the record commits).
    unflushed: bool,
}

impl StagedPut {
    /// Whether segments went around the log: the chunks family must be
    /// flushed before the record commits.
    pub(crate) fn needs_flush(&self) -> bool {
        self.unflushed
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
                &self.inner.engine.write_options,
            )
            .map_err(storage)?;
        }
        let upload = (|| -> Result<(Vec<u8>, crate::objects::put::Written)> {
            let sealer = new_key
                .data_key
                .as_ref()
                .map(|k| {
                    self.inner
                        .keys
                        .cipher()
                        .sealer(k, &self.identity(&bucket.name, &object_id))
                })
                .transpose()?;
            let written = self.write_segments(
                sealer.as_ref(),
                first,
                &mut feed,
                |index| segment_key(&object_id, index).to_vec(),
                log,
            )?;
            Ok((
                sealer.map(|s| s.prefix().to_vec()).unwrap_or_default(),
                written,
            ))
        })();
        let (prefix, written) = match upload {
            Ok(done) => done,
            Err(error) => {
                self.abandon_upload(&object_id);
                return Err(error);
            }
        };
        let record = self.new_record(
            object_id,
            written.size,
            &new_key,
            options,
            Body::Segmented {
                prefix,
                segments: written.segments,
            },
        );
        Ok(StagedPut {
            bucket: bucket.clone(),
            key: key.to_owned(),
            record,
            condition,
            new_key,
            segmented: true,
            unflushed: written.unflushed,
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
            Some(data_key) => Body::Inline(self.inner.keys.cipher().seal(
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
            unflushed: false,
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

    /// Flushes what a staged write sent around the log, then commits it.
    pub(crate) fn flush_and_commit(&self, staged: StagedPut) -> Result<PutResult> {
        if staged.needs_flush()
            && let Err(error) = self.flush_segments()
        {
            self.abandon_staged(staged);
            return Err(error);
        }
        self.commit_staged(staged)
    }

    /// Drops a staged write that will not commit, with its segments.
    pub(crate) fn abandon_staged(&self, staged: StagedPut) {
        if staged.segmented {
            self.abandon_upload(&staged.record.object_id);
        }
    }

    /// Makes every segment written so far durable, logged or not: flushes the
    /// chunks family's memtables to its files and waits for them (and for
    /// any flush started before).
    pub(crate) fn flush_segments(&self) -> Result<()> {
        let db = self.db()?;
        db.flush_cf(db.cf(ColumnFamily::Chunks)?).map_err(storage)?;
        Ok(())
    }

    /// Starts flushing the chunks family's memtable, without waiting: what a
    /// large write sent around the log so far reaches its files while the
    /// write goes on ([`Store::flush_segments`] before the commit waits).
    pub(crate) fn start_flushing_segments(&self) -> Result<()> {
        let db = self.db()?;
        let mut options = rocksdb::FlushOptions::default();
        options.set_wait(false);
        db.flush_cf_opt(db.cf(ColumnFamily::Chunks)?, &options)
            .map_err(storage)?;
        Ok(())
    }
}
