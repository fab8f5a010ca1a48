//! Reading an object as a sequence of plaintext buffers, one stored segment
//! (1 MiB) at a time: what an async caller streams without holding the object
//! whole. Each buffer is authenticated before it is yielded; the key is
//! unwrapped, and the conditions checked, before the stream is returned.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use coffer_cipher::{CHUNK_LEN, PayloadCipher, PayloadOpener, SEALED_CHUNK_LEN};
use coffer_keyring::Caller;

use crate::ObjectApi;
use crate::engine::db::storage;
use crate::format::columns::{CHUNKS_PER_SEGMENT, SEGMENT_PLAINTEXT};
use crate::format::columns::{OBJECT_ID_LEN, segment_key};
use crate::format::record::Body;
use crate::objects::commit::ReaderGuard;
use crate::objects::get::check_read;
use crate::objects::reader::Parts;
use crate::store::TRUSTED;
use crate::{ColumnFamily, Error, Result, Store};
use crate::{GetConditions, ObjectMeta};

/// An object's plaintext, one buffer per stored segment (1 MiB; a small
/// object is one buffer), as an iterator. Opened by [`Store::get_object_stream`]:
/// its metadata is known, its key unwrapped and its conditions checked before
/// the first buffer is read. A segment found damaged while streaming ends the
/// stream with [`Error::Integrity`]; no unauthenticated byte is yielded.
pub struct ObjectStream {
    meta: ObjectMeta,
    range: Range<u64>,
    started: bool,
    source: Source,
}

enum Source {
    /// An inline payload, opened already.
    Whole(Bytes),
    Segments(Box<Segments>),
    Parts {
        parts: Box<Parts>,
        at: u64,
        /// Keeps the parts' segments alive while the stream lasts.
        _guard: Option<ReaderGuard>,
    },
}

struct Segments {
    store: Store,
    object_id: [u8; OBJECT_ID_LEN],
    /// `None` for an unencrypted object.
    opener: Option<PayloadOpener>,
    /// The next segment to yield from.
    next: u32,
    /// Keeps the segments alive while the stream lasts.
    _guard: Option<ReaderGuard>,
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("bucket", &self.meta.bucket)
            .field("key", &self.meta.key)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl ObjectStream {
    /// The object's metadata and protection.
    pub fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The plaintext range this stream yields (the whole object unless
    /// [`ObjectStream::with_range`] narrowed it).
    pub fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// Yields only `range` of the object, opening only the chunks that cover
    /// it. [`Error::InvalidRange`] if it is not inside the object;
    /// [`Error::InvalidArgument`] once the stream has yielded.
    pub fn with_range(mut self, range: Range<u64>) -> Result<Self> {
        if self.started {
            return Err(Error::InvalidArgument(
                "a stream's range is set before it is read".into(),
            ));
        }
        if range.start > range.end || range.end > self.meta.size {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                size: self.meta.size,
            });
        }
        if let Source::Segments(segments) = &mut self.source {
            segments.next = segment_of(range.start);
        }
        if let Source::Parts { at, .. } = &mut self.source {
            *at = range.start;
        }
        self.range = range;
        Ok(self)
    }

    fn next_buffer(&mut self) -> Result<Option<Bytes>> {
        self.started = true;
        let range = self.range.clone();
        if range.is_empty() {
            return Ok(None);
        }
        match &mut self.source {
            Source::Whole(body) => {
                let body = std::mem::take(body);
                self.range = range.end..range.end;
                let (start, end) = (to_usize(range.start)?, to_usize(range.end)?);
                match body.get(start..end) {
                    Some(_) => Ok(Some(body.slice(start..end))),
                    None => Err(Error::Integrity(
                        "inline payload shorter than its record".into(),
                    )),
                }
            }
            Source::Parts { parts, at, .. } => {
                // A window up to the next segment boundary of the object.
                let window_end = ((*at / SEGMENT_PLAINTEXT as u64) + 1) * SEGMENT_PLAINTEXT as u64;
                let end = window_end.min(range.end);
                let body = parts.read_range(*at..end)?;
                *at = end;
                self.range = end..range.end;
                Ok(Some(body.into()))
            }
            Source::Segments(segments) => {
                let index = segments.next;
                let start = u64::from(index) * SEGMENT_PLAINTEXT as u64;
                let end = (start + SEGMENT_PLAINTEXT as u64).min(self.meta.size);
                let want = range.start.max(start)..range.end.min(end);
                let last = end == self.meta.size;
                let body = segments.read(index, start..end, last, want.clone())?;
                segments.next += 1;
                self.range = want.end..range.end;
                Ok(Some(body))
            }
        }
    }
}

impl Iterator for ObjectStream {
    type Item = Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_buffer() {
            Ok(buffer) => buffer.map(Ok),
            Err(error) => {
                // Nothing follows an error.
                self.range = self.range.end..self.range.end;
                let (bucket, key) = (&self.meta.bucket, &self.meta.key);
                Some(Err(error.about_object(bucket, key)))
            }
        }
    }
}

impl Segments {
    /// `want` (inside segment `index`, which holds plaintext `start..end`),
    /// opening only the chunks that cover it.
    /// (`last` if it is the object's last segment.) A value of another
    /// length than the record says is [`Error::Integrity`], whatever part of
    /// it is wanted.
    fn read(&self, index: u32, plain: Range<u64>, last: bool, want: Range<u64>) -> Result<Bytes> {
        let (start, end) = (plain.start, plain.end);
        let db = self.store.db()?;
        let value = db
            .get_cf(
                db.cf(ColumnFamily::Chunks)?,
                segment_key(&self.object_id, index),
            )
            .map_err(storage)?
            .ok_or_else(|| Error::Integrity(format!("segment {index} is missing")))?;
        // Sealed, a segment is its plaintext and a tag per chunk; the last
        // segment ends with a final chunk shorter than the rest (empty, if
        // the object is whole chunks).
        let plain_len = to_usize(end - start)?;
        let stored_len = match self.opener {
            Some(_) => {
                plain_len
                    + (SEALED_CHUNK_LEN - CHUNK_LEN) * (plain_len / CHUNK_LEN + usize::from(last))
            }
            None => plain_len,
        };
        if value.len() != stored_len {
            return Err(Error::Integrity(format!(
                "segment {index} is not the length its record says"
            )));
        }
        let (from, to) = (to_usize(want.start - start)?, to_usize(want.end - start)?);
        let Some(opener) = &self.opener else {
            let value = Bytes::from(value);
            return match value.get(from..to) {
                Some(_) if value.len() as u64 == end - start => Ok(value.slice(from..to)),
                _ => Err(Error::Integrity(format!(
                    "segment {index} does not match its record"
                ))),
            };
        };
        let first_chunk = u64::from(index) * CHUNKS_PER_SEGMENT;
        if want == (start..end) {
            // The whole segment: opened where it was read.
            let plain =
                opener.open_chunks_in_place(first_chunk, BytesMut::from(Bytes::from(value)))?;
            return checked_len(plain.freeze(), end - start, index);
        }
        // Only the chunks that hold `want`.
        let (chunk_from, chunk_to) = (from / CHUNK_LEN, to.div_ceil(CHUNK_LEN));
        let sealed_from = chunk_from * SEALED_CHUNK_LEN;
        let sealed_to = (chunk_to * SEALED_CHUNK_LEN).min(value.len());
        let sealed = value
            .get(sealed_from..sealed_to)
            .ok_or_else(|| Error::Integrity(format!("segment {index} is truncated")))?;
        let plain = opener
            .open_chunks_in_place(first_chunk + chunk_from as u64, BytesMut::from(sealed))?
            .freeze();
        let offset = chunk_from * CHUNK_LEN;
        plain
            .get(from - offset..to - offset)
            .map(|_| plain.slice(from - offset..to - offset))
            .ok_or_else(|| Error::Integrity(format!("segment {index} is truncated")))
    }
}

fn checked_len(body: Bytes, expected: u64, index: u32) -> Result<Bytes> {
    if body.len() as u64 == expected {
        Ok(body)
    } else {
        Err(Error::Integrity(format!(
            "segment {index} does not match its record"
        )))
    }
}

fn segment_of(position: u64) -> u32 {
    u32::try_from(position / SEGMENT_PLAINTEXT as u64).unwrap_or(u32::MAX)
}

fn to_usize(value: u64) -> Result<usize> {
    usize::try_from(value).map_err(|_| Error::InvalidArgument("range too large".into()))
}

impl Store {
    /// Opens an object as a stream of plaintext buffers, one per stored
    /// segment, if `conditions` hold ([`Error::PreconditionFailed`],
    /// [`Error::NotModified`] otherwise). Narrow it with
    /// [`ObjectStream::with_range`].
    pub fn get_object_stream(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectStream> {
        ObjectApi::get_object_stream_as(self, bucket, key, conditions, &TRUSTED)
    }

    /// An object's stream for `caller`, errors naming it.
    pub(crate) fn stream_for(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectStream> {
        self.open_stream(bucket, key, conditions, caller)
            .map_err(|e| e.about_object(bucket, key))
    }

    fn open_stream(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectStream> {
        let (record, guard) = self.read_record_for_reading(bucket, key)?;
        check_read(bucket, key, &record, conditions)?;
        let meta = self.meta_of(bucket, key, &record)?;
        let source = match &record.body {
            Body::Inline(payload) => {
                let keys = self.payload_keys(bucket, key, &record, payload, caller)?;
                let body = match &keys {
                    Some(keys) => self
                        .inner
                        .keys
                        .cipher()
                        .open_with_keys(&keys.keys, payload.clone())?,
                    None => payload.clone(),
                };
                if body.len() as u64 != record.size {
                    return Err(Error::Integrity(
                        "its length does not match its record".into(),
                    ));
                }
                Source::Whole(body)
            }
            Body::Segmented { prefix, segments } => {
                if u64::from(*segments) != record.size.div_ceil(SEGMENT_PLAINTEXT as u64).max(1) {
                    return Err(Error::Integrity(
                        "its record's size and segment count disagree".into(),
                    ));
                }
                let opener = self
                    .payload_keys(bucket, key, &record, prefix, caller)?
                    .map(|keys| {
                        self.inner
                            .keys
                            .cipher()
                            .opener_with_keys(&keys.keys, PayloadCipher::payload_len(record.size)?)
                    })
                    .transpose()?;
                Source::Segments(Box::new(Segments {
                    store: self.clone(),
                    object_id: record.object_id,
                    opener,
                    next: 0,
                    _guard: guard,
                }))
            }
            Body::Multipart { parts } => {
                let parts = self.open_parts(bucket, key, &record, parts, caller)?;
                Source::Parts {
                    parts: Box::new(parts),
                    at: 0,
                    _guard: guard,
                }
            }
        };
        Ok(ObjectStream {
            range: 0..meta.size,
            meta,
            started: false,
            source,
        })
    }
}
