//! Listings: ListObjects (v1 and v2) and ListObjectVersions (each object's
//! one version, `null`, is the latest).
//!
//! The v2 continuation token is the hex of the last key returned, which the
//! next page starts after. `encoding-type=url` percent-encodes keys and
//! prefixes in the answer, as S3 does (the aws CLI asks for it).

use coffer_sse::{Caller, ListOptions, ListResult, ObjectApi, ObjectSummary};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::{
    CommonPrefix, EncodingType, ListObjectVersionsInput, ListObjectVersionsOutput,
    ListObjectsInput, ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output, Object,
    ObjectStorageClass, ObjectVersion, ObjectVersionStorageClass, Owner,
};
use s3s::{S3Request, S3Response, S3Result};

use crate::errors::{invalid_argument, to_s3};
use crate::objects::etag_of;
use crate::{Gateway, blocking};

/// Keys per page when the request names no `max-keys`, and the most it may.
const MAX_KEYS: i32 = 1000;

/// What `encoding-type=url` leaves as it is: RFC 3986's unreserved
/// characters and `/`.
const KEY_ENCODING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// One page's request, as every list operation asks it.
struct Page {
    bucket: String,
    prefix: String,
    delimiter: Option<String>,
    start_after: Option<String>,
    max_keys: i32,
    url_encoded: bool,
}

impl Page {
    fn new(
        bucket: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        max_keys: Option<i32>,
        encoding: Option<&EncodingType>,
    ) -> S3Result<Self> {
        let url_encoded = match encoding.map(EncodingType::as_str) {
            None => false,
            Some(EncodingType::URL) => true,
            Some(other) => {
                return Err(invalid_argument(format!(
                    "encoding-type {other:?} is not supported (url)"
                )));
            }
        };
        let max_keys = max_keys.unwrap_or(MAX_KEYS);
        if max_keys < 0 {
            return Err(invalid_argument("max-keys must not be negative"));
        }
        Ok(Self {
            bucket,
            prefix: prefix.unwrap_or_default(),
            delimiter: delimiter.filter(|d| !d.is_empty()),
            start_after: None,
            max_keys: max_keys.min(MAX_KEYS),
            url_encoded,
        })
    }

    fn encode(&self, text: &str) -> String {
        if self.url_encoded {
            utf8_percent_encode(text, KEY_ENCODING).to_string()
        } else {
            text.to_owned()
        }
    }

    fn common_prefixes(&self, listed: &ListResult) -> Vec<CommonPrefix> {
        listed
            .common_prefixes
            .iter()
            .map(|prefix| CommonPrefix {
                prefix: Some(self.encode(prefix)),
            })
            .collect()
    }
}

impl<A: ObjectApi + 'static> Gateway<A> {
    async fn list_page(&self, page: &Page, caller: Caller) -> S3Result<ListResult> {
        if page.max_keys == 0 {
            // Still checked: a bucket that does not exist is NoSuchBucket.
            let this = self.clone();
            let bucket = page.bucket.clone();
            blocking(move || this.api().head_bucket_as(&bucket, &caller).map_err(to_s3)).await?;
            return Ok(ListResult::default());
        }
        let mut options = ListOptions::new()
            .prefix(&page.prefix)
            .max_keys(page.max_keys as usize);
        if let Some(delimiter) = &page.delimiter {
            options = options.delimiter(delimiter);
        }
        if let Some(after) = &page.start_after {
            options = options.start_after(after);
        }
        let this = self.clone();
        let bucket = page.bucket.clone();
        blocking(move || {
            this.api()
                .list_objects_as(&bucket, &options, &caller)
                .map_err(to_s3)
        })
        .await
    }

    pub(crate) async fn list_objects_op(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let caller = self.caller_of(&req)?;
        let owner = owner(&req);
        let input = req.input;
        let mut page = Page::new(
            input.bucket,
            input.prefix,
            input.delimiter,
            input.max_keys,
            input.encoding_type.as_ref(),
        )?;
        page.start_after = input.marker.clone().filter(|m| !m.is_empty());
        let listed = self.list_page(&page, caller).await?;
        let next_marker = match (&page.delimiter, listed.is_truncated) {
            (Some(_), true) => listed.next_start_after.as_deref().map(|m| page.encode(m)),
            _ => None,
        };
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(page.bucket.clone()),
            prefix: Some(page.encode(&page.prefix)),
            marker: Some(input.marker.unwrap_or_default()),
            max_keys: Some(page.max_keys),
            is_truncated: Some(listed.is_truncated),
            contents: Some(objects(&page, &listed.objects, Some(&owner))),
            common_prefixes: Some(page.common_prefixes(&listed)),
            delimiter: page.delimiter.as_deref().map(|d| page.encode(d)),
            next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    pub(crate) async fn list_objects_v2_op(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let caller = self.caller_of(&req)?;
        let owner = owner(&req);
        let input = req.input;
        let mut page = Page::new(
            input.bucket,
            input.prefix,
            input.delimiter,
            input.max_keys,
            input.encoding_type.as_ref(),
        )?;
        page.start_after = match &input.continuation_token {
            Some(token) => Some(from_token(token)?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let listed = self.list_page(&page, caller).await?;
        let key_count = listed.objects.len() + listed.common_prefixes.len();
        let next_token = match (listed.is_truncated, &listed.next_start_after) {
            (true, Some(after)) => Some(hex::encode(after)),
            _ => None,
        };
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(page.bucket.clone()),
            prefix: Some(page.encode(&page.prefix)),
            max_keys: Some(page.max_keys),
            key_count: Some(key_count as i32),
            continuation_token: input.continuation_token,
            is_truncated: Some(listed.is_truncated),
            next_continuation_token: next_token,
            contents: Some(objects(
                &page,
                &listed.objects,
                input.fetch_owner.unwrap_or(false).then_some(&owner),
            )),
            common_prefixes: Some(page.common_prefixes(&listed)),
            delimiter: page.delimiter.as_deref().map(|d| page.encode(d)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|s| page.encode(&s)),
            ..Default::default()
        }))
    }

    pub(crate) async fn list_object_versions_op(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let caller = self.caller_of(&req)?;
        let owner = owner(&req);
        let input = req.input;
        let mut page = Page::new(
            input.bucket,
            input.prefix,
            input.delimiter,
            input.max_keys,
            input.encoding_type.as_ref(),
        )?;
        page.start_after = input.key_marker.clone().filter(|m| !m.is_empty());
        let listed = self.list_page(&page, caller).await?;
        let versions = listed
            .objects
            .iter()
            .map(|object| ObjectVersion {
                e_tag: Some(etag_of(&object.etag)),
                is_latest: Some(true),
                key: Some(page.encode(&object.key)),
                last_modified: Some(crate::whole_seconds(object.last_modified)),
                owner: Some(owner.clone()),
                size: Some(object.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from(
                    ObjectVersionStorageClass::STANDARD.to_owned(),
                )),
                version_id: Some("null".to_owned()),
                ..Default::default()
            })
            .collect();
        let next_key_marker = listed
            .is_truncated
            .then(|| listed.next_start_after.as_deref().map(|m| page.encode(m)))
            .flatten();
        Ok(S3Response::new(ListObjectVersionsOutput {
            common_prefixes: Some(page.common_prefixes(&listed)),
            delimiter: page.delimiter.as_deref().map(|d| page.encode(d)),
            encoding_type: input.encoding_type,
            is_truncated: Some(listed.is_truncated),
            key_marker: input.key_marker,
            max_keys: Some(page.max_keys),
            name: Some(page.bucket.clone()),
            next_version_id_marker: next_key_marker.as_ref().map(|_| "null".to_owned()),
            next_key_marker,
            prefix: Some(page.encode(&page.prefix)),
            version_id_marker: input.version_id_marker,
            versions: Some(versions),
            ..Default::default()
        }))
    }
}

/// The listed objects, each with `owner` when given (ListObjects v1 always
/// names it, as S3 does; v2 with `fetch-owner`).
fn objects(page: &Page, objects: &[ObjectSummary], owner: Option<&Owner>) -> Vec<Object> {
    objects
        .iter()
        .map(|object| Object {
            owner: owner.cloned(),
            e_tag: Some(etag_of(&object.etag)),
            key: Some(page.encode(&object.key)),
            last_modified: Some(crate::whole_seconds(object.last_modified)),
            size: Some(object.size as i64),
            storage_class: Some(ObjectStorageClass::from(
                ObjectStorageClass::STANDARD.to_owned(),
            )),
            ..Default::default()
        })
        .collect()
}

fn from_token(token: &str) -> S3Result<String> {
    hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid_argument("the continuation token is not one this gateway gave"))
}

/// The owner listings report: the access key that asked.
pub(crate) fn owner<T>(req: &S3Request<T>) -> Owner {
    let id = match (
        &req.credentials,
        req.extensions.get::<crate::oss::VerifiedOss>(),
    ) {
        (Some(credentials), _) => Some(credentials.access_key.clone()),
        (None, Some(verified)) => Some(verified.access_key.clone()),
        (None, None) => None,
    };
    Owner {
        display_name: id.clone(),
        id,
    }
}
