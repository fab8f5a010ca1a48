//! Multipart uploads: each part sealed as it arrives (in any order, several
//! at once) under the upload's data key and bound to its number, kept under
//! `.coffer/uploads/<bucket>/<id>/` until completion writes the object, its
//! parts in the order listed followed by the trailer. The upload's id is the
//! object's id.
//!
//! ```text
//! .coffer/uploads/<bucket>/<id>/upload      = str16 key ‖ upload record ‖ tag
//! .coffer/uploads/<bucket>/<id>/part-<n:05> = sealed chunks ‖ part table entry
//! ```
//! Completion copies the parts' stored bytes into the object (no part is
//! opened or sealed again); every part but the last must hold at least
//! 1 MiB. A store given the backend's own multipart uploads sends parts of
//! 5 MiB and more straight into one instead (`direct.rs`).

use std::time::SystemTime;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_sse::codec::{Reader, put_len16};
use coffer_sse::ids::random_id;
use coffer_sse::keys::{OBJECT_ID_LEN, ResolvedRule};
use coffer_sse::{
    CompletedPart, Error, MAX_PART_NUMBER, MultipartUpload, ProtectionMode, PutCondition,
    PutOptions, PutPayload, PutResult, Result, UploadedPart,
};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, PutMode};

use crate::RemoteStore;
use crate::backend::{Fetched, ObjectWriter, object_path, reserved};
use crate::buckets::BucketRecord;
use crate::layout::{ENTRY_LEN, MIN_PART_LEN, PartEntry, decode_table, encode_table, part_len};
use crate::object_record::ObjectRecord;
use crate::parts::{seal_part, seal_streamed};
use crate::put::{Feed, NewObject, condition_failed, new_record, put_mode};
use crate::read::quoted;

/// Stored bytes copied per read while completing.
const COPY_LEN: u64 = 8 << 20;

pub(crate) fn upload_dir(bucket: &str, id: &str) -> Path {
    reserved(&["uploads", bucket, id])
}

pub(crate) fn part_path(bucket: &str, id: &str, number: u32) -> Path {
    upload_dir(bucket, id).join(format!("part-{number:05}"))
}

/// Whether two ETags name the same thing, quoted or not.
pub(crate) fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

/// A part staged under its upload.
pub(crate) struct StagedPart {
    pub(crate) path: Path,
    pub(crate) e_tag: Option<String>,
    pub(crate) entry: PartEntry,
}

/// An upload in progress, as its record has it.
pub(crate) struct Upload {
    pub(crate) id: String,
    pub(crate) object_id: [u8; OBJECT_ID_LEN],
    pub(crate) record: ObjectRecord,
}

impl RemoteStore {
    pub(crate) fn create_upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        options: PutOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<String> {
        object_path(&bucket.name, key)?;
        let object_id = random_id()?;
        let id = hex::encode(object_id);
        let new_key = self.new_data_key(bucket, key, &object_id, rule, caller)?;
        let record = new_record(object_id, &new_key, &options);
        let mut body = Vec::new();
        put_len16(&mut body, key.as_bytes())?;
        body.extend_from_slice(&record.seal_upload(
            self.inner.keys.record_key(),
            &bucket.name,
            key,
        )?);
        self.start_direct(&bucket.name, key, &id)?;
        let path = upload_dir(&bucket.name, &id).join("upload");
        self.inner
            .backend
            .put(&path, Bytes::from(body).into(), PutMode::Create)?
            .ok_or_else(|| Error::Integrity(format!("upload id {id} drawn twice")))?;
        Ok(id)
    }

    /// The upload `id` into bucket/key ([`Error::NoSuchUpload`] if there is
    /// none, or it goes to another key).
    fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<Upload> {
        let no_such = || Error::NoSuchUpload(id.to_owned());
        let object_id: [u8; OBJECT_ID_LEN] = hex::decode(id)
            .ok()
            .and_then(|raw| raw.try_into().ok())
            .ok_or_else(no_such)?;
        let path = upload_dir(bucket, id).join("upload");
        let Fetched::Found(_, raw) = self.inner.backend.get(&path, GetOptions::default())? else {
            return Err(no_such());
        };
        let mut r = Reader::new(&raw);
        if r.str16()? != key {
            return Err(no_such());
        }
        let record =
            ObjectRecord::open_upload(self.inner.keys.record_key(), bucket, key, &raw[r.at..])?;
        if record.object_id != object_id {
            return Err(Error::Integrity(format!(
                "the record of upload {id} names another upload"
            )));
        }
        Ok(Upload {
            id: id.to_owned(),
            object_id,
            record,
        })
    }

    pub(crate) fn upload_part(
        &self,
        (bucket, key): (&str, &str),
        id: &str,
        number: u32,
        payload: PutPayload<'_>,
        caller: &Caller,
    ) -> Result<UploadedPart> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(Error::InvalidArgument(format!(
                "part number {number}: use 1 to {MAX_PART_NUMBER}"
            )));
        }
        let upload = self.upload(bucket, key, id)?;
        let data_key = self.upload_data_key((bucket, key), &upload, caller)?;
        let feed = Feed::of(payload);
        let (path, uploaded) = match self.direct_upload(bucket, id)? {
            Some(direct) => self.send_part(
                (bucket, key),
                &upload,
                &direct,
                number,
                data_key.as_ref(),
                feed,
            )?,
            None => self.stage_part(bucket, &upload, number, data_key.as_ref(), feed)?,
        };
        // Aborted meanwhile: the part must not outlive its upload.
        if self.upload(bucket, key, id).is_err() {
            self.inner.backend.delete(&path)?;
            return Err(Error::NoSuchUpload(id.to_owned()));
        }
        Ok(uploaded)
    }

    /// Seals part `number` as it arrives into `part-<n>` under the upload:
    /// the path written, and the part.
    pub(crate) fn stage_part(
        &self,
        bucket: &str,
        upload: &Upload,
        number: u32,
        data_key: Option<&coffer_cipher::DataKey>,
        mut feed: Feed<'_>,
    ) -> Result<(Path, UploadedPart)> {
        let path = part_path(bucket, &upload.id, number);
        let mut writer = ObjectWriter::new(
            &self.inner.backend,
            &path,
            self.inner.write_limits(),
            PutMode::Overwrite,
        );
        let entry = seal_streamed(
            &self.inner.keys,
            data_key,
            bucket,
            &upload.object_id,
            number,
            &mut |limit| feed.next(limit),
            &mut |sealed| writer.write(sealed),
        )?;
        writer.write(&encode_table(std::slice::from_ref(&entry)))?;
        let written = writer
            .finish()?
            .ok_or_else(|| Error::Integrity("an unconditional write was refused".into()))?;
        let uploaded = UploadedPart {
            part_number: number,
            etag: quoted(written.e_tag.as_deref()),
            size: entry.size,
        };
        Ok((path, uploaded))
    }

    pub(crate) fn complete_upload(
        &self,
        (bucket, key): (&str, &str),
        id: &str,
        listed: &[CompletedPart],
        condition: &PutCondition,
        caller: &Caller,
    ) -> Result<PutResult> {
        let upload = self.upload(bucket, key, id)?;
        let direct = self.direct_upload(bucket, id)?;
        if listed.is_empty() {
            let done = self.complete_empty((bucket, key), &upload, condition, caller)?;
            if let Some(direct) = direct {
                self.abort_direct((bucket, key), &direct);
            }
            return Ok(done);
        }
        if listed
            .windows(2)
            .any(|pair| pair[0].part_number >= pair[1].part_number)
        {
            return Err(Error::InvalidPartOrder {
                upload_id: id.to_owned(),
            });
        }
        if let Some(direct) = direct {
            return self.complete_direct((bucket, key), &upload, &direct, listed, condition);
        }
        let encrypted = upload.record.mode != ProtectionMode::None;
        let mut parts = Vec::with_capacity(listed.len());
        for (index, wanted) in listed.iter().enumerate() {
            let part = self
                .staged_part(bucket, id, wanted, encrypted)?
                .ok_or_else(|| Error::InvalidPart {
                    upload_id: id.to_owned(),
                    part_number: wanted.part_number,
                })?;
            if index + 1 < listed.len() && part.entry.size < MIN_PART_LEN {
                return Err(Error::InvalidArgument(format!(
                    "upload {id}: part {} holds {} bytes; every part but the last must hold at least {MIN_PART_LEN}",
                    wanted.part_number, part.entry.size
                )));
            }
            parts.push((part.path, part.e_tag, part.entry));
        }
        let object_path = object_path(bucket, key)?;
        let mut writer = ObjectWriter::new(
            &self.inner.backend,
            &object_path,
            self.inner.write_limits(),
            put_mode(condition),
        );
        let mut parts_len = 0;
        for (path, e_tag, entry) in &parts {
            let len = part_len(entry.size, encrypted);
            let mut at = 0;
            while at < len {
                let end = (at + COPY_LEN).min(len);
                let options = GetOptions {
                    range: Some(GetRange::Bounded(at..end)),
                    if_match: e_tag.clone(),
                    ..GetOptions::default()
                };
                let Fetched::Found(_, bytes) = self.inner.backend.get(path, options)? else {
                    return Err(Error::InvalidPart {
                        upload_id: id.to_owned(),
                        part_number: entry.number,
                    });
                };
                writer.write(&bytes)?;
                at = end;
            }
            parts_len += len;
        }
        let entries: Vec<PartEntry> = parts.iter().map(|(_, _, entry)| entry.clone()).collect();
        let object = NewObject {
            bucket,
            key,
            record: upload.record.clone(),
        };
        writer.write(&object.trailer(self, &entries, parts_len)?)?;
        let Some(written) = writer.finish()? else {
            return Err(condition_failed(condition, bucket, key));
        };
        self.completed(bucket, &upload, written.e_tag.as_deref())
    }

    /// Part `wanted` as staged under upload `id`, if it was uploaded with the
    /// ETag listed (`None` if not): where it is, its ETag and its table entry.
    pub(crate) fn staged_part(
        &self,
        bucket: &str,
        id: &str,
        wanted: &CompletedPart,
        encrypted: bool,
    ) -> Result<Option<StagedPart>> {
        Ok(self
            .staged_part_numbered(bucket, id, wanted.part_number, encrypted)?
            .filter(|staged| same_etag(&quoted(staged.e_tag.as_deref()), &wanted.etag)))
    }

    /// Part `number` as staged under upload `id`, whatever its ETag.
    fn staged_part_numbered(
        &self,
        bucket: &str,
        id: &str,
        number: u32,
        encrypted: bool,
    ) -> Result<Option<StagedPart>> {
        let path = part_path(bucket, id, number);
        let tail = GetOptions {
            range: Some(GetRange::Suffix(ENTRY_LEN as u64)),
            ..GetOptions::default()
        };
        let Fetched::Found(meta, raw) = self.inner.backend.get(&path, tail)? else {
            return Ok(None);
        };
        let entry = decode_table(&raw)
            .pop()
            .filter(|entry| entry.number == number)
            .filter(|entry| part_len(entry.size, encrypted) + ENTRY_LEN as u64 == meta.size)
            .ok_or_else(|| Error::Integrity(format!("upload {id}: part {number} is damaged")))?;
        Ok(Some(StagedPart {
            path,
            e_tag: meta.e_tag,
            entry,
        }))
    }

    /// The parts uploaded so far to upload `id`, by number: each as
    /// completion would find it (sent into the backend's own upload, else
    /// staged), with the ETag and size its upload returned.
    pub(crate) fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<Vec<UploadedPart>> {
        let upload = self.upload(bucket, key, id)?;
        let encrypted = upload.record.mode != ProtectionMode::None;
        let mut numbers = std::collections::BTreeSet::new();
        for meta in self.inner.backend.list(&upload_dir(bucket, id))? {
            let number = meta.location.filename().and_then(|name| {
                name.strip_prefix("part-")
                    .or_else(|| name.strip_prefix("sent-"))
                    .and_then(|n| n.parse::<u32>().ok())
            });
            numbers.extend(number);
        }
        let mut out = Vec::with_capacity(numbers.len());
        for number in numbers {
            if let Some((entry, etag)) = self.sent_part(bucket, id, number)? {
                out.push(UploadedPart {
                    part_number: number,
                    etag,
                    size: entry.size,
                });
            } else if let Some(staged) = self.staged_part_numbered(bucket, id, number, encrypted)? {
                out.push(UploadedPart {
                    part_number: number,
                    etag: quoted(staged.e_tag.as_deref()),
                    size: staged.entry.size,
                });
            }
        }
        Ok(out)
    }

    /// What completing `upload` gives, once its object is written.
    pub(crate) fn completed(
        &self,
        bucket: &str,
        upload: &Upload,
        e_tag: Option<&str>,
    ) -> Result<PutResult> {
        self.drop_upload(bucket, &upload.id)?;
        let protection = self
            .inner
            .keys
            .protection_of(self, bucket, upload.record.stored_key())?;
        Ok(PutResult {
            etag: quoted(e_tag),
            protection,
        })
    }

    /// Completes an upload with no parts: an empty object (its one empty
    /// part sealed now, under the upload's key).
    fn complete_empty(
        &self,
        (bucket, key): (&str, &str),
        upload: &Upload,
        condition: &PutCondition,
        caller: &Caller,
    ) -> Result<PutResult> {
        let data_key = self.upload_data_key((bucket, key), upload, caller)?;
        let (entry, sealed) = seal_part(
            &self.inner.keys,
            data_key.as_ref(),
            bucket,
            &upload.object_id,
            1,
            Bytes::new(),
        )?;
        let object = NewObject {
            bucket,
            key,
            record: upload.record.clone(),
        };
        let trailer = object.trailer(self, std::slice::from_ref(&entry), sealed.len() as u64)?;
        let payload = object_store::PutPayload::from_iter([sealed, trailer]);
        let path = object_path(bucket, key)?;
        let Some(written) = self
            .inner
            .backend
            .put(&path, payload, put_mode(condition))?
        else {
            return Err(condition_failed(condition, bucket, key));
        };
        self.completed(bucket, upload, written.e_tag.as_deref())
    }

    /// The data key of `upload`, for `caller` (`None` if unencrypted).
    fn upload_data_key(
        &self,
        (bucket, key): (&str, &str),
        upload: &Upload,
        caller: &Caller,
    ) -> Result<Option<coffer_cipher::DataKey>> {
        if upload.record.mode == ProtectionMode::None {
            return Ok(None);
        }
        let (data_key, _) = self.inner.keys.unwrap_data_key(
            self,
            bucket,
            key,
            &upload.object_id,
            &upload.record.wrapped_key,
            caller,
        )?;
        Ok(Some(data_key))
    }

    pub(crate) fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> Result<()> {
        self.upload(bucket, key, id)?;
        if let Some(direct) = self.direct_upload(bucket, id)? {
            self.abort_direct((bucket, key), &direct);
        }
        self.drop_upload(bucket, id)
    }

    /// Removes an upload's record, then its parts.
    pub(crate) fn drop_upload(&self, bucket: &str, id: &str) -> Result<()> {
        let dir = upload_dir(bucket, id);
        self.inner.backend.delete(&dir.clone().join("upload"))?;
        for meta in self.inner.backend.list(&dir)? {
            self.inner.backend.delete(&meta.location)?;
        }
        Ok(())
    }

    pub(crate) fn list_uploads(&self, bucket: &str) -> Result<Vec<MultipartUpload>> {
        self.bucket_or_missing(bucket)?;
        let mut out = Vec::new();
        for meta in self.inner.backend.list(&reserved(&["uploads", bucket]))? {
            if meta.location.filename() != Some("upload") {
                continue;
            }
            let Some(id) = meta.location.parts().nth(3) else {
                continue;
            };
            let id = id.as_ref().to_owned();
            let Fetched::Found(_, raw) = self
                .inner
                .backend
                .get(&meta.location, GetOptions::default())?
            else {
                continue; // completed or aborted since it was listed
            };
            let key = Reader::new(&raw).str16()?;
            if self.upload(bucket, &key, &id).is_ok() {
                out.push(MultipartUpload {
                    upload_id: id,
                    key,
                    initiated: SystemTime::from(meta.last_modified),
                });
            }
        }
        out.sort_by(|a, b| (&a.key, a.initiated).cmp(&(&b.key, b.initiated)));
        Ok(out)
    }
}
