//! [`RemoteReader`] (`Read + Seek`, 1 MiB windows) and [`RemoteStream`]
//! (buffers, 8 MiB windows) over an opened remote object: each fetches a
//! window of chunks at a time, pinned to
//! the ETag the object was opened at, so memory stays bounded and a replaced
//! object is an error, never a mix of two.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use coffer_sse::{Error, ObjectMeta, ObjectRead, PlaintextStream, Result};

use crate::read::Opened;

/// Plaintext a reader fetches per window: a whole number of chunks.
const WINDOW: u64 = 1 << 20;
/// Plaintext a stream fetches (and yields) per window: one request per part
/// of a put's default size, so a whole get makes few requests in a row.
const STREAM_WINDOW: u64 = crate::DEFAULT_PART_SIZE as u64;

/// A remote object opened for reading.
pub struct RemoteReader {
    opened: Arc<Opened>,
    position: u64,
    window: Bytes,
    window_start: u64,
}

impl RemoteReader {
    pub(crate) fn new(opened: Arc<Opened>) -> Self {
        Self {
            opened,
            position: 0,
            window: Bytes::new(),
            window_start: 0,
        }
    }

    fn size(&self) -> u64 {
        self.opened.object.meta.size
    }
}

impl Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.size();
        if self.position >= size || buf.is_empty() {
            return Ok(0);
        }
        let window_end = self.window_start + self.window.len() as u64;
        if self.position < self.window_start || self.position >= window_end {
            let start = self.position / WINDOW * WINDOW;
            let end = (start + WINDOW).min(size);
            self.window = self.opened.read(start..end).map_err(std::io::Error::from)?;
            self.window_start = start;
        }
        let at = (self.position - self.window_start) as usize;
        let n = buf.len().min(self.window.len() - at);
        buf[..n].copy_from_slice(&self.window[at..at + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.size().checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        self.position = target;
        Ok(target)
    }
}

impl ObjectRead for RemoteReader {
    fn meta(&self) -> &ObjectMeta {
        &self.opened.object.meta
    }

    fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>> {
        let size = self.size();
        if range.start > range.end || range.end > size {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        Ok(self.opened.read(range)?.to_vec())
    }
}

/// A remote object's plaintext, a window at a time.
pub struct RemoteStream {
    opened: Arc<Opened>,
    range: Range<u64>,
    next: u64,
    started: bool,
}

impl RemoteStream {
    pub(crate) fn new(opened: Arc<Opened>) -> Self {
        let size = opened.object.meta.size;
        Self {
            opened,
            range: 0..size,
            next: 0,
            started: false,
        }
    }
}

impl Iterator for RemoteStream {
    type Item = Result<Bytes>;

    fn next(&mut self) -> Option<Result<Bytes>> {
        self.started = true;
        if self.next >= self.range.end {
            return None;
        }
        let end = ((self.next / STREAM_WINDOW + 1) * STREAM_WINDOW).min(self.range.end);
        let read = self.opened.read(self.next..end);
        self.next = if read.is_ok() { end } else { self.range.end };
        Some(read)
    }
}

impl PlaintextStream for RemoteStream {
    fn meta(&self) -> &ObjectMeta {
        &self.opened.object.meta
    }

    fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    fn with_range(mut self, range: Range<u64>) -> Result<Self> {
        let size = self.opened.object.meta.size;
        if range.start > range.end || range.end > size {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        if self.started {
            return Err(Error::InvalidArgument(
                "the stream has yielded already; set its range first".into(),
            ));
        }
        self.next = range.start;
        self.range = range;
        Ok(self)
    }
}
