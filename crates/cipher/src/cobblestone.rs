//! The C2SP chunked-encryption construction with HKDF-SHA512 and AES-256-GCM
//! ("Cobblestone-256", <https://c2sp.org/chunked-encryption>), byte for byte.
//!
//! ```text
//! key ‖ base_nonce ‖ commitment = HKDF-Expand-SHA512(prk = input key,
//!     info = "c2sp.org/chunked-encryption@v1+" ‖ "AEAD_AES_256_GCM" ‖ 0x00 ‖ salt ‖ context)
//! message = salt (24) ‖ commitment (32) ‖ chunk_0 ‖ … ‖ chunk_n
//! chunk_k = AES-256-GCM(key, base_nonce XOR be96(k), aad = "", 16 KiB of plaintext) ‖ tag (16)
//! ```
//!
//! The final chunk is always shorter than 16 KiB (possibly empty), which marks the
//! end of the message. The commitment is checked, in constant time, before any
//! chunk is opened. This module holds the construction itself; coffer's header
//! and the object identity it binds are added by [`PayloadCipher`](crate::PayloadCipher).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, Tag, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{DataKey, Error, IntegrityError, PayloadReader, Pipeline, Result};

/// Plaintext bytes in every chunk but the final one.
pub const CHUNK_LEN: usize = 16 * 1024;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Ciphertext bytes of a full chunk.
pub const SEALED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;
/// Length of the random salt that starts a message.
pub const SALT_LEN: usize = 24;
/// Length of the key commitment that follows the salt.
pub const COMMITMENT_LEN: usize = 32;
/// Bytes in front of the first chunk: salt and commitment.
pub const PREFIX_LEN: usize = SALT_LEN + COMMITMENT_LEN;
/// The format allows at most 2^38 chunks (4 PiB).
pub const MAX_CHUNKS: u64 = 1 << 38;

const LABEL: &[u8] = b"c2sp.org/chunked-encryption@v1+";
const AEAD_NAME: &[u8] = b"AEAD_AES_256_GCM";
const AEAD_KEY_LEN: usize = 32;
const DERIVED_LEN: usize = AEAD_KEY_LEN + NONCE_LEN + COMMITMENT_LEN;

/// Seals `plaintext` as a bare Cobblestone-256 message (no coffer header) on the
/// calling thread.
pub fn seal(key: &DataKey, context: &[u8], salt: &Salt, plaintext: &[u8]) -> Result<Vec<u8>> {
    let message = crate::payload::seal_message(
        &Pipeline::new(1),
        key,
        context,
        &[],
        salt,
        bytes::Bytes::copy_from_slice(plaintext),
    )?;
    Ok(message.to_vec())
}

/// Opens a bare Cobblestone-256 message on the calling thread.
pub fn open(key: &DataKey, context: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let plaintext = crate::payload::open_message(
        &Pipeline::new(1),
        key,
        context,
        bytes::Bytes::copy_from_slice(message),
    )?;
    Ok(plaintext.to_vec())
}

/// A streaming, seekable opener over a bare Cobblestone-256 message that fills
/// `source`.
pub fn reader<R: std::io::Read + std::io::Seek>(
    key: &DataKey,
    context: &[u8],
    source: R,
) -> Result<PayloadReader<R>> {
    PayloadReader::start(Pipeline::new(1), key, context, 0, source)
}

/// The 24-byte salt that makes each message's derived key unique.
pub struct Salt([u8; SALT_LEN]);

impl Salt {
    /// Draws a random salt; fails with [`Error::Randomness`].
    pub fn random() -> Result<Self> {
        let mut salt = [0; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| Error::Randomness)?;
        Ok(Self(salt))
    }

    /// The salt's bytes as written at the start of the message.
    pub fn as_bytes(&self) -> &[u8; SALT_LEN] {
        &self.0
    }

    pub(crate) fn from_array(bytes: [u8; SALT_LEN]) -> Self {
        Self(bytes)
    }
}

/// The per-message secrets derived from the input key: AEAD key, base nonce and
/// commitment, zeroized on drop, and the ring key built from the AEAD key once
/// for the calling thread (ring does not zeroize its key schedule). Shared
/// read-only with pipeline workers, each of which builds its own ring key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeys {
    aead_key: [u8; AEAD_KEY_LEN],
    base_nonce: [u8; NONCE_LEN],
    commitment: [u8; COMMITMENT_LEN],
    #[zeroize(skip)]
    ring_key: LessSafeKey,
}

impl MessageKeys {
    /// HKDF-Expand-SHA512 as the specification lays it out.
    pub(crate) fn derive(input_key: &DataKey, salt: &[u8; SALT_LEN], context: &[u8]) -> Self {
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA512, input_key.expose_secret());
        let info: [&[u8]; 5] = [LABEL, AEAD_NAME, &[0], salt, context];
        let mut okm = [0u8; DERIVED_LEN];
        prk.expand(&info, DerivedLen)
            .and_then(|okm_ref| okm_ref.fill(&mut okm))
            .expect("76 bytes is far below HKDF-SHA512's output limit");
        let mut aead_key = [0; AEAD_KEY_LEN];
        aead_key.copy_from_slice(&okm[..AEAD_KEY_LEN]);
        let mut keys = Self {
            ring_key: ring_key(&aead_key),
            aead_key,
            base_nonce: [0; NONCE_LEN],
            commitment: [0; COMMITMENT_LEN],
        };
        keys.base_nonce
            .copy_from_slice(&okm[AEAD_KEY_LEN..AEAD_KEY_LEN + NONCE_LEN]);
        keys.commitment
            .copy_from_slice(&okm[AEAD_KEY_LEN + NONCE_LEN..]);
        okm.zeroize();
        keys
    }

    pub(crate) fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// Compares a stored commitment in constant time.
    pub(crate) fn check_commitment(&self, stored: &[u8]) -> Result<()> {
        if bool::from(self.commitment.as_slice().ct_eq(stored)) {
            Ok(())
        } else {
            Err(IntegrityError::Commitment.into())
        }
    }

    /// The chunk cipher of the calling thread, on the ring key built at
    /// derivation.
    pub(crate) fn chunk_cipher(&self) -> ChunkCipher<'_> {
        ChunkCipher {
            key: RingKey::Shared(&self.ring_key),
            base_nonce: &self.base_nonce,
        }
    }

    /// A chunk cipher with a ring key of its own, for a pipeline worker.
    pub(crate) fn worker_cipher(&self) -> ChunkCipher<'_> {
        ChunkCipher {
            key: RingKey::Own(Box::new(ring_key(&self.aead_key))),
            base_nonce: &self.base_nonce,
        }
    }
}

fn ring_key(aead_key: &[u8; AEAD_KEY_LEN]) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, aead_key).expect("AES-256-GCM takes a 32-byte key"),
    )
}

/// A chunk cipher's ring key: the message's own, or one built for a worker.
enum RingKey<'k> {
    Shared(&'k LessSafeKey),
    Own(Box<LessSafeKey>),
}

struct DerivedLen;

impl hkdf::KeyType for DerivedLen {
    fn len(&self) -> usize {
        DERIVED_LEN
    }
}

/// Seals and opens single chunks with one ring key.
pub(crate) struct ChunkCipher<'k> {
    key: RingKey<'k>,
    base_nonce: &'k [u8; NONCE_LEN],
}

impl ChunkCipher<'_> {
    fn key(&self) -> &LessSafeKey {
        match &self.key {
            RingKey::Shared(key) => key,
            RingKey::Own(key) => key,
        }
    }

    fn nonce(&self, index: u64) -> Nonce {
        debug_assert!(index < MAX_CHUNKS);
        let mut nonce = *self.base_nonce;
        for (byte, counter) in nonce[NONCE_LEN - 8..].iter_mut().zip(index.to_be_bytes()) {
            *byte ^= counter;
        }
        Nonce::assume_unique_for_key(nonce)
    }

    /// Appends chunk `index` sealed from `plaintext` (at most [`CHUNK_LEN`] bytes) to `out`.
    pub(crate) fn seal_append(&self, index: u64, plaintext: &[u8], out: &mut impl ChunkSink) {
        let start = out.len();
        out.extend(plaintext);
        let tag = self
            .key()
            .seal_in_place_separate_tag(self.nonce(index), Aad::empty(), out.tail(start))
            .expect("a chunk is far below AES-GCM's message limit");
        out.extend(tag.as_ref());
    }

    /// Appends the plaintext of chunk `index`, given as `sealed` (body and tag), to
    /// `out`. On failure `out` is left as it was.
    pub(crate) fn open_append(
        &self,
        index: u64,
        sealed: &[u8],
        out: &mut impl ChunkSink,
    ) -> Result<()> {
        let fail = || Error::from(IntegrityError::Chunk { index });
        let body_len = sealed.len().checked_sub(TAG_LEN).ok_or_else(fail)?;
        let (body, tag) = sealed.split_at(body_len);
        let tag = Tag::try_from(tag).map_err(|_| fail())?;
        let start = out.len();
        out.extend(body);
        let opened = self.key().open_in_place_separate_tag(
            self.nonce(index),
            Aad::empty(),
            tag,
            out.tail(start),
            0..,
        );
        if opened.is_err() {
            // Never leave unauthenticated plaintext behind.
            out.tail(start).zeroize();
            out.truncate(start);
            return Err(fail());
        }
        Ok(())
    }
}

impl ChunkCipher<'_> {
    /// Seals chunk `index` where it lies: `slot` is the chunk's plaintext
    /// followed by [`TAG_LEN`] bytes that receive the tag.
    pub(crate) fn seal_slot(&self, index: u64, slot: &mut [u8]) {
        let body_len = slot.len() - TAG_LEN;
        let (body, tag_slot) = slot.split_at_mut(body_len);
        let tag = self
            .key()
            .seal_in_place_separate_tag(self.nonce(index), Aad::empty(), body)
            .expect("a chunk is far below AES-GCM's message limit");
        tag_slot.copy_from_slice(tag.as_ref());
    }

    /// Opens chunk `index` whose body lies at `buffer[from..]` (its tag given
    /// apart), writing the plaintext to `buffer[to..]` in the same pass. `to <=
    /// from`; `buffer` ends with the body. On failure the plaintext is zeroized.
    pub(crate) fn open_moving(
        &self,
        index: u64,
        tag: &[u8],
        buffer: &mut [u8],
        from: usize,
        to: usize,
    ) -> Result<()> {
        let fail = || Error::from(IntegrityError::Chunk { index });
        let tag = Tag::try_from(tag).map_err(|_| fail())?;
        let in_out = buffer.get_mut(to..).ok_or_else(fail)?;
        let shift = from.checked_sub(to).ok_or_else(fail)?;
        if self
            .key()
            .open_in_place_separate_tag(self.nonce(index), Aad::empty(), tag, in_out, shift..)
            .is_err()
        {
            in_out.zeroize();
            return Err(fail());
        }
        Ok(())
    }
}

/// A growable byte buffer the chunk cipher writes into (`Vec<u8>`, `BytesMut`).
pub(crate) trait ChunkSink {
    fn len(&self) -> usize;
    fn extend(&mut self, bytes: &[u8]);
    fn tail(&mut self, from: usize) -> &mut [u8];
    fn truncate(&mut self, len: usize);
}

impl ChunkSink for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn extend(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn tail(&mut self, from: usize) -> &mut [u8] {
        &mut self[from..]
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

impl ChunkSink for bytes::BytesMut {
    fn len(&self) -> usize {
        bytes::BytesMut::len(self)
    }
    fn extend(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn tail(&mut self, from: usize) -> &mut [u8] {
        &mut self[from..]
    }
    fn truncate(&mut self, len: usize) {
        bytes::BytesMut::truncate(self, len);
    }
}

/// How many sealed chunks `sealed_len` bytes of a run hold: whole chunks, plus
/// the final short one when the run ends the message. A length no run can have
/// is [`IntegrityError::Truncated`].
pub(crate) fn sealed_chunk_count(sealed_len: usize, ends_message: bool) -> Result<usize> {
    let full = sealed_len / SEALED_CHUNK_LEN;
    match (ends_message, sealed_len % SEALED_CHUNK_LEN) {
        (true, rest) if rest >= TAG_LEN => Ok(full + 1),
        (false, 0) => Ok(full),
        _ => Err(IntegrityError::Truncated.into()),
    }
}

/// Where each chunk of a message sits, computed from the plaintext length or
/// validated from the ciphertext length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    plaintext_len: u64,
}

impl Layout {
    /// The layout of a message of `plaintext_len` bytes; [`Error::TooLarge`] past 4 PiB.
    pub fn for_plaintext(plaintext_len: u64) -> Result<Self> {
        if plaintext_len / CHUNK_LEN as u64 >= MAX_CHUNKS {
            return Err(Error::TooLarge);
        }
        Ok(Self { plaintext_len })
    }

    /// The layout implied by a message (salt, commitment and chunks) of
    /// `message_len` bytes. Impossible lengths are [`IntegrityError::Truncated`].
    /// The length is only *claimed* until the final chunk authenticates.
    pub fn for_message(message_len: u64) -> Result<Self> {
        let body = message_len
            .checked_sub(PREFIX_LEN as u64)
            .ok_or(IntegrityError::Truncated)?;
        let full_chunks = body / SEALED_CHUNK_LEN as u64;
        let final_sealed = body % SEALED_CHUNK_LEN as u64;
        if final_sealed < TAG_LEN as u64 {
            return Err(IntegrityError::Truncated.into());
        }
        if full_chunks >= MAX_CHUNKS {
            return Err(Error::TooLarge);
        }
        Ok(Self {
            plaintext_len: full_chunks * CHUNK_LEN as u64 + (final_sealed - TAG_LEN as u64),
        })
    }

    /// Plaintext length in bytes.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Number of chunks, the final short one included.
    pub fn chunk_count(&self) -> u64 {
        self.plaintext_len / CHUNK_LEN as u64 + 1
    }

    /// Index of the final chunk.
    pub fn final_chunk(&self) -> u64 {
        self.chunk_count() - 1
    }

    /// Total message length: prefix and every sealed chunk.
    pub fn message_len(&self) -> u64 {
        PREFIX_LEN as u64 + self.plaintext_len + self.chunk_count() * TAG_LEN as u64
    }

    /// Offset of chunk `index` from the start of the message.
    pub fn chunk_offset(&self, index: u64) -> u64 {
        PREFIX_LEN as u64 + index * SEALED_CHUNK_LEN as u64
    }

    /// Plaintext bytes in chunk `index`.
    pub fn chunk_plaintext_len(&self, index: u64) -> usize {
        if index < self.final_chunk() {
            CHUNK_LEN
        } else {
            (self.plaintext_len % CHUNK_LEN as u64) as usize
        }
    }

    /// Sealed bytes (bodies and tags) of chunks `first..end`.
    pub fn sealed_len(&self, first: u64, end: u64) -> u64 {
        if first >= end {
            return 0;
        }
        let final_chunk = self.final_chunk();
        let full = end.min(final_chunk).saturating_sub(first);
        let mut len = full * SEALED_CHUNK_LEN as u64;
        if end > final_chunk {
            len += (self.chunk_plaintext_len(final_chunk) + TAG_LEN) as u64;
        }
        len
    }
}
