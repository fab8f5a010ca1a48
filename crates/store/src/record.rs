//! Object records, in a compact binary encoding (read on every get, so no JSON):
//!
//! ```text
//! u8 version = 1 ‖ object id (16) ‖ u64 size ‖ u64 modified (ms since epoch)
//! ‖ u8 mode (0 none, 1 AES256, 2 KMS) ‖ str16 key id ‖ u32 key version
//! ‖ bytes16 wrapped key ‖ str16 content type
//! ‖ u32 n ‖ n × (str16 name ‖ str32 value)             user metadata
//! ‖ u8 0 ‖ bytes32 payload                              inline body
//! | u8 1 ‖ bytes16 payload prefix ‖ u32 segments        segmented body
//! ```
//! (`str16`/`bytes16`: u16 length then bytes; little-endian throughout.)

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::columns::OBJECT_ID_LEN;
use crate::rule::{EncryptionRule, ProtectionMode};
use crate::{Error, Result};

const VERSION: u8 = 1;

/// Where an object's payload lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// The whole payload, in the record.
    Inline(Bytes),
    /// The payload's prefix in the record, its chunks in `segments` values of
    /// the chunks family.
    Segmented { prefix: Vec<u8>, segments: u32 },
}

/// Everything the store keeps about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectRecord {
    pub(crate) object_id: [u8; OBJECT_ID_LEN],
    pub(crate) size: u64,
    pub(crate) modified_ms: u64,
    pub(crate) mode: ProtectionMode,
    pub(crate) key_id: String,
    pub(crate) key_version: u32,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) content_type: String,
    pub(crate) user_metadata: BTreeMap<String, String>,
    pub(crate) body: Body,
}

/// A bucket's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BucketRecord {
    pub(crate) name: String,
    pub(crate) created_ms: u64,
    pub(crate) rule: Option<EncryptionRule>,
}

fn corrupt(what: &str) -> Error {
    Error::CorruptRecord(what.to_owned())
}

fn put_len16(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| Error::InvalidArgument("a name or value exceeds 65535 bytes".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_len32(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| Error::InvalidArgument("a value exceeds 4 GiB".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

impl ObjectRecord {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let inline_len = match &self.body {
            Body::Inline(payload) => payload.len(),
            Body::Segmented { .. } => 64,
        };
        let mut out =
            Vec::with_capacity(96 + self.wrapped_key.len() + inline_len + self.key_id.len());
        out.push(VERSION);
        out.extend_from_slice(&self.object_id);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.modified_ms.to_le_bytes());
        out.push(match self.mode {
            ProtectionMode::None => 0,
            ProtectionMode::Aes256 => 1,
            ProtectionMode::Kms => 2,
        });
        put_len16(&mut out, self.key_id.as_bytes())?;
        out.extend_from_slice(&self.key_version.to_le_bytes());
        put_len16(&mut out, &self.wrapped_key)?;
        put_len16(&mut out, self.content_type.as_bytes())?;
        let count =
            u32::try_from(self.user_metadata.len()).map_err(|_| corrupt("metadata count"))?;
        out.extend_from_slice(&count.to_le_bytes());
        for (name, value) in &self.user_metadata {
            put_len16(&mut out, name.as_bytes())?;
            put_len32(&mut out, value.as_bytes())?;
        }
        match &self.body {
            Body::Inline(payload) => {
                out.push(0);
                put_len32(&mut out, payload)?;
            }
            Body::Segmented { prefix, segments } => {
                out.push(1);
                put_len16(&mut out, prefix)?;
                out.extend_from_slice(&segments.to_le_bytes());
            }
        }
        Ok(out)
    }

    /// Decodes a record; an inline payload is sliced out of `raw` without copying.
    pub(crate) fn decode(raw: Bytes) -> Result<Self> {
        let mut r = Reader { raw: &raw, at: 0 };
        if r.u8()? != VERSION {
            return Err(corrupt("unknown object record version"));
        }
        let object_id: [u8; OBJECT_ID_LEN] = r
            .take(OBJECT_ID_LEN)?
            .try_into()
            .map_err(|_| corrupt("object id"))?;
        let size = r.u64()?;
        let modified_ms = r.u64()?;
        let mode = match r.u8()? {
            0 => ProtectionMode::None,
            1 => ProtectionMode::Aes256,
            2 => ProtectionMode::Kms,
            _ => return Err(corrupt("unknown protection mode")),
        };
        let key_id = r.str16()?;
        let key_version = r.u32()?;
        let wrapped_key = r.bytes16()?.to_vec();
        let content_type = r.str16()?;
        let count = r.u32()?;
        let mut user_metadata = BTreeMap::new();
        for _ in 0..count {
            let name = r.str16()?;
            let len = r.u32()? as usize;
            let value =
                String::from_utf8(r.take(len)?.to_vec()).map_err(|_| corrupt("metadata value"))?;
            user_metadata.insert(name, value);
        }
        let body = match r.u8()? {
            0 => {
                let len = r.u32()? as usize;
                let start = r.at;
                r.take(len)?;
                Body::Inline(raw.slice(start..start + len))
            }
            1 => {
                let prefix = r.bytes16()?.to_vec();
                let segments = r.u32()?;
                Body::Segmented { prefix, segments }
            }
            _ => return Err(corrupt("unknown body kind")),
        };
        if r.at != raw.len() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Self {
            object_id,
            size,
            modified_ms,
            mode,
            key_id,
            key_version,
            wrapped_key,
            content_type,
            user_metadata,
            body,
        })
    }
}

impl ObjectRecord {
    /// The object id of the record in `raw` if its payload is in segments, read
    /// without decoding the rest: what a writer needs to drop the old object.
    pub(crate) fn segmented_id(raw: &[u8]) -> Result<Option<[u8; OBJECT_ID_LEN]>> {
        let mut r = Reader { raw, at: 0 };
        if r.u8()? != VERSION {
            return Err(corrupt("unknown object record version"));
        }
        let object_id: [u8; OBJECT_ID_LEN] = r
            .take(OBJECT_ID_LEN)?
            .try_into()
            .map_err(|_| corrupt("object id"))?;
        r.take(8 + 8 + 1)?; // size, modified, mode
        r.bytes16()?; // key id
        r.u32()?; // key version
        r.bytes16()?; // wrapped key
        r.bytes16()?; // content type
        for _ in 0..r.u32()? {
            r.bytes16()?;
            let len = r.u32()? as usize;
            r.take(len)?;
        }
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(object_id)),
            _ => Err(corrupt("unknown body kind")),
        }
    }
}

struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).ok_or_else(|| corrupt("length"))?;
        let slice = self
            .raw
            .get(self.at..end)
            .ok_or_else(|| corrupt("truncated"))?;
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| corrupt("u32"))?,
        ))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| corrupt("u64"))?,
        ))
    }
    fn bytes16(&mut self) -> Result<&'a [u8]> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| corrupt("u16"))?);
        self.take(usize::from(len))
    }
    fn str16(&mut self) -> Result<String> {
        String::from_utf8(self.bytes16()?.to_vec()).map_err(|_| corrupt("string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = ObjectRecord> {
        (
            any::<[u8; 16]>(),
            any::<u64>(),
            0u8..3,
            "[a-z0-9-]{0,36}",
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..80),
            "[ -~]{0,20}",
            proptest::collection::btree_map("[a-z-]{1,10}", "[ -~]{0,30}", 0..4),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300).prop_map(|p| Body::Inline(p.into())),
                (proptest::collection::vec(any::<u8>(), 64), any::<u32>())
                    .prop_map(|(prefix, segments)| Body::Segmented { prefix, segments }),
            ],
        )
            .prop_map(
                |(
                    object_id,
                    size,
                    mode,
                    key_id,
                    key_version,
                    wrapped_key,
                    content_type,
                    user_metadata,
                    body,
                )| ObjectRecord {
                    object_id,
                    size,
                    modified_ms: size / 3,
                    mode: [
                        ProtectionMode::None,
                        ProtectionMode::Aes256,
                        ProtectionMode::Kms,
                    ][usize::from(mode)],
                    key_id,
                    key_version,
                    wrapped_key,
                    content_type,
                    user_metadata,
                    body,
                },
            )
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(record in record()) {
            let encoded = record.encode().expect("encodes");
            let segmented = matches!(record.body, Body::Segmented { .. }).then_some(record.object_id);
            prop_assert_eq!(ObjectRecord::segmented_id(&encoded).expect("peeks"), segmented);
            prop_assert_eq!(ObjectRecord::decode(encoded.into()).expect("decodes"), record);
        }

        #[test]
        fn decoding_garbage_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ObjectRecord::segmented_id(&raw);
            let _ = ObjectRecord::decode(raw.into());
        }

        #[test]
        fn truncation_is_an_error(record in record(), cut in any::<prop::sample::Index>()) {
            let encoded = record.encode().expect("encodes");
            let cut = cut.index(encoded.len());
            prop_assert!(ObjectRecord::decode(Bytes::copy_from_slice(&encoded[..cut])).is_err());
        }
    }
}
