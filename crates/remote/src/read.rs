//! Reading: a remote object's trailer fetched and authenticated (with its
//! length, which the record's size fixes), then the chunks that cover what
//! is asked, fetched pinned to the same ETag; get, head, and the reader and
//! stream over the same.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Buf, Bytes, BytesMut};
use coffer_cipher::{CHUNK_LEN, DataKey, SEALED_CHUNK_LEN};
use coffer_keyring::Caller;
use coffer_sse::{Error, GetConditions, Object, ObjectMeta, ProtectionMode, Result};
use object_store::path::Path;
use object_store::{GetOptions, GetRange};

use crate::RemoteStore;
use crate::backend::{Fetched, GetStarter, Pending, object_path};
use crate::layout::{FOOTER_LEN, Footer, PartEntry, part_len, stored_len};
use crate::object_record::ObjectRecord;
use crate::parts::{PartOpening, sealed_span};

/// How much of a body's end a first read fetches: the record area and a
/// part table of 50 entries; a longer table is fetched in a second read.
pub(crate) const TAIL_LEN: u64 = 8 << 10;
/// Bodies up to this length are fetched whole by a get.
const WHOLE_BELOW: u64 = 256 << 10;

/// A remote object as its trailer describes it, authenticated.
pub(crate) struct StoredObject {
    pub(crate) path: Path,
    pub(crate) record: ObjectRecord,
    pub(crate) parts: Vec<PartEntry>,
    pub(crate) meta: ObjectMeta,
    /// The backend's ETag, as it spells it (for pinned reads).
    pub(crate) backend_etag: Option<String>,
    /// The body's length.
    pub(crate) stored_len: u64,
    /// Where each part starts, in the body and in the plaintext.
    stored_starts: Vec<u64>,
    plain_starts: Vec<u64>,
    /// The body's last bytes as the first read fetched them (all of it,
    /// when it was fetched whole): reads inside them fetch nothing.
    cached: Bytes,
    /// Where `cached` starts in the body.
    cached_from: u64,
}

/// What a read fetches first: the body whole, or its last bytes, which hold
/// the trailer (and, when asked for more, the chunks a read will want).
#[derive(Debug, Clone, Copy)]
pub(crate) enum First {
    Whole,
    Last(u64),
}

/// What a read opens in one part: the stored chunks that cover a range of
/// its plaintext, and which of their plaintext bytes the range keeps.
pub(crate) struct Piece {
    index: usize,
    /// The chunks' bytes in the body.
    pub(crate) stored: Range<u64>,
    first_chunk: u64,
    /// Plaintext bytes of the first chunk before the range.
    skip: usize,
    len: usize,
}

/// The ETag coffer reports for a backend's: quoted, as HTTP has it.
pub(crate) fn quoted(e_tag: Option<&str>) -> String {
    match e_tag {
        Some(tag) if tag.starts_with('"') || tag.starts_with("W/") => tag.to_owned(),
        Some(tag) => format!("\"{tag}\""),
        None => "\"\"".to_owned(),
    }
}

fn changed_meanwhile(bucket: &str, key: &str) -> Error {
    Error::PreconditionFailed {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        condition: "the object was replaced while it was read; read it again".into(),
    }
}

impl StoredObject {
    /// The plaintext bytes of `range`, every byte authenticated.
    pub(crate) fn read(
        &self,
        store: &RemoteStore,
        data_key: Option<&DataKey>,
        range: Range<u64>,
    ) -> Result<Bytes> {
        let pieces = self.pieces(range);
        let opened = self.open_pieces(store, data_key, &pieces, |piece| {
            self.stored_bytes(store, piece.stored.clone())
                .map(Sealed::Shared)
        })?;
        Ok(match <[Bytes; 1]>::try_from(opened) {
            Ok([one]) => one,
            Err(several) => several.concat().into(),
        })
    }

    /// The pieces `range` of the plaintext is read from, in order.
    pub(crate) fn pieces(&self, range: Range<u64>) -> Vec<Piece> {
        let encrypted = self.record.mode != ProtectionMode::None;
        let mut pieces = Vec::new();
        if range.is_empty() {
            return pieces;
        }
        for (index, entry) in self.parts.iter().enumerate() {
            let start = self.plain_starts[index];
            let wanted = range.start.max(start)..range.end.min(start + entry.size);
            if wanted.start >= wanted.end {
                continue;
            }
            let local = wanted.start - start..wanted.end - start;
            let (span, first_chunk, first_plain) = sealed_span(entry, encrypted, local.clone());
            let at = self.stored_starts[index];
            pieces.push(Piece {
                index,
                stored: at + span.start..at + span.end,
                first_chunk,
                skip: (local.start - first_plain) as usize,
                len: (local.end - local.start) as usize,
            });
        }
        pieces
    }

    /// The plaintext of `pieces`, each opened from the stored bytes
    /// `sealed` gives for it, in order: a buffer for each piece given bytes
    /// of its own (opened where they lie), one for each run of pieces whose
    /// bytes are shared (opened into it).
    pub(crate) fn open_pieces(
        &self,
        store: &RemoteStore,
        data_key: Option<&DataKey>,
        pieces: &[Piece],
        mut sealed: impl FnMut(&Piece) -> Result<Sealed>,
    ) -> Result<Vec<Bytes>> {
        let object = (self.meta.bucket.as_str(), self.meta.key.as_str());
        let mut opened = Vec::new();
        // Shared bytes are opened straight into one buffer: only the first
        // piece starts inside a chunk, and only the last ends inside one.
        let capacity: usize = pieces.iter().map(|p| p.skip + p.len).sum();
        let mut out = BytesMut::new();
        for piece in pieces {
            let opening = PartOpening {
                keys: &store.inner.keys,
                data_key,
                object,
                object_id: &self.record.object_id,
                entry: &self.parts[piece.index],
            };
            match sealed(piece)? {
                Sealed::Owned(bytes) => {
                    if !out.is_empty() {
                        opened.push(std::mem::take(&mut out).freeze());
                    }
                    let mut plain = opening.open_in_place(piece.first_chunk, bytes)?;
                    plain.truncate(piece.skip + piece.len);
                    plain.advance(piece.skip);
                    opened.push(plain.freeze());
                }
                Sealed::Shared(bytes) => {
                    if out.capacity() == 0 {
                        out.reserve(capacity + CHUNK_LEN);
                    }
                    let before = out.len();
                    opening.open(piece.first_chunk, bytes, &mut out)?;
                    out.truncate(before + piece.skip + piece.len);
                    if piece.skip > 0 {
                        let part = out.split_off(before);
                        if before == 0 {
                            out = part;
                            out.advance(piece.skip);
                        } else {
                            out.extend_from_slice(&part[piece.skip..]);
                        }
                    }
                }
            }
        }
        if !out.is_empty() || opened.is_empty() {
            opened.push(out.freeze());
        }
        Ok(opened)
    }
}

/// A piece's sealed bytes: its own (opened in place), or shared.
pub(crate) enum Sealed {
    Owned(BytesMut),
    Shared(Bytes),
}

impl StoredObject {
    /// How many bytes its parts take, from the body's start.
    pub(crate) fn parts_len(&self) -> u64 {
        let encrypted = self.record.mode != ProtectionMode::None;
        match (self.stored_starts.last(), self.parts.last()) {
            (Some(start), Some(last)) => start + part_len(last.size, encrypted),
            _ => 0,
        }
    }

    /// Where the plaintext starts that the cached bytes alone open: from
    /// there on, a read fetches nothing.
    pub(crate) fn cached_plain_from(&self) -> u64 {
        self.plain_at(self.cached_from)
    }

    /// The plaintext offset of the first chunk (of an unencrypted object,
    /// the first part, which is opened whole) stored at or after byte
    /// `stored` of the body (its size past the last): where the plaintext
    /// that stored bytes from `stored` on can open starts.
    pub(crate) fn plain_at(&self, stored: u64) -> u64 {
        let encrypted = self.record.mode != ProtectionMode::None;
        for (index, entry) in self.parts.iter().enumerate() {
            let at = self.stored_starts[index];
            if stored <= at {
                return self.plain_starts[index];
            }
            if encrypted && stored < at + part_len(entry.size, true) {
                let chunk = (stored - at).div_ceil(SEALED_CHUNK_LEN as u64);
                return self.plain_starts[index] + (chunk * CHUNK_LEN as u64).min(entry.size);
            }
        }
        self.meta.size
    }

    /// Bytes `range` of its body as stored, if the first read fetched them.
    /// The cached bytes and where they start in the body, taken out (none
    /// are cached afterwards); `None` if there were none.
    pub(crate) fn take_cached(&mut self) -> Option<(u64, Bytes)> {
        if self.cached.is_empty() {
            return None;
        }
        let cached = std::mem::take(&mut self.cached);
        let at = self.cached_from;
        self.cached_from = at + cached.len() as u64;
        Some((at, cached))
    }

    pub(crate) fn cached_bytes(&self, range: &Range<u64>) -> Option<Bytes> {
        let cached = self.cached_from..self.cached_from + self.cached.len() as u64;
        (range.start >= cached.start && range.end <= cached.end).then(|| {
            let at = (range.start - cached.start) as usize;
            self.cached
                .slice(at..at + (range.end - range.start) as usize)
        })
    }

    /// Bytes `range` of its body as stored: from what the first read
    /// fetched, or fetched pinned to its ETag.
    pub(crate) fn stored_bytes(&self, store: &RemoteStore, range: Range<u64>) -> Result<Bytes> {
        match self.cached_bytes(&range) {
            Some(bytes) => Ok(bytes),
            None => store.fetch_pinned(self, range),
        }
    }
}

impl RemoteStore {
    /// The object at bucket/key, authenticated, if `conditions` hold; with
    /// its body when `whole` and the body is small enough to fetch at once.
    pub(crate) fn fetch_object(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        whole: bool,
    ) -> Result<StoredObject> {
        let first = if whole && conditions.is_empty() {
            First::Whole
        } else {
            First::Last(TAIL_LEN)
        };
        let mut object = self.fetch_first(bucket, key, conditions, first)?;
        let stored = object.stored_len;
        if whole && object.cached_from > 0 && stored <= WHOLE_BELOW {
            object.cached = self.fetch_pinned(&object, 0..stored)?;
            object.cached_from = 0;
        }
        Ok(object)
    }

    /// The object at bucket/key, authenticated, if `conditions` hold, from
    /// what `first` fetches (and its trailer, if that was not all of it).
    pub(crate) fn fetch_first(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        first: First,
    ) -> Result<StoredObject> {
        let path = object_path(bucket, key)?;
        let fetched = match first {
            First::Whole => self.inner.backend.get(&path, GetOptions::default())?,
            First::Last(len) => {
                self.inner
                    .backend
                    .get_tail(&path, len.max(TAIL_LEN), GetOptions::default())?
            }
        };
        match fetched {
            Fetched::Found(meta, tail) => {
                self.authenticate(bucket, key, path, meta, tail, Some(conditions))
            }
            _ => Err(Error::NoSuchKey {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            }),
        }
    }

    /// The object whose body ends with `tail` (all of it, or its last
    /// bytes), authenticated as bucket/key's, if `conditions` hold.
    pub(crate) fn authenticate(
        &self,
        bucket: &str,
        key: &str,
        path: Path,
        meta: object_store::ObjectMeta,
        mut tail: Bytes,
        conditions: Option<&GetConditions>,
    ) -> Result<StoredObject> {
        let stored = meta.size;
        let what = format!("object {bucket}/{key}");
        let footer = Footer::decode(&tail, stored, &what)?;
        let trailer_len = footer.trailer_len();
        let etag = quoted(meta.e_tag.as_deref());
        let last_modified = SystemTime::from(meta.last_modified);
        if let Some(Err((condition, not_modified))) =
            conditions.map(|c| c.check(&etag, last_modified))
        {
            return Err(if not_modified {
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
            });
        }
        let mut object = StoredObject {
            path,
            stored_len: stored,
            record: placeholder_record(),
            parts: Vec::new(),
            meta: ObjectMeta {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size: 0,
                etag,
                last_modified,
                attributes: Default::default(),
                user_metadata: Default::default(),
                protection: coffer_sse::keys::UNPROTECTED,
            },
            backend_etag: meta.e_tag.clone(),
            stored_starts: Vec::new(),
            plain_starts: Vec::new(),
            cached: Bytes::new(),
            cached_from: stored,
        };
        if (tail.len() as u64) < trailer_len {
            tail = self.fetch_pinned(&object, stored - trailer_len..stored)?;
        }
        let sealed = &tail[tail.len() - trailer_len as usize..tail.len() - FOOTER_LEN];
        let (record, parts) = ObjectRecord::open(
            self.inner.keys.record_key(),
            bucket,
            key,
            sealed,
            footer.part_count,
        )?;
        let encrypted = record.mode != ProtectionMode::None;
        let total: u64 = parts.iter().map(|p| p.size).sum();
        let parts_len: u64 = parts.iter().map(|p| part_len(p.size, encrypted)).sum();
        if total != record.size
            || stored_len(record.size)? != stored
            || parts_len + trailer_len > stored
        {
            return Err(Error::Integrity(format!(
                "{what}: its length ({stored} bytes) is not the one its record gives: it was cut or padded"
            )));
        }
        let (mut at, mut plain) = (0, 0);
        for part in &parts {
            object.stored_starts.push(at);
            object.plain_starts.push(plain);
            at += part_len(part.size, encrypted);
            plain += part.size;
        }
        object.cached_from = stored - tail.len() as u64;
        object.cached = tail;
        object.meta.size = record.size;
        object.meta.attributes = record.attributes.clone();
        object.meta.user_metadata = record.user_metadata.clone();
        object.meta.protection =
            self.inner
                .keys
                .protection_of(self, bucket, record.stored_key())?;
        object.record = record;
        object.parts = parts;
        Ok(object)
    }

    /// Bytes `range` of the body `object` was read from; an error if the
    /// object was replaced since.
    pub(crate) fn fetch_pinned(&self, object: &StoredObject, range: Range<u64>) -> Result<Bytes> {
        let mut fetch = self.start_fetch_pinned(object, range);
        pinned_bytes(object, fetch.wait()?)
    }

    /// [`RemoteStore::fetch_pinned`], started; [`pinned_bytes`] of its result.
    pub(crate) fn start_fetch_pinned(
        &self,
        object: &StoredObject,
        range: Range<u64>,
    ) -> Pending<Result<Fetched>> {
        let options = pinned(range, object.backend_etag.clone());
        self.inner.backend.start_get(&object.path, options)
    }

    /// The data key of a stored object, for `caller` (`None` if unencrypted).
    pub(crate) fn data_key(
        &self,
        object: &StoredObject,
        caller: &Caller,
    ) -> Result<Option<DataKey>> {
        if object.record.mode == ProtectionMode::None {
            return Ok(None);
        }
        if object.record.mode == ProtectionMode::Aes256
            && object.record.key_version > self.inner.keys.master().current_version()
        {
            // Written under a master key another process rotated to.
            self.refresh_keyring()?;
        }
        let unwrap = || {
            self.inner.keys.unwrap_data_key(
                self,
                &object.meta.bucket,
                &object.meta.key,
                &object.record.object_id,
                &object.record.wrapped_key,
                caller,
            )
        };
        let (data_key, _) = match unwrap() {
            Err(error)
                if object.record.mode == ProtectionMode::Kms && self.may_be_stale(&error) =>
            {
                // A CMK (or its material version) another process made.
                self.refresh_keyring()?;
                unwrap()?
            }
            result => result?,
        };
        Ok(Some(data_key))
    }

    /// Reads an object, or `range` of it.
    pub(crate) fn read_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<Range<u64>>,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Object> {
        let object = self.fetch_object(bucket, key, conditions, range.is_none())?;
        let size = object.meta.size;
        let range = range.unwrap_or(0..size);
        if range.start > range.end || range.end > size {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        let data_key = self.data_key(&object, caller)?;
        let body = object.read(self, data_key.as_ref(), range)?;
        Ok(Object {
            body,
            meta: object.meta,
        })
    }
}

/// A get of `range` of a body, only if it is still the one with `e_tag`.
fn pinned(range: Range<u64>, e_tag: Option<String>) -> GetOptions {
    GetOptions {
        range: Some(GetRange::Bounded(range)),
        if_match: e_tag,
        ..GetOptions::default()
    }
}

/// The bytes a pinned fetch of `object`'s body found.
pub(crate) fn pinned_bytes(object: &StoredObject, fetched: Result<Fetched>) -> Result<Bytes> {
    match fetched? {
        Fetched::Found(_, bytes) => Ok(bytes),
        _ => Err(changed_meanwhile(&object.meta.bucket, &object.meta.key)),
    }
}

/// The record of a `StoredObject` under construction.
fn placeholder_record() -> ObjectRecord {
    ObjectRecord {
        object_id: [0; 16],
        size: 0,
        mode: ProtectionMode::None,
        key_id: String::new(),
        key_version: 0,
        wrapped_key: Vec::new(),
        attributes: Default::default(),
        user_metadata: Default::default(),
    }
}

/// An opened object: what [`RemoteReader`](crate::RemoteReader) and
/// [`RemoteStream`](crate::RemoteStream) read from.
pub(crate) struct Opened {
    pub(crate) store: RemoteStore,
    pub(crate) object: StoredObject,
    pub(crate) data_key: Option<DataKey>,
}

impl Opened {
    /// The object at bucket/key, opened from what `first` fetches, with its
    /// data key for `caller`.
    pub(crate) fn open(
        store: &RemoteStore,
        bucket: &str,
        key: &str,
        first: First,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Arc<Self>> {
        let object = store.fetch_first(bucket, key, conditions, first)?;
        let data_key = store.data_key(&object, caller)?;
        Ok(Arc::new(Self {
            store: store.clone(),
            object,
            data_key,
        }))
    }

    /// The whole object at bucket/key, opened from its last window
    /// ([`Last`](First::Last) of `first_len`); when the body is longer, the
    /// windows before it start to be fetched as soon as the first
    /// response's headers are in, so they arrive while it does.
    pub(crate) fn open_whole(
        store: &RemoteStore,
        bucket: &str,
        key: &str,
        first_len: u64,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<(Arc<Self>, Option<Front>)> {
        let path = object_path(bucket, key)?;
        let starter = store.inner.backend.starter();
        let front_path = path.clone();
        let options = GetOptions {
            range: Some(GetRange::Suffix(first_len)),
            ..GetOptions::default()
        };
        let (fetched, front) = store.inner.backend.get_then(&path, options, move |meta| {
            Front::start(&starter, &front_path, meta, first_len)
        })?;
        let Fetched::Found(meta, tail) = fetched else {
            return Err(Error::NoSuchKey {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            });
        };
        let object = store.authenticate(bucket, key, path, meta, tail, Some(conditions))?;
        // An unencrypted part is opened whole: the windows do not fit it.
        let front = front
            .flatten()
            .filter(|_| object.record.mode != ProtectionMode::None);
        let data_key = store.data_key(&object, caller)?;
        let opened = Arc::new(Self {
            store: store.clone(),
            object,
            data_key,
        });
        Ok((opened, front))
    }

    pub(crate) fn read(&self, range: Range<u64>) -> Result<Bytes> {
        self.object.read(&self.store, self.data_key.as_ref(), range)
    }
}

/// The stored bytes before a whole read's first window, in windows of
/// about [`STREAM_WINDOW`](crate::reader) each; a window also fetches one
/// sealed chunk past its end, so every chunk that starts inside it is
/// whole in it. The first ones are fetched as soon as the object's length
/// is known.
pub(crate) struct Front {
    /// Where each window starts in the body, and where the last one ends
    /// (where the first read's bytes start).
    pub(crate) bounds: Vec<u64>,
    stored: u64,
    /// The fetches of the first windows, in order.
    pub(crate) started: VecDeque<Pending<Result<Fetched>>>,
    /// The window a reader plans next.
    pub(crate) next: usize,
}

impl Front {
    /// The front of the body `meta` describes, if there is one, with its
    /// first windows' fetches started (pinned to its ETag).
    fn start(
        starter: &GetStarter,
        path: &Path,
        meta: &object_store::ObjectMeta,
        first_len: u64,
    ) -> Option<Self> {
        let stored = meta.size;
        let end = stored.checked_sub(first_len).filter(|end| *end > 0)?;
        let window = crate::reader::STREAM_WINDOW;
        let count = ((end + window / 2) / window).max(1);
        let len = end.div_ceil(count);
        let mut bounds: Vec<u64> = (0..count).map(|k| k * len).collect();
        bounds.push(end);
        let mut front = Self {
            bounds,
            stored,
            started: VecDeque::new(),
            next: 0,
        };
        for index in 0..crate::reader::STREAMS_AHEAD.min(count as usize) {
            let options = pinned(front.span(index), meta.e_tag.clone());
            front.started.push_back(starter.start(path, options));
        }
        Some(front)
    }

    /// The stored bytes window `index` fetches.
    pub(crate) fn span(&self, index: usize) -> Range<u64> {
        let end = (self.bounds[index + 1] + SEALED_CHUNK_LEN as u64).min(self.stored);
        self.bounds[index]..end
    }
}
