//! The body of a remote object, byte by byte (`docs/format.md`, "Remote
//! objects"): its parts' sealed chunks in part order, then the trailer.
//!
//! ```text
//! body    = part_1 ‖ … ‖ part_n ‖ padding ‖ table ‖ record ‖ tag ‖ footer
//! part_k  = the chunks of a coffer payload (its 64-byte prefix is in the table)
//! table   = n × (u64 plaintext size ‖ u32 part number ‖ 64-byte payload prefix)
//! footer  = u32 record length (record ‖ tag) ‖ u32 n ‖ u8 version ‖ 3 × 0 ‖ "CFRO"
//! ```
//!
//! The stored length is a function of the plaintext size alone
//! ([`stored_len`]), whatever the number of parts, so a listing (which
//! carries no metadata) reports sizes from lengths: the padding makes up
//! the difference between what the parts and the trailer take and what the
//! function allows. Each part may take [`PART_ALLOWANCE`] bytes beyond its
//! chunks' tags, and an object of `S` bytes may have at most
//! `S / MIN_PART_LEN + 1` parts (every part but the last holds at least
//! [`MIN_PART_LEN`] bytes), so the padding is never negative.

use coffer_cipher::{CHUNK_LEN, PAYLOAD_PREFIX_LEN};
use coffer_sse::{Error, Result};

/// The AES-GCM tag every chunk carries.
const CHUNK_TAG_LEN: u64 = 16;
/// Every part but the last holds at least this many plaintext bytes (S3
/// asks 5 MiB of its parts, OSS 100 KiB; coffer asks 1 MiB).
pub const MIN_PART_LEN: u64 = 1 << 20;
/// What a part may take beyond its chunks' tags: its table entry (76
/// bytes) and its final chunk's tag (16), rounded up.
pub const PART_ALLOWANCE: u64 = 96;
/// What the record, its tag and the footer may take.
pub const RECORD_AREA: u64 = 4096;
/// One entry of the part table: the part's plaintext size, its number (its
/// payload is bound to it) and its payload's prefix (for an unencrypted
/// part, its SHA-256 and 32 zeros).
pub const ENTRY_LEN: usize = 8 + 4 + PAYLOAD_PREFIX_LEN;
/// The footer's length.
pub const FOOTER_LEN: usize = 16;
/// The footer's last four bytes.
pub const MAGIC: [u8; 4] = *b"CFRO";
/// The layout's version, in the footer.
pub const LAYOUT_VERSION: u8 = 1;
/// At most this many parts (S3's limit).
pub const MAX_PARTS: u32 = 10_000;

fn not_coffer(what: &str) -> Error {
    Error::Integrity(format!("{what}: not a coffer object, or truncated"))
}

/// The stored length of an object of `size` plaintext bytes
/// ([`Error::TooLarge`] where it would not fit in a `u64`):
///
/// ```text
/// stored_len(S) = S + 16 × ⌊S / 16 KiB⌋ + 96 × (⌊S / 1 MiB⌋ + 1) + 4096
/// ```
pub fn stored_len(size: u64) -> Result<u64> {
    let chunks = size / CHUNK_LEN as u64;
    let parts = size / MIN_PART_LEN + 1;
    chunks
        .checked_mul(CHUNK_TAG_LEN)
        .and_then(|tags| tags.checked_add(size))
        .and_then(|len| len.checked_add(parts * PART_ALLOWANCE))
        .and_then(|len| len.checked_add(RECORD_AREA))
        .ok_or_else(|| Error::TooLarge("object size".into()))
}

/// The plaintext size of an object stored in `stored` bytes: the inverse of
/// [`stored_len`] ([`Error::Integrity`] naming `what` for a length no object
/// has).
pub fn plaintext_len(stored: u64, what: &str) -> Result<u64> {
    // stored_len is strictly increasing and stored_len(S) > S.
    let (mut low, mut high) = (0u64, stored);
    while low < high {
        let middle = low + (high - low) / 2;
        match stored_len(middle) {
            Ok(len) if len < stored => low = middle + 1,
            _ => high = middle,
        }
    }
    match stored_len(low) {
        Ok(len) if len == stored => Ok(low),
        _ => Err(not_coffer(what)),
    }
}

/// The sealed length of a part of `size` plaintext bytes: its chunks and
/// their tags (the final chunk always present), or the plaintext itself.
pub fn part_len(size: u64, encrypted: bool) -> u64 {
    if encrypted {
        size + CHUNK_TAG_LEN * (size / CHUNK_LEN as u64 + 1)
    } else {
        size
    }
}

/// One part as the table lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartEntry {
    /// Plaintext bytes.
    pub size: u64,
    /// The number it was uploaded as (1 to 10 000; its payload is bound to it).
    pub number: u32,
    /// The payload's prefix (header, salt, commitment); for an unencrypted
    /// part its SHA-256 and 32 zero bytes.
    pub prefix: [u8; PAYLOAD_PREFIX_LEN],
}

impl PartEntry {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.number.to_le_bytes());
        out.extend_from_slice(&self.prefix);
    }

    fn decode(raw: &[u8]) -> Self {
        let mut size = [0; 8];
        size.copy_from_slice(&raw[..8]);
        let mut number = [0; 4];
        number.copy_from_slice(&raw[8..12]);
        let mut prefix = [0; PAYLOAD_PREFIX_LEN];
        prefix.copy_from_slice(&raw[12..ENTRY_LEN]);
        Self {
            size: u64::from_le_bytes(size),
            number: u32::from_le_bytes(number),
            prefix,
        }
    }
}

/// The part table's bytes.
pub fn encode_table(parts: &[PartEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.len() * ENTRY_LEN);
    for part in parts {
        part.encode_into(&mut out);
    }
    out
}

/// The parts of a table's bytes (`raw` is a whole number of entries).
pub fn decode_table(raw: &[u8]) -> Vec<PartEntry> {
    raw.chunks_exact(ENTRY_LEN).map(PartEntry::decode).collect()
}

/// The footer: how long the record is and how many parts there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The record's length with its tag.
    pub record_len: u32,
    /// The number of parts.
    pub part_count: u32,
}

impl Footer {
    /// Its 16 bytes.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = [0; FOOTER_LEN];
        out[..4].copy_from_slice(&self.record_len.to_le_bytes());
        out[4..8].copy_from_slice(&self.part_count.to_le_bytes());
        out[8] = LAYOUT_VERSION;
        out[12..].copy_from_slice(&MAGIC);
        out
    }

    /// The footer that ends `tail` (the last bytes of a body), checked
    /// against what fits in `stored` bytes.
    pub fn decode(tail: &[u8], stored: u64, what: &str) -> Result<Self> {
        let at = tail
            .len()
            .checked_sub(FOOTER_LEN)
            .ok_or_else(|| not_coffer(what))?;
        let raw = &tail[at..];
        if raw[12..] != MAGIC {
            return Err(not_coffer(what));
        }
        if raw[8] != LAYOUT_VERSION || raw[9..12] != [0, 0, 0] {
            return Err(Error::Integrity(format!(
                "{what}: written in remote layout version {}, which this version of coffer does not read",
                raw[8]
            )));
        }
        let word = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
        let footer = Self {
            record_len: word(0),
            part_count: word(4),
        };
        if footer.part_count == 0
            || footer.part_count > MAX_PARTS
            || footer.trailer_len() > stored
            || u64::from(footer.record_len) + FOOTER_LEN as u64 > RECORD_AREA
        {
            return Err(not_coffer(what));
        }
        Ok(footer)
    }

    /// The bytes from the table's start to the body's end.
    pub fn trailer_len(&self) -> u64 {
        u64::from(self.part_count) * ENTRY_LEN as u64
            + u64::from(self.record_len)
            + FOOTER_LEN as u64
    }
}

/// The trailer of an object of `size` bytes whose parts took `parts_len`
/// bytes: padding, then `sealed` (table ‖ record ‖ tag), then the footer.
/// [`Error::InvalidArgument`] if the record does not fit its area.
pub fn trailer(size: u64, parts_len: u64, sealed: &[u8], footer: Footer) -> Result<Vec<u8>> {
    if u64::from(footer.record_len) + FOOTER_LEN as u64 > RECORD_AREA {
        return Err(Error::InvalidArgument(format!(
            "the object's record (attributes, metadata, wrapped key) takes {} bytes; at most {} fit",
            footer.record_len,
            RECORD_AREA - FOOTER_LEN as u64
        )));
    }
    let total = stored_len(size)?;
    let padding = total
        .checked_sub(parts_len + sealed.len() as u64 + FOOTER_LEN as u64)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} parts for {size} bytes: every part but the last must hold at least {MIN_PART_LEN} bytes",
                footer.part_count
            ))
        })?;
    let padding = usize::try_from(padding).map_err(|_| Error::TooLarge("padding".into()))?;
    let mut out = Vec::with_capacity(padding + sealed.len() + FOOTER_LEN);
    out.resize(padding, 0);
    out.extend_from_slice(sealed);
    out.extend_from_slice(&footer.encode());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_lengths_invert_and_others_are_refused() {
        for size in [
            0,
            1,
            CHUNK_LEN as u64 - 1,
            CHUNK_LEN as u64,
            MIN_PART_LEN - 1,
            MIN_PART_LEN,
            MIN_PART_LEN + 1,
            5 << 20,
            64 << 20,
            1 << 40,
        ] {
            let stored = stored_len(size).expect("fits");
            assert_eq!(plaintext_len(stored, "x").expect("inverts"), size, "{size}");
            if size > 0 && stored_len(size - 1).expect("fits") + 1 < stored {
                assert!(plaintext_len(stored - 1, "x").is_err(), "{size}");
            }
        }
        assert_eq!(stored_len(0).expect("fits"), 96 + 4096);
        assert!(plaintext_len(100, "x").is_err());
        assert!(stored_len(u64::MAX).is_err());
    }

    #[test]
    fn the_allowance_covers_the_most_parts_an_object_may_have() {
        for size in [
            MIN_PART_LEN * 3,
            MIN_PART_LEN * 3 + 5,
            10 * MIN_PART_LEN - 1,
        ] {
            let parts = size / MIN_PART_LEN + 1;
            let sizes: Vec<u64> = (0..parts)
                .map(|i| {
                    if i + 1 < parts {
                        MIN_PART_LEN
                    } else {
                        size - (parts - 1) * MIN_PART_LEN
                    }
                })
                .collect();
            let parts_len: u64 = sizes.iter().map(|&s| part_len(s, true)).sum();
            let table = vec![0u8; sizes.len() * ENTRY_LEN + 3000];
            let footer = Footer {
                record_len: 3000,
                part_count: sizes.len() as u32,
            };
            let trailer = trailer(size, parts_len, &table, footer).expect("fits");
            assert_eq!(
                parts_len + trailer.len() as u64,
                stored_len(size).expect("fits")
            );
        }
    }

    #[test]
    fn footers_read_back_and_foreign_tails_are_refused() {
        let footer = Footer {
            record_len: 200,
            part_count: 2,
        };
        let bytes = footer.encode();
        assert_eq!(Footer::decode(&bytes, 10_000, "x").expect("reads"), footer);
        assert!(
            Footer::decode(&bytes, 100, "x").is_err(),
            "longer than the body"
        );
        let mut foreign = bytes;
        foreign[15] = b'X';
        assert!(Footer::decode(&foreign, 10_000, "x").is_err());
        let mut newer = bytes;
        newer[8] = 2;
        let error = Footer::decode(&newer, 10_000, "x").expect_err("newer");
        assert!(error.to_string().contains("version 2"), "{error}");
    }
}
