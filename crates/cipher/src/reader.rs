//! The streaming opener: `Read + Seek` over a sealed message in any
//! `Read + Seek` source, opening a window of chunks at a time on the pipeline.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::cobblestone::{CHUNK_LEN, COMMITMENT_LEN, Layout, MessageKeys, PREFIX_LEN, SALT_LEN};
use crate::{DataKey, Error, IntegrityError, Pipeline, Result};

/// Reads the plaintext of a payload, authenticating every chunk before any of its
/// bytes are returned.
///
/// Memory stays bounded by one window (1 MiB per pipeline thread) whatever the
/// payload's size. Seeking relative to the end authenticates the final chunk
/// first, and end of file is reported only once the final chunk has
/// authenticated, so truncation is always detected. After a failure every further
/// read fails too.
pub struct PayloadReader<R> {
    source: R,
    pipeline: Pipeline,
    keys: Arc<MessageKeys>,
    layout: Layout,
    /// Offset of chunk 0 in the source.
    chunks_at: u64,
    /// Plaintext position of the next read.
    pos: u64,
    /// Opened plaintext of chunks starting at `window_chunk`.
    window: BytesMut,
    window_chunk: u64,
    length_verified: bool,
    failure: Option<IntegrityError>,
}

impl<R: Read + Seek> PayloadReader<R> {
    /// Reads salt and commitment at `message_at`, checks the commitment, and
    /// derives the length from the source's size.
    pub(crate) fn start(
        pipeline: Pipeline,
        key: &DataKey,
        context: &[u8],
        message_at: u64,
        mut source: R,
    ) -> Result<Self> {
        let end = source.seek(SeekFrom::End(0))?;
        let layout = Layout::for_message(
            end.checked_sub(message_at)
                .ok_or(IntegrityError::Truncated)?,
        )?;
        source.seek(SeekFrom::Start(message_at))?;
        let mut prefix = [0; PREFIX_LEN];
        read_exact_or_truncated(&mut source, &mut prefix)?;
        let salt: [u8; SALT_LEN] = prefix[..SALT_LEN].try_into().expect("fixed length");
        let keys = MessageKeys::derive(key, &salt, context);
        keys.check_commitment(&prefix[SALT_LEN..SALT_LEN + COMMITMENT_LEN])?;
        Ok(Self {
            source,
            pipeline,
            keys: Arc::new(keys),
            layout,
            chunks_at: message_at + PREFIX_LEN as u64,
            pos: 0,
            window: BytesMut::new(),
            window_chunk: 0,
            length_verified: false,
            failure: None,
        })
    }

    /// The plaintext length the source claims; authenticated once
    /// [`PayloadReader::verified_len`] has succeeded.
    pub fn claimed_len(&self) -> u64 {
        self.layout.plaintext_len()
    }

    /// Authenticates the final chunk (once) and returns the plaintext length.
    pub fn verified_len(&mut self) -> Result<u64> {
        if !self.length_verified {
            let last = self.layout.final_chunk();
            self.fill_window(last, last + 1)?;
        }
        Ok(self.layout.plaintext_len())
    }

    /// Reads exactly `range` of the plaintext, opening only the chunks that cover
    /// it and the final chunk. Fails with [`Error::InvalidRange`] outside the
    /// authenticated length.
    pub fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>> {
        let len = self.verified_len()?;
        if range.start > range.end || range.end > len {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                len,
            });
        }
        let mut out = Vec::with_capacity(
            usize::try_from(range.end - range.start).map_err(|_| Error::TooLarge)?,
        );
        let end_chunk = chunk_of(range.end.saturating_sub(1)) + 1;
        self.pos = range.start;
        while self.pos < range.end {
            let wanted = usize::try_from(range.end - self.pos).unwrap_or(usize::MAX);
            let available = self.ensure_window(end_chunk)?;
            let take = available.len().min(wanted);
            out.extend_from_slice(&available[..take]);
            self.pos += take as u64;
        }
        Ok(out)
    }

    /// Gives back the source.
    pub fn into_inner(self) -> R {
        self.source
    }

    /// The opened bytes from `pos` on, opening chunks up to `end_chunk` if the
    /// window does not hold `pos`.
    fn ensure_window(&mut self, end_chunk: u64) -> Result<&[u8]> {
        let window_start = self.window_chunk * CHUNK_LEN as u64;
        let window_end = window_start + self.window.len() as u64;
        if self.pos < window_start || self.pos >= window_end {
            let first = chunk_of(self.pos);
            let end = end_chunk
                .min(first + self.pipeline.window_chunks() as u64)
                .max(first + 1);
            self.fill_window(first, end)?;
        }
        let offset = (self.pos - self.window_chunk * CHUNK_LEN as u64) as usize;
        Ok(&self.window[offset..])
    }

    /// Opens chunks `first..end` (clamped to the message) into the window.
    fn fill_window(&mut self, first: u64, end: u64) -> Result<()> {
        if let Some(failure) = self.failure {
            return Err(failure.into());
        }
        let end = end.min(self.layout.chunk_count());
        let sealed_len = self.layout.sealed_len(first, end);
        self.source.seek(SeekFrom::Start(
            self.chunks_at + first * crate::cobblestone::SEALED_CHUNK_LEN as u64,
        ))?;
        let mut sealed =
            Vec::with_capacity(usize::try_from(sealed_len).map_err(|_| Error::TooLarge)?);
        (&mut self.source)
            .take(sealed_len)
            .read_to_end(&mut sealed)?;
        if (sealed.len() as u64) < sealed_len {
            return self.fail(IntegrityError::Truncated);
        }
        self.window.clear();
        self.window_chunk = first;
        let ends_message = end == self.layout.chunk_count();
        let opened = self.pipeline.open_run(
            &self.keys,
            first,
            Bytes::from(sealed),
            ends_message,
            &mut self.window,
        );
        match opened {
            Ok(()) => {
                self.length_verified |= ends_message;
                Ok(())
            }
            Err(Error::Integrity(failure)) => self.fail(failure),
            Err(other) => Err(other),
        }
    }

    fn fail(&mut self, failure: IntegrityError) -> Result<()> {
        self.window.clear();
        self.failure = Some(failure);
        Err(failure.into())
    }
}

impl<R: Read + Seek> Read for PayloadReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.layout.plaintext_len() {
            self.verified_len()?;
            return Ok(0);
        }
        let count = self.layout.chunk_count();
        let available = self.ensure_window(count)?;
        let take = available.len().min(buf.len());
        buf[..take].copy_from_slice(&available[..take]);
        self.pos += take as u64;
        Ok(take)
    }
}

impl<R: Read + Seek> Seek for PayloadReader<R> {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the payload",
            )
        };
        self.pos = match target {
            SeekFrom::Start(offset) => offset,
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta).ok_or_else(invalid)?,
            SeekFrom::End(delta) => self
                .verified_len()?
                .checked_add_signed(delta)
                .ok_or_else(invalid)?,
        };
        Ok(self.pos)
    }
}

fn chunk_of(plaintext_offset: u64) -> u64 {
    plaintext_offset / CHUNK_LEN as u64
}

/// `read_exact` that reports a short source as truncation.
pub(crate) fn read_exact_or_truncated(source: &mut impl Read, buf: &mut [u8]) -> Result<()> {
    source.read_exact(buf).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => IntegrityError::Truncated.into(),
        _ => Error::Io(error),
    })
}
