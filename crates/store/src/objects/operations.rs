//! Objects: put (from bytes or a stream), get (whole, by range, as `Read + Seek`),
//! head, delete, list and copy.

use std::io::{Cursor, Read};
use std::ops::Range;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use coffer_cipher::{DataKey, PayloadCipher};
use coffer_keyring::Caller;
use rocksdb::IteratorMode;

use crate::engine::db::storage;
use crate::engine::db::{millis, random_id};
use crate::format::columns::{OBJECT_ID_LEN, etag, object_key, segment_key, split_object_key};
use crate::format::record::{Body, BucketRecord, ObjectRecord};
use crate::objects::reader::{ObjectReader, Parts, SegmentSource};
use crate::objects::staged_put::{SegmentLog, StagedPut};
use crate::store::TRUSTED;
use crate::{ColumnFamily, Error, Result, Store};
use crate::{
    CopyOptions, GetConditions, ListOptions, ListResult, Object, ObjectMeta, ObjectSummary,
    PutCondition, PutOptions, PutResult,
};
use crate::{GetOptions, ObjectApi, PutPayload};
use coffer_sse::keys::ResolvedRule;
use coffer_sse::validate_key;

/// Plaintext bytes per segment of a large object: 64 chunks.
pub(crate) const SEGMENT_PLAINTEXT: usize = 1 << 20;
/// Bodies larger than this are sealed and written a segment at a time, not
/// in one batch (which would hold the sealed copy whole).
const STREAM_ABOVE: usize = 4 * SEGMENT_PLAINTEXT;
pub(crate) const CHUNKS_PER_SEGMENT: u64 = 64;

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

    /// Reads a whole object, decrypting it ([`Error::NoSuchKey`] if missing).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use coffer_store::{Error, ProtectionMode, PutOptions, RootKey, Store, StoreOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::create(dir.path(), StoreOptions::new(RootKey::generate()?))?;
    /// store.create_bucket("logs")?;
    /// store.put_object("logs", "a.log", Bytes::from_static(b"line"), PutOptions::managed())?;
    /// let object = store.get_object("logs", "a.log")?;
    /// assert_eq!(object.body, "line");
    /// assert_eq!(object.meta.protection.mode, ProtectionMode::Aes256);
    /// assert!(matches!(store.get_object("logs", "b.log"), Err(Error::NoSuchKey { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Object> {
        self.get_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::get_object`] if `conditions` hold for the object
    /// ([`Error::PreconditionFailed`], [`Error::NotModified`] otherwise; nothing
    /// is decrypted then).
    pub fn get_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<Object> {
        let options = GetOptions::new().with_conditions(conditions.clone());
        self.get_object_as(bucket, key, &options, &TRUSTED)
    }

    /// Reads `range` of an object, opening only the chunks that cover it.
    pub fn get_object_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Object> {
        self.get_object_range_if(bucket, key, range, &GetConditions::new())
    }

    /// [`Store::get_object_range`] if `conditions` hold for the object.
    pub fn get_object_range_if(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        conditions: &GetConditions,
    ) -> Result<Object> {
        ObjectApi::get_object_range_as(self, bucket, key, range, conditions, &TRUSTED)
    }

    /// Opens an object as `Read + Seek`, with bounded memory whatever its size.
    pub fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader> {
        self.open_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::open_object`] if `conditions` hold for the object.
    pub fn open_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectReader> {
        ObjectApi::open_object_as(self, bucket, key, conditions, &TRUSTED)
    }

    /// An object's metadata and protection, without decrypting anything.
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.head_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::head_object`] if `conditions` hold for the object.
    pub fn head_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectMeta> {
        self.bucket_record(bucket)?;
        let record = self
            .read_record(bucket, key)?
            .ok_or_else(|| no_such_key(bucket, key))?;
        check_read(bucket, key, &record, conditions)?;
        self.meta_of(bucket, key, &record)
    }

    /// Deletes an object (succeeds if it does not exist).
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let bucket = self.bucket_record(bucket)?;
        validate_key(key)?;
        self.commit(&bucket, key, None, &PutCondition::None, |_, _| Ok(()))?;
        Ok(())
    }

    /// Lists a bucket's objects in key order.
    pub fn list_objects(&self, bucket: &str, options: &ListOptions) -> Result<ListResult> {
        self.bucket_record(bucket)?;
        let max_keys = options.max_keys.unwrap_or(1000).min(1000);
        let mut result = ListResult::default();
        if max_keys == 0 {
            return Ok(result);
        }
        let full_prefix = object_key(bucket, &options.prefix);
        let start = match &options.start_after {
            Some(after) if after.as_str() >= options.prefix.as_str() => {
                let mut k = object_key(bucket, after);
                k.push(0);
                k
            }
            _ => full_prefix.clone(),
        };
        let db = self.db()?;
        let objects = db.cf(ColumnFamily::Objects)?;
        // A page that ended on a common prefix continues after every key in it.
        let mut last_prefix: Option<String> = options.start_after.clone().filter(|after| {
            let delimiter = options.delimiter.as_deref().unwrap_or_default();
            !delimiter.is_empty()
                && after.starts_with(options.prefix.as_str())
                && after[options.prefix.len()..]
                    .find(delimiter)
                    .is_some_and(|at| options.prefix.len() + at + delimiter.len() == after.len())
        });
        for item in db.iterator_cf(
            objects,
            IteratorMode::From(&start, rocksdb::Direction::Forward),
        ) {
            let (raw_key, value) = item.map_err(storage)?;
            if !raw_key.starts_with(&full_prefix) {
                break;
            }
            let (_, key) = split_object_key(&raw_key)
                .ok_or_else(|| Error::CorruptRecord("object key".into()))?;
            let rest = &key[options.prefix.len()..];
            let grouped = options
                .delimiter
                .as_deref()
                .filter(|d| !d.is_empty())
                .and_then(|d| {
                    rest.find(d)
                        .map(|at| format!("{}{}", options.prefix, &rest[..at + d.len()]))
                });
            if result.objects.len() + result.common_prefixes.len() == max_keys {
                if grouped.is_none() || grouped != last_prefix {
                    result.is_truncated = true;
                    break;
                }
                continue;
            }
            match grouped {
                Some(common) => {
                    if last_prefix.as_ref() != Some(&common) {
                        result.common_prefixes.push(common.clone());
                        result.next_start_after = Some(common.clone());
                        last_prefix = Some(common);
                    }
                }
                None => {
                    let record =
                        self.inner
                            .records
                            .open(bucket, key, Bytes::from(value.into_vec()))?;
                    let meta = self.meta_of(bucket, key, &record)?;
                    result.next_start_after = Some(key.to_owned());
                    result.objects.push(ObjectSummary {
                        key: key.to_owned(),
                        size: meta.size,
                        etag: meta.etag,
                        last_modified: meta.last_modified,
                        protection: meta.protection,
                    });
                }
            }
        }
        if !result.is_truncated {
            result.next_start_after = None;
        }
        Ok(result)
    }

    /// Copies an object, re-encrypting it with a fresh data key under the copy's
    /// rule. Copying an object over itself with a new rule is how existing
    /// objects get encrypted or re-encrypted; such a copy commits only if the
    /// object still has the ETag it was read with (unless `options` set
    /// another condition), so a write that lands meanwhile is never reverted
    /// ([`Error::PreconditionFailed`]: read it again and retry).
    pub fn copy_object(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        options: CopyOptions,
    ) -> Result<PutResult> {
        ObjectApi::copy_object_as(self, source, destination, options, &TRUSTED)
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

    /// A whole object for `caller`, errors naming it.
    pub(crate) fn read_whole(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Object> {
        self.get_whole(bucket, key, conditions, caller)
            .map_err(|e| e.about_object(bucket, key))
    }

    fn get_whole(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Object> {
        let (record, _guard) = self.read_record_for_reading(bucket, key)?;
        check_read(bucket, key, &record, conditions)?;
        let prefix = match &record.body {
            Body::Inline(payload) => &payload[..],
            Body::Segmented { prefix, .. } => &prefix[..],
            Body::Multipart { parts } => {
                let size = usize::try_from(record.size)
                    .map_err(|_| Error::TooLarge(format!("object of {} bytes", record.size)))?;
                let mut reader = self.open_parts(bucket, key, &record, parts, caller)?;
                let mut body = BytesMut::with_capacity(size);
                body.extend_from_slice(&reader.read_range(0..record.size)?);
                let meta = self.meta_of(bucket, key, &record)?;
                return Ok(Object {
                    body: body.freeze(),
                    meta,
                });
            }
        };
        let keys = self.payload_keys(bucket, key, &record, prefix, caller)?;
        let meta = self.meta_of(bucket, key, &record)?;
        let body = match record.body {
            // The record was read into a buffer of its own: open it there.
            Body::Inline(payload) => match &keys {
                Some(keys) => self
                    .inner
                    .keys
                    .cipher()
                    .open_with_keys(&keys.keys, payload)?,
                None => payload,
            },
            Body::Segmented { segments, .. } => {
                // The record is authenticated, so its size is the size written;
                // it must also agree with its segment count before anything is
                // allocated for it.
                let size = usize::try_from(record.size)
                    .map_err(|_| Error::TooLarge(format!("object of {} bytes", record.size)))?;
                if u64::from(segments) != record.size.div_ceil(SEGMENT_PLAINTEXT as u64).max(1) {
                    return Err(Error::Integrity(format!(
                        "object {bucket}/{key}: its record's size and segment count disagree"
                    )));
                }
                let opener = keys
                    .map(|keys| {
                        self.inner
                            .keys
                            .cipher()
                            .opener_with_keys(&keys.keys, PayloadCipher::payload_len(record.size)?)
                    })
                    .transpose()?;
                let db = self.db()?;
                let chunks = db.cf(ColumnFamily::Chunks)?;
                let segment = |index: u32| -> Result<Vec<u8>> {
                    db.get_cf(chunks, segment_key(&record.object_id, index))
                        .map_err(storage)?
                        .ok_or_else(|| {
                            Error::Integrity(format!(
                                "object {bucket}/{key}: segment {index} is missing"
                            ))
                        })
                };
                if segments == 1 {
                    // One segment: open it where it was read.
                    let value = BytesMut::from(Bytes::from(segment(0)?));
                    match &opener {
                        Some(opener) => opener.open_chunks_in_place(0, value)?.freeze(),
                        None => value.freeze(),
                    }
                } else {
                    let mut out = BytesMut::with_capacity(size);
                    for index in 0..segments {
                        let value = segment(index)?;
                        match &opener {
                            Some(opener) => opener.open_chunks(
                                u64::from(index) * CHUNKS_PER_SEGMENT,
                                Bytes::from(value),
                                &mut out,
                            )?,
                            None => out.extend_from_slice(&value),
                        }
                    }
                    out.freeze()
                }
            }
            Body::Multipart { .. } => {
                return Err(Error::CorruptRecord("a multipart body read whole".into()));
            }
        };
        if body.len() as u64 != record.size {
            return Err(Error::Integrity(format!(
                "object {bucket}/{key}: its length does not match its record"
            )));
        }
        Ok(Object { body, meta })
    }

    /// An object opened for `caller`, errors naming it.
    pub(crate) fn open_for(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectReader> {
        self.open_reader(bucket, key, conditions, caller)
            .map_err(|e| e.about_object(bucket, key))
    }

    fn open_reader(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectReader> {
        let (record, guard) = self.read_record_for_reading(bucket, key)?;
        check_read(bucket, key, &record, conditions)?;
        let meta = self.meta_of(bucket, key, &record)?;
        if let Body::Multipart { parts } = &record.body {
            let parts = self.open_parts(bucket, key, &record, parts, caller)?;
            return Ok(ObjectReader::parts(parts, meta, guard));
        }
        let data_key = self.data_key(bucket, key, &record, caller)?;
        let identity = self.identity(bucket, &record.object_id);
        let source = match &record.body {
            Body::Inline(payload) => SegmentSource::Inline(Cursor::new(payload.clone())),
            Body::Segmented { prefix, segments } => {
                let total = match data_key {
                    Some(_) => PayloadCipher::payload_len(record.size)?,
                    None => record.size,
                };
                SegmentSource::segmented(
                    self.clone(),
                    format!("{bucket}/{key}"),
                    record.object_id.to_vec(),
                    prefix.clone(),
                    *segments,
                    total,
                    data_key.is_some(),
                )
            }
            Body::Multipart { .. } => {
                return Err(Error::CorruptRecord(
                    "a multipart body as one payload".into(),
                ));
            }
        };
        ObjectReader::new(
            self.inner.keys.cipher(),
            data_key.as_ref(),
            &identity,
            source,
            meta,
            guard,
        )
    }

    /// The parts of a multipart object, ready to read (its data key unwrapped
    /// for `caller`).
    pub(crate) fn open_parts(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        parts: &[crate::format::record::PartRef],
        caller: &Caller,
    ) -> Result<Parts> {
        let data_key = self.data_key(bucket, key, record, caller)?;
        Parts::new(
            self.clone(),
            data_key,
            (bucket, key),
            record.object_id,
            parts,
            record.size,
        )
    }

    /// Copies under a destination rule resolved already.
    pub(crate) fn copy_object_resolved(
        &self,
        source: (&str, &str),
        bucket: &BucketRecord,
        key: &str,
        options: CopyOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<PutResult> {
        let staged = self.stage_copy(
            source,
            bucket,
            key,
            options,
            rule,
            caller,
            SegmentLog::Bounded,
        )?;
        self.flush_and_commit(staged)
    }

    /// Writes a copy's payload, not yet its record (see [`StagedPut`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_copy(
        &self,
        (source_bucket, source_key): (&str, &str),
        bucket: &BucketRecord,
        key: &str,
        options: CopyOptions,
        rule: &ResolvedRule,
        caller: &Caller,
        log: SegmentLog,
    ) -> Result<StagedPut> {
        // A segment at a time, each opened where RocksDB put it and handed
        // on without another copy.
        let stream = self.stream_for(source_bucket, source_key, &GetConditions::new(), caller)?;
        let meta = stream.meta().clone();
        let (attributes, user_metadata) = options
            .replace_metadata
            .unwrap_or((meta.attributes.clone(), meta.user_metadata.clone()));
        // A copy over itself (a re-encryption) replaces only what it read: a
        // write landing meanwhile is never reverted to the older content.
        let condition = match options.condition {
            PutCondition::None if (source_bucket, source_key) == (bucket.name.as_str(), key) => {
                PutCondition::IfMatch(meta.etag.clone())
            }
            condition => condition,
        };
        let mut put = PutOptions::default()
            .with_encryption(options.encryption)
            .with_attributes(attributes)
            .with_condition(condition);
        put.user_metadata = user_metadata;
        let feed = StreamFeed {
            stream,
            pending: BytesMut::new(),
        };
        self.stage_streamed(bucket, key, feed, put, rule, caller, log)
    }
}

/// An object's plaintext stream cut into whole segments: a buffer the stream
/// yields as a whole segment is passed on as it is, others (a multipart
/// object's parts need not end on segment boundaries) are gathered.
struct StreamFeed {
    stream: crate::ObjectStream,
    pending: BytesMut,
}

impl SegmentFeed for StreamFeed {
    fn next_segment(&mut self) -> Result<Bytes> {
        loop {
            if self.pending.len() >= SEGMENT_PLAINTEXT {
                return Ok(self.pending.split_to(SEGMENT_PLAINTEXT).freeze());
            }
            match self.stream.next() {
                None => return Ok(std::mem::take(&mut self.pending).freeze()),
                Some(piece) => {
                    let piece = piece?;
                    if self.pending.is_empty() && piece.len() == SEGMENT_PLAINTEXT {
                        return Ok(piece);
                    }
                    self.pending.extend_from_slice(&piece);
                }
            }
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

/// Refuses a read whose conditions do not hold for `record`.
pub(crate) fn check_read(
    bucket: &str,
    key: &str,
    record: &ObjectRecord,
    conditions: &GetConditions,
) -> Result<()> {
    if conditions.is_empty() {
        return Ok(());
    }
    let modified = SystemTime::UNIX_EPOCH + Duration::from_millis(record.modified_ms);
    conditions
        .check(&etag(&record.object_id), modified)
        .map_err(|(condition, not_modified)| {
            if not_modified {
                Error::NotModified {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }
            } else {
                Error::PreconditionFailed {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    condition: condition.to_owned(),
                }
            }
        })
}

pub(crate) fn no_such_key(bucket: &str, key: &str) -> Error {
    Error::NoSuchKey {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    }
}

impl Store {
    /// An object's metadata as head and get report it.
    pub(crate) fn meta_of(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
    ) -> Result<ObjectMeta> {
        let protection = self.protection_of(bucket, record)?;
        Ok(ObjectMeta {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: record.size,
            etag: etag(&record.object_id),
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_millis(record.modified_ms),
            attributes: record.attributes.clone(),
            user_metadata: record.user_metadata.clone(),
            protection,
        })
    }
}
