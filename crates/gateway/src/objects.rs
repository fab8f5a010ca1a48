//! Objects: put, get, head, copy, delete, and delete of many.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use coffer_sse::{
    ByteRange, CopyOptions, GetConditions, ObjectApi, ObjectAttributes, ObjectMeta, PutCondition,
    PutOptions,
};
use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource, DeleteObjectInput,
    DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject, ETag,
    ETagCondition, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput,
    MetadataDirective, PutObjectInput, PutObjectOutput, Range, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result};

use crate::body::{Outgoing, incoming};
use crate::errors::{invalid_argument, to_s3};
use crate::sse::{Reported, refuse_on_read};
use crate::{Gateway, blocking};

/// The protection, attributes and user metadata a write's headers ask for,
/// from any `s3s` input that carries S3's write headers (PutObject,
/// CreateMultipartUpload, CopyObject): `(rule, attributes, metadata)`, the
/// rule `InvalidArgument` if the SSE headers are wrong.
macro_rules! write_headers {
    ($input:ident) => {
        (
            crate::sse::requested_rule(
                $input.server_side_encryption.as_ref(),
                $input.ssekms_key_id.as_deref(),
                $input.bucket_key_enabled,
            ),
            crate::objects::attributes(
                $input.content_type.map(|t| t.to_string()),
                $input.content_disposition,
                $input.content_encoding,
                $input.content_language,
                $input.cache_control,
            ),
            crate::objects::user_metadata($input.metadata),
        )
    };
}
pub(crate) use write_headers;

impl<A: ObjectApi + 'static> Gateway<A> {
    pub(crate) async fn put_object_op(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        refuse_sse_c(&req.headers)?;
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let (encryption, attributes, user_metadata) = write_headers!(input);
        let encryption = encryption?;
        let condition = self
            .write_condition(
                (&input.bucket, &input.key),
                input.if_match.as_ref(),
                input.if_none_match.as_ref(),
                &caller,
            )
            .await?;
        let mut options = PutOptions::default()
            .with_encryption(encryption)
            .with_attributes(attributes);
        options.user_metadata = user_metadata;
        options.condition = condition;
        let body = incoming(input.body, input.content_length, self.inner.max_object_size).await?;
        let this = self.clone();
        let (bucket, key) = (input.bucket, input.key);
        let put = blocking(move || {
            this.api()
                .put_object_as(&bucket, &key, body.payload(), options, &caller)
                .map_err(to_s3)
        })
        .await?;
        let reported = Reported::of(&put.protection);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag_of(&put.etag)),
            server_side_encryption: reported.algorithm,
            ssekms_key_id: reported.kms_key_id,
            bucket_key_enabled: reported.bucket_key,
            ..Default::default()
        }))
    }

    pub(crate) async fn get_object_op(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        refuse_on_read(&req.headers)?;
        refuse_sse_c(&req.headers)?;
        let caller = self.caller_of(&req)?;
        let input = req.input;
        refuse_versions_and_parts(input.version_id.as_deref(), input.part_number)?;
        let conditions = get_conditions(
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        );
        let range = input.range.map(byte_range);
        let ranged = range.is_some();
        let this = self.clone();
        let (bucket, key) = (input.bucket, input.key);
        let opened = blocking(move || {
            let stream = this
                .api()
                .get_object_stream_range_as(&bucket, &key, range.as_ref(), &conditions, &caller)
                .map_err(to_s3)?;
            Outgoing::read_first(stream)
        })
        .await?;
        let meta = coffer_sse::PlaintextStream::meta(&opened.stream).clone();
        let range = opened.range.clone();
        let reported = Reported::of(&meta.protection);
        let length = range.end - range.start;
        let content_range = ranged.then(|| content_range(&range, meta.size));
        let attributes = meta.attributes.clone();
        Ok(S3Response::new(GetObjectOutput {
            body: Some(opened.into_body()),
            accept_ranges: Some("bytes".into()),
            content_length: Some(length as i64),
            content_range,
            e_tag: Some(etag_of(&meta.etag)),
            last_modified: Some(crate::whole_seconds(meta.last_modified)),
            metadata: Some(meta.user_metadata.into_iter().collect()),
            content_type: input.response_content_type.or(attributes.content_type),
            content_disposition: input
                .response_content_disposition
                .or(attributes.content_disposition),
            content_encoding: input
                .response_content_encoding
                .or(attributes.content_encoding),
            content_language: input
                .response_content_language
                .or(attributes.content_language),
            cache_control: input.response_cache_control.or(attributes.cache_control),
            server_side_encryption: reported.algorithm,
            ssekms_key_id: reported.kms_key_id,
            bucket_key_enabled: reported.bucket_key,
            ..Default::default()
        }))
    }

    pub(crate) async fn head_object_op(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        refuse_on_read(&req.headers)?;
        refuse_sse_c(&req.headers)?;
        let caller = self.caller_of(&req)?;
        let input = req.input;
        refuse_versions_and_parts(input.version_id.as_deref(), input.part_number)?;
        let conditions = get_conditions(
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        );
        let this = self.clone();
        let (bucket, key) = (input.bucket, input.key);
        let meta: ObjectMeta = blocking(move || {
            this.api()
                .head_object_as(&bucket, &key, &conditions, &caller)
                .map_err(to_s3)
        })
        .await?;
        let (length, content_range) = match input.range.map(byte_range) {
            Some(range) => {
                let range = range.resolve(meta.size).map_err(to_s3)?;
                (
                    range.end - range.start,
                    Some(content_range(&range, meta.size)),
                )
            }
            None => (meta.size, None),
        };
        let reported = Reported::of(&meta.protection);
        let attributes = meta.attributes;
        Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some(length as i64),
            content_range,
            e_tag: Some(etag_of(&meta.etag)),
            last_modified: Some(crate::whole_seconds(meta.last_modified)),
            metadata: Some(meta.user_metadata.into_iter().collect()),
            content_type: attributes.content_type.and_then(|t| t.parse().ok()),
            content_disposition: attributes.content_disposition,
            content_encoding: attributes.content_encoding,
            content_language: attributes.content_language,
            cache_control: attributes.cache_control,
            server_side_encryption: reported.algorithm,
            ssekms_key_id: reported.kms_key_id,
            bucket_key_enabled: reported.bucket_key,
            ..Default::default()
        }))
    }

    pub(crate) async fn delete_object_op(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let caller = self.caller_of(&req)?;
        let input = req.input;
        refuse_versions_and_parts(input.version_id.as_deref(), None)?;
        let this = self.clone();
        let (bucket, key) = (input.bucket, input.key);
        blocking(move || {
            this.api()
                .delete_object_as(&bucket, &key, &caller)
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(crate) async fn delete_objects_op(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let quiet = input.delete.quiet.unwrap_or(false);
        let keys: Vec<String> = input.delete.objects.into_iter().map(|o| o.key).collect();
        if keys.len() > 1000 {
            return Err(s3s::s3_error!(
                MalformedXML,
                "at most 1000 keys per DeleteObjects"
            ));
        }
        let this = self.clone();
        let bucket = input.bucket;
        let (deleted, errors) = blocking(move || {
            let mut deleted = Vec::new();
            let mut errors = Vec::new();
            for key in keys {
                match this.api().delete_object_as(&bucket, &key, &caller) {
                    Ok(()) => deleted.push(DeletedObject {
                        key: Some(key),
                        ..Default::default()
                    }),
                    Err(error) => {
                        let error = to_s3(error);
                        errors.push(s3s::dto::Error {
                            code: Some(error.code().as_str().to_owned()),
                            key: Some(key),
                            message: error.message().map(str::to_owned),
                            version_id: None,
                        });
                    }
                }
            }
            Ok((deleted, errors))
        })
        .await?;
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet).then_some(deleted),
            errors: Some(errors),
            ..Default::default()
        }))
    }

    pub(crate) async fn copy_object_op(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        refuse_sse_c(&req.headers)?;
        let caller = self.caller_of(&req)?;
        let input = req.input;
        let (source_bucket, source_key) = copy_source(&input.copy_source)?;
        let source_conditions = get_conditions(
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        );
        if !source_conditions.is_empty() {
            // Checked on the source as it is now; a copy over itself also
            // commits only if the object is still the one read.
            let this = self.clone();
            let (b, k, c) = (source_bucket.clone(), source_key.clone(), caller.clone());
            blocking(
                move || match this.api().head_object_as(&b, &k, &source_conditions, &c) {
                    Ok(_) => Ok(()),
                    Err(coffer_sse::Error::NotModified { bucket, key }) => {
                        Err(to_s3(coffer_sse::Error::PreconditionFailed {
                            bucket,
                            key,
                            condition: "x-amz-copy-source-if-none-match / -if-modified-since"
                                .into(),
                        }))
                    }
                    Err(error) => Err(to_s3(error)),
                },
            )
            .await?;
        }
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let (encryption, attributes, user_metadata) = write_headers!(input);
        let mut options = CopyOptions::default().with_encryption(encryption?);
        if replace {
            options = options.with_metadata_replaced(attributes, user_metadata);
        }
        let this = self.clone();
        let (bucket, key) = (input.bucket, input.key);
        let copied = blocking(move || {
            this.api()
                .copy_object_as(
                    (&source_bucket, &source_key),
                    (&bucket, &key),
                    options,
                    &caller,
                )
                .map_err(to_s3)
        })
        .await?;
        let reported = Reported::of(&copied.protection);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag_of(&copied.etag)),
                last_modified: Some(crate::whole_seconds(SystemTime::now())),
                ..Default::default()
            }),
            server_side_encryption: reported.algorithm,
            ssekms_key_id: reported.kms_key_id,
            bucket_key_enabled: reported.bucket_key,
            ..Default::default()
        }))
    }
}

/// An object's attributes from a request's headers.
pub(crate) fn attributes(
    content_type: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
) -> ObjectAttributes {
    let mut attributes = ObjectAttributes::new();
    attributes.content_type = content_type;
    attributes.content_disposition = content_disposition;
    attributes.content_encoding = content_encoding;
    attributes.content_language = content_language;
    attributes.cache_control = cache_control;
    attributes
}

impl<A: ObjectApi + 'static> Gateway<A> {
    /// The condition of a write: [`put_condition`]'s, or one decided on the
    /// object as it is now for the two forms the engine takes no part in
    /// (`If-Match: *`: it must exist; `If-None-Match: "etag"`: it must not be
    /// that version), made exact with `If-Match` on the ETag found.
    pub(crate) async fn write_condition(
        &self,
        (bucket, key): (&str, &str),
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        caller: &coffer_sse::Caller,
    ) -> S3Result<PutCondition> {
        let unless = match (if_match, if_none_match) {
            (Some(ETagCondition::Any), None) => None,
            (None, Some(ETagCondition::ETag(etag))) => Some(quoted(etag)),
            (if_match, if_none_match) => return put_condition(if_match, if_none_match),
        };
        let this = self.clone();
        let (b, k, c) = (bucket.to_owned(), key.to_owned(), caller.clone());
        let current =
            blocking(
                move || match this.api().head_object_as(&b, &k, &GetConditions::new(), &c) {
                    Ok(meta) => Ok(Some(meta.etag)),
                    Err(coffer_sse::Error::NoSuchKey { .. }) => Ok(None),
                    Err(error) => Err(to_s3(error)),
                },
            )
            .await?;
        let failed = || {
            to_s3(coffer_sse::Error::PreconditionFailed {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                condition: "If-Match / If-None-Match".into(),
            })
        };
        match (current, unless) {
            (None, None) => Err(failed()),
            (None, Some(_)) => Ok(PutCondition::IfNotExists),
            (Some(current), Some(unless))
                if current.trim_matches('"') == unless.trim_matches('"') =>
            {
                Err(failed())
            }
            (Some(current), _) => Ok(PutCondition::IfMatch(current)),
        }
    }
}

/// coffer's ETag (quoted) as s3s carries it (the value inside the quotes).
pub(crate) fn etag_of(etag: &str) -> ETag {
    ETag::Strong(etag.trim_matches('"').to_owned())
}

/// An ETag as an HTTP header value, quoted.
fn quoted(etag: &ETag) -> String {
    match etag {
        ETag::Strong(value) => format!("\"{value}\""),
        ETag::Weak(value) => format!("W/\"{value}\""),
    }
}

fn condition_value(condition: &ETagCondition) -> String {
    match condition {
        ETagCondition::Any => "*".to_owned(),
        ETagCondition::ETag(etag) => quoted(etag),
    }
}

fn system_time(timestamp: &Timestamp) -> SystemTime {
    time::OffsetDateTime::from(timestamp.clone()).into()
}

pub(crate) fn get_conditions(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> GetConditions {
    let mut conditions = GetConditions::new();
    conditions.if_match = if_match.map(condition_value);
    conditions.if_none_match = if_none_match.map(condition_value);
    conditions.if_modified_since = if_modified_since.map(system_time);
    conditions.if_unmodified_since = if_unmodified_since.map(system_time);
    conditions
}

/// A conditional write: `If-None-Match: *` (create only) or `If-Match: etag`.
pub(crate) fn put_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<PutCondition> {
    match (if_match, if_none_match) {
        (None, None) => Ok(PutCondition::None),
        (None, Some(ETagCondition::Any)) => Ok(PutCondition::IfNotExists),
        (Some(ETagCondition::ETag(etag)), None) => Ok(PutCondition::IfMatch(quoted(etag))),
        (Some(ETagCondition::Any), None) => Err(s3s::s3_error!(
            NotImplemented,
            "If-Match: * on a write is not supported; name the ETag"
        )),
        (None, Some(_)) => Err(s3s::s3_error!(
            NotImplemented,
            "If-None-Match on a write takes only *"
        )),
        (Some(_), Some(_)) => Err(invalid_argument(
            "If-Match and If-None-Match cannot both be given on a write",
        )),
    }
}

pub(crate) fn byte_range(range: Range) -> ByteRange {
    match range {
        Range::Int {
            first,
            last: Some(last),
        } => ByteRange::Bounded(first..last.saturating_add(1)),
        Range::Int { first, last: None } => ByteRange::From(first),
        Range::Suffix { length } => ByteRange::Suffix(length),
    }
}

fn content_range(range: &std::ops::Range<u64>, size: u64) -> String {
    if range.is_empty() {
        return format!("bytes */{size}");
    }
    format!("bytes {}-{}/{size}", range.start, range.end - 1)
}

pub(crate) fn user_metadata(metadata: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    metadata.unwrap_or_default().into_iter().collect()
}

pub(crate) fn copy_source(source: &CopySource) -> S3Result<(String, String)> {
    match source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => {
            refuse_versions_and_parts(version_id.as_deref(), None)?;
            Ok((bucket.to_string(), key.to_string()))
        }
        _ => Err(s3s::s3_error!(
            NotImplemented,
            "copy sources through access points are not supported"
        )),
    }
}

/// Refuses SSE-C (customer-provided keys): coffer keeps every key in its
/// keyring or KMS, and a client that sent its own key must not be told its
/// object was stored under it.
pub(crate) fn refuse_sse_c(headers: &hyper::HeaderMap) -> S3Result<()> {
    let customer = headers
        .keys()
        .any(|name| name.as_str().contains("server-side-encryption-customer-"));
    if customer {
        return Err(s3s::s3_error!(
            NotImplemented,
            "SSE-C (x-amz-server-side-encryption-customer-*) is not supported: coffer keeps every key in its keyring or KMS"
        ));
    }
    Ok(())
}

/// coffer keeps one version of each object, and reads whole objects or
/// ranges, not stored parts.
fn refuse_versions_and_parts(version_id: Option<&str>, part_number: Option<i32>) -> S3Result<()> {
    if version_id.is_some_and(|v| v != "null") {
        return Err(invalid_argument(
            "coffer keeps one version of each object: versionId must be null or absent",
        ));
    }
    if part_number.is_some() {
        return Err(s3s::s3_error!(
            NotImplemented,
            "reads by partNumber are not supported; read a range"
        ));
    }
    Ok(())
}
