//! The record in a remote object's trailer: how the object is protected,
//! its size and attributes, authenticated with its part table by a tag that
//! binds it to its bucket and key.
//!
//! ```text
//! record = u8 version (1) ‖ object id (16) ‖ u64 size ‖ u8 mode
//!          ‖ str16 key id ‖ u32 key version ‖ bytes16 wrapped key
//!          ‖ attributes ‖ user metadata            (as object records have them)
//! tag    = HMAC-SHA256(record key, "coffer/remote-object/v1"
//!          ‖ u16 len ‖ bucket ‖ u16 len ‖ key ‖ table ‖ record)
//! ```

use std::collections::BTreeMap;

use coffer_sse::codec::{
    Reader, mode_byte, mode_from_byte, put_attributes, put_len16, put_user_metadata,
};
use coffer_sse::keys::{OBJECT_ID_LEN, RecordKey, StoredKey};
use coffer_sse::{Error, ObjectAttributes, ProtectionMode, Result};

use crate::layout::{ENTRY_LEN, PartEntry, decode_table, encode_table};

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"coffer/remote-object/v1";
/// The domain of a multipart upload's record (no object is made of it).
const UPLOAD_DOMAIN: &[u8] = b"coffer/remote-upload/v1";

/// What a remote object's trailer says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectRecord {
    /// The object's id: its data key and payloads are bound to it.
    pub(crate) object_id: [u8; OBJECT_ID_LEN],
    /// Plaintext bytes.
    pub(crate) size: u64,
    /// How it is protected.
    pub(crate) mode: ProtectionMode,
    /// The CMK's id (KMS objects; empty otherwise).
    pub(crate) key_id: String,
    /// The master key or CMK version its data key was wrapped under.
    pub(crate) key_version: u32,
    /// The wrapped data key (empty for an unencrypted object).
    pub(crate) wrapped_key: Vec<u8>,
    /// The HTTP-style attributes.
    pub(crate) attributes: ObjectAttributes,
    /// User metadata.
    pub(crate) user_metadata: BTreeMap<String, String>,
}

impl ObjectRecord {
    /// The view of its key the core reads.
    pub(crate) fn stored_key(&self) -> StoredKey<'_> {
        StoredKey {
            mode: self.mode,
            object_id: &self.object_id,
            key_id: &self.key_id,
            key_version: self.key_version,
            wrapped_key: &self.wrapped_key,
        }
    }

    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(64 + self.wrapped_key.len() + self.key_id.len());
        out.push(VERSION);
        out.extend_from_slice(&self.object_id);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.push(mode_byte(self.mode));
        put_len16(&mut out, self.key_id.as_bytes())?;
        out.extend_from_slice(&self.key_version.to_le_bytes());
        put_len16(&mut out, &self.wrapped_key)?;
        put_attributes(&mut out, &self.attributes)?;
        put_user_metadata(&mut out, &self.user_metadata)?;
        Ok(out)
    }

    fn decode(raw: &[u8]) -> Result<Self> {
        let corrupt = |what: &str| Error::CorruptRecord(format!("remote object record: {what}"));
        let mut r = Reader::new(raw);
        if r.u8()? != VERSION {
            return Err(corrupt("unknown version"));
        }
        let object_id = r
            .take(OBJECT_ID_LEN)?
            .try_into()
            .map_err(|_| corrupt("object id"))?;
        let record = Self {
            object_id,
            size: r.u64()?,
            mode: mode_from_byte(r.u8()?)?,
            key_id: r.str16()?,
            key_version: r.u32()?,
            wrapped_key: r.bytes16()?.to_vec(),
            attributes: r.attributes()?,
            user_metadata: r.user_metadata()?,
        };
        if !r.at_end() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(record)
    }

    /// The record of a multipart upload into bucket/key: `record ‖ tag`.
    pub(crate) fn seal_upload(
        &self,
        key: &RecordKey,
        bucket: &str,
        object_key: &str,
    ) -> Result<Vec<u8>> {
        key.seal_tagged(
            UPLOAD_DOMAIN,
            &[bucket.as_bytes(), object_key.as_bytes()],
            self.encode()?,
        )
    }

    /// The record of a multipart upload into bucket/key
    /// ([`Error::Integrity`] if it is another's, or edited).
    pub(crate) fn open_upload(
        key: &RecordKey,
        bucket: &str,
        object_key: &str,
        raw: &[u8],
    ) -> Result<Self> {
        let body = key.open_tagged(
            UPLOAD_DOMAIN,
            &[bucket.as_bytes(), object_key.as_bytes()],
            raw,
            || format!("an upload into {bucket}/{object_key}"),
        )?;
        Self::decode(body)
    }

    /// `table ‖ record ‖ tag`, bound to bucket/key.
    pub(crate) fn seal(
        &self,
        key: &RecordKey,
        bucket: &str,
        object_key: &str,
        parts: &[PartEntry],
    ) -> Result<Vec<u8>> {
        let mut body = encode_table(parts);
        body.extend_from_slice(&self.encode()?);
        key.seal_tagged(DOMAIN, &[bucket.as_bytes(), object_key.as_bytes()], body)
    }

    /// The record and part table `sealed` holds, authenticated as
    /// bucket/key's ([`Error::Integrity`] naming it otherwise: edited, cut,
    /// or moved from another path).
    pub(crate) fn open(
        key: &RecordKey,
        bucket: &str,
        object_key: &str,
        sealed: &[u8],
        part_count: u32,
    ) -> Result<(Self, Vec<PartEntry>)> {
        let body = key.open_tagged(
            DOMAIN,
            &[bucket.as_bytes(), object_key.as_bytes()],
            sealed,
            || format!("object {bucket}/{object_key} (it was edited, or moved from another path)"),
        )?;
        let table_len = part_count as usize * ENTRY_LEN;
        if body.len() < table_len {
            return Err(Error::Integrity(format!(
                "object {bucket}/{object_key}: its record is cut short"
            )));
        }
        let (table, record) = body.split_at(table_len);
        Ok((Self::decode(record)?, decode_table(table)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ObjectRecord {
        ObjectRecord {
            object_id: [7; OBJECT_ID_LEN],
            size: 5,
            mode: ProtectionMode::Kms,
            key_id: "cmk-1".into(),
            key_version: 3,
            wrapped_key: vec![1, 2, 3],
            attributes: ObjectAttributes::new().with_content_type("text/plain"),
            user_metadata: BTreeMap::from([("a".to_owned(), "b".to_owned())]),
        }
    }

    #[test]
    fn records_open_where_they_were_sealed_only() {
        let key = RecordKey::new(&[9; 32]);
        let parts = vec![PartEntry {
            size: 5,
            number: 1,
            prefix: [4; 64],
        }];
        let sealed = record().seal(&key, "b", "k", &parts).expect("seals");
        let (opened, table) = ObjectRecord::open(&key, "b", "k", &sealed, 1).expect("opens");
        assert_eq!((opened, table), (record(), parts));
        for (bucket, object_key) in [("b", "other"), ("c", "k")] {
            let error =
                ObjectRecord::open(&key, bucket, object_key, &sealed, 1).expect_err("moved");
            assert!(matches!(error, Error::Integrity(_)), "{error}");
            assert!(error.to_string().contains(object_key), "{error}");
        }
        let mut flipped = sealed.clone();
        flipped[3] ^= 1;
        assert!(ObjectRecord::open(&key, "b", "k", &flipped, 1).is_err());
        let other_key = RecordKey::new(&[8; 32]);
        assert!(ObjectRecord::open(&other_key, "b", "k", &sealed, 1).is_err());
    }
}
