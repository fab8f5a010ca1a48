//! Record authentication: the key every record an engine keeps is tagged
//! under, derived from the store's secret (the root key's sealed store, for
//! [`RECORD_KEY_PURPOSE`]), and what each tag binds (`docs/format.md`):
//!
//! ```text
//! object record   HMAC-SHA256(k, "coffer/object-record/v2" ‖ str16 bucket ‖ str32 key ‖ covered ‖ prefix)
//! bucket record   HMAC-SHA256(k, "coffer/bucket-record/v2" ‖ str16 name ‖ JSON)
//! bucket key      HMAC-SHA256(k, "coffer/bucket-key/v1" ‖ str16 bucket ‖ id (16) ‖ record)
//! other records   HMAC-SHA256(k, domain ‖ (u16 len ‖ part) for each part of the binding ‖ body)
//! ```
//!
//! A tag binds a record to what names it (its bucket and key, its bucket and
//! id), so a record moved to another name, edited or planted fails to
//! authenticate. Which bytes of an object record are `covered` is the
//! engine's layout to say (an encrypted payload authenticates itself).

use ring::hmac;

use crate::keys::OBJECT_ID_LEN;
use crate::keys::bucket_key_record::{BUCKET_KEY_DOMAIN, BucketKeyRecord};
use crate::{Error, Result};

/// What the record key is derived for from the store's secret.
pub const RECORD_KEY_PURPOSE: &[u8] = b"coffer/object-records/v2";
/// A tag's length: HMAC-SHA256.
pub const TAG_LEN: usize = 32;
const OBJECT_DOMAIN: &[u8] = b"coffer/object-record/v2";
const BUCKET_DOMAIN: &[u8] = b"coffer/bucket-record/v2";

/// A record's tag.
pub type Tag = [u8; TAG_LEN];

/// The key records are tagged under. No `Clone`, no `Debug`; ring keeps the
/// HMAC state.
pub struct RecordKey {
    key: hmac::Key,
}

impl RecordKey {
    /// The record key for 32 bytes derived from the store's secret.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The tag of the object record of bucket/key: `covered` is what the
    /// layout authenticates of the record, `prefix` the covered part of an
    /// encrypted inline payload (empty otherwise).
    pub fn object_tag(
        &self,
        bucket: &str,
        key: &str,
        covered: &[u8],
        prefix: &[u8],
    ) -> Result<Tag> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(OBJECT_DOMAIN);
        update_len16(&mut context, bucket.as_bytes(), "bucket name")?;
        let key_len = u32::try_from(key.len()).map_err(|_| corrupt("object key"))?;
        context.update(&key_len.to_le_bytes());
        context.update(key.as_bytes());
        context.update(covered);
        context.update(prefix);
        Ok(sign(context))
    }

    /// The tag of the record of bucket `name`, whose body is `json`.
    pub fn bucket_tag(&self, name: &str, json: &[u8]) -> Result<Tag> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(BUCKET_DOMAIN);
        update_len16(&mut context, name.as_bytes(), "bucket name")?;
        context.update(json);
        Ok(sign(context))
    }

    /// The tag of the record of bucket key `id` of `bucket`.
    pub fn bucket_key_tag(
        &self,
        bucket: &str,
        id: &[u8; OBJECT_ID_LEN],
        record: &[u8],
    ) -> Result<Tag> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(BUCKET_KEY_DOMAIN);
        update_len16(&mut context, bucket.as_bytes(), "bucket name")?;
        context.update(id);
        context.update(record);
        Ok(sign(context))
    }

    /// A bucket key record's bytes: the record ‖ its tag.
    pub fn seal_bucket_key(
        &self,
        bucket: &str,
        id: &[u8; OBJECT_ID_LEN],
        record: &BucketKeyRecord,
    ) -> Result<Vec<u8>> {
        let mut out = record.encode_unsealed()?;
        let tag = self.bucket_key_tag(bucket, id, &out)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Authenticates and decodes the record of bucket key `id` of `bucket`;
    /// [`Error::Integrity`] naming it if it was edited, moved or planted.
    pub fn open_bucket_key(
        &self,
        bucket: &str,
        id: &[u8; OBJECT_ID_LEN],
        raw: &[u8],
    ) -> Result<BucketKeyRecord> {
        let tampered = || {
            Error::Integrity(format!(
                "the record of bucket key {} of bucket {bucket} failed to authenticate: it was edited, moved or planted",
                hex::encode(id)
            ))
        };
        let (record, tag) = split_tag(raw).ok_or_else(tampered)?;
        if !tags_equal(&self.bucket_key_tag(bucket, id, record)?, tag) {
            return Err(tampered());
        }
        BucketKeyRecord::decode(record)
    }

    /// `body ‖ tag`, the tag over `domain`, each part of `binding` behind its
    /// `u16` length, and `body`: a record bound to what names it.
    pub fn seal_tagged(
        &self,
        domain: &[u8],
        binding: &[&[u8]],
        mut body: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let tag = self.tagged(domain, binding, &body)?;
        body.extend_from_slice(&tag);
        Ok(body)
    }

    /// The body of a record [`RecordKey::seal_tagged`] sealed with the same
    /// domain and binding; [`Error::Integrity`] naming `what` otherwise.
    pub fn open_tagged<'a>(
        &self,
        domain: &[u8],
        binding: &[&[u8]],
        raw: &'a [u8],
        what: impl FnOnce() -> String,
    ) -> Result<&'a [u8]> {
        match split_tag(raw) {
            Some((body, tag)) if tags_equal(&self.tagged(domain, binding, body)?, tag) => Ok(body),
            _ => Err(Error::Integrity(format!(
                "the record of {} failed to authenticate: it was edited, moved or planted",
                what()
            ))),
        }
    }

    fn tagged(&self, domain: &[u8], binding: &[&[u8]], body: &[u8]) -> Result<Tag> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(domain);
        for part in binding {
            update_len16(&mut context, part, "record name")?;
        }
        context.update(body);
        Ok(sign(context))
    }
}

/// Splits a record into its body and its trailing tag.
pub fn split_tag(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    raw.len().checked_sub(TAG_LEN).map(|at| raw.split_at(at))
}

/// Whether two tags are equal, compared in constant time.
pub fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn update_len16(context: &mut hmac::Context, part: &[u8], what: &str) -> Result<()> {
    let len = u16::try_from(part.len()).map_err(|_| corrupt(what))?;
    context.update(&len.to_le_bytes());
    context.update(part);
    Ok(())
}

fn sign(context: hmac::Context) -> Tag {
    let mut tag = [0; TAG_LEN];
    tag.copy_from_slice(context.sign().as_ref());
    tag
}

fn corrupt(what: &str) -> Error {
    Error::CorruptRecord(what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_binds_its_record_to_its_name() {
        let key = RecordKey::new(&[7; 32]);
        let sealed = key
            .seal_tagged(b"d", &[b"bucket", b"key"], b"body".to_vec())
            .expect("seals");
        let opened = key.open_tagged(b"d", &[b"bucket", b"key"], &sealed, String::new);
        assert_eq!(opened.expect("opens"), b"body");
        // The binding is length-prefixed: moving a byte between parts fails.
        assert!(
            key.open_tagged(b"d", &[b"bucke", b"tkey"], &sealed, String::new)
                .is_err()
        );
        assert!(
            key.open_tagged(b"e", &[b"bucket", b"key"], &sealed, String::new)
                .is_err()
        );
        assert!(
            RecordKey::new(&[8; 32])
                .open_tagged(b"d", &[b"bucket", b"key"], &sealed, String::new)
                .is_err()
        );
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(
            key.open_tagged(b"d", &[b"bucket", b"key"], &flipped, String::new)
                .is_err()
        );
        assert!(
            key.open_tagged(b"d", &[], &sealed[..TAG_LEN - 1], String::new)
                .is_err()
        );
        assert_ne!(
            key.object_tag("b", "k", b"x", b"").expect("tags"),
            key.object_tag("b", "kx", b"", b"").expect("tags"),
        );
    }
}
