//! Object records, in a compact binary encoding (read on every get, so no JSON),
//! each authenticated under a key of the store's own and bound to its bucket
//! and object key (`docs/format.md` has the byte diagram):
//!
//! ```text
//! u8 version = 2 ‖ object id (16) ‖ u64 size ‖ u64 modified (ms since epoch)
//! ‖ u8 mode (0 none, 1 AES256, 2 KMS) ‖ str16 key id ‖ u32 key version
//! ‖ bytes16 wrapped key
//! ‖ u8 n ‖ n × (u8 attribute ‖ str16 value)            content type, disposition, …
//! ‖ u32 n ‖ n × (str16 name ‖ str32 value)             user metadata
//! ‖ u8 0 ‖ bytes32 payload                              inline body
//! | u8 1 ‖ bytes16 payload prefix ‖ u32 segments        segmented body
//! | u8 2 ‖ u32 n ‖ n × (u32 part number ‖ attempt (8) ‖ u64 size
//!          ‖ u32 segments ‖ bytes16 part payload prefix)  multipart body
//! ‖ tag (32)
//!
//! tag = HMAC-SHA256(record key, "coffer/object-record/v2" ‖ str16 bucket ‖ str32 key
//!                   ‖ every byte before the tag, except that an encrypted inline
//!                   payload counts with its first 64 bytes only)
//! ```
//! (`str16`/`bytes16`: u16 length then bytes; little-endian throughout.) An
//! encrypted payload authenticates itself (AES-GCM chunks under a key committed
//! to the object's identity), so the tag covers its prefix (header, salt,
//! commitment) and length, not every ciphertext byte; an unencrypted inline
//! payload is covered whole.
//!
//! Version 1 records (no attributes but the content type, no tag) are read
//! only while a store written before version 2 is migrated on open.

use std::collections::BTreeMap;

use bytes::Bytes;
use coffer_sse::codec::{
    Reader, mode_byte, mode_from_byte, put_attributes, put_len16, put_len32, put_user_metadata,
};
use coffer_sse::keys::{RecordKey, TAG_LEN, split_tag, tags_equal};
use coffer_sse::recent::Recent;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::format::columns::OBJECT_ID_LEN;
use crate::{EncryptionRule, ProtectionMode};
use crate::{Error, Result};

const VERSION_1: u8 = 1;
const VERSION: u8 = 2;
const BUCKET_MAGIC: &[u8] = b"CFB2";
/// How much of an encrypted inline payload the tag covers: its prefix.
const AUTHENTICATED_PREFIX: usize = coffer_cipher::PAYLOAD_PREFIX_LEN;

/// Where an object's payload lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// The whole payload, in the record.
    Inline(Bytes),
    /// The payload's prefix in the record, its chunks in `segments` values of
    /// the chunks family.
    Segmented { prefix: Vec<u8>, segments: u32 },
    /// A completed multipart upload: one payload per part, in order.
    Multipart { parts: Vec<PartRef> },
}

/// One part of a multipart object: its own payload (bound to the object and
/// its part number), in segments under the object id, part number and attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartRef {
    pub(crate) number: u32,
    /// Random per upload of the part, so a part uploaded again never mixes
    /// with the segments of an earlier attempt.
    pub(crate) attempt: [u8; 8],
    /// Plaintext bytes.
    pub(crate) size: u64,
    pub(crate) segments: u32,
    /// The part payload's prefix (empty if unencrypted).
    pub(crate) prefix: Vec<u8>,
}

/// The HTTP-style attributes S3 and OSS keep with an object, as records
/// number them.
pub(crate) type Attributes = crate::ObjectAttributes;

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
    pub(crate) attributes: Attributes,
    pub(crate) user_metadata: BTreeMap<String, String>,
    pub(crate) body: Body,
}

/// A bucket's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredBucket", into = "StoredBucket")]
pub(crate) struct BucketRecord {
    pub(crate) name: String,
    pub(crate) created_ms: u64,
    pub(crate) rule: Option<EncryptionRule>,
    /// Random, drawn at creation: tells a bucket from an earlier one of the
    /// same name (0 in records written before version 2).
    pub(crate) incarnation: u64,
}

/// A bucket record's JSON: `{"name", "created_ms", "rule", "incarnation"}`,
/// and `"bucket_key": true` when the rule derives data keys from bucket keys
/// (absent otherwise, so records without bucket keys read as before).
#[derive(Serialize, Deserialize)]
struct StoredBucket {
    name: String,
    created_ms: u64,
    rule: Option<StoredRule>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    bucket_key: bool,
    #[serde(default)]
    incarnation: u64,
}

/// The rule as bucket records have always spelled it: `"Managed"` or
/// `{"Kms": {"key_id": ...}}`.
#[derive(Serialize, Deserialize)]
enum StoredRule {
    Managed,
    Kms { key_id: Option<String> },
}

impl From<StoredBucket> for BucketRecord {
    fn from(stored: StoredBucket) -> Self {
        let rule = stored.rule.map(|rule| {
            match rule {
                StoredRule::Managed => EncryptionRule::managed(),
                StoredRule::Kms { key_id } => EncryptionRule::kms(key_id.as_deref()),
            }
            .with_bucket_key(stored.bucket_key)
        });
        Self {
            name: stored.name,
            created_ms: stored.created_ms,
            rule,
            incarnation: stored.incarnation,
        }
    }
}

impl From<BucketRecord> for StoredBucket {
    fn from(record: BucketRecord) -> Self {
        let bucket_key = record.rule.as_ref().is_some_and(EncryptionRule::bucket_key);
        let rule = record.rule.map(|rule| match rule {
            EncryptionRule::Managed { .. } => StoredRule::Managed,
            EncryptionRule::Kms { key_id, .. } => StoredRule::Kms { key_id },
        });
        Self {
            name: record.name,
            created_ms: record.created_ms,
            rule,
            bucket_key,
            incarnation: record.incarnation,
        }
    }
}

fn corrupt(what: &str) -> Error {
    Error::CorruptRecord(what.to_owned())
}

/// The protection mode byte of an encoded object record (0 none, 1 AES256,
/// 2 KMS), read without authenticating it: for hints only.
pub(crate) fn mode_byte_hint(raw: &[u8]) -> Option<u8> {
    raw.get(1 + OBJECT_ID_LEN + 16).copied()
}

/// Where the parts of an encoded record are, found without trusting them.
struct Layout {
    version: u8,
    /// The inline payload's byte range, if the body is inline.
    inline: Option<(usize, usize)>,
    /// Where the tag starts (the end of the record for version 1).
    tag_at: usize,
}

/// Authenticates object and bucket records: the store's record key (the
/// core's [`RecordKey`], which says what each tag binds), over this engine's
/// layout of the records.
///
/// Records verified recently are remembered byte for byte (what the tag
/// covers, and the tag), so reading one again compares bytes instead of
/// computing HMAC-SHA256 (a tenth of a small get). Only an identical byte
/// string, for the same bucket and key, counts as verified.
pub(crate) struct RecordAuth {
    key: RecordKey,
    verified: Mutex<Recent<[u8; OBJECT_ID_LEN], Verified>>,
}

/// The bytes of a record that authenticated, as the tag covered them.
struct Verified {
    bucket: Box<str>,
    key: Box<str>,
    covered: Box<[u8]>,
    prefix: Box<[u8]>,
    tag: Box<[u8]>,
}

impl RecordAuth {
    /// The authenticator for a 32-byte record key, remembering up to
    /// `remembered` verified records (`0`: none).
    pub(crate) fn new(key: &[u8; 32], remembered: usize) -> Self {
        Self {
            key: RecordKey::new(key),
            verified: Mutex::new(Recent::new(remembered)),
        }
    }

    /// The record's bytes, with its tag.
    pub(crate) fn seal(&self, bucket: &str, key: &str, record: &ObjectRecord) -> Result<Vec<u8>> {
        let mut out = record.encode_unsealed()?;
        let layout = parse(&out, false)?;
        let (covered, prefix) = covered(&out, &layout, record.mode);
        let tag = self.key.object_tag(bucket, key, covered, prefix)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decodes and authenticates a record read for bucket/key. Anything edited,
    /// swapped between keys, or unauthenticated is [`Error::Integrity`] naming
    /// the object; nothing in it is trusted before the tag is checked.
    pub(crate) fn open(&self, bucket: &str, key: &str, raw: Bytes) -> Result<ObjectRecord> {
        self.verify(bucket, key, &raw)?;
        ObjectRecord::decode(raw, VERSION)
    }

    /// [`RecordAuth::open`] for scans (jobs, reports, retirement): the tag is
    /// computed and the record not remembered, so that a scan of many records
    /// neither pays for the memory nor evicts the records reads come back to.
    pub(crate) fn open_scanned(&self, bucket: &str, key: &str, raw: Bytes) -> Result<ObjectRecord> {
        self.check(bucket, key, &raw, false)?;
        ObjectRecord::decode(raw, VERSION)
    }

    /// Checks a record's tag without decoding it.
    pub(crate) fn verify(&self, bucket: &str, key: &str, raw: &[u8]) -> Result<()> {
        self.check(bucket, key, raw, true)
    }

    /// Checks a record's tag, from (and into, if `remember`) the records
    /// verified recently.
    fn check(&self, bucket: &str, key: &str, raw: &[u8], remember: bool) -> Result<()> {
        let tampered = || {
            Error::Integrity(format!(
                "the record of object {bucket}/{key} failed to authenticate: it was edited, moved from another key, or planted"
            ))
        };
        let layout = parse(raw, true).map_err(|_| tampered())?;
        if layout.version != VERSION {
            return Err(tampered());
        }
        let mode = match mode_byte_hint(raw) {
            Some(0) => ProtectionMode::None,
            Some(1) => ProtectionMode::Aes256,
            Some(2) => ProtectionMode::Kms,
            _ => return Err(tampered()),
        };
        let unsealed = &raw[..layout.tag_at];
        let tag = &raw[layout.tag_at..];
        let (covered, prefix) = covered(unsealed, &layout, mode);
        let id: [u8; OBJECT_ID_LEN] = raw[1..=OBJECT_ID_LEN].try_into().map_err(|_| tampered())?;
        let seen = remember
            && self.verified.lock().get(&id).is_some_and(|v| {
                *v.bucket == *bucket
                    && *v.key == *key
                    && *v.covered == *covered
                    && *v.prefix == *prefix
                    && *v.tag == *tag
            });
        if seen {
            return Ok(());
        }
        let expected = self.key.object_tag(bucket, key, covered, prefix)?;
        if !tags_equal(&expected, tag) {
            return Err(tampered());
        }
        if !remember {
            return Ok(());
        }
        self.verified.lock().insert(
            id,
            Verified {
                bucket: bucket.into(),
                key: key.into(),
                covered: covered.into(),
                prefix: prefix.into(),
                tag: tag.into(),
            },
        );
        Ok(())
    }

    /// A bucket record's bytes: `"CFB2" ‖ JSON ‖ tag`, the tag an HMAC-SHA256 of
    /// `"coffer/bucket-record/v2" ‖ str16 name ‖ JSON`.
    pub(crate) fn seal_bucket(&self, record: &BucketRecord) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(record).map_err(|e| corrupt(&e.to_string()))?;
        let tag = self.key.bucket_tag(&record.name, &json)?;
        Ok([BUCKET_MAGIC, &json[..], &tag[..]].concat())
    }

    /// Authenticates and decodes the record of bucket `name`.
    pub(crate) fn open_bucket(&self, name: &str, raw: &[u8]) -> Result<BucketRecord> {
        let tampered = || {
            Error::Integrity(format!(
                "the record of bucket {name} failed to authenticate: it was edited, moved or planted"
            ))
        };
        let json = raw
            .strip_prefix(BUCKET_MAGIC)
            .and_then(split_tag)
            .ok_or_else(tampered)?;
        if !tags_equal(&self.key.bucket_tag(name, json.0)?, json.1) {
            return Err(tampered());
        }
        let record: BucketRecord =
            serde_json::from_slice(json.0).map_err(|e| corrupt(&e.to_string()))?;
        if record.name != name {
            return Err(tampered());
        }
        Ok(record)
    }

    /// `body ‖ tag` ([`RecordKey::seal_tagged`]): upload, part and job records.
    pub(crate) fn seal_tagged(
        &self,
        domain: &[u8],
        binding: &[&[u8]],
        body: Vec<u8>,
    ) -> Result<Vec<u8>> {
        self.key.seal_tagged(domain, binding, body)
    }

    /// The body of a record [`RecordAuth::seal_tagged`] sealed
    /// ([`RecordKey::open_tagged`]).
    pub(crate) fn open_tagged<'a>(
        &self,
        domain: &[u8],
        binding: &[&[u8]],
        raw: &'a [u8],
        what: impl FnOnce() -> String,
    ) -> Result<&'a [u8]> {
        self.key.open_tagged(domain, binding, raw, what)
    }

    /// Decodes a bucket record written before version 2 (plain JSON), for the
    /// migration of such a store only.
    pub(crate) fn decode_legacy_bucket(raw: &[u8]) -> Result<Option<BucketRecord>> {
        if raw.starts_with(BUCKET_MAGIC) {
            return Ok(None);
        }
        serde_json::from_slice(raw)
            .map(Some)
            .map_err(|e| corrupt(&e.to_string()))
    }
}

/// What the tag covers of a record's bytes before the tag: everything, except
/// that an encrypted inline payload (the last field) counts with its prefix
/// only. Returned as (everything before the payload, the payload's covered part).
fn covered<'a>(unsealed: &'a [u8], layout: &Layout, mode: ProtectionMode) -> (&'a [u8], &'a [u8]) {
    match layout.inline {
        Some((start, end)) if mode != ProtectionMode::None => (
            &unsealed[..start],
            &unsealed[start..end.min(start + AUTHENTICATED_PREFIX)],
        ),
        _ => (unsealed, &[]),
    }
}

/// Finds the inline payload and the tag of an encoded record (version 1 or 2),
/// checking only that every length fits.
fn parse(raw: &[u8], with_tag: bool) -> Result<Layout> {
    let mut r = Reader::new(raw);
    let version = r.u8()?;
    if version != VERSION && version != VERSION_1 {
        return Err(corrupt("unknown object record version"));
    }
    r.take(OBJECT_ID_LEN + 8 + 8 + 1)?; // id, size, modified, mode
    r.bytes16()?; // key id
    r.u32()?; // key version
    r.bytes16()?; // wrapped key
    if version == VERSION_1 {
        r.bytes16()?; // content type
    } else {
        for _ in 0..r.u8()? {
            r.u8()?;
            r.bytes16()?;
        }
    }
    for _ in 0..r.u32()? {
        r.bytes16()?;
        let len = r.u32()? as usize;
        r.take(len)?;
    }
    let inline = match r.u8()? {
        0 => {
            let len = r.u32()? as usize;
            let start = r.at;
            r.take(len)?;
            Some((start, r.at))
        }
        1 => {
            r.bytes16()?;
            r.u32()?;
            None
        }
        2 if version == VERSION => {
            for _ in 0..r.u32()? {
                r.take(4 + 8 + 8 + 4)?;
                r.bytes16()?;
            }
            None
        }
        _ => return Err(corrupt("unknown body kind")),
    };
    let tag_at = r.at;
    let expected_end = if with_tag && version == VERSION {
        tag_at + TAG_LEN
    } else {
        tag_at
    };
    if raw.len() != expected_end {
        return Err(corrupt("trailing bytes"));
    }
    Ok(Layout {
        version,
        inline,
        tag_at,
    })
}

impl ObjectRecord {
    /// The record's bytes without the tag (see [`RecordAuth::seal`]).
    fn encode_unsealed(&self) -> Result<Vec<u8>> {
        let inline_len = match &self.body {
            Body::Inline(payload) => payload.len(),
            Body::Segmented { .. } => 64,
            Body::Multipart { parts } => parts.len() * (26 + 64),
        };
        let mut out = Vec::with_capacity(
            128 + TAG_LEN + self.wrapped_key.len() + inline_len + self.key_id.len(),
        );
        out.push(VERSION);
        out.extend_from_slice(&self.object_id);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.modified_ms.to_le_bytes());
        out.push(mode_byte(self.mode));
        put_len16(&mut out, self.key_id.as_bytes())?;
        out.extend_from_slice(&self.key_version.to_le_bytes());
        put_len16(&mut out, &self.wrapped_key)?;
        put_attributes(&mut out, &self.attributes)?;
        put_user_metadata(&mut out, &self.user_metadata)?;
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
            Body::Multipart { parts } => {
                out.push(2);
                let count = u32::try_from(parts.len()).map_err(|_| corrupt("part count"))?;
                out.extend_from_slice(&count.to_le_bytes());
                for part in parts {
                    out.extend_from_slice(&part.number.to_le_bytes());
                    out.extend_from_slice(&part.attempt);
                    out.extend_from_slice(&part.size.to_le_bytes());
                    out.extend_from_slice(&part.segments.to_le_bytes());
                    put_len16(&mut out, &part.prefix)?;
                }
            }
        }
        Ok(out)
    }

    /// Decodes a version-1 record (no tag), for the migration of a store
    /// written before version 2. Never used to serve a read.
    pub(crate) fn decode_legacy(raw: Bytes) -> Result<Self> {
        Self::decode(raw, VERSION_1)
    }

    /// Whether `raw` is a version-1 record.
    pub(crate) fn is_legacy(raw: &[u8]) -> bool {
        raw.first() == Some(&VERSION_1)
    }

    /// Decodes a record of `version`; an inline payload is sliced out of `raw`
    /// without copying. The caller has authenticated version-2 records.
    fn decode(raw: Bytes, version: u8) -> Result<Self> {
        let mut r = Reader::new(&raw);
        if r.u8()? != version {
            return Err(corrupt("unexpected object record version"));
        }
        let object_id: [u8; OBJECT_ID_LEN] = r
            .take(OBJECT_ID_LEN)?
            .try_into()
            .map_err(|_| corrupt("object id"))?;
        let size = r.u64()?;
        let modified_ms = r.u64()?;
        let mode = mode_from_byte(r.u8()?)?;
        let key_id = r.str16()?;
        let key_version = r.u32()?;
        let wrapped_key = r.bytes16()?.to_vec();
        let mut attributes = Attributes::default();
        if version == VERSION_1 {
            let content_type = r.str16()?;
            attributes.content_type = (!content_type.is_empty()).then_some(content_type);
        } else {
            attributes = r.attributes()?;
        }
        let user_metadata = r.user_metadata()?;
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
            2 if version == VERSION => {
                let count = r.u32()?;
                let mut parts = Vec::new();
                for _ in 0..count {
                    let number = r.u32()?;
                    let attempt = r.take(8)?.try_into().map_err(|_| corrupt("attempt"))?;
                    let size = r.u64()?;
                    let segments = r.u32()?;
                    let prefix = r.bytes16()?.to_vec();
                    parts.push(PartRef {
                        number,
                        attempt,
                        size,
                        segments,
                        prefix,
                    });
                }
                Body::Multipart { parts }
            }
            _ => return Err(corrupt("unknown body kind")),
        };
        let end = if version == VERSION {
            r.at + TAG_LEN
        } else {
            r.at
        };
        if end != raw.len() {
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
            attributes,
            user_metadata,
            body,
        })
    }

    /// The object id of the record in `raw` if its payload is in segments, read
    /// without decoding the rest: what a writer needs to find the old object's
    /// segments (authenticate the record before dropping them).
    pub(crate) fn segmented_id(raw: &[u8]) -> Result<Option<[u8; OBJECT_ID_LEN]>> {
        let layout = parse(raw, raw.first() == Some(&VERSION))?;
        if layout.inline.is_some() {
            return Ok(None);
        }
        let id = raw
            .get(1..=OBJECT_ID_LEN)
            .and_then(|id| id.try_into().ok())
            .ok_or_else(|| corrupt("object id"))?;
        Ok(Some(id))
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
            proptest::option::of("[ -~]{0,20}"),
            proptest::option::of("[ -~]{0,20}"),
            proptest::collection::btree_map("[a-z-]{1,10}", "[ -~]{0,30}", 0..4),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300).prop_map(|p| Body::Inline(p.into())),
                (proptest::collection::vec(any::<u8>(), 64), any::<u32>())
                    .prop_map(|(prefix, segments)| Body::Segmented { prefix, segments }),
                proptest::collection::vec(
                    (
                        any::<u32>(),
                        any::<[u8; 8]>(),
                        any::<u64>(),
                        any::<u32>(),
                        proptest::collection::vec(any::<u8>(), 0..=64)
                    ),
                    0..4,
                )
                .prop_map(|parts| Body::Multipart {
                    parts: parts
                        .into_iter()
                        .map(|(number, attempt, size, segments, prefix)| PartRef {
                            number,
                            attempt,
                            size,
                            segments,
                            prefix
                        })
                        .collect(),
                }),
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
                    cache_control,
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
                    attributes: {
                        let mut attributes = Attributes::default();
                        attributes.content_type = content_type;
                        attributes.cache_control = cache_control;
                        attributes
                    },
                    user_metadata,
                    body,
                },
            )
    }

    fn auth() -> RecordAuth {
        RecordAuth::new(&[7; 32], 0)
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(record in record()) {
            let sealed = auth().seal("b", "k", &record).expect("encodes");
            let segmented = matches!(record.body, Body::Segmented { .. } | Body::Multipart { .. }).then_some(record.object_id);
            prop_assert_eq!(ObjectRecord::segmented_id(&sealed).expect("peeks"), segmented);
            prop_assert_eq!(auth().open("b", "k", sealed.into()).expect("decodes"), record);
        }

        #[test]
        fn decoding_garbage_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ObjectRecord::segmented_id(&raw);
            let _ = auth().open("b", "k", raw.clone().into());
            let _ = ObjectRecord::decode_legacy(raw.into());
        }

        #[test]
        fn every_authenticated_byte_is_checked(record in record(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut sealed = auth().seal("b", "k", &record).expect("encodes");
            let at = at.index(sealed.len());
            let covered = match (&record.body, record.mode) {
                (Body::Inline(payload), mode) if mode != ProtectionMode::None && payload.len() > AUTHENTICATED_PREFIX => {
                    let end = sealed.len() - TAG_LEN;
                    let start = end - payload.len();
                    !(start + AUTHENTICATED_PREFIX..end).contains(&at)
                }
                _ => true,
            };
            sealed[at] ^= 1 << bit;
            if covered {
                prop_assert!(matches!(auth().open("b", "k", sealed.into()), Err(Error::Integrity(_))));
            }
        }

        #[test]
        fn a_record_is_bound_to_its_bucket_and_key(record in record()) {
            let sealed = auth().seal("b", "k", &record).expect("encodes");
            prop_assert!(auth().open("b", "k2", sealed.clone().into()).is_err());
            prop_assert!(auth().open("b2", "k", sealed.clone().into()).is_err());
            prop_assert!(RecordAuth::new(&[8; 32], 0).open("b", "k", sealed.into()).is_err());
        }

        #[test]
        fn a_remembered_record_vouches_only_for_the_same_bytes(record in record(), at in any::<prop::sample::Index>()) {
            let auth = RecordAuth::new(&[7; 32], 16);
            let sealed = auth.seal("b", "k", &record).expect("encodes");
            prop_assert!(auth.open("b", "k", sealed.clone().into()).is_ok());
            prop_assert!(auth.open("b", "k", sealed.clone().into()).is_ok(), "remembered");
            prop_assert!(auth.open("b", "k2", sealed.clone().into()).is_err());
            prop_assert!(auth.open("b2", "k", sealed.clone().into()).is_err());
            let mut edited = sealed;
            let at = at.index(edited.len());
            let in_ciphertext = match (&record.body, record.mode) {
                (Body::Inline(payload), mode) if mode != ProtectionMode::None => {
                    let end = edited.len() - TAG_LEN;
                    (end - payload.len() + AUTHENTICATED_PREFIX.min(payload.len())..end).contains(&at)
                }
                _ => false,
            };
            edited[at] ^= 0x80;
            if !in_ciphertext {
                prop_assert!(auth.open("b", "k", edited.into()).is_err());
            }
        }

        #[test]
        fn truncation_is_an_error(record in record(), cut in any::<prop::sample::Index>()) {
            let sealed = auth().seal("b", "k", &record).expect("encodes");
            let cut = cut.index(sealed.len());
            prop_assert!(auth().open("b", "k", Bytes::copy_from_slice(&sealed[..cut])).is_err());
        }
    }
}
