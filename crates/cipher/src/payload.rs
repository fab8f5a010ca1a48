//! coffer payloads: the header, then a Cobblestone-256 message whose context is
//! the header bytes followed by the object identity.
//!
//! ```text
//! payload = header (8) ‖ salt (24) ‖ commitment (32) ‖ chunk_0 ‖ … ‖ chunk_n
//! context = header (8) ‖ canonical(store id, bucket, object id)
//! ```

use std::io::{Read, Seek, Write};
use std::ops::Range;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::cobblestone::{COMMITMENT_LEN, Layout, MessageKeys, PREFIX_LEN, SALT_LEN, Salt};
use crate::header::{HEADER_LEN, Header};
use crate::in_place::{self, PayloadBuffer};
use crate::{
    DataKey, IntegrityError, ObjectIdentity, PAYLOAD_PREFIX_LEN, PayloadOpener, PayloadReader,
    PayloadSealer, PayloadWriter, Pipeline, Result,
};

/// Seals and opens coffer payloads, spreading the chunks of each over a pool of
/// threads. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PayloadCipher {
    pipeline: Pipeline,
}

impl Default for PayloadCipher {
    /// A cipher using every available core.
    fn default() -> Self {
        Self::new(0)
    }
}

impl PayloadCipher {
    /// A cipher that uses `threads` threads per operation (`0`: every available
    /// core, `1`: only the calling thread). The output does not depend on it.
    pub fn new(threads: usize) -> Self {
        Self {
            pipeline: Pipeline::new(threads),
        }
    }

    /// The pipeline this cipher runs on.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Length of the payload that seals `plaintext_len` bytes, or
    /// [`crate::Error::TooLarge`].
    pub fn payload_len(plaintext_len: u64) -> Result<u64> {
        Ok(HEADER_LEN as u64 + Layout::for_plaintext(plaintext_len)?.message_len())
    }

    /// Seals `plaintext` for `identity` under `key` with a fresh random salt.
    pub fn seal(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        plaintext: Bytes,
    ) -> Result<Bytes> {
        self.seal_with_salt(key, identity, Salt::random()?, plaintext)
    }

    /// Seals with the given salt. A salt must never repeat under one key; outside
    /// tests use [`PayloadCipher::seal`].
    pub fn seal_with_salt(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        salt: Salt,
        plaintext: Bytes,
    ) -> Result<Bytes> {
        let header = Header::CURRENT.encode();
        let context = payload_context(&header, identity);
        seal_message(&self.pipeline, key, &context, &header, &salt, plaintext)
    }

    /// Opens a whole payload sealed for `identity` under `key`.
    ///
    /// Fails with [`crate::Error::Integrity`] unless every byte authenticates, and
    /// with [`crate::Error::UnsupportedFormat`] for a header it does not know.
    /// A payload no one else holds (a unique [`Bytes`]) is opened in place, as by
    /// [`PayloadCipher::open_in_place`]; a shared one is copied as it opens.
    pub fn open(&self, key: &DataKey, identity: &ObjectIdentity, payload: Bytes) -> Result<Bytes> {
        let keys = self.payload_keys(key, identity, &payload)?;
        self.open_with_keys(&keys, payload)
    }

    /// Seals the plaintext gathered in `buffer` where it lies, with a fresh random
    /// salt: the payload comes back in the buffer's own allocation, with no copy.
    pub fn seal_in_place(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        buffer: PayloadBuffer,
    ) -> Result<Bytes> {
        self.seal_in_place_with_salt(key, identity, Salt::random()?, buffer)
    }

    /// [`PayloadCipher::seal_in_place`] with the given salt. A salt must never
    /// repeat under one key; outside tests use [`PayloadCipher::seal_in_place`].
    pub fn seal_in_place_with_salt(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        salt: Salt,
        buffer: PayloadBuffer,
    ) -> Result<Bytes> {
        let (mut payload, plaintext_len) = buffer.into_layout();
        Layout::for_plaintext(plaintext_len)?;
        let header = Header::CURRENT.encode();
        let context = payload_context(&header, identity);
        let keys = Arc::new(MessageKeys::derive(key, salt.as_bytes(), &context));
        payload[..HEADER_LEN].copy_from_slice(&header);
        payload[HEADER_LEN..HEADER_LEN + SALT_LEN].copy_from_slice(salt.as_bytes());
        payload[HEADER_LEN + SALT_LEN..PAYLOAD_PREFIX_LEN].copy_from_slice(keys.commitment());
        in_place::seal_chunks(&self.pipeline, &keys, 0, &mut payload, PAYLOAD_PREFIX_LEN)?;
        Ok(payload.freeze())
    }

    /// Opens a payload this caller owns where it lies: the plaintext comes back
    /// in the payload's own allocation, with no copy. Fails like
    /// [`PayloadCipher::open`]; on failure the buffer is zeroized.
    pub fn open_in_place(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        payload: BytesMut,
    ) -> Result<BytesMut> {
        let keys = self.payload_keys(key, identity, &payload)?;
        self.open_in_place_with_keys(&keys, payload)
    }

    /// Derives the keys of the payload that starts with `prefix` (at least its
    /// first [`PAYLOAD_PREFIX_LEN`] bytes), checking its header and its key
    /// commitment: the costly part of opening a small payload, which a caller
    /// that opens the same payload again may keep (see [`PayloadKeys`]).
    pub fn payload_keys(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        prefix: &[u8],
    ) -> Result<PayloadKeys> {
        let header = Header::decode(prefix)?;
        let prefix: [u8; PAYLOAD_PREFIX_LEN] = prefix
            .get(..PAYLOAD_PREFIX_LEN)
            .and_then(|p| p.try_into().ok())
            .ok_or(IntegrityError::Truncated)?;
        let context = payload_context(&header.encode(), identity);
        let salt: [u8; SALT_LEN] = prefix[HEADER_LEN..HEADER_LEN + SALT_LEN]
            .try_into()
            .expect("length checked");
        let keys = MessageKeys::derive(key, &salt, &context);
        keys.check_commitment(&prefix[HEADER_LEN + SALT_LEN..])?;
        Ok(PayloadKeys {
            keys: Arc::new(keys),
            prefix,
        })
    }

    /// [`PayloadCipher::open_in_place`] with keys already derived for this
    /// payload. A payload whose prefix is not the one the keys were derived for
    /// fails with [`IntegrityError::Commitment`].
    pub fn open_in_place_with_keys(
        &self,
        keys: &PayloadKeys,
        mut payload: BytesMut,
    ) -> Result<BytesMut> {
        keys.check_prefix(&payload)?;
        Layout::for_message(payload.len() as u64 - HEADER_LEN as u64)?;
        in_place::open_chunks(
            &self.pipeline,
            &keys.keys,
            0,
            &mut payload,
            PAYLOAD_PREFIX_LEN,
            true,
        )?;
        Ok(payload)
    }

    /// [`PayloadCipher::open`] with keys already derived for this payload.
    pub fn open_with_keys(&self, keys: &PayloadKeys, payload: Bytes) -> Result<Bytes> {
        match payload.try_into_mut() {
            Ok(owned) => Ok(self.open_in_place_with_keys(keys, owned)?.freeze()),
            Err(shared) => {
                keys.check_prefix(&shared)?;
                let layout = Layout::for_message(shared.len() as u64 - HEADER_LEN as u64)?;
                let plaintext_len =
                    usize::try_from(layout.plaintext_len()).map_err(|_| crate::Error::TooLarge)?;
                let mut out = BytesMut::with_capacity(plaintext_len);
                self.pipeline.open_run(
                    &keys.keys,
                    0,
                    shared.slice(PAYLOAD_PREFIX_LEN..),
                    true,
                    &mut out,
                )?;
                Ok(out.freeze())
            }
        }
    }

    /// A streaming sealer writing the payload to `sink`; call
    /// [`PayloadWriter::finish`] to complete it.
    pub fn writer<W: Write>(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        sink: W,
    ) -> Result<PayloadWriter<W>> {
        self.writer_with_salt(key, identity, Salt::random()?, sink)
    }

    /// A streaming sealer with the given salt. A salt must never repeat under one
    /// key; outside tests use [`PayloadCipher::writer`].
    pub fn writer_with_salt<W: Write>(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        salt: Salt,
        sink: W,
    ) -> Result<PayloadWriter<W>> {
        let header = Header::CURRENT.encode();
        let context = payload_context(&header, identity);
        PayloadWriter::start(self.pipeline.clone(), key, &context, &header, salt, sink)
    }

    /// A sealer for a payload written run by run (see [`PayloadSealer`]), with a
    /// fresh random salt.
    pub fn sealer(&self, key: &DataKey, identity: &ObjectIdentity) -> Result<PayloadSealer> {
        Ok(PayloadSealer::new(
            self.pipeline.clone(),
            key,
            identity,
            Salt::random()?,
        ))
    }

    /// An opener for a payload read run by run: `prefix` is its first 64 bytes and
    /// `payload_len` its whole length. Checks header and commitment.
    pub fn opener(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        prefix: &[u8],
        payload_len: u64,
    ) -> Result<PayloadOpener> {
        let keys = self.payload_keys(key, identity, prefix)?;
        PayloadOpener::from_keys(self.pipeline.clone(), keys.keys, payload_len)
    }

    /// [`PayloadCipher::opener`] with keys already derived for this payload.
    pub fn opener_with_keys(&self, keys: &PayloadKeys, payload_len: u64) -> Result<PayloadOpener> {
        PayloadOpener::from_keys(self.pipeline.clone(), Arc::clone(&keys.keys), payload_len)
    }

    /// A streaming opener over a payload that fills `source` from its start.
    /// Checks the header and the key commitment before returning.
    pub fn reader<R: Read + Seek>(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        mut source: R,
    ) -> Result<PayloadReader<R>> {
        let mut header = [0; HEADER_LEN];
        source.rewind()?;
        crate::reader::read_exact_or_truncated(&mut source, &mut header)?;
        Header::decode(&header)?;
        let context = payload_context(&header, identity);
        PayloadReader::start(
            self.pipeline.clone(),
            key,
            &context,
            HEADER_LEN as u64,
            source,
        )
    }

    /// Opens only the chunks that cover `range` of the plaintext (and the final
    /// chunk, which authenticates the length). A range past the end is
    /// [`crate::Error::InvalidRange`].
    pub fn open_range<R: Read + Seek>(
        &self,
        key: &DataKey,
        identity: &ObjectIdentity,
        source: R,
        range: Range<u64>,
    ) -> Result<Vec<u8>> {
        self.reader(key, identity, source)?.read_range(range)
    }
}

/// The secrets derived for one payload (AEAD key, base nonce, commitment) and
/// the 64-byte prefix they belong to. Deriving them (HKDF-SHA512) is most of the
/// cost of opening a small payload, so a caller that reads the same payload
/// again may keep them, in memory only. Zeroized on drop; not `Clone` or
/// `Debug`.
pub struct PayloadKeys {
    keys: Arc<MessageKeys>,
    prefix: [u8; PAYLOAD_PREFIX_LEN],
}

impl PayloadKeys {
    /// Whether `payload` starts with the prefix these keys were derived for. Both
    /// are public bytes stored in the clear (the secret commitment was checked in
    /// constant time when the keys were derived), so a plain comparison will do.
    fn check_prefix(&self, payload: &[u8]) -> Result<()> {
        let matches = payload.get(..PAYLOAD_PREFIX_LEN) == Some(&self.prefix[..]);
        if matches {
            Ok(())
        } else if payload.len() < PAYLOAD_PREFIX_LEN {
            Err(IntegrityError::Truncated.into())
        } else {
            Err(IntegrityError::Commitment.into())
        }
    }
}

/// The key-derivation context of a payload: header bytes, then the identity.
pub(crate) fn payload_context(header: &[u8; HEADER_LEN], identity: &ObjectIdentity) -> Vec<u8> {
    let mut context = header.to_vec();
    identity.encode_into(&mut context);
    context
}

/// `prefix ‖ salt ‖ commitment ‖ chunks`, sealed on `pipeline`.
pub(crate) fn seal_message(
    pipeline: &Pipeline,
    key: &DataKey,
    context: &[u8],
    prefix: &[u8],
    salt: &Salt,
    plaintext: Bytes,
) -> Result<Bytes> {
    let layout = Layout::for_plaintext(plaintext.len() as u64)?;
    let keys = Arc::new(MessageKeys::derive(key, salt.as_bytes(), context));
    let total =
        prefix.len() + usize::try_from(layout.message_len()).map_err(|_| crate::Error::TooLarge)?;
    let mut out = BytesMut::with_capacity(total);
    out.put_slice(prefix);
    out.put_slice(salt.as_bytes());
    out.put_slice(keys.commitment());
    pipeline.seal_run(&keys, 0, plaintext, true, &mut out)?;
    debug_assert_eq!(out.len(), total);
    Ok(out.freeze())
}

/// Opens `salt ‖ commitment ‖ chunks` on `pipeline`.
pub(crate) fn open_message(
    pipeline: &Pipeline,
    key: &DataKey,
    context: &[u8],
    message: Bytes,
) -> Result<Bytes> {
    // A valid layout guarantees at least the prefix and one tag.
    let layout = Layout::for_message(message.len() as u64)?;
    let salt: [u8; SALT_LEN] = message[..SALT_LEN].try_into().expect("length checked");
    let keys = Arc::new(MessageKeys::derive(key, &salt, context));
    keys.check_commitment(&message[SALT_LEN..SALT_LEN + COMMITMENT_LEN])?;
    let plaintext_len =
        usize::try_from(layout.plaintext_len()).map_err(|_| crate::Error::TooLarge)?;
    let mut out = BytesMut::with_capacity(plaintext_len);
    pipeline.open_run(&keys, 0, message.slice(PREFIX_LEN..), true, &mut out)?;
    Ok(out.freeze())
}
