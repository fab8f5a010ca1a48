//! The column families and their key encodings, all in one place.
//!
//! ```text
//! meta     "store_id"                               → 16 random bytes
//!          "audit/head", "audit/anchor"             → the audit log's newest event, where its chain starts
//! buckets  bucket name                              → BucketRecord (JSON)
//! objects  bucket ‖ 0x00 ‖ object key               → ObjectRecord (binary, see record.rs)
//! chunks   object id (16) ‖ segment index (u32 BE)  → sealed chunks of one segment
//! keys     record name ("master/…", "kms/…")        → sealed key records (keyring)
//! uploads  object id (16)                           → bucket ‖ 0x00 ‖ key of a streaming upload in progress
//! garbage  object id (16)                           → empty: segments to drop once no reader holds them
//! bucket_keys  bucket ‖ 0x00 ‖ bucket key id (16)   → BucketKeyRecord (binary, see bucket_keys.rs)
//! multipart    upload id (16)                        → an upload in progress (see multipart.rs)
//!              upload id (16) ‖ part number (u32 BE) → an uploaded part
//! jobs     job id (32 hex digits)                    → "CFJ2" ‖ a bulk key job and its checkpoint (JSON) ‖ tag
//! audit    time (u64 BE ns) ‖ sequence (u64 BE)      → one audit event, sealed and chained (see audit/chain.rs)
//! ```
//!
//! A multipart object's segments are in `chunks` under
//! `object id ‖ part number (u32 BE) ‖ attempt (8) ‖ segment index (u32 BE)`:
//! under its object id like every other object's.

/// A column family: one kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnFamily {
    /// Store-wide settings (the store id).
    Meta,
    /// Bucket configurations.
    Buckets,
    /// Object records (with small payloads inline).
    Objects,
    /// Segments of large objects' payloads.
    Chunks,
    /// Sealed master keys and CMKs.
    Keys,
    /// Streaming uploads in progress (removed with their segments on open).
    Uploads,
    /// Replaced objects whose segments wait for their last reader.
    Garbage,
    /// Bucket keys, wrapped.
    BucketKeys,
    /// Multipart uploads in progress and their parts.
    Multipart,
    /// Bulk key jobs and their checkpoints.
    Jobs,
    /// The audit log.
    Audit,
}

impl ColumnFamily {
    /// Every column family.
    pub(crate) const ALL: [ColumnFamily; 11] = [
        Self::Meta,
        Self::Buckets,
        Self::Objects,
        Self::Chunks,
        Self::Keys,
        Self::Uploads,
        Self::Garbage,
        Self::BucketKeys,
        Self::Multipart,
        Self::Jobs,
        Self::Audit,
    ];

    /// The RocksDB name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Buckets => "buckets",
            Self::Objects => "objects",
            Self::Chunks => "chunks",
            Self::Keys => "keys",
            Self::Uploads => "uploads",
            Self::Garbage => "garbage",
            Self::BucketKeys => "bucket_keys",
            Self::Multipart => "multipart",
            Self::Jobs => "jobs",
            Self::Audit => "audit",
        }
    }
}

/// Length of an object id.
pub(crate) const OBJECT_ID_LEN: usize = 16;
/// Plaintext bytes per segment of a large object: 64 chunks.
pub(crate) const SEGMENT_PLAINTEXT: usize = 1 << 20;
/// Payload chunks (64 KiB of plaintext each) per segment.
pub(crate) const CHUNKS_PER_SEGMENT: u64 = 64;

/// `bucket ‖ 0x00 ‖ key` (bucket names never contain 0x00).
pub(crate) fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(bucket.len() + 1 + key.len());
    out.extend_from_slice(bucket.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

/// Splits an objects-family key back into (bucket, key).
pub(crate) fn split_object_key(raw: &[u8]) -> Option<(&str, &str)> {
    let at = raw.iter().position(|&b| b == 0)?;
    Some((
        std::str::from_utf8(&raw[..at]).ok()?,
        std::str::from_utf8(&raw[at + 1..]).ok()?,
    ))
}

/// `bucket ‖ 0x00`: where a bucket's bucket keys start.
pub(crate) fn bucket_key_prefix(bucket: &str) -> Vec<u8> {
    object_key(bucket, "")
}

/// `bucket ‖ 0x00 ‖ bucket key id`.
pub(crate) fn bucket_key_key(bucket: &str, id: &[u8; OBJECT_ID_LEN]) -> Vec<u8> {
    let mut out = bucket_key_prefix(bucket);
    out.extend_from_slice(id);
    out
}

/// Splits a bucket-keys family key back into (bucket, id).
pub(crate) fn split_bucket_key_key(raw: &[u8]) -> Option<(&str, [u8; OBJECT_ID_LEN])> {
    let at = raw.iter().position(|&b| b == 0)?;
    let id = raw.get(at + 1..)?.try_into().ok()?;
    Some((std::str::from_utf8(&raw[..at]).ok()?, id))
}

/// `object id ‖ segment index (big-endian)`, so an object's segments are
/// contiguous and in order.
pub(crate) fn segment_key(object_id: &[u8; OBJECT_ID_LEN], index: u32) -> [u8; OBJECT_ID_LEN + 4] {
    let mut out = [0; OBJECT_ID_LEN + 4];
    out[..OBJECT_ID_LEN].copy_from_slice(object_id);
    out[OBJECT_ID_LEN..].copy_from_slice(&index.to_be_bytes());
    out
}

/// The range `[start, end)` holding every segment of an object.
pub(crate) fn segment_range(object_id: &[u8; OBJECT_ID_LEN]) -> (Vec<u8>, Vec<u8>) {
    let mut end = vec![0xFF; OBJECT_ID_LEN + 5];
    end[..OBJECT_ID_LEN].copy_from_slice(object_id);
    (segment_key(object_id, 0).to_vec(), end)
}

/// The object id in hex, quoted (not a hash of the plaintext, which would leak
/// whether two objects are equal).
pub(crate) fn etag(object_id: &[u8; OBJECT_ID_LEN]) -> String {
    let mut text = [b'"'; 2 * OBJECT_ID_LEN + 2];
    hex::encode_to_slice(object_id, &mut text[1..=2 * OBJECT_ID_LEN])
        .expect("two hex digits per byte");
    String::from_utf8(text.to_vec()).expect("hex digits and quotes are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort() {
        let raw = object_key("photos", "a/b.jpg");
        assert_eq!(split_object_key(&raw), Some(("photos", "a/b.jpg")));
        assert!(
            object_key("a", "z") < object_key("a-b", ""),
            "bucket prefixes do not interleave"
        );
        let id = [7; 16];
        assert!(segment_key(&id, 1) < segment_key(&id, 256));
        let (start, end) = segment_range(&id);
        assert!(start.as_slice() <= segment_key(&id, 0).as_slice());
        assert!(segment_key(&id, u32::MAX).as_slice() < end.as_slice());
        assert!(segment_key(&[8; 16], 0).as_slice() > end.as_slice());
        let raw = bucket_key_key("photos", &id);
        assert_eq!(split_bucket_key_key(&raw), Some(("photos", id)));
        assert!(raw.starts_with(&bucket_key_prefix("photos")));
        assert!(!raw.starts_with(&bucket_key_prefix("photo")));
    }
}
