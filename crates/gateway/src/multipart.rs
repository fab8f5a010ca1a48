//! Multipart uploads: create, upload a part (or copy one from an object),
//! complete, abort, and list the uploads in progress.

use coffer_sse::{CompletedPart, ObjectApi, PutOptions};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CopyPartResult, CreateMultipartUploadInput,
    CreateMultipartUploadOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput,
    ListPartsInput, ListPartsOutput, MultipartUpload, Part, Range, UploadPartCopyInput,
    UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3Request, S3Response, S3Result};

use crate::body::incoming;
use crate::errors::{invalid_argument, to_s3};
use crate::objects::{
    byte_range, copy_source, etag_of, get_conditions, put_condition, write_headers,
};
use crate::sse::Reported;
use crate::{Gateway, blocking};

/// Uploads listed per page when the request names no `max-uploads`.
const MAX_UPLOADS: i32 = 1000;

impl<A: ObjectApi + 'static> Gateway<A> {
    pub(crate) async fn create_multipart_upload_op(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        crate::objects::refuse_sse_c(&req.headers)?;
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let (encryption, attributes, user_metadata) = write_headers!(input);
        let encryption = encryption?;
        let reported = encryption
            .as_ref()
            .map(Reported::requested)
            .unwrap_or_default();
        let mut options = PutOptions::default()
            .with_encryption(encryption)
            .with_attributes(attributes);
        options.user_metadata = user_metadata;
        let this = self.clone();
        let (bucket, key) = (input.bucket, input.key);
        let (b, k) = (bucket.clone(), key.clone());
        let upload_id = blocking(move || {
            this.api()
                .create_multipart_upload_as(&b, &k, options, &caller)
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(bucket),
            key: Some(key),
            upload_id: Some(upload_id),
            server_side_encryption: reported.algorithm,
            ssekms_key_id: reported.kms_key_id,
            bucket_key_enabled: reported.bucket_key,
            ..Default::default()
        }))
    }

    pub(crate) async fn upload_part_op(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        crate::objects::refuse_sse_c(&req.headers)?;
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let part_number = part_number(input.part_number)?;
        let body = incoming(input.body, input.content_length, self.inner.max_object_size).await?;
        let this = self.clone();
        let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
        let part = blocking(move || {
            this.api()
                .upload_part_as(
                    &bucket,
                    &key,
                    &upload_id,
                    part_number,
                    body.payload(),
                    &caller,
                )
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag_of(&part.etag)),
            ..Default::default()
        }))
    }

    pub(crate) async fn upload_part_copy_op(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        crate::objects::refuse_sse_c(&req.headers)?;
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let part_number = part_number(input.part_number)?;
        let (source_bucket, source_key) = copy_source(&input.copy_source)?;
        let range = match &input.copy_source_range {
            Some(header) => Some(byte_range(Range::parse(header).map_err(|_| {
                invalid_argument(format!(
                    "x-amz-copy-source-range {header:?} is not bytes=first-last"
                ))
            })?)),
            None => None,
        };
        let conditions = get_conditions(
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        );
        let this = self.clone();
        let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
        let part = blocking(move || {
            let api = this.api();
            let source = api
                .get_object_stream_range_as(
                    &source_bucket,
                    &source_key,
                    range.as_ref(),
                    &conditions,
                    &caller,
                )
                .map_err(to_s3)?;
            let payload =
                coffer_sse::PutPayload::Reader(Box::new(coffer_sse::ChunksReader::new(source)));
            api.upload_part_as(&bucket, &key, &upload_id, part_number, payload, &caller)
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag_of(&part.etag)),
                last_modified: Some(crate::whole_seconds(std::time::SystemTime::now())),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    pub(crate) async fn complete_multipart_upload_op(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let condition = put_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let listed = input
            .multipart_upload
            .and_then(|upload| upload.parts)
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(s3s::s3_error!(
                MalformedXML,
                "CompleteMultipartUpload must list at least one part"
            ));
        }
        let mut parts = Vec::with_capacity(listed.len());
        for part in listed {
            let (Some(number), Some(etag)) = (part.part_number, part.e_tag) else {
                return Err(s3s::s3_error!(
                    MalformedXML,
                    "every Part needs a PartNumber and an ETag"
                ));
            };
            let number = part_number(number)?;
            parts.push(CompletedPart::new(number, &format!("\"{}\"", etag.value())));
        }
        let this = self.clone();
        let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
        let (b, k) = (bucket.clone(), key.clone());
        let put = blocking(move || {
            this.api()
                .complete_multipart_upload_as(&b, &k, &upload_id, &parts, &condition, &caller)
                .map_err(to_s3)
        })
        .await?;
        let reported = Reported::of(&put.protection);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("/{bucket}/{key}")),
            bucket: Some(bucket),
            key: Some(key),
            e_tag: Some(etag_of(&put.etag)),
            server_side_encryption: reported.algorithm,
            ssekms_key_id: reported.kms_key_id,
            bucket_key_enabled: reported.bucket_key,
            ..Default::default()
        }))
    }

    pub(crate) async fn abort_multipart_upload_op(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let this = self.clone();
        let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
        blocking(move || {
            this.api()
                .abort_multipart_upload_as(&bucket, &key, &upload_id, &caller)
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(crate) async fn list_multipart_uploads_op(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let caller = self.caller_of(&req)?;
        let owner = crate::listing::owner(&req);
        let input = req.input;
        let max = input
            .max_uploads
            .unwrap_or(MAX_UPLOADS)
            .clamp(0, MAX_UPLOADS) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let this = self.clone();
        let bucket = input.bucket.clone();
        let mut uploads = blocking(move || {
            this.api()
                .list_multipart_uploads_as(&bucket, &caller)
                .map_err(to_s3)
        })
        .await?;
        uploads.retain(|u| u.key.starts_with(&prefix));
        uploads.sort_by(|a, b| {
            (&a.key, a.initiated, &a.upload_id).cmp(&(&b.key, b.initiated, &b.upload_id))
        });
        // After (key-marker, upload-id-marker): the uploads of later keys, and
        // of the marker's key those listed after the marker's upload.
        if let Some(marker) = input.key_marker.as_deref().filter(|m| !m.is_empty()) {
            let after_id = input.upload_id_marker.as_deref();
            let position = uploads.iter().position(|u| match after_id {
                Some(id) => {
                    u.key.as_str() > marker || (u.key == marker && u.upload_id.as_str() == id)
                }
                None => u.key.as_str() > marker,
            });
            let skip = match (position, after_id) {
                (Some(i), Some(id)) if uploads[i].upload_id == id => i + 1,
                (Some(i), _) => i,
                (None, _) => uploads.len(),
            };
            uploads.drain(..skip);
        }
        let is_truncated = uploads.len() > max;
        uploads.truncate(max);
        let last = uploads.last().cloned();
        let listed = uploads
            .into_iter()
            .map(|upload| MultipartUpload {
                initiated: Some(crate::whole_seconds(upload.initiated)),
                initiator: Some(s3s::dto::Initiator {
                    display_name: owner.display_name.clone(),
                    id: owner.id.clone(),
                }),
                key: Some(upload.key),
                owner: Some(owner.clone()),
                upload_id: Some(upload.upload_id),
                ..Default::default()
            })
            .collect();
        let (next_key, next_id) = match (is_truncated, last) {
            (true, Some(last)) => (Some(last.key), Some(last.upload_id)),
            _ => (None, None),
        };
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            is_truncated: Some(is_truncated),
            key_marker: input.key_marker,
            max_uploads: Some(max as i32),
            next_key_marker: next_key,
            next_upload_id_marker: next_id,
            prefix: input.prefix,
            upload_id_marker: input.upload_id_marker,
            uploads: Some(listed),
            ..Default::default()
        }))
    }
}

impl<A: ObjectApi + 'static> Gateway<A> {
    pub(crate) async fn list_parts_op(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let caller = self.caller_of(&req)?;
        let owner = crate::listing::owner(&req);
        let input = req.input;
        let max = input.max_parts.unwrap_or(MAX_UPLOADS).clamp(0, MAX_UPLOADS) as usize;
        let after = u32::try_from(input.part_number_marker.unwrap_or(0))
            .map_err(|_| invalid_argument("part-number-marker must be a part number"))?;
        let this = self.clone();
        let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
        let (b, k, u) = (bucket.clone(), key.clone(), upload_id.clone());
        let mut parts =
            blocking(move || this.api().list_parts_as(&b, &k, &u, &caller).map_err(to_s3)).await?;
        parts.retain(|part| part.part_number > after);
        let is_truncated = parts.len() > max;
        parts.truncate(max);
        let next = is_truncated
            .then(|| parts.last().map(|p| p.part_number as i32))
            .flatten();
        let listed = parts
            .into_iter()
            .map(|part| Part {
                e_tag: Some(etag_of(&part.etag)),
                part_number: Some(part.part_number as i32),
                size: Some(part.size as i64),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(bucket),
            key: Some(key),
            upload_id: Some(upload_id),
            initiator: Some(s3s::dto::Initiator {
                display_name: owner.display_name.clone(),
                id: owner.id.clone(),
            }),
            owner: Some(owner),
            is_truncated: Some(is_truncated),
            max_parts: Some(max as i32),
            next_part_number_marker: next,
            part_number_marker: input.part_number_marker,
            parts: Some(listed),
            ..Default::default()
        }))
    }
}

/// A part number S3 allows: 1 to 10,000.
fn part_number(number: i32) -> S3Result<u32> {
    u32::try_from(number)
        .ok()
        .filter(|n| (1..=coffer_sse::MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| invalid_argument(format!("part number {number} is not between 1 and 10000")))
}
