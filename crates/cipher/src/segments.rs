//! Payloads stored in pieces: the 64-byte prefix (header, salt, commitment) kept
//! apart and runs of whole chunks sealed or opened independently, so that a store
//! can write a large object segment by segment and read any segment without the
//! others, with no copy to join them.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::cobblestone::{
    CHUNK_LEN, COMMITMENT_LEN, Layout, MessageKeys, SALT_LEN, SEALED_CHUNK_LEN, Salt,
};
use crate::header::{HEADER_LEN, Header};
use crate::payload::payload_context;
use crate::{DataKey, Error, ObjectIdentity, Pipeline, Result};

/// Length of a payload's prefix: header, salt and commitment.
pub const PAYLOAD_PREFIX_LEN: usize = HEADER_LEN + SALT_LEN + COMMITMENT_LEN;

/// Seals one payload run by run. Chunk numbers must be used once each, in any
/// order; the run that holds the end of the plaintext seals the final chunk.
pub struct PayloadSealer {
    pipeline: Pipeline,
    keys: Arc<MessageKeys>,
    prefix: [u8; PAYLOAD_PREFIX_LEN],
}

impl PayloadSealer {
    pub(crate) fn new(
        pipeline: Pipeline,
        key: &DataKey,
        identity: &ObjectIdentity,
        salt: Salt,
    ) -> Self {
        let header = Header::CURRENT.encode();
        let context = payload_context(&header, identity);
        let keys = MessageKeys::derive(key, salt.as_bytes(), &context);
        let mut prefix = [0; PAYLOAD_PREFIX_LEN];
        prefix[..HEADER_LEN].copy_from_slice(&header);
        prefix[HEADER_LEN..HEADER_LEN + SALT_LEN].copy_from_slice(salt.as_bytes());
        prefix[HEADER_LEN + SALT_LEN..].copy_from_slice(keys.commitment());
        Self {
            pipeline,
            keys: Arc::new(keys),
            prefix,
        }
    }

    /// The payload's first 64 bytes.
    pub fn prefix(&self) -> &[u8; PAYLOAD_PREFIX_LEN] {
        &self.prefix
    }

    /// Appends to `out` the chunks from `first_chunk` sealed from `plaintext`. If
    /// `ends_message`, `plaintext` ends the object and its last piece (possibly
    /// empty) becomes the final short chunk; otherwise `plaintext` must be whole
    /// 16 KiB chunks ([`Error::MisalignedRun`]).
    pub fn seal_chunks(
        &self,
        first_chunk: u64,
        plaintext: Bytes,
        ends_message: bool,
        out: &mut BytesMut,
    ) -> Result<()> {
        if !ends_message && !plaintext.len().is_multiple_of(CHUNK_LEN) {
            return Err(Error::MisalignedRun);
        }
        let end = first_chunk
            .checked_add((plaintext.len() / CHUNK_LEN) as u64 + 1)
            .ok_or(Error::TooLarge)?;
        if end > crate::cobblestone::MAX_CHUNKS {
            return Err(Error::TooLarge);
        }
        self.pipeline
            .seal_run(&self.keys, first_chunk, plaintext, ends_message, out)
    }
}

/// Opens one payload run by run, after checking its prefix and key commitment.
pub struct PayloadOpener {
    pipeline: Pipeline,
    keys: Arc<MessageKeys>,
    layout: Layout,
}

impl PayloadOpener {
    pub(crate) fn from_keys(
        pipeline: Pipeline,
        keys: Arc<MessageKeys>,
        payload_len: u64,
    ) -> Result<Self> {
        let layout = Layout::for_message(
            payload_len
                .checked_sub(HEADER_LEN as u64)
                .ok_or(crate::IntegrityError::Truncated)?,
        )?;
        Ok(Self {
            pipeline,
            keys,
            layout,
        })
    }

    /// The layout the payload length claims (authenticated once the final chunk
    /// has opened).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Appends to `out` the plaintext of the sealed chunks from `first_chunk` in
    /// `sealed`; the run ends the message exactly when it reaches the final chunk.
    /// On failure `out` is left as it was.
    pub fn open_chunks(&self, first_chunk: u64, sealed: Bytes, out: &mut BytesMut) -> Result<()> {
        let end = first_chunk + (sealed.len() as u64).div_ceil(SEALED_CHUNK_LEN as u64);
        let ends_message =
            end >= self.layout.chunk_count() || !sealed.len().is_multiple_of(SEALED_CHUNK_LEN);
        self.pipeline
            .open_run(&self.keys, first_chunk, sealed, ends_message, out)
    }

    /// Opens the sealed chunks from `first_chunk` in a buffer this caller owns,
    /// where they lie, and returns their plaintext in the same allocation. On
    /// failure the buffer is zeroized.
    pub fn open_chunks_in_place(&self, first_chunk: u64, sealed: BytesMut) -> Result<BytesMut> {
        let end = first_chunk + (sealed.len() as u64).div_ceil(SEALED_CHUNK_LEN as u64);
        let ends_message =
            end >= self.layout.chunk_count() || !sealed.len().is_multiple_of(SEALED_CHUNK_LEN);
        let mut sealed = sealed;
        crate::in_place::open_chunks(
            &self.pipeline,
            &self.keys,
            first_chunk,
            &mut sealed,
            0,
            ends_message,
        )?;
        Ok(sealed)
    }
}
