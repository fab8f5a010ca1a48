//! Reading objects as `Read + Seek`: a source that presents an object's payload
//! (inline, or prefix ‖ segments fetched one at a time), and the reader that
//! decrypts it.

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::ops::Range;

use bytes::Bytes;
use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher, PayloadReader};

use crate::columns::{OBJECT_ID_LEN, segment_key};
use crate::objects::{ObjectMeta, SEGMENT_PLAINTEXT};
use crate::store::ReaderGuard;
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
    object_id: [u8; OBJECT_ID_LEN],
    prefix: Vec<u8>,
    segments: u32,
    segment_len: u64,
    total: u64,
    pos: u64,
    cached: Option<(u32, Vec<u8>)>,
}

impl SegmentSource {
    pub(crate) fn segmented(
        store: Store,
        object_id: [u8; OBJECT_ID_LEN],
        prefix: Vec<u8>,
        segments: u32,
        total: u64,
        encrypted: bool,
    ) -> Self {
        Self::Segmented(Segmented {
            store,
            object_id,
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
    fn segment(&mut self, index: u32) -> io::Result<&[u8]> {
        if self
            .cached
            .as_ref()
            .is_none_or(|(cached, _)| *cached != index)
        {
            let db = self.store.db()?;
            let value = db
                .get_cf(
                    db.cf(ColumnFamily::Chunks)?,
                    segment_key(&self.object_id, index),
                )
                .map_err(Error::from)?
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("segment {index} is missing"),
                    )
                })?;
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
        let available = segment.len().saturating_sub(within);
        let n = buf.len().min(available);
        buf[..n].copy_from_slice(&segment[within..within + n]);
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

enum Kind {
    Encrypted(Box<PayloadReader<SegmentSource>>),
    Plain(SegmentSource),
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
        match &mut self.kind {
            Kind::Encrypted(reader) => Ok(reader.read_range(range)?),
            Kind::Plain(source) => {
                source.seek(SeekFrom::Start(range.start))?;
                let mut out = vec![
                    0;
                    usize::try_from(range.end - range.start).map_err(|_| {
                        Error::InvalidArgument("range too large".into())
                    })?
                ];
                source.read_exact(&mut out)?;
                Ok(out)
            }
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Encrypted(reader) => reader.read(buf),
            Kind::Plain(source) => source.read(buf),
        }
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        match &mut self.kind {
            Kind::Encrypted(reader) => reader.seek(target),
            Kind::Plain(source) => source.seek(target),
        }
    }
}
