//! Get and head: an object whole, by range or as `Read + Seek`, its
//! metadata, the conditions checked before any byte is read.

use std::io::Cursor;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use coffer_cipher::PayloadCipher;
use coffer_keyring::Caller;

use crate::engine::db::storage;
use crate::format::columns::{CHUNKS_PER_SEGMENT, SEGMENT_PLAINTEXT, etag, segment_key};
use crate::format::record::{Body, ObjectRecord};
use crate::objects::reader::{ObjectReader, Parts, SegmentSource};
use crate::store::TRUSTED;
use crate::{ColumnFamily, Error, Result, Store};
use crate::{GetConditions, Object, ObjectMeta};
use crate::{GetOptions, ObjectApi};

impl Store {
    /// Reads a whole object, decrypting it ([`Error::NoSuchKey`] if missing).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use coffer_store::{Error, ProtectionMode, PutOptions, RootKey, Store, StoreOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::create(dir.path(), StoreOptions::new(RootKey::generate()?))?;
    /// store.create_bucket("logs")?;
    /// store.put_object("logs", "a.log", Bytes::from_static(b"line"), PutOptions::managed())?;
    /// let object = store.get_object("logs", "a.log")?;
    /// assert_eq!(object.body, "line");
    /// assert_eq!(object.meta.protection.mode, ProtectionMode::Aes256);
    /// assert!(matches!(store.get_object("logs", "b.log"), Err(Error::NoSuchKey { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Object> {
        self.get_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::get_object`] if `conditions` hold for the object
    /// ([`Error::PreconditionFailed`], [`Error::NotModified`] otherwise; nothing
    /// is decrypted then).
    pub fn get_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<Object> {
        let options = GetOptions::new().with_conditions(conditions.clone());
        self.get_object_as(bucket, key, &options, &TRUSTED)
    }

    /// Reads `range` of an object, opening only the chunks that cover it.
    pub fn get_object_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Object> {
        self.get_object_range_if(bucket, key, range, &GetConditions::new())
    }

    /// [`Store::get_object_range`] if `conditions` hold for the object.
    pub fn get_object_range_if(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        conditions: &GetConditions,
    ) -> Result<Object> {
        ObjectApi::get_object_range_as(self, bucket, key, range, conditions, &TRUSTED)
    }

    /// Opens an object as `Read + Seek`, with bounded memory whatever its size.
    pub fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader> {
        self.open_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::open_object`] if `conditions` hold for the object.
    pub fn open_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectReader> {
        ObjectApi::open_object_as(self, bucket, key, conditions, &TRUSTED)
    }

    /// An object's metadata and protection, without decrypting anything.
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.head_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::head_object`] if `conditions` hold for the object.
    pub fn head_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectMeta> {
        self.bucket_record(bucket)?;
        let record = self
            .read_record(bucket, key)?
            .ok_or_else(|| no_such_key(bucket, key))?;
        check_read(bucket, key, &record, conditions)?;
        self.meta_of(bucket, key, &record)
    }

    /// A whole object for `caller`, errors naming it.
    pub(crate) fn read_whole(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Object> {
        self.get_whole(bucket, key, conditions, caller)
            .map_err(|e| e.about_object(bucket, key))
    }

    fn get_whole(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Object> {
        let (record, _guard) = self.read_record_for_reading(bucket, key)?;
        check_read(bucket, key, &record, conditions)?;
        let prefix = match &record.body {
            Body::Inline(payload) => &payload[..],
            Body::Segmented { prefix, .. } => &prefix[..],
            Body::Multipart { parts } => {
                let size = usize::try_from(record.size)
                    .map_err(|_| Error::TooLarge(format!("object of {} bytes", record.size)))?;
                let mut reader = self.open_parts(bucket, key, &record, parts, caller)?;
                let mut body = BytesMut::with_capacity(size);
                body.extend_from_slice(&reader.read_range(0..record.size)?);
                let meta = self.meta_of(bucket, key, &record)?;
                return Ok(Object {
                    body: body.freeze(),
                    meta,
                });
            }
        };
        let keys = self.payload_keys(bucket, key, &record, prefix, caller)?;
        let meta = self.meta_of(bucket, key, &record)?;
        let body = match record.body {
            // The record was read into a buffer of its own: open it there.
            Body::Inline(payload) => match &keys {
                Some(keys) => self
                    .inner
                    .keys
                    .cipher()
                    .open_with_keys(&keys.keys, payload)?,
                None => payload,
            },
            Body::Segmented { segments, .. } => {
                // The record is authenticated, so its size is the size written;
                // it must also agree with its segment count before anything is
                // allocated for it.
                let size = usize::try_from(record.size)
                    .map_err(|_| Error::TooLarge(format!("object of {} bytes", record.size)))?;
                if u64::from(segments) != record.size.div_ceil(SEGMENT_PLAINTEXT as u64).max(1) {
                    return Err(Error::Integrity(format!(
                        "object {bucket}/{key}: its record's size and segment count disagree"
                    )));
                }
                let opener = keys
                    .map(|keys| {
                        self.inner
                            .keys
                            .cipher()
                            .opener_with_keys(&keys.keys, PayloadCipher::payload_len(record.size)?)
                    })
                    .transpose()?;
                let db = self.db()?;
                let chunks = db.cf(ColumnFamily::Chunks)?;
                let segment = |index: u32| -> Result<Vec<u8>> {
                    db.get_cf(chunks, segment_key(&record.object_id, index))
                        .map_err(storage)?
                        .ok_or_else(|| {
                            Error::Integrity(format!(
                                "object {bucket}/{key}: segment {index} is missing"
                            ))
                        })
                };
                if segments == 1 {
                    // One segment: open it where it was read.
                    let value = BytesMut::from(Bytes::from(segment(0)?));
                    match &opener {
                        Some(opener) => opener.open_chunks_in_place(0, value)?.freeze(),
                        None => value.freeze(),
                    }
                } else {
                    let mut out = BytesMut::with_capacity(size);
                    for index in 0..segments {
                        let value = segment(index)?;
                        match &opener {
                            Some(opener) => opener.open_chunks(
                                u64::from(index) * CHUNKS_PER_SEGMENT,
                                Bytes::from(value),
                                &mut out,
                            )?,
                            None => out.extend_from_slice(&value),
                        }
                    }
                    out.freeze()
                }
            }
            Body::Multipart { .. } => {
                return Err(Error::CorruptRecord("a multipart body read whole".into()));
            }
        };
        if body.len() as u64 != record.size {
            return Err(Error::Integrity(format!(
                "object {bucket}/{key}: its length does not match its record"
            )));
        }
        Ok(Object { body, meta })
    }

    /// An object opened for `caller`, errors naming it.
    pub(crate) fn open_for(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectReader> {
        self.open_reader(bucket, key, conditions, caller)
            .map_err(|e| e.about_object(bucket, key))
    }

    fn open_reader(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectReader> {
        let (record, guard) = self.read_record_for_reading(bucket, key)?;
        check_read(bucket, key, &record, conditions)?;
        let meta = self.meta_of(bucket, key, &record)?;
        if let Body::Multipart { parts } = &record.body {
            let parts = self.open_parts(bucket, key, &record, parts, caller)?;
            return Ok(ObjectReader::parts(parts, meta, guard));
        }
        let data_key = self.data_key(bucket, key, &record, caller)?;
        let identity = self.identity(bucket, &record.object_id);
        let source = match &record.body {
            Body::Inline(payload) => SegmentSource::Inline(Cursor::new(payload.clone())),
            Body::Segmented { prefix, segments } => {
                let total = match data_key {
                    Some(_) => PayloadCipher::payload_len(record.size)?,
                    None => record.size,
                };
                SegmentSource::segmented(
                    self.clone(),
                    format!("{bucket}/{key}"),
                    record.object_id.to_vec(),
                    prefix.clone(),
                    *segments,
                    total,
                    data_key.is_some(),
                )
            }
            Body::Multipart { .. } => {
                return Err(Error::CorruptRecord(
                    "a multipart body as one payload".into(),
                ));
            }
        };
        ObjectReader::new(
            self.inner.keys.cipher(),
            data_key.as_ref(),
            &identity,
            source,
            meta,
            guard,
        )
    }

    /// The parts of a multipart object, ready to read (its data key unwrapped
    /// for `caller`).
    pub(crate) fn open_parts(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        parts: &[crate::format::record::PartRef],
        caller: &Caller,
    ) -> Result<Parts> {
        let data_key = self.data_key(bucket, key, record, caller)?;
        Parts::new(
            self.clone(),
            data_key,
            (bucket, key),
            record.object_id,
            parts,
            record.size,
        )
    }
}

/// Refuses a read whose conditions do not hold for `record`.
pub(crate) fn check_read(
    bucket: &str,
    key: &str,
    record: &ObjectRecord,
    conditions: &GetConditions,
) -> Result<()> {
    if conditions.is_empty() {
        return Ok(());
    }
    let modified = SystemTime::UNIX_EPOCH + Duration::from_millis(record.modified_ms);
    conditions
        .check(&etag(&record.object_id), modified)
        .map_err(|(condition, not_modified)| {
            if not_modified {
                Error::NotModified {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }
            } else {
                Error::PreconditionFailed {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    condition: condition.to_owned(),
                }
            }
        })
}

pub(crate) fn no_such_key(bucket: &str, key: &str) -> Error {
    Error::NoSuchKey {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    }
}

impl Store {
    /// An object's metadata as head and get report it.
    pub(crate) fn meta_of(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
    ) -> Result<ObjectMeta> {
        let protection = self.protection_of(bucket, record)?;
        Ok(ObjectMeta {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: record.size,
            etag: etag(&record.object_id),
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_millis(record.modified_ms),
            attributes: record.attributes.clone(),
            user_metadata: record.user_metadata.clone(),
            protection,
        })
    }
}
