//! Multipart uploads whose parts go straight into the backend's own
//! multipart upload, for a store opened with
//! [`RemoteOptions::with_multipart_store`](crate::RemoteOptions::with_multipart_store):
//! each stored byte is written once, where a staged upload (`multipart.rs`)
//! writes its parts under `.coffer/uploads` and copies them into the object
//! at completion.
//!
//! ```text
//! .coffer/uploads/<bucket>/<id>/direct      = u8 version (1) ‖ str16 backend upload id
//! .coffer/uploads/<bucket>/<id>/sent-<n:05> = part table entry ‖ str16 backend part id
//! ```
//!
//! A part of at least [`DIRECT_PART_LEN`] (S3's minimum for every part but
//! the last) numbered below 10,000 is sealed in memory and sent as the
//! backend's part n; a shorter one (the last part, usually) is staged as in
//! a staged upload, and completion sends it, followed by the trailer, as the
//! backend's part n. After a last part sent whole, the trailer is a part of
//! its own, n + 1 (so part 10,000 is always staged). `MultipartStore`
//! numbers the parts it completes by their position, so a direct upload
//! completes with parts 1 to n, each once; and it completes without a
//! condition, which `MultipartStore` cannot pass on.

use bytes::Bytes;
use coffer_cipher::DataKey;
use coffer_sse::codec::{Reader, put_len16};
use coffer_sse::{
    CompletedPart, Error, ProtectionMode, PutCondition, PutResult, Result, UploadedPart,
};
use object_store::multipart::PartId;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, PutMode, PutPayload};
use ring::digest::{SHA256, digest};

use crate::RemoteStore;
use crate::backend::{Fetched, object_path};
use crate::layout::{ENTRY_LEN, MAX_PARTS, PartEntry, decode_table, encode_table, part_len};
use crate::multipart::{Upload, part_path, same_etag, upload_dir};
use crate::parts::seal_streamed;
use crate::put::{Feed, NewObject};

/// A part this long or longer goes straight into the backend's upload
/// (S3's minimum for every part but the last: 5 MiB).
pub const DIRECT_PART_LEN: u64 = 5 << 20;
const DIRECT_VERSION: u8 = 1;

/// The backend's own upload behind a direct upload.
pub(crate) struct Direct {
    backend_id: String,
}

fn sent_path(bucket: &str, id: &str, number: u32) -> Path {
    upload_dir(bucket, id).join(format!("sent-{number:05}"))
}

/// The ETag coffer gives a part it sent: from its table entry, which names
/// its size, its number and (for an encrypted part) its payload's random
/// prefix, so every upload of a part has its own.
fn sent_etag(entry: &PartEntry) -> String {
    let digest = digest(&SHA256, &encode_table(std::slice::from_ref(entry)));
    format!("\"{}\"", hex::encode(&digest.as_ref()[..16]))
}

/// A part as completion finds it: sent, or staged.
enum Found {
    Sent { entry: PartEntry, part_id: String },
    Staged(crate::multipart::StagedPart),
}

impl Found {
    fn entry(&self) -> &PartEntry {
        match self {
            Found::Sent { entry, .. } => entry,
            Found::Staged(staged) => &staged.entry,
        }
    }
}

impl RemoteStore {
    /// Where the options gave the backend's multipart uploads: starts one
    /// for bucket/key and records it under upload `id` (before the upload's
    /// own record, so every upload listed has it).
    pub(crate) fn start_direct(&self, bucket: &str, key: &str, id: &str) -> Result<()> {
        if !self.inner.backend.has_multipart() {
            return Ok(());
        }
        let path = object_path(bucket, key)?;
        let backend_id = self
            .inner
            .backend
            .on_multipart(move |uploads| async move { uploads.create_multipart(&path).await })?;
        let mut record = vec![DIRECT_VERSION];
        put_len16(&mut record, backend_id.as_bytes())?;
        let at = upload_dir(bucket, id).join("direct");
        self.inner
            .backend
            .put(&at, Bytes::from(record).into(), PutMode::Create)?
            .ok_or_else(|| Error::Integrity(format!("upload id {id} drawn twice")))?;
        Ok(())
    }

    /// The backend's upload behind upload `id`, if it is a direct one.
    pub(crate) fn direct_upload(&self, bucket: &str, id: &str) -> Result<Option<Direct>> {
        let at = upload_dir(bucket, id).join("direct");
        let Fetched::Found(_, raw) = self.inner.backend.get(&at, GetOptions::default())? else {
            return Ok(None);
        };
        let mut r = Reader::new(&raw);
        if r.u8()? != DIRECT_VERSION {
            return Err(Error::CorruptRecord(format!(
                "upload {id}: the version of its backend upload's record"
            )));
        }
        let backend_id = r.str16()?;
        if !self.inner.backend.has_multipart() {
            return Err(Error::NotImplemented {
                operation: format!(
                    "upload {id}, whose parts go to the backend's own multipart upload, without RemoteOptions::with_multipart_store"
                ),
                engine: self.inner.backend.store().to_string(),
            });
        }
        Ok(Some(Direct { backend_id }))
    }

    /// Seals part `number` into memory, then sends it into the backend's
    /// upload if it is long enough, or stages it: the path of the record
    /// written, and the part.
    pub(crate) fn send_part(
        &self,
        (bucket, key): (&str, &str),
        upload: &Upload,
        direct: &Direct,
        number: u32,
        data_key: Option<&DataKey>,
        mut feed: Feed<'_>,
    ) -> Result<(Path, UploadedPart)> {
        let limit = self.inner.max_conditional_write;
        let (mut sealed, mut held) = (Vec::new(), 0usize);
        let entry = seal_streamed(
            &self.inner.keys,
            data_key,
            bucket,
            &upload.object_id,
            number,
            &mut |limit| feed.next(limit),
            &mut |bytes| {
                held += bytes.len();
                if held > limit {
                    return Err(Error::TooLarge(format!(
                        "a part of more than {limit} stored bytes (a part sent to the backend's multipart upload is held in memory; RemoteOptions::with_max_conditional_write raises the bound)"
                    )));
                }
                sealed.push(Bytes::copy_from_slice(bytes));
                Ok(())
            },
        )?;
        let table_entry = encode_table(std::slice::from_ref(&entry));
        let (staged, sent) = (
            part_path(bucket, &upload.id, number),
            sent_path(bucket, &upload.id, number),
        );
        if entry.size < DIRECT_PART_LEN || number >= MAX_PARTS {
            sealed.push(Bytes::from(table_entry));
            let written = self
                .inner
                .backend
                .put(&staged, PutPayload::from_iter(sealed), PutMode::Overwrite)?
                .ok_or_else(|| Error::Integrity("an unconditional write was refused".into()))?;
            self.inner.backend.delete(&sent)?;
            let uploaded = UploadedPart {
                part_number: number,
                etag: crate::read::quoted(written.e_tag.as_deref()),
                size: entry.size,
            };
            return Ok((staged, uploaded));
        }
        let part_id = self.put_backend_part((bucket, key), direct, number - 1, sealed)?;
        let mut record = table_entry;
        put_len16(&mut record, part_id.content_id.as_bytes())?;
        self.inner
            .backend
            .put(&sent, Bytes::from(record).into(), PutMode::Overwrite)?;
        self.inner.backend.delete(&staged)?;
        let uploaded = UploadedPart {
            part_number: number,
            etag: sent_etag(&entry),
            size: entry.size,
        };
        Ok((sent, uploaded))
    }

    fn put_backend_part(
        &self,
        (bucket, key): (&str, &str),
        direct: &Direct,
        index: u32,
        bytes: Vec<Bytes>,
    ) -> Result<PartId> {
        let (path, id) = (object_path(bucket, key)?, direct.backend_id.clone());
        let index = index as usize;
        let payload = PutPayload::from_iter(bytes);
        self.inner.backend.on_multipart(move |uploads| async move {
            uploads.put_part(&path, &id, index, payload).await
        })
    }

    /// Part `number` of upload `id` as sent into the backend's own upload,
    /// if it was: its table entry and the ETag its upload returned.
    pub(crate) fn sent_part(
        &self,
        bucket: &str,
        id: &str,
        number: u32,
    ) -> Result<Option<(PartEntry, String)>> {
        let at = sent_path(bucket, id, number);
        let Fetched::Found(_, raw) = self.inner.backend.get(&at, GetOptions::default())? else {
            return Ok(None);
        };
        let entry = decode_table(raw.get(..ENTRY_LEN).unwrap_or_default())
            .pop()
            .filter(|entry| entry.number == number)
            .ok_or_else(|| {
                Error::Integrity(format!(
                    "upload {id}: the record of part {number} is damaged"
                ))
            })?;
        let etag = sent_etag(&entry);
        Ok(Some((entry, etag)))
    }

    /// Part `wanted` of a direct upload, if it was uploaded with the ETag
    /// listed.
    fn find_part(
        &self,
        bucket: &str,
        upload: &Upload,
        wanted: &CompletedPart,
    ) -> Result<Option<Found>> {
        let id = &upload.id;
        let at = sent_path(bucket, id, wanted.part_number);
        if let Fetched::Found(_, raw) = self.inner.backend.get(&at, GetOptions::default())? {
            let damaged = || {
                Error::Integrity(format!(
                    "upload {id}: the record of part {} is damaged",
                    wanted.part_number
                ))
            };
            let entry = decode_table(raw.get(..ENTRY_LEN).ok_or_else(damaged)?)
                .pop()
                .filter(|entry| entry.number == wanted.part_number)
                .ok_or_else(damaged)?;
            if same_etag(&sent_etag(&entry), &wanted.etag) {
                let part_id = Reader::new(&raw[ENTRY_LEN..])
                    .str16()
                    .map_err(|_| damaged())?;
                return Ok(Some(Found::Sent { entry, part_id }));
            }
        }
        let encrypted = upload.record.mode != ProtectionMode::None;
        Ok(self
            .staged_part(bucket, id, wanted, encrypted)?
            .map(Found::Staged))
    }

    /// Completes a direct upload with `listed` (at least one part, in
    /// ascending order): the last part staged is sent with the trailer
    /// after it, or the trailer alone as one more part, and the backend
    /// completes its upload.
    pub(crate) fn complete_direct(
        &self,
        (bucket, key): (&str, &str),
        upload: &Upload,
        direct: &Direct,
        listed: &[CompletedPart],
        condition: &PutCondition,
    ) -> Result<PutResult> {
        let id = &upload.id;
        if !matches!(condition, PutCondition::None) {
            return Err(Error::NotImplemented {
                operation: format!(
                    "a conditional completion of upload {id}, whose parts went to the backend's own multipart upload (object_store's MultipartStore completes without conditions)"
                ),
                engine: self.inner.backend.store().to_string(),
            });
        }
        if let Some((number, wanted)) = (1..)
            .zip(listed)
            .find(|(number, wanted)| wanted.part_number != *number)
        {
            return Err(Error::InvalidArgument(format!(
                "upload {id}: part {} listed where part {number} belongs; an upload whose parts go to the backend's multipart upload completes with parts 1 to n, each once",
                wanted.part_number
            )));
        }
        let mut found = Vec::with_capacity(listed.len());
        for (index, wanted) in listed.iter().enumerate() {
            let part =
                self.find_part(bucket, upload, wanted)?
                    .ok_or_else(|| Error::InvalidPart {
                        upload_id: id.clone(),
                        part_number: wanted.part_number,
                    })?;
            if index + 1 < listed.len() && matches!(part, Found::Staged(_)) {
                return Err(Error::InvalidArgument(format!(
                    "upload {id}: part {} holds {} bytes; every part but the last must hold at least {DIRECT_PART_LEN}",
                    wanted.part_number,
                    part.entry().size
                )));
            }
            found.push(part);
        }
        let encrypted = upload.record.mode != ProtectionMode::None;
        let entries: Vec<PartEntry> = found.iter().map(|part| part.entry().clone()).collect();
        let parts_len = entries
            .iter()
            .map(|entry| part_len(entry.size, encrypted))
            .sum();
        let object = NewObject {
            bucket,
            key,
            record: upload.record.clone(),
        };
        let trailer = object.trailer(self, &entries, parts_len)?;
        let mut part_ids: Vec<PartId> = Vec::with_capacity(found.len() + 1);
        let last = found
            .pop()
            .ok_or_else(|| Error::InvalidArgument("no parts".into()))?;
        for part in found {
            if let Found::Sent { part_id, .. } = part {
                part_ids.push(PartId {
                    content_id: part_id,
                });
            }
        }
        let count = listed.len() as u32;
        match last {
            Found::Sent { part_id, .. } => {
                part_ids.push(PartId {
                    content_id: part_id,
                });
                part_ids.push(self.put_backend_part(
                    (bucket, key),
                    direct,
                    count,
                    vec![trailer],
                )?);
            }
            Found::Staged(staged) => {
                let options = GetOptions {
                    range: Some(GetRange::Bounded(0..part_len(staged.entry.size, encrypted))),
                    if_match: staged.e_tag.clone(),
                    ..GetOptions::default()
                };
                let Fetched::Found(_, sealed) = self.inner.backend.get(&staged.path, options)?
                else {
                    return Err(Error::InvalidPart {
                        upload_id: id.clone(),
                        part_number: staged.entry.number,
                    });
                };
                let bytes = vec![sealed, trailer];
                part_ids.push(self.put_backend_part((bucket, key), direct, count - 1, bytes)?);
            }
        }
        let (path, backend_id) = (object_path(bucket, key)?, direct.backend_id.clone());
        let written = self.inner.backend.on_multipart(move |uploads| async move {
            uploads
                .complete_multipart(&path, &backend_id, part_ids)
                .await
        })?;
        self.completed(bucket, upload, written.e_tag.as_deref())
    }

    /// Aborts the backend's upload behind a direct one (gone already is
    /// fine; a failure is logged: a bucket lifecycle rule removes what is
    /// left).
    pub(crate) fn abort_direct(&self, (bucket, key): (&str, &str), direct: &Direct) {
        let Ok(path) = object_path(bucket, key) else {
            return;
        };
        let backend_id = direct.backend_id.clone();
        let aborted = self.inner.backend.on_multipart(move |uploads| async move {
            match uploads.abort_multipart(&path, &backend_id).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                result => result,
            }
        });
        if let Err(error) = aborted {
            tracing::warn!(%error, "could not abort a backend upload");
        }
    }
}
