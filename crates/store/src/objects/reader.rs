//! Reading objects as `Read + Seek`: a source that presents an object's payload
//! (inline, or prefix ‖ segments fetched one at a time), and the reader that
//! decrypts it.

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::ops::Range;

use bytes::Bytes;
use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher, PayloadReader};

use crate::ObjectMeta;
use crate::format::columns::OBJECT_ID_LEN;
use crate::format::columns::SEGMENT_PLAINTEXT;
use crate::format::record::PartRef;
use crate::objects::commit::ReaderGuard;
use crate::objects::multipart::{part_identity, part_segment_prefix};
use crate::{ColumnFamily, Error, Result, Store};

/// Sealed bytes in every segment but the last: 64 chunks of 16 KiB + tag.
const SEGMENT_SEALED: u64 = 64 * (16 * 1024 + 16);

/// The stored bytes of one object's payload, as one seekable stream.
pub(crate) enum SegmentSource {
    Inline(Cursor<Bytes>),
    Segmented(Segmented),
}

pub(crate) struct Segmented {
    store: Store,
    /// `bucket/key`, for errors.
    object: String,
    /// Segment `i` is under `key_prefix ‖ i (u32 BE)`: the object id, or a
    /// multipart object's part attempt.
    key_prefix: Vec<u8>,
    prefix: Vec<u8>,
    segments: u32,
    segment_len: u64,
    total: u64,
    pos: u64,
    cached: Option<(u32, Vec<u8>)>,
}

impl SegmentSource {
    /// The payload whose prefix is `prefix` and whose `segments` segments are
    /// under `key_prefix` (the object id, or a part attempt's prefix).
    pub(crate) fn segmented(
        store: Store,
        object: String,
        key_prefix: Vec<u8>,
        prefix: Vec<u8>,
        segments: u32,
        total: u64,
        encrypted: bool,
    ) -> Self {
        Self::Segmented(Segmented {
            store,
            object,
            key_prefix,
            prefix,
            segments,
            segment_len: if encrypted {
                SEGMENT_SEALED
            } else {
                SEGMENT_PLAINTEXT as u64
            },
            total,
            pos: 0,
            cached: None,
        })
    }
}

impl Segmented {
    /// How many stored bytes segment `index` holds, from the record: every
    /// segment but the last holds `segment_len`, the last the rest (which may
    /// run past `segment_len`: an object of whole MiBs ends with an empty
    /// final chunk in its last segment).
    fn expected_len(&self, index: u32) -> Option<u64> {
        let stored = self.total.checked_sub(self.prefix.len() as u64)?;
        let before = u64::from(index).checked_mul(self.segment_len)?;
        if index + 1 < self.segments {
            Some(self.segment_len)
        } else {
            stored.checked_sub(before)
        }
    }

    /// Segment `index`, fetched (and kept) unless it is the one kept; a value
    /// missing, or shorter or longer than the record says, is
    /// [`Error::Integrity`] naming the object.
    fn segment(&mut self, index: u32) -> io::Result<&[u8]> {
        if self
            .cached
            .as_ref()
            .is_none_or(|(cached, _)| *cached != index)
        {
            let damaged = |what: &str| {
                io::Error::from(Error::Integrity(format!(
                    "object {}: segment {index} {what}",
                    self.object
                )))
            };
            let db = self.store.db()?;
            let value = db
                .get_cf(
                    db.cf(ColumnFamily::Chunks)?,
                    [&self.key_prefix[..], &index.to_be_bytes()].concat(),
                )
                .map_err(crate::engine::db::storage)?
                .ok_or_else(|| damaged("is missing"))?;
            if self.expected_len(index) != Some(value.len() as u64) {
                return Err(damaged("is not the length its record says"));
            }
            self.cached = Some((index, value));
        }
        Ok(self
            .cached
            .as_ref()
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default())
    }
}

impl Read for SegmentSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = match self {
            SegmentSource::Inline(cursor) => return cursor.read(buf),
            SegmentSource::Segmented(s) => s,
        };
        if s.pos >= s.total || buf.is_empty() {
            return Ok(0);
        }
        let prefix_len = s.prefix.len() as u64;
        if s.pos < prefix_len {
            let from = s.pos as usize;
            let n = buf.len().min(s.prefix.len() - from);
            buf[..n].copy_from_slice(&s.prefix[from..from + n]);
            s.pos += n as u64;
            return Ok(n);
        }
        let offset = s.pos - prefix_len;
        // The last segment may run past `segment_len`: an object of whole MiBs
        // ends with an empty final chunk in its last segment.
        let index = u32::try_from(offset / s.segment_len)
            .unwrap_or(u32::MAX)
            .min(s.segments.saturating_sub(1));
        let within = usize::try_from(offset - u64::from(index) * s.segment_len)
            .map_err(|_| io::Error::other("offset past the last segment"))?;
        let segment = s.segment(index)?;
        // Every segment has the length its record says, so `within` is in
        // it unless the position is past the end.
        let Some(rest) = segment.get(within..) else {
            return Ok(0);
        };
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        s.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SegmentSource {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let s = match self {
            SegmentSource::Inline(cursor) => return cursor.seek(target),
            SegmentSource::Segmented(s) => s,
        };
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek before the start");
        s.pos = match target {
            SeekFrom::Start(at) => at,
            SeekFrom::End(delta) => s.total.checked_add_signed(delta).ok_or_else(invalid)?,
            SeekFrom::Current(delta) => s.pos.checked_add_signed(delta).ok_or_else(invalid)?,
        };
        Ok(s.pos)
    }
}

/// What an open reader reads: one payload (sealed or plain), or the parts
/// of a multipart object.
enum Kind {
    Encrypted(Box<PayloadReader<SegmentSource>>),
    Plain(SegmentSource),
    Parts(Box<Parts>),
}

impl Kind {
    /// Exactly `range` of what this reads (in range: the caller checked).
    fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>> {
        match self {
            Kind::Encrypted(reader) => Ok(reader.read_range(range)?),
            Kind::Plain(source) => {
                source.seek(SeekFrom::Start(range.start))?;
                let mut out = vec![0; buffer_len(&range)?];
                source.read_exact(&mut out)?;
                Ok(out)
            }
            Kind::Parts(parts) => parts.read_range(range),
        }
    }
}

fn buffer_len(range: &Range<u64>) -> Result<usize> {
    usize::try_from(range.end - range.start)
        .map_err(|_| Error::InvalidArgument("range too large".into()))
}

impl Read for Kind {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Kind::Encrypted(reader) => reader.read(buf),
            Kind::Plain(source) => source.read(buf),
            Kind::Parts(parts) => parts.read(buf),
        }
    }
}

impl Seek for Kind {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        match self {
            Kind::Encrypted(reader) => reader.seek(target),
            Kind::Plain(source) => source.seek(target),
            Kind::Parts(parts) => parts.seek(target),
        }
    }
}

/// The parts of a multipart object, each its own payload, read one at a time:
/// a part is opened when the position first falls in it (so a range opens
/// only the parts, and in them only the chunks, that cover it).
pub(crate) struct Parts {
    store: Store,
    data_key: Option<DataKey>,
    bucket: String,
    key: String,
    object_id: [u8; OBJECT_ID_LEN],
    /// Each part with the plaintext offset it starts at.
    parts: Vec<(u64, PartRef)>,
    size: u64,
    pos: u64,
    open: Option<(usize, Kind)>,
}

impl Parts {
    pub(crate) fn new(
        store: Store,
        data_key: Option<DataKey>,
        (bucket, key): (&str, &str),
        object_id: [u8; OBJECT_ID_LEN],
        refs: &[PartRef],
        size: u64,
    ) -> Result<Self> {
        let mut parts = Vec::with_capacity(refs.len());
        let mut start = 0u64;
        for part in refs {
            if u64::from(part.segments) != part.size.div_ceil(SEGMENT_PLAINTEXT as u64).max(1) {
                return Err(Error::Integrity(format!(
                    "part {} disagrees with its segment count",
                    part.number
                )));
            }
            parts.push((start, part.clone()));
            start = start
                .checked_add(part.size)
                .ok_or_else(|| Error::Integrity("parts larger than the format allows".into()))?;
        }
        if start != size {
            return Err(Error::Integrity(
                "the parts' sizes do not add up to the object's".into(),
            ));
        }
        Ok(Self {
            store,
            data_key,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            object_id,
            parts,
            size,
            pos: 0,
            open: None,
        })
    }

    /// The index of the part holding plaintext byte `pos` (`pos < size`).
    fn part_at(&self, pos: u64) -> usize {
        self.parts
            .partition_point(|(start, part)| start + part.size <= pos)
    }

    /// The reader of part `index`, opened if it is not the open one.
    fn part(&mut self, index: usize) -> Result<&mut Kind> {
        if self.open.as_ref().is_none_or(|(open, _)| *open != index) {
            let (_, part) = &self.parts[index];
            let encrypted = self.data_key.is_some();
            let total = if encrypted {
                PayloadCipher::payload_len(part.size)?
            } else {
                part.size
            };
            let source = SegmentSource::segmented(
                self.store.clone(),
                format!("{}/{} part {}", self.bucket, self.key, part.number),
                part_segment_prefix(&self.object_id, part.number, &part.attempt),
                part.prefix.clone(),
                part.segments,
                total,
                encrypted,
            );
            let kind = match &self.data_key {
                Some(key) => {
                    let identity =
                        part_identity(&self.store, &self.bucket, &self.object_id, part.number);
                    let reader = self
                        .store
                        .inner
                        .keys
                        .cipher()
                        .reader(key, &identity, source)?;
                    if reader.claimed_len() != part.size {
                        return Err(Error::Integrity(format!(
                            "part {} does not match its record",
                            part.number
                        )));
                    }
                    Kind::Encrypted(Box::new(reader))
                }
                None => Kind::Plain(source),
            };
            self.open = Some((index, kind));
        }
        Ok(&mut self.open.as_mut().expect("just opened").1)
    }

    /// Exactly `range` of the object (in range: the caller checked).
    pub(crate) fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(buffer_len(&range)?);
        let mut at = range.start;
        while at < range.end {
            let index = self.part_at(at);
            let (start, part) = (&self.parts[index].0, &self.parts[index].1);
            let (start, end) = (*start, (*start + part.size).min(range.end));
            let piece = self.part(index)?.read_range(at - start..end - start)?;
            out.extend_from_slice(&piece);
            at = end;
        }
        Ok(out)
    }
}

impl Read for Parts {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let index = self.part_at(self.pos);
        let (start, size) = (self.parts[index].0, self.parts[index].1.size);
        let pos = self.pos;
        let part = self.part(index)?;
        part.seek(SeekFrom::Start(pos - start))?;
        let want = usize::try_from(start + size - pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = part.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a part ended before its size",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Parts {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek before the start");
        self.pos = match target {
            SeekFrom::Start(at) => at,
            SeekFrom::End(delta) => self.size.checked_add_signed(delta).ok_or_else(invalid)?,
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta).ok_or_else(invalid)?,
        };
        Ok(self.pos)
    }
}

/// An object opened for reading: `Read + Seek` over its plaintext, decrypting
/// and authenticating chunk by chunk, with bounded memory. While it is open the
/// object's data stays readable even if the object is overwritten or deleted.
pub struct ObjectReader {
    kind: Kind,
    meta: ObjectMeta,
    _guard: Option<ReaderGuard>,
}

impl ObjectReader {
    pub(crate) fn new(
        cipher: &PayloadCipher,
        data_key: Option<&DataKey>,
        identity: &ObjectIdentity,
        source: SegmentSource,
        meta: ObjectMeta,
        guard: Option<ReaderGuard>,
    ) -> Result<Self> {
        let kind = match data_key {
            Some(key) => {
                let reader = cipher.reader(key, identity, source)?;
                if reader.claimed_len() != meta.size {
                    return Err(Error::Integrity(
                        "object length does not match its record".into(),
                    ));
                }
                Kind::Encrypted(Box::new(reader))
            }
            None => Kind::Plain(source),
        };
        Ok(Self {
            kind,
            meta,
            _guard: guard,
        })
    }

    /// A reader over a multipart object's parts.
    pub(crate) fn parts(parts: Parts, meta: ObjectMeta, guard: Option<ReaderGuard>) -> Self {
        Self {
            kind: Kind::Parts(Box::new(parts)),
            meta,
            _guard: guard,
        }
    }

    /// The object's metadata and protection.
    pub fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// Reads exactly `range` ([`Error::InvalidRange`] outside the object),
    /// opening only the chunks that cover it.
    pub fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>> {
        let size = self.meta.size;
        if range.start > range.end || range.end > size {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        self.kind.read_range(range)
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.kind.read(buf)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        self.kind.seek(target)
    }
}
