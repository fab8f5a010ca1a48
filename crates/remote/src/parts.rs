//! Sealing and opening one part of a remote object: a coffer payload whose
//! chunks are stored in the body and whose 64-byte prefix is kept in the
//! part table, bound to the object's identity with the part's number (so a
//! part cannot be moved to another position or object). An unencrypted part
//! is its plaintext, checked against the SHA-256 the table keeps.

use bytes::{Bytes, BytesMut};
use coffer_cipher::{CHUNK_LEN, DataKey, ObjectIdentity, PAYLOAD_PREFIX_LEN, SEALED_CHUNK_LEN};
use coffer_sse::keys::{Keys, OBJECT_ID_LEN};
use coffer_sse::{Error, Result};
use ring::digest::{SHA256, digest};

use crate::layout::{PartEntry, part_len};

/// The identity part `number` of an object is sealed under: the object's
/// id followed by the part number (big-endian), in the store and bucket.
pub(crate) fn part_identity(
    keys: &Keys,
    bucket: &str,
    object_id: &[u8; OBJECT_ID_LEN],
    number: u32,
) -> ObjectIdentity {
    let mut id = Vec::with_capacity(OBJECT_ID_LEN + 4);
    id.extend_from_slice(object_id);
    id.extend_from_slice(&number.to_be_bytes());
    ObjectIdentity::new(keys.store_id(), bucket, &id)
}

/// Seals `plaintext` as part `number`: its table entry and stored bytes.
pub(crate) fn seal_part(
    keys: &Keys,
    data_key: Option<&DataKey>,
    bucket: &str,
    object_id: &[u8; OBJECT_ID_LEN],
    number: u32,
    plaintext: Bytes,
) -> Result<(PartEntry, Bytes)> {
    let size = plaintext.len() as u64;
    let Some(data_key) = data_key else {
        let mut prefix = [0; PAYLOAD_PREFIX_LEN];
        prefix[..32].copy_from_slice(digest(&SHA256, &plaintext).as_ref());
        return Ok((
            PartEntry {
                size,
                number,
                prefix,
            },
            plaintext,
        ));
    };
    let identity = part_identity(keys, bucket, object_id, number);
    let sealer = keys.cipher().sealer(data_key, &identity)?;
    let capacity =
        usize::try_from(part_len(size, true)).map_err(|_| Error::TooLarge("part".into()))?;
    let mut out = BytesMut::with_capacity(capacity);
    sealer.seal_chunks(0, plaintext, true, &mut out)?;
    Ok((
        PartEntry {
            size,
            number,
            prefix: *sealer.prefix(),
        },
        out.freeze(),
    ))
}

/// Where, in a part's stored bytes, the plaintext `range` (within the part)
/// is sealed: the byte range to fetch, and the first chunk's number and
/// plaintext offset. An unencrypted part is fetched whole (its digest covers
/// all of it).
pub(crate) fn sealed_span(
    entry: &PartEntry,
    encrypted: bool,
    range: std::ops::Range<u64>,
) -> (std::ops::Range<u64>, u64, u64) {
    if !encrypted {
        return (0..entry.size, 0, 0);
    }
    let chunk = CHUNK_LEN as u64;
    let chunk_count = entry.size / chunk + 1;
    let first = range.start / chunk;
    let end = range.end.div_ceil(chunk).max(first + 1).min(chunk_count);
    let sealed = SEALED_CHUNK_LEN as u64;
    let stored = part_len(entry.size, true);
    (
        first * sealed..(end * sealed).min(stored),
        first,
        first * chunk,
    )
}

/// What opens part `number` of an object: its identity, table entry and
/// data key (`None`: an unencrypted part, checked against its digest).
pub(crate) struct PartOpening<'a> {
    pub(crate) keys: &'a Keys,
    pub(crate) data_key: Option<&'a DataKey>,
    pub(crate) object: (&'a str, &'a str),
    pub(crate) object_id: &'a [u8; OBJECT_ID_LEN],
    pub(crate) entry: &'a PartEntry,
}

impl PartOpening<'_> {
    fn damaged(&self) -> Error {
        let (bucket, key) = self.object;
        Error::Integrity(format!(
            "object {bucket}/{key}: part {} failed to authenticate (edited, cut, or moved)",
            self.entry.number
        ))
    }

    /// Whether `plain` is the whole unencrypted part its entry describes.
    fn check_unencrypted(&self, plain: &[u8]) -> Result<()> {
        if plain.len() as u64 != self.entry.size
            || digest(&SHA256, plain).as_ref() != &self.entry.prefix[..32]
        {
            return Err(self.damaged());
        }
        Ok(())
    }

    fn opener(&self, data_key: &DataKey) -> Result<coffer_cipher::PayloadOpener> {
        let (bucket, _) = self.object;
        let identity = part_identity(self.keys, bucket, self.object_id, self.entry.number);
        let payload_keys = self
            .keys
            .cipher()
            .payload_keys(data_key, &identity, &self.entry.prefix)
            .map_err(|_| self.damaged())?;
        self.keys
            .cipher()
            .opener_with_keys(
                &payload_keys,
                PAYLOAD_PREFIX_LEN as u64 + part_len(self.entry.size, true),
            )
            .map_err(|_| self.damaged())
    }

    /// Opens the sealed chunks from `first_chunk` (or a whole unencrypted
    /// part) and appends their plaintext to `out` (in place when `out` is
    /// empty and no one else holds `sealed`); an edited, cut or moved part
    /// is [`Error::Integrity`] naming the object.
    pub(crate) fn open(&self, first_chunk: u64, sealed: Bytes, out: &mut BytesMut) -> Result<()> {
        let Some(data_key) = self.data_key else {
            self.check_unencrypted(&sealed)?;
            out.extend_from_slice(&sealed);
            return Ok(());
        };
        let mut sealed = sealed;
        if out.is_empty() {
            match sealed.try_into_mut() {
                Ok(owned) => {
                    *out = self.open_in_place(first_chunk, owned)?;
                    return Ok(());
                }
                Err(shared) => sealed = shared,
            }
        }
        self.opener(data_key)?
            .open_chunks(first_chunk, sealed, out)
            .map_err(|_| self.damaged())
    }

    /// [`PartOpening::open`] of bytes this caller owns, where they lie: their
    /// plaintext, in the same allocation.
    pub(crate) fn open_in_place(&self, first_chunk: u64, sealed: BytesMut) -> Result<BytesMut> {
        let Some(data_key) = self.data_key else {
            self.check_unencrypted(&sealed)?;
            return Ok(sealed);
        };
        self.opener(data_key)?
            .open_chunks_in_place(first_chunk, sealed)
            .map_err(|_| self.damaged())
    }
}

/// Plaintext sealed per run of a streamed part: a whole number of chunks.
pub(crate) const RUN_LEN: usize = 64 * CHUNK_LEN;

/// Seals part `number` as it is read from `next` (which gives up to
/// [`RUN_LEN`] bytes and whether the part ended there), handing each sealed
/// run to `sink`: memory stays at a run whatever the part's size. Its
/// table entry.
#[allow(clippy::too_many_arguments)]
pub(crate) fn seal_streamed(
    keys: &Keys,
    data_key: Option<&DataKey>,
    bucket: &str,
    object_id: &[u8; OBJECT_ID_LEN],
    number: u32,
    next: &mut dyn FnMut(usize) -> Result<(Bytes, bool)>,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<PartEntry> {
    let mut size = 0u64;
    let Some(data_key) = data_key else {
        let mut hash = ring::digest::Context::new(&SHA256);
        loop {
            let (run, ended) = next(RUN_LEN)?;
            hash.update(&run);
            sink(&run)?;
            size += run.len() as u64;
            if ended {
                let mut prefix = [0; PAYLOAD_PREFIX_LEN];
                prefix[..32].copy_from_slice(hash.finish().as_ref());
                return Ok(PartEntry {
                    size,
                    number,
                    prefix,
                });
            }
        }
    };
    let identity = part_identity(keys, bucket, object_id, number);
    let sealer = keys.cipher().sealer(data_key, &identity)?;
    let mut chunk = 0u64;
    loop {
        let (run, ended) = next(RUN_LEN)?;
        let len = run.len();
        let mut out = BytesMut::with_capacity(len + len / CHUNK_LEN * 16 + 16);
        sealer.seal_chunks(chunk, run, ended, &mut out)?;
        sink(&out)?;
        chunk += (len / CHUNK_LEN) as u64;
        size += len as u64;
        if ended {
            return Ok(PartEntry {
                size,
                number,
                prefix: *sealer.prefix(),
            });
        }
    }
}
