//! What object operations take and give: put, copy, get and list options, the
//! attributes kept with an object, conditions on writes and reads, and what
//! get, head, put and list report.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::rule::{EncryptionRule, Protection};

/// The HTTP-style attributes S3 and OSS keep with an object, reported by get
/// and head as they were put.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectAttributes {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Content-Language`.
    pub content_language: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
}

impl ObjectAttributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, value: &str) -> Self {
        self.content_type = Some(value.to_owned());
        self
    }

    /// Sets the content disposition.
    pub fn with_content_disposition(mut self, value: &str) -> Self {
        self.content_disposition = Some(value.to_owned());
        self
    }

    /// Sets the content encoding.
    pub fn with_content_encoding(mut self, value: &str) -> Self {
        self.content_encoding = Some(value.to_owned());
        self
    }

    /// Sets the content language.
    pub fn with_content_language(mut self, value: &str) -> Self {
        self.content_language = Some(value.to_owned());
        self
    }

    /// Sets the cache control.
    pub fn with_cache_control(mut self, value: &str) -> Self {
        self.cache_control = Some(value.to_owned());
        self
    }
}

/// When a write may replace what is under its key. Checked atomically with
/// the write: no other writer of the key comes between.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PutCondition {
    /// Always (last writer wins).
    #[default]
    None,
    /// Only if no object is there ([`crate::Error::AlreadyExists`] otherwise).
    IfNotExists,
    /// Only if the object there has this ETag
    /// ([`crate::Error::PreconditionFailed`] otherwise, also when there is none).
    IfMatch(String),
}

/// How to store one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOptions {
    /// This object's encryption; `None` takes the bucket's default (and no
    /// default means stored unencrypted).
    pub encryption: Option<EncryptionRule>,
    /// Content type, disposition, encoding, language and cache control.
    pub attributes: ObjectAttributes,
    /// User metadata reported by get and head (stored readable, as in OSS).
    pub user_metadata: BTreeMap<String, String>,
    /// When the write may replace what is there.
    pub condition: PutCondition,
}

impl PutOptions {
    /// Store-managed encryption ("AES256") for this object.
    pub fn managed() -> Self {
        Self {
            encryption: Some(EncryptionRule::managed()),
            ..Self::default()
        }
    }

    /// KMS encryption for this object under `key_id` (or the default managed CMK).
    pub fn kms(key_id: Option<&str>) -> Self {
        Self {
            encryption: Some(EncryptionRule::kms(key_id)),
            ..Self::default()
        }
    }

    /// Sets this object's encryption (`None`: the bucket's default).
    pub fn with_encryption(mut self, rule: Option<EncryptionRule>) -> Self {
        self.encryption = rule;
        self
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: &str) -> Self {
        self.attributes.content_type = Some(content_type.to_owned());
        self
    }

    /// Sets every attribute.
    pub fn with_attributes(mut self, attributes: ObjectAttributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// Adds a user metadata entry.
    pub fn with_metadata(mut self, name: &str, value: &str) -> Self {
        self.user_metadata.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Writes only if `condition` holds.
    pub fn with_condition(mut self, condition: PutCondition) -> Self {
        self.condition = condition;
        self
    }
}

/// What a copy writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOptions {
    /// The copy's encryption; `None` takes the destination bucket's default.
    pub encryption: Option<EncryptionRule>,
    /// `None` copies the attributes and user metadata; `Some` replaces them.
    pub replace_metadata: Option<(ObjectAttributes, BTreeMap<String, String>)>,
    /// When the copy may replace what is at the destination.
    pub condition: PutCondition,
}

impl CopyOptions {
    /// Sets the copy's encryption (`None`: the destination bucket's default).
    pub fn with_encryption(mut self, rule: Option<EncryptionRule>) -> Self {
        self.encryption = rule;
        self
    }

    /// Replaces the copy's attributes and user metadata (instead of copying
    /// the source's).
    pub fn with_metadata_replaced(
        mut self,
        attributes: ObjectAttributes,
        user_metadata: BTreeMap<String, String>,
    ) -> Self {
        self.replace_metadata = Some((attributes, user_metadata));
        self
    }

    /// Copies only if `condition` holds at the destination.
    pub fn with_condition(mut self, condition: PutCondition) -> Self {
        self.condition = condition;
        self
    }

    /// Copy with store-managed encryption.
    pub fn managed() -> Self {
        Self {
            encryption: Some(EncryptionRule::managed()),
            ..Self::default()
        }
    }

    /// Copy with KMS encryption under `key_id` (or the default managed CMK).
    pub fn kms(key_id: Option<&str>) -> Self {
        Self {
            encryption: Some(EncryptionRule::kms(key_id)),
            ..Self::default()
        }
    }
}

/// Conditions on a read, as HTTP's `If-Match`, `If-None-Match`,
/// `If-Modified-Since` and `If-Unmodified-Since` (times in whole seconds, as an
/// HTTP date has them). Evaluated in HTTP's order: If-Match, else
/// If-Unmodified-Since, fails with [`crate::Error::PreconditionFailed`];
/// then If-None-Match, else If-Modified-Since, fails with
/// [`crate::Error::NotModified`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetConditions {
    /// Read only if the object has this ETag (`*`: any object).
    pub if_match: Option<String>,
    /// Read only if the object does not have this ETag (`*`: never).
    pub if_none_match: Option<String>,
    /// Read only if the object changed after this time.
    pub if_modified_since: Option<SystemTime>,
    /// Read only if the object did not change after this time.
    pub if_unmodified_since: Option<SystemTime>,
}

impl GetConditions {
    /// No conditions.
    pub fn new() -> Self {
        Self::default()
    }

    /// If-Match.
    pub fn if_match(mut self, etag: &str) -> Self {
        self.if_match = Some(etag.to_owned());
        self
    }

    /// If-None-Match.
    pub fn if_none_match(mut self, etag: &str) -> Self {
        self.if_none_match = Some(etag.to_owned());
        self
    }

    /// If-Modified-Since.
    pub fn if_modified_since(mut self, time: SystemTime) -> Self {
        self.if_modified_since = Some(time);
        self
    }

    /// If-Unmodified-Since.
    pub fn if_unmodified_since(mut self, time: SystemTime) -> Self {
        self.if_unmodified_since = Some(time);
        self
    }

    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// `Ok` if an object of this ETag and modification time may be read; the
    /// failed condition's name otherwise, and whether it means "not modified"
    /// (what every engine evaluates before it decrypts anything).
    pub fn check(&self, etag: &str, modified: SystemTime) -> Result<(), (&'static str, bool)> {
        let seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let matches = |list: &str| {
            list.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
        };
        match (&self.if_match, self.if_unmodified_since) {
            (Some(list), _) if !matches(list) => return Err(("If-Match", false)),
            (None, Some(since)) if seconds(modified) > seconds(since) => {
                return Err(("If-Unmodified-Since", false));
            }
            _ => {}
        }
        match (&self.if_none_match, self.if_modified_since) {
            (Some(list), _) if matches(list) => Err(("If-None-Match", true)),
            (None, Some(since)) if seconds(modified) <= seconds(since) => {
                Err(("If-Modified-Since", true))
            }
            _ => Ok(()),
        }
    }
}

/// What a get asks for: the conditions that must hold and, if not the whole
/// object, the plaintext range to read (only the chunks that cover it are
/// opened).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetOptions {
    /// The conditions on the read.
    pub conditions: GetConditions,
    /// The plaintext range; `None` for the whole object.
    pub range: Option<Range<u64>>,
}

impl GetOptions {
    /// The whole object, unconditionally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only `range` of the plaintext.
    pub fn with_range(mut self, range: Range<u64>) -> Self {
        self.range = Some(range);
        self
    }

    /// Only if `conditions` hold.
    pub fn with_conditions(mut self, conditions: GetConditions) -> Self {
        self.conditions = conditions;
        self
    }
}

/// A byte range as HTTP's `Range` header and `object_store` spell it, before
/// the object's size is known: what a stream is opened for, so an engine
/// that fetches over a network can make its first request fit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..end`; an end past the object's end stops at it.
    Bounded(Range<u64>),
    /// From an offset to the end.
    From(u64),
    /// The last `n` bytes (all of them if the object is shorter).
    Suffix(u64),
}

impl ByteRange {
    /// The range in an object of `size` bytes, as `object_store` resolves
    /// it; [`crate::Error::InvalidRange`] if it is empty or starts at or past
    /// the object's end.
    pub fn resolve(&self, size: u64) -> crate::Result<Range<u64>> {
        let invalid = |start, end| crate::Error::InvalidRange { start, end, size };
        match self {
            Self::Bounded(range) if range.start >= range.end || range.start >= size => {
                Err(invalid(range.start, range.end))
            }
            Self::Bounded(range) => Ok(range.start..range.end.min(size)),
            Self::From(start) if *start >= size => Err(invalid(*start, size)),
            Self::From(start) => Ok(*start..size),
            Self::Suffix(n) => Ok(size.saturating_sub(*n)..size),
        }
    }
}

/// An object's metadata, as head and get report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Changes with every write; not derived from the plaintext.
    pub etag: String,
    /// When it was written.
    pub last_modified: SystemTime,
    /// The attributes given at put.
    pub attributes: ObjectAttributes,
    /// User metadata given at put.
    pub user_metadata: BTreeMap<String, String>,
    /// How it is protected.
    pub protection: Protection,
}

/// An object read whole.
#[derive(Debug, Clone)]
pub struct Object {
    /// The plaintext.
    pub body: Bytes,
    /// The metadata.
    pub meta: ObjectMeta,
}

/// What a put reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// The new object's ETag.
    pub etag: String,
    /// How it was protected.
    pub protection: Protection,
}

/// Listing parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Only keys starting with this.
    pub prefix: String,
    /// Only keys after this one.
    pub start_after: Option<String>,
    /// At most this many keys and common prefixes (default and maximum 1000).
    pub max_keys: Option<usize>,
    /// Group keys that contain this after the prefix into common prefixes.
    pub delimiter: Option<String>,
}

impl ListOptions {
    /// List everything (up to 1000 keys a page).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only keys starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Only keys after `key`.
    pub fn start_after(mut self, key: &str) -> Self {
        self.start_after = Some(key.to_owned());
        self
    }

    /// At most `max` keys and common prefixes (at most 1000).
    pub fn max_keys(mut self, max: usize) -> Self {
        self.max_keys = Some(max);
        self
    }

    /// Group keys containing `delimiter` after the prefix into common prefixes.
    pub fn delimiter(mut self, delimiter: &str) -> Self {
        self.delimiter = Some(delimiter.to_owned());
        self
    }
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    /// The key.
    pub key: String,
    /// Plaintext size.
    pub size: u64,
    /// The ETag.
    pub etag: String,
    /// When it was written.
    pub last_modified: SystemTime,
    /// How it is protected.
    pub protection: Protection,
}

/// A page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListResult {
    /// Objects, in key order.
    pub objects: Vec<ObjectSummary>,
    /// Common prefixes (with a delimiter), in order.
    pub common_prefixes: Vec<String>,
    /// Whether more keys follow.
    pub is_truncated: bool,
    /// Pass as `start_after` to get the next page; `None` on the last page.
    pub next_start_after: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn byte_ranges_resolve_as_object_store_resolves_them() {
        assert_eq!(ByteRange::Bounded(2..5).resolve(10).ok(), Some(2..5));
        assert_eq!(ByteRange::Bounded(8..50).resolve(10).ok(), Some(8..10));
        assert_eq!(ByteRange::From(3).resolve(10).ok(), Some(3..10));
        assert_eq!(ByteRange::Suffix(4).resolve(10).ok(), Some(6..10));
        assert_eq!(ByteRange::Suffix(40).resolve(10).ok(), Some(0..10));
        assert_eq!(ByteRange::Suffix(4).resolve(0).ok(), Some(0..0));
        for refused in [
            ByteRange::Bounded(5..5),
            ByteRange::Bounded(10..12),
            ByteRange::From(10),
        ] {
            assert!(
                matches!(
                    refused.resolve(10),
                    Err(crate::Error::InvalidRange { size: 10, .. })
                ),
                "{refused:?}"
            );
        }
    }

    const ETAG: &str = "\"00112233445566778899aabbccddeeff\"";

    fn at(seconds: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
    }

    #[test]
    fn conditions_follow_http() {
        let modified = at(1000, 700);
        let check = |c: GetConditions| c.check(ETAG, modified);
        assert_eq!(check(GetConditions::new()), Ok(()));
        assert_eq!(check(GetConditions::new().if_match(ETAG)), Ok(()));
        assert_eq!(check(GetConditions::new().if_match("*")), Ok(()));
        assert_eq!(
            check(GetConditions::new().if_match(&format!("\"x\", {ETAG}"))),
            Ok(())
        );
        assert_eq!(
            check(GetConditions::new().if_match("\"other\"")),
            Err(("If-Match", false))
        );
        assert_eq!(
            check(GetConditions::new().if_none_match(ETAG)),
            Err(("If-None-Match", true))
        );
        assert_eq!(
            check(GetConditions::new().if_none_match("\"other\"")),
            Ok(())
        );
        // Whole seconds: 1000.7 is not after 1000.0.
        assert_eq!(
            check(GetConditions::new().if_modified_since(at(1000, 0))),
            Err(("If-Modified-Since", true))
        );
        assert_eq!(
            check(GetConditions::new().if_modified_since(at(999, 999))),
            Ok(())
        );
        assert_eq!(
            check(GetConditions::new().if_unmodified_since(at(1000, 0))),
            Ok(())
        );
        assert_eq!(
            check(GetConditions::new().if_unmodified_since(at(999, 0))),
            Err(("If-Unmodified-Since", false))
        );
        // If-Match decides over If-Unmodified-Since, If-None-Match over
        // If-Modified-Since.
        assert_eq!(
            check(
                GetConditions::new()
                    .if_match(ETAG)
                    .if_unmodified_since(at(1, 0))
            ),
            Ok(())
        );
        assert_eq!(
            check(
                GetConditions::new()
                    .if_none_match("\"other\"")
                    .if_modified_since(at(5000, 0))
            ),
            Ok(())
        );
    }
}

/// A bucket as `list_buckets` and `head_bucket` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// The name.
    pub name: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// Its default encryption rule, if any.
    pub encryption: Option<EncryptionRule>,
}
