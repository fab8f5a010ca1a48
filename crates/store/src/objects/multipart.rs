//! Multipart uploads, as S3 and OSS have them: create an upload (its
//! protection fixed then, from the request's rule or the bucket default),
//! upload parts in any order and concurrently, complete with the ordered list
//! of parts (the object appears atomically, with one ETag), or abort.
//!
//! Each part is sealed as it arrives, a segment at a time, as a payload of its
//! own: every part uses the upload's one data key, with the identity
//! `(store, bucket, object id ‖ part number)`, so a part cannot be moved to
//! another position, another upload or another object on disk. Its segments
//! live under `object id ‖ part number ‖ attempt ‖ segment index`, all under the
//! object id, so deleting the object (or aborting the upload) drops them with
//! one range deletion. A part uploaded again (a new attempt) replaces the
//! earlier one. Uploads older than the store's multipart expiry are aborted by
//! [`Store::sweep_multipart_uploads`] (also run when the store opens).
//!
//! Records, in the `multipart` family (see `docs/format.md`):
//!
//! ```text
//! upload id (16)                      → "CFMU" ‖ JSON upload ‖ tag
//! upload id (16) ‖ part number (u32 BE) → "CFMP" ‖ part ‖ tag
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use coffer_cipher::ObjectIdentity;
use coffer_keyring::Caller;
use rocksdb::{IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::ProtectionMode;
use crate::engine::db::storage;
use crate::engine::db::{DbRef, millis, random_id};
use crate::format::columns::OBJECT_ID_LEN;
use crate::format::columns::etag;
use crate::format::record::{Body, BucketRecord, ObjectRecord, PartRef, RecordAuth};
use crate::objects::put::SegmentFeed;
use crate::store::TRUSTED;
use crate::{ColumnFamily, Error, Result, Store};
use crate::{CompletedPart, MAX_PART_NUMBER, MultipartUpload, ObjectApi, PutPayload, UploadedPart};
use crate::{ObjectAttributes, PutCondition, PutOptions, PutResult};
use coffer_sse::codec::{Reader, put_len16};
use coffer_sse::keys::ResolvedRule;

const UPLOAD_MAGIC: &[u8] = b"CFMU";
const PART_MAGIC: &[u8] = b"CFMP";
pub(crate) const UPLOAD_DOMAIN: &[u8] = b"coffer/multipart-upload/v1";
pub(crate) const PART_DOMAIN: &[u8] = b"coffer/multipart-part/v1";

/// An upload as persisted: where it completes, how it is protected (its
/// data key wrapped for the object id that is the upload id), and what the
/// object will carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(PartialEq, Eq))]
pub(crate) struct UploadRecord {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) incarnation: u64,
    pub(crate) created_ms: u64,
    /// 0 none, 1 AES256, 2 KMS.
    pub(crate) mode: u8,
    pub(crate) key_id: String,
    pub(crate) key_version: u32,
    /// The wrapped-key record, hex.
    pub(crate) wrapped_key: String,
    pub(crate) content_type: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) content_language: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) user_metadata: BTreeMap<String, String>,
}

impl UploadRecord {
    pub(crate) fn mode(&self) -> Result<ProtectionMode> {
        Ok(match self.mode {
            0 => ProtectionMode::None,
            1 => ProtectionMode::Aes256,
            2 => ProtectionMode::Kms,
            _ => return Err(Error::CorruptRecord("upload protection mode".into())),
        })
    }

    fn wrapped_key(&self) -> Result<Vec<u8>> {
        hex::decode(&self.wrapped_key).map_err(|_| Error::CorruptRecord("upload key".into()))
    }

    fn attributes(&self) -> ObjectAttributes {
        let mut attributes = ObjectAttributes::new();
        attributes.content_type.clone_from(&self.content_type);
        attributes
            .content_disposition
            .clone_from(&self.content_disposition);
        attributes
            .content_encoding
            .clone_from(&self.content_encoding);
        attributes
            .content_language
            .clone_from(&self.content_language);
        attributes.cache_control.clone_from(&self.cache_control);
        attributes
    }
}

/// An uploaded part as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartRecord {
    pub(crate) attempt: [u8; 8],
    pub(crate) size: u64,
    pub(crate) segments: u32,
    pub(crate) prefix: Vec<u8>,
}

impl PartRecord {
    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(100);
        out.extend_from_slice(PART_MAGIC);
        out.extend_from_slice(&self.attempt);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.segments.to_le_bytes());
        put_len16(&mut out, &self.prefix)?;
        Ok(out)
    }

    fn decode(raw: &[u8]) -> Result<Self> {
        let corrupt = || Error::CorruptRecord("part record".into());
        let mut r = Reader::new(raw);
        if r.take(4)? != PART_MAGIC {
            return Err(corrupt());
        }
        let attempt = r.take(8)?.try_into().map_err(|_| corrupt())?;
        let size = r.u64()?;
        let segments = r.u32()?;
        let prefix = r.bytes16()?.to_vec();
        if r.at != raw.len() {
            return Err(corrupt());
        }
        Ok(Self {
            attempt,
            size,
            segments,
            prefix,
        })
    }

    /// The ETag a part's upload returns: its attempt, quoted hex.
    fn etag(&self) -> String {
        format!("\"{}\"", hex::encode(self.attempt))
    }
}

type UploadId = [u8; OBJECT_ID_LEN];

/// `upload id ‖ part number (BE)`, the key of a part record.
pub(crate) fn part_key(upload: &UploadId, number: u32) -> Vec<u8> {
    [&upload[..], &number.to_be_bytes()].concat()
}

/// Where a part attempt's segments start: `object id ‖ part number ‖ attempt`.
pub(crate) fn part_segment_prefix(object_id: &UploadId, number: u32, attempt: &[u8; 8]) -> Vec<u8> {
    [&object_id[..], &number.to_be_bytes(), &attempt[..]].concat()
}

/// The key of segment `index` of a part attempt.
pub(crate) fn part_segment_key(prefix: &[u8], index: u32) -> Vec<u8> {
    [prefix, &index.to_be_bytes()].concat()
}

/// The identity a part's payload is bound to: the object's, with the part number.
pub(crate) fn part_identity(
    store: &Store,
    bucket: &str,
    object_id: &UploadId,
    number: u32,
) -> ObjectIdentity {
    ObjectIdentity::new(
        store.inner.keys.store_id(),
        bucket,
        &[&object_id[..], &number.to_be_bytes()].concat(),
    )
}

fn parse_upload_id(upload_id: &str) -> Result<UploadId> {
    let mut id = [0u8; OBJECT_ID_LEN];
    hex::decode_to_slice(upload_id, &mut id)
        .map_err(|_| Error::NoSuchUpload(upload_id.to_owned()))?;
    Ok(id)
}

fn check_part_number(number: u32) -> Result<()> {
    if (1..=MAX_PART_NUMBER).contains(&number) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "part number {number} is outside 1 to {MAX_PART_NUMBER}"
        )))
    }
}

impl Store {
    /// Starts a multipart upload of bucket/key; returns its id. Its protection
    /// is fixed now, from `options`' rule or the bucket default, as are its
    /// attributes and user metadata (`options.condition` is applied when it
    /// completes).
    pub fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
    ) -> Result<String> {
        self.create_multipart_upload_as(bucket, key, options, &TRUSTED)
    }

    pub(crate) fn create_multipart_resolved(
        &self,
        bucket: &BucketRecord,
        key: &str,
        options: PutOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<String> {
        let upload = random_id()?;
        let new_key = self.new_data_key(bucket, key, &upload, rule, caller)?;
        let attributes = options.attributes;
        let record = UploadRecord {
            bucket: bucket.name.clone(),
            key: key.to_owned(),
            incarnation: bucket.incarnation,
            created_ms: millis(self.inner.keys.clock().now()),
            mode: match new_key.protection.mode {
                ProtectionMode::None => 0,
                ProtectionMode::Aes256 => 1,
                _ => 2,
            },
            key_id: new_key.protection.kms_key_id.clone().unwrap_or_default(),
            key_version: new_key.protection.key_version.unwrap_or(0),
            wrapped_key: hex::encode(&new_key.wrapped),
            content_type: attributes.content_type,
            content_disposition: attributes.content_disposition,
            content_encoding: attributes.content_encoding,
            content_language: attributes.content_language,
            cache_control: attributes.cache_control,
            user_metadata: options.user_metadata,
        };
        // Under the bucket gate, as an object commit: an upload never lands in
        // a bucket being deleted.
        self.gated_write(bucket, |db| {
            db.put_cf_opt(
                db.cf(ColumnFamily::Multipart)?,
                upload,
                self.seal_upload(&upload, &record)?,
                &self.inner.engine.write_options,
            )
            .map_err(storage)?;
            Ok(())
        })?;
        Ok(hex::encode(upload))
    }

    /// Uploads part `part_number` (1 to [`MAX_PART_NUMBER`]) of an upload,
    /// sealed as it is sliced into segments; a part uploaded again replaces
    /// the earlier one. [`Error::NoSuchUpload`] for an upload that does not
    /// exist (or is for another object), [`Error::InvalidArgument`] for a part
    /// number out of range.
    pub fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        let payload = PutPayload::Bytes(body);
        self.upload_part_as(bucket, key, upload_id, part_number, payload, &TRUSTED)
    }

    /// [`Store::upload_part`] from a stream, read and sealed a segment at a
    /// time: memory stays bounded whatever the part's size.
    pub fn upload_part_from_reader(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: impl Read,
    ) -> Result<UploadedPart> {
        let payload = PutPayload::Reader(Box::new(source));
        self.upload_part_as(bucket, key, upload_id, part_number, payload, &TRUSTED)
    }

    /// Uploads a part from `feed` for `caller`.
    pub(crate) fn upload_part_from_feed(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        mut feed: impl SegmentFeed,
        caller: &Caller,
    ) -> Result<UploadedPart> {
        check_part_number(part_number)?;
        let upload = parse_upload_id(upload_id)?;
        let record = self.upload_record(bucket, key, &upload, upload_id)?;
        let mode = record.mode()?;
        let data_key = match mode {
            ProtectionMode::None => None,
            _ => Some(
                self.unwrap_wrapped_key(bucket, key, &upload, &record.wrapped_key()?, caller)?
                    .0,
            ),
        };
        let attempt: [u8; 8] = random_id()?[..8].try_into().expect("8 of 16 bytes");
        let prefix = part_segment_prefix(&upload, part_number, &attempt);
        let written = (|| -> Result<PartRecord> {
            let sealer = data_key
                .as_ref()
                .map(|k| {
                    self.inner
                        .keys
                        .cipher()
                        .sealer(k, &part_identity(self, bucket, &upload, part_number))
                })
                .transpose()?;
            let first = feed.next_segment()?;
            // In bounded memory whatever the part's size; what went around
            // the log is flushed before the part's record names it.
            let written = self.write_segments(
                sealer.as_ref(),
                first,
                &mut feed,
                |index| part_segment_key(&prefix, index),
                crate::objects::staged_put::SegmentLog::Bounded,
            )?;
            if written.unflushed {
                self.flush_segments()?;
            }
            Ok(PartRecord {
                attempt,
                size: written.size,
                segments: written.segments,
                prefix: sealer.map(|s| s.prefix().to_vec()).unwrap_or_default(),
            })
        })();
        let part = written.and_then(|part| {
            // The upload must still be there (not completed nor aborted
            // meanwhile); the part replaces an earlier attempt.
            let _upload = self.upload_stripe(&upload).lock();
            self.upload_record(bucket, key, &upload, upload_id)?;
            let db = self.db()?;
            let family = db.cf(ColumnFamily::Multipart)?;
            let mut batch = WriteBatch::default();
            if let Some(earlier) = self.part_record(&upload, part_number)? {
                let start = part_segment_prefix(&upload, part_number, &earlier.attempt);
                let mut end = start.clone();
                end.extend_from_slice(&[0xFF; 5]);
                batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, start, end);
            }
            batch.put_cf(
                family,
                part_key(&upload, part_number),
                self.seal_part(&upload, part_number, &part)?,
            );
            db.write_opt(batch, &self.inner.engine.write_options)
                .map_err(storage)?;
            Ok(part)
        });
        match part {
            Ok(part) => Ok(UploadedPart {
                part_number,
                etag: part.etag(),
                size: part.size,
            }),
            Err(error) => {
                self.drop_segments_from(&prefix);
                Err(error)
            }
        }
    }

    /// Completes an upload with `parts`, in ascending part order: the object
    /// appears atomically, with one ETag, protected as the upload was created
    /// (and only if `condition` holds for what is there then). Parts not
    /// listed are dropped. [`Error::NoSuchUpload`];
    /// [`Error::InvalidPart`] for a listed part that was not uploaded or whose
    /// ETag is not the one its upload returned; [`Error::InvalidPartOrder`]
    /// for a list not in strictly ascending part order. An upload with no part
    /// completes into an empty object. Nothing changes on an error.
    pub fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        condition: &PutCondition,
    ) -> Result<PutResult> {
        let upload = parse_upload_id(upload_id)?;
        let _upload = self.upload_stripe(&upload).lock();
        let record = self.upload_record(bucket, key, &upload, upload_id)?;
        let bucket_record = self.bucket_record(bucket)?;
        if bucket_record.incarnation != record.incarnation {
            return Err(Error::NoSuchUpload(upload_id.to_owned()));
        }
        let mut refs = Vec::with_capacity(parts.len());
        let mut previous = 0;
        for listed in parts {
            if listed.part_number <= previous {
                return Err(Error::InvalidPartOrder {
                    upload_id: upload_id.to_owned(),
                });
            }
            previous = listed.part_number;
            let invalid = || Error::InvalidPart {
                upload_id: upload_id.to_owned(),
                part_number: listed.part_number,
            };
            check_part_number(listed.part_number).map_err(|_| invalid())?;
            let part = self
                .part_record(&upload, listed.part_number)?
                .ok_or_else(invalid)?;
            if part.etag() != listed.etag {
                return Err(invalid());
            }
            refs.push(PartRef {
                number: listed.part_number,
                attempt: part.attempt,
                size: part.size,
                segments: part.segments,
                prefix: part.prefix,
            });
        }
        let size = refs.iter().map(|p| p.size).sum();
        let mode = record.mode()?;
        let object = ObjectRecord {
            object_id: upload,
            size,
            modified_ms: millis(self.inner.keys.clock().now()),
            mode,
            key_id: record.key_id.clone(),
            key_version: record.key_version,
            wrapped_key: record.wrapped_key()?,
            attributes: record.attributes(),
            user_metadata: record.user_metadata.clone(),
            body: Body::Multipart { parts: refs },
        };
        let kept: Vec<Vec<u8>> = match &object.body {
            Body::Multipart { parts } => parts
                .iter()
                .map(|p| part_segment_prefix(&upload, p.number, &p.attempt))
                .collect(),
            _ => Vec::new(),
        };
        self.commit(
            &bucket_record,
            key,
            Some(&object),
            condition,
            |batch, db| {
                let multipart = db.cf(ColumnFamily::Multipart)?;
                batch.delete_cf(multipart, upload);
                let (start, end) = upload_parts_range(&upload);
                batch.delete_range_cf(multipart, start, end);
                // Every segment under the object id that no listed part holds:
                // unlisted parts, earlier attempts, interrupted part uploads.
                let chunks = db.cf(ColumnFamily::Chunks)?;
                let mut from = upload.to_vec();
                for prefix in &kept {
                    batch.delete_range_cf(chunks, &from, prefix);
                    from = prefix.clone();
                    from.extend_from_slice(&[0xFF; 5]);
                }
                let (_, end) = crate::format::columns::segment_range(&upload);
                batch.delete_range_cf(chunks, &from, &end);
                Ok(())
            },
        )?;
        Ok(PutResult {
            etag: etag(&upload),
            protection: self.protection_of(bucket, &object)?,
        })
    }

    /// Aborts an upload: its parts are deleted and it never becomes visible.
    /// [`Error::NoSuchUpload`] if there is none. Works for an upload whose
    /// bucket is gone, too.
    pub fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let upload = parse_upload_id(upload_id)?;
        let _upload = self.upload_stripe(&upload).lock();
        match self.upload_record(bucket, key, &upload, upload_id) {
            Ok(_) => {}
            Err(Error::NoSuchBucket(_))
                if self
                    .stored_upload(&upload)?
                    .is_some_and(|record| record.bucket == bucket && record.key == key) => {}
            Err(Error::NoSuchBucket(_)) => return Err(Error::NoSuchUpload(upload_id.to_owned())),
            Err(error) => return Err(error),
        }
        self.drop_upload(&upload)
    }

    /// The uploads in progress into `bucket`, by key then creation.
    pub fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<MultipartUpload>> {
        self.bucket_record(bucket)?;
        let mut out: Vec<MultipartUpload> = self
            .uploads()?
            .into_iter()
            .filter(|(_, record)| record.bucket == bucket)
            .map(|(id, record)| MultipartUpload {
                upload_id: hex::encode(id),
                key: record.key,
                initiated: SystemTime::UNIX_EPOCH + Duration::from_millis(record.created_ms),
            })
            .collect();
        out.sort_by(|a, b| (&a.key, a.initiated).cmp(&(&b.key, b.initiated)));
        Ok(out)
    }

    /// The parts uploaded so far to an upload, by part number, each with the
    /// ETag and size its upload returned. [`Error::NoSuchUpload`].
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>> {
        let upload = parse_upload_id(upload_id)?;
        self.upload_record(bucket, key, &upload, upload_id)?;
        let db = self.db()?;
        let (start, _) = upload_parts_range(&upload);
        let mut out = Vec::new();
        for item in db.iterator_cf(
            db.cf(ColumnFamily::Multipart)?,
            IteratorMode::From(&start, rocksdb::Direction::Forward),
        ) {
            let (raw_key, value) = item.map_err(storage)?;
            let Some(number) = raw_key
                .strip_prefix(&upload[..])
                .and_then(|rest| <[u8; 4]>::try_from(rest).ok())
                .map(u32::from_be_bytes)
            else {
                break;
            };
            let part = open_part_record(&self.inner.records, &upload, number, &value)?;
            out.push(UploadedPart {
                part_number: number,
                etag: part.etag(),
                size: part.size,
            });
        }
        Ok(out)
    }

    /// Aborts every upload created longer than `older_than` ago; returns how
    /// many. Also run when the store opens, with the store's multipart expiry.
    pub fn sweep_multipart_uploads(&self, older_than: Duration) -> Result<usize> {
        let now = self.inner.keys.clock().now();
        let swept = self.drop_uploads_where(|record| {
            let created = SystemTime::UNIX_EPOCH + Duration::from_millis(record.created_ms);
            now.duration_since(created)
                .is_ok_and(|age| age >= older_than)
        })?;
        if swept > 0 {
            tracing::info!(swept, "aborted expired multipart uploads");
        }
        Ok(swept)
    }

    /// Aborts every upload (authenticated) whose record `doomed` says goes,
    /// each under its lock; returns how many.
    fn drop_uploads_where(&self, doomed: impl Fn(&UploadRecord) -> bool) -> Result<usize> {
        let mut dropped = 0;
        for (id, record) in self.uploads()? {
            if doomed(&record) {
                let _upload = self.upload_stripe(&id).lock();
                self.drop_upload(&id)?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Every upload in progress, authenticated; [`Error::Integrity`] naming
    /// the first that is not (for key retirement: its version is unknown).
    pub(crate) fn uploads_checked(&self) -> Result<Vec<(UploadId, UploadRecord)>> {
        let db = self.db()?;
        let mut out = Vec::new();
        for item in db.iterator_cf(db.cf(ColumnFamily::Multipart)?, IteratorMode::Start) {
            let (raw_key, value) = item.map_err(storage)?;
            let Ok(id) = <UploadId>::try_from(raw_key.as_ref()) else {
                continue; // a part record
            };
            out.push((id, self.open_upload(&id, &value)?));
        }
        Ok(out)
    }

    /// Every upload in progress, authenticated (one that is not is skipped
    /// with a warning; it can neither complete nor be listed).
    pub(crate) fn uploads(&self) -> Result<Vec<(UploadId, UploadRecord)>> {
        let db = self.db()?;
        let mut out = Vec::new();
        for item in db.iterator_cf(db.cf(ColumnFamily::Multipart)?, IteratorMode::Start) {
            let (raw_key, value) = item.map_err(storage)?;
            let Ok(id) = <UploadId>::try_from(raw_key.as_ref()) else {
                continue; // a part record
            };
            match self.open_upload(&id, &value) {
                Ok(record) => out.push((id, record)),
                Err(error) => tracing::warn!(%error, "skipping a multipart upload record"),
            }
        }
        Ok(out)
    }

    /// Deletes an upload's record, parts and segments.
    fn drop_upload(&self, upload: &UploadId) -> Result<()> {
        let db = self.db()?;
        let mut batch = WriteBatch::default();
        self.drop_upload_into(&db, &mut batch, upload)?;
        db.write_opt(batch, &self.inner.engine.write_options)
            .map_err(storage)?;
        Ok(())
    }

    /// Adds the deletion of an upload's record, parts and segments to
    /// `batch` (the caller holds the upload's lock).
    pub(crate) fn drop_upload_into(
        &self,
        db: &DbRef<'_>,
        batch: &mut WriteBatch,
        upload: &UploadId,
    ) -> Result<()> {
        let multipart = db.cf(ColumnFamily::Multipart)?;
        batch.delete_cf(multipart, upload);
        let (start, end) = upload_parts_range(upload);
        batch.delete_range_cf(multipart, start, end);
        let (start, end) = crate::format::columns::segment_range(upload);
        batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, start, end);
        Ok(())
    }

    /// The ids of the uploads in progress into `bucket`.
    pub(crate) fn uploads_into(&self, bucket: &str) -> Result<Vec<UploadId>> {
        Ok(self
            .uploads()?
            .into_iter()
            .filter(|(_, record)| record.bucket == bucket)
            .map(|(id, _)| id)
            .collect())
    }

    /// Aborts every upload whose bucket is gone (deleted, or deleted and
    /// created again), which could never complete: left by a version that
    /// did not remove them with their bucket. Run when the store opens.
    pub(crate) fn drop_orphan_uploads(&self) -> Result<usize> {
        let dropped = self.drop_uploads_where(|record| {
            !self
                .bucket_record(&record.bucket)
                .is_ok_and(|bucket| bucket.incarnation == record.incarnation)
        })?;
        if dropped > 0 {
            tracing::info!(dropped, "aborted multipart uploads into deleted buckets");
        }
        Ok(dropped)
    }

    /// Best effort: deletes the segments of a part attempt that failed.
    fn drop_segments_from(&self, prefix: &[u8]) {
        let result = (|| -> Result<()> {
            let db = self.db()?;
            let mut end = prefix.to_vec();
            end.extend_from_slice(&[0xFF; 5]);
            let mut batch = WriteBatch::default();
            batch.delete_range_cf(db.cf(ColumnFamily::Chunks)?, prefix, &end[..]);
            db.write_opt(batch, &self.inner.engine.write_options)
                .map_err(storage)?;
            Ok(())
        })();
        if let Err(error) = result {
            tracing::warn!(%error, "could not remove a failed part's segments; they go with the upload");
        }
    }

    /// The record of an upload into bucket/key ([`Error::NoSuchUpload`] if
    /// there is none, or it is for another object).
    fn upload_record(
        &self,
        bucket: &str,
        key: &str,
        upload: &UploadId,
        upload_id: &str,
    ) -> Result<UploadRecord> {
        self.bucket_record(bucket)?;
        let record = self
            .stored_upload(upload)?
            .ok_or_else(|| Error::NoSuchUpload(upload_id.to_owned()))?;
        if record.bucket != bucket || record.key != key {
            return Err(Error::NoSuchUpload(upload_id.to_owned()));
        }
        Ok(record)
    }

    /// The record of an upload, authenticated, wherever it completes.
    fn stored_upload(&self, upload: &UploadId) -> Result<Option<UploadRecord>> {
        let db = self.db()?;
        match db
            .get_cf(db.cf(ColumnFamily::Multipart)?, upload)
            .map_err(storage)?
        {
            Some(raw) => self.open_upload(upload, &raw).map(Some),
            None => Ok(None),
        }
    }

    fn part_record(&self, upload: &UploadId, number: u32) -> Result<Option<PartRecord>> {
        let db = self.db()?;
        match db
            .get_cf(db.cf(ColumnFamily::Multipart)?, part_key(upload, number))
            .map_err(storage)?
        {
            Some(raw) => open_part_record(&self.inner.records, upload, number, &raw).map(Some),
            None => Ok(None),
        }
    }

    fn seal_upload(&self, upload: &UploadId, record: &UploadRecord) -> Result<Vec<u8>> {
        seal_upload_record(&self.inner.records, upload, record)
    }

    fn open_upload(&self, upload: &UploadId, raw: &[u8]) -> Result<UploadRecord> {
        open_upload_record(&self.inner.records, upload, raw)
    }

    fn seal_part(&self, upload: &UploadId, number: u32, part: &PartRecord) -> Result<Vec<u8>> {
        seal_part_record(&self.inner.records, upload, number, part)
    }
}

/// An upload record's bytes: `"CFMU" ‖ JSON ‖ tag`, bound to the upload id.
pub(crate) fn seal_upload_record(
    records: &RecordAuth,
    upload: &UploadId,
    record: &UploadRecord,
) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(record).map_err(|e| Error::CorruptRecord(e.to_string()))?;
    let body = [UPLOAD_MAGIC, &json[..]].concat();
    records.seal_tagged(UPLOAD_DOMAIN, &[&upload[..]], body)
}

/// Authenticates and decodes the record of upload `upload`.
pub(crate) fn open_upload_record(
    records: &RecordAuth,
    upload: &UploadId,
    raw: &[u8],
) -> Result<UploadRecord> {
    let body = records.open_tagged(UPLOAD_DOMAIN, &[&upload[..]], raw, || {
        format!("multipart upload {}", hex::encode(upload))
    })?;
    let json = body
        .strip_prefix(UPLOAD_MAGIC)
        .ok_or_else(|| Error::CorruptRecord("upload record".into()))?;
    serde_json::from_slice(json).map_err(|e| Error::CorruptRecord(e.to_string()))
}

/// A part record's bytes: the part ‖ tag, bound to the upload id and number.
pub(crate) fn seal_part_record(
    records: &RecordAuth,
    upload: &UploadId,
    number: u32,
    part: &PartRecord,
) -> Result<Vec<u8>> {
    records.seal_tagged(
        PART_DOMAIN,
        &[&upload[..], &number.to_be_bytes()],
        part.encode()?,
    )
}

/// Authenticates and decodes the record of part `number` of `upload`.
pub(crate) fn open_part_record(
    records: &RecordAuth,
    upload: &UploadId,
    number: u32,
    raw: &[u8],
) -> Result<PartRecord> {
    let body = records.open_tagged(
        PART_DOMAIN,
        &[&upload[..], &number.to_be_bytes()],
        raw,
        || format!("part {number} of upload {}", hex::encode(upload)),
    )?;
    PartRecord::decode(body)
}

/// The part records of an upload: `upload id ‖ 0x00000000` to `upload id ‖ 0xFFFFFFFF ‖ …`.
fn upload_parts_range(upload: &UploadId) -> (Vec<u8>, Vec<u8>) {
    let start = part_key(upload, 0);
    let mut end = upload.to_vec();
    end.extend_from_slice(&[0xFF; 5]);
    (start, end)
}
