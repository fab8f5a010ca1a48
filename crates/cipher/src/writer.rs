//! The streaming sealer: a `Write` that seals a window of chunks at a time on the
//! pipeline and must be finished.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::cobblestone::{CHUNK_LEN, MAX_CHUNKS, MessageKeys, Salt};
use crate::{DataKey, Error, Pipeline, Result};

/// Seals everything written to it into `sink`, one window of chunks (1 MiB per
/// pipeline thread) at a time, so memory stays bounded whatever the size.
///
/// The payload is complete only after [`PayloadWriter::finish`], which writes the
/// final short chunk; a writer dropped before that leaves a truncated payload that
/// will never open.
#[must_use = "a payload is incomplete until `finish` is called"]
pub struct PayloadWriter<W: Write> {
    sink: W,
    pipeline: Pipeline,
    keys: Arc<MessageKeys>,
    pending: BytesMut,
    sealed: BytesMut,
    next_chunk: u64,
    window_len: usize,
    broken: bool,
}

impl<W: Write> PayloadWriter<W> {
    /// Writes `prefix ‖ salt ‖ commitment` and returns a writer for the chunks.
    pub(crate) fn start(
        pipeline: Pipeline,
        key: &DataKey,
        context: &[u8],
        prefix: &[u8],
        salt: Salt,
        mut sink: W,
    ) -> Result<Self> {
        let keys = MessageKeys::derive(key, salt.as_bytes(), context);
        sink.write_all(prefix)?;
        sink.write_all(salt.as_bytes())?;
        sink.write_all(keys.commitment())?;
        let window_len = pipeline.window_chunks() * CHUNK_LEN;
        Ok(Self {
            sink,
            pipeline,
            keys: Arc::new(keys),
            pending: BytesMut::with_capacity(window_len),
            sealed: BytesMut::new(),
            next_chunk: 0,
            window_len,
            broken: false,
        })
    }

    /// Seals what is buffered, writes the final chunk, flushes and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        self.check()?;
        let plaintext = self.pending.split().freeze();
        self.seal_and_write(plaintext, true)?;
        self.sink.flush()?;
        Ok(self.sink)
    }

    fn check(&self) -> Result<()> {
        if self.broken {
            return Err(Error::Io(io::Error::other(
                "an earlier write failed; the payload is incomplete",
            )));
        }
        Ok(())
    }

    fn seal_and_write(&mut self, plaintext: Bytes, ends_message: bool) -> Result<()> {
        let chunks = (plaintext.len() / CHUNK_LEN) as u64;
        if self.next_chunk + chunks >= MAX_CHUNKS {
            self.broken = true;
            return Err(Error::TooLarge);
        }
        self.broken = true;
        self.sealed.clear();
        self.pipeline.seal_run(
            &self.keys,
            self.next_chunk,
            plaintext,
            ends_message,
            &mut self.sealed,
        )?;
        self.sink.write_all(&self.sealed)?;
        self.next_chunk += chunks;
        self.broken = false;
        Ok(())
    }
}

impl<W: Write> Write for PayloadWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        let take = buf.len().min(self.window_len - self.pending.len());
        self.pending.extend_from_slice(&buf[..take]);
        if self.pending.len() == self.window_len {
            let plaintext = self.pending.split().freeze();
            self.seal_and_write(plaintext, false)?;
            self.pending.reserve(self.window_len);
        }
        Ok(take)
    }

    /// Flushes the sink. Buffered plaintext stays buffered until a whole window or
    /// [`PayloadWriter::finish`]: a partial chunk cannot be sealed early.
    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}
