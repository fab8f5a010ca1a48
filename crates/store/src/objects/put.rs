//! Put: an object from bytes or a stream, sealed a segment at a time above
//! a few segments, committed with its record; the segment feeds and the
//! segment layout's constants.

use std::io::Read;

use bytes::{Bytes, BytesMut};
use coffer_cipher::DataKey;
use coffer_keyring::Caller;

use crate::engine::db::storage;
use crate::engine::db::{millis, random_id};
use crate::format::columns::{
    CHUNKS_PER_SEGMENT, OBJECT_ID_LEN, SEGMENT_PLAINTEXT, etag, segment_key,
};
use crate::format::record::{Body, BucketRecord, ObjectRecord};
use crate::objects::staged_put::SegmentLog;
use crate::store::TRUSTED;
use crate::{ColumnFamily, Error, Result, Store};
use crate::{ObjectApi, PutPayload};
use crate::{PutOptions, PutResult};
use coffer_sse::keys::ResolvedRule;

/// Bodies larger than this are sealed and written a segment at a time, not
/// in one batch (which would hold the sealed copy whole).
const STREAM_ABOVE: usize = 4 * SEGMENT_PLAINTEXT;

impl Store {
    /// Stores `body` under bucket/key, replacing any object there (last writer
    /// wins). The object's own rule wins over the bucket default.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use coffer_store::{EncryptionRule, ProtectionMode, PutOptions, RootKey, Store, StoreOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::create(dir.path(), StoreOptions::new(RootKey::generate()?))?;
    /// store.create_bucket("logs")?;
    /// store.put_bucket_encryption("logs", EncryptionRule::managed())?;
    /// // The put's own rule wins over the bucket's default.
    /// let put = store.put_object("logs", "a.log", Bytes::from_static(b"x"), PutOptions::kms(None))?;
    /// assert_eq!(put.protection.mode, ProtectionMode::Kms);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.put_object_as(bucket, key, PutPayload::Bytes(body), options, &TRUSTED)
    }

    /// Streams an object of any size from `source` with bounded memory. It
    /// becomes visible only when complete; an interrupted upload leaves nothing.
    pub fn put_object_from_reader(
        &self,
        bucket: &str,
        key: &str,
        source: impl Read,
        options: PutOptions,
    ) -> Result<PutResult> {
        let payload = PutPayload::Reader(Box::new(source));
        self.put_object_as(bucket, key, payload, options, &TRUSTED)
    }

    /// Puts `body` under a rule resolved already (sessions check that rule
    /// before the put applies it).
    pub(crate) fn put_object_resolved(
        &self,
        bucket: &BucketRecord,
        key: &str,
        body: Bytes,
        options: PutOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<PutResult> {
        if body.len() > STREAM_ABOVE {
            // Sealed and written a segment at a time: memory stays bounded
            // whatever the body's size.
            let feed = BytesFeed { body, at: 0 };
            return self.put_streamed(bucket, key, feed, options, rule, caller);
        }
        let object_id = random_id()?;
        let new_key = self.new_data_key(bucket, key, &object_id, rule, caller)?;
        if body.len() <= self.inner.inline_threshold {
            // Small enough to live inline in its record: one batch.
            let staged = self.stage_inline(bucket, key, body, options, new_key, object_id)?;
            return self.commit_staged(staged);
        }
        let size = body.len() as u64;
        let mut segments = Vec::new();
        let (prefix, count) = self.seal_segments(
            &bucket.name,
            &object_id,
            new_key.data_key.as_ref(),
            body,
            &mut segments,
        )?;
        let body = Body::Segmented {
            prefix,
            segments: count,
        };
        let condition = options.condition.clone();
        let record = self.new_record(object_id, size, &new_key, options, body);
        self.commit(bucket, key, Some(&record), &condition, |batch, db| {
            let chunks = db.cf(ColumnFamily::Chunks)?;
            for (index, segment) in segments {
                batch.put_cf(chunks, segment_key(&object_id, index), segment);
            }
            Ok(())
        })?;
        Ok(PutResult {
            etag: etag(&object_id),
            protection: new_key.protection,
        })
    }

    fn seal_segments(
        &self,
        bucket: &str,
        object_id: &[u8; OBJECT_ID_LEN],
        data_key: Option<&DataKey>,
        body: Bytes,
        out: &mut Vec<(u32, Bytes)>,
    ) -> Result<(Vec<u8>, u32)> {
        let count = body.len().div_ceil(SEGMENT_PLAINTEXT).max(1);
        let count =
            u32::try_from(count).map_err(|_| Error::InvalidArgument("object too large".into()))?;
        let sealer = data_key
            .map(|key| {
                self.inner
                    .keys
                    .cipher()
                    .sealer(key, &self.identity(bucket, object_id))
            })
            .transpose()?;
        for index in 0..count {
            let start = index as usize * SEGMENT_PLAINTEXT;
            let plaintext = body.slice(start..(start + SEGMENT_PLAINTEXT).min(body.len()));
            out.push((
                index,
                self.seal_segment(sealer.as_ref(), index, plaintext, index + 1 == count)?,
            ));
        }
        Ok((
            sealer.map(|s| s.prefix().to_vec()).unwrap_or_default(),
            count,
        ))
    }

    /// Seals `first` and what `feed` yields after it as consecutive
    /// segments under `key_of(index)`, written to the chunks family as they
    /// come, through the write-ahead log or around it as `log` says (starting
    /// flushes as it goes for [`SegmentLog::Bounded`]); what it wrote.
    pub(crate) fn write_segments(
        &self,
        sealer: Option<&coffer_cipher::PayloadSealer>,
        first: Bytes,
        feed: &mut impl SegmentFeed,
        key_of: impl Fn(u32) -> Vec<u8>,
        log: SegmentLog,
    ) -> Result<Written> {
        let mut current = first;
        let mut written = Written::default();
        loop {
            let index = written.segments;
            let next = feed.next_segment()?;
            let last = next.is_empty();
            written.size += current.len() as u64;
            let sealed = self.seal_segment(sealer, index, current, last)?;
            let unlogged = log.unlogged(index);
            {
                let db = self.db()?;
                db.put_cf_opt(
                    db.cf(ColumnFamily::Chunks)?,
                    key_of(index),
                    sealed,
                    if unlogged {
                        &self.inner.engine.unlogged_write_options
                    } else {
                        &self.inner.engine.write_options
                    },
                )
                .map_err(storage)?;
            }
            written.unflushed |= unlogged;
            if log.flush_after(index) {
                // Started, not waited for: sealing goes on while the disk
                // writes, and a write that finds both memtables full waits
                // for the flush. The flush before the commit waits for all.
                self.start_flushing_segments()?;
            }
            written.segments = index
                .checked_add(1)
                .ok_or_else(|| Error::TooLarge("more than 2^32 segments".into()))?;
            if last {
                return Ok(written);
            }
            current = next;
        }
    }

    pub(crate) fn seal_segment(
        &self,
        sealer: Option<&coffer_cipher::PayloadSealer>,
        index: u32,
        plaintext: Bytes,
        last: bool,
    ) -> Result<Bytes> {
        match sealer {
            None => Ok(plaintext),
            Some(sealer) => {
                let mut sealed = BytesMut::new();
                sealer.seal_chunks(
                    u64::from(index) * CHUNKS_PER_SEGMENT,
                    plaintext,
                    last,
                    &mut sealed,
                )?;
                Ok(sealed.freeze())
            }
        }
    }

    pub(crate) fn new_record(
        &self,
        object_id: [u8; OBJECT_ID_LEN],
        size: u64,
        new_key: &coffer_sse::keys::NewKey,
        options: PutOptions,
        body: Body,
    ) -> ObjectRecord {
        ObjectRecord {
            object_id,
            size,
            modified_ms: millis(self.inner.keys.clock().now()),
            mode: new_key.protection.mode,
            key_id: new_key.protection.kms_key_id.clone().unwrap_or_default(),
            key_version: new_key.protection.key_version.unwrap_or(0),
            wrapped_key: new_key.wrapped.clone(),
            attributes: options.attributes,
            user_metadata: options.user_metadata,
            body,
        }
    }

    /// Streams a put under a rule resolved already.
    pub(crate) fn put_object_from_reader_resolved(
        &self,
        bucket: &BucketRecord,
        key: &str,
        source: impl Read,
        options: PutOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<PutResult> {
        self.put_streamed(bucket, key, ReaderFeed(source), options, rule, caller)
    }

    /// Seals and writes the payload a segment at a time as `feed` yields it;
    /// the object becomes visible in one final commit, and an interruption
    /// leaves nothing (its segments go at the next open).
    fn put_streamed(
        &self,
        bucket: &BucketRecord,
        key: &str,
        feed: impl SegmentFeed,
        options: PutOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<PutResult> {
        let staged = self.stage_streamed(
            bucket,
            key,
            feed,
            options,
            rule,
            caller,
            SegmentLog::Bounded,
        )?;
        self.flush_and_commit(staged)
    }

    pub(crate) fn abandon_upload(&self, object_id: &[u8; OBJECT_ID_LEN]) {
        let result = (|| -> Result<()> {
            let db = self.db()?;
            let mut batch = rocksdb::WriteBatch::default();
            let (start, end) = crate::format::columns::segment_range(object_id);
            batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, start, end);
            batch.delete_cf(db.cf(ColumnFamily::Uploads)?, object_id);
            db.write_opt(batch, &self.inner.engine.write_options)
                .map_err(storage)?;
            Ok(())
        })();
        if let Err(error) = result {
            tracing::warn!(%error, "could not remove an abandoned upload; it goes at the next open");
        }
    }
}

/// What [`Store::write_segments`] wrote.
#[derive(Default)]
pub(crate) struct Written {
    /// Segments.
    pub(crate) segments: u32,
    /// Plaintext bytes.
    pub(crate) size: u64,
    /// Whether some went around the log: a flush must be waited for before
    /// a record names them.
    pub(crate) unflushed: bool,
}

/// Where a streamed put's plaintext comes from, a segment at a time.
pub(crate) trait SegmentFeed {
    /// The next segment's plaintext (a whole segment unless it is the last);
    /// empty when there is no more.
    fn next_segment(&mut self) -> Result<Bytes>;
}

/// A caller's stream, read a segment at a time.
pub(crate) struct ReaderFeed<R>(pub(crate) R);

impl<R: Read> SegmentFeed for ReaderFeed<R> {
    fn next_segment(&mut self) -> Result<Bytes> {
        read_full(&mut self.0, SEGMENT_PLAINTEXT)
    }
}

/// A body in memory, sliced into segments without copying.
pub(crate) struct BytesFeed {
    pub(crate) body: Bytes,
    pub(crate) at: usize,
}

impl SegmentFeed for BytesFeed {
    fn next_segment(&mut self) -> Result<Bytes> {
        let end = (self.at + SEGMENT_PLAINTEXT).min(self.body.len());
        let segment = self.body.slice(self.at..end);
        self.at = end;
        Ok(segment)
    }
}

fn read_full(source: &mut impl Read, len: usize) -> Result<Bytes> {
    let mut buffer = Vec::with_capacity(len);
    source.take(len as u64).read_to_end(&mut buffer)?;
    Ok(buffer.into())
}
