//! `ObjectStore` and `PaginatedListStore` for [`CofferObjectStore`]: each
//! call is the matching coffer call, run on the blocking pool.
//!
//! | `object_store` | coffer |
//! | --- | --- |
//! | `put_opts`, `PutMode::Overwrite` / `Create` / `Update(e_tag)` | `put_object` with no condition / `IfNotExists` / `IfMatch(e_tag)` |
//! | `put_multipart_opts` | `create_multipart_upload`, `upload_part`, `complete_multipart_upload` |
//! | `get_opts` (conditions, range, head) | `get_object_stream` (`head_object_if` for a head) |
//! | `delete_stream` | `delete_object` (a missing object is not an error) |
//! | `list`, `list_with_offset`, `list_with_delimiter` | `list_objects` with the prefix `p/`, `start_after`, delimiter `/` |
//! | `copy_opts`, `CopyMode::Overwrite` / `Create` | `copy_object` with no condition / `IfNotExists` |
//! | `rename_opts` | the trait's default: copy, then delete |
//! | `list_paginated` | `list_objects` with the raw prefix; the page token is the last key listed |

use async_trait::async_trait;
use coffer_sse::{
    CopyOptions as StoreCopy, ObjectApi, PutCondition, PutOptions as StorePut,
    PutPayload as StorePayload,
};
use futures_util::stream::{BoxStream, StreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListResult, PaginatedListStore};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, Extensions, GetOptions, GetResult, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::error::to_object_store;
use crate::list::key_prefix;
use crate::multipart::Upload;
use crate::payload::PayloadBody;
use crate::{CofferObjectStore, attributes, blocking};

/// Deletes in flight at once in `delete_stream`.
const CONCURRENT_DELETES: usize = 8;

/// coffer's put result as `object_store`'s: the ETag, and the protection in
/// the extensions.
pub(crate) fn put_result(result: coffer_sse::PutResult) -> PutResult {
    let mut extensions = Extensions::new();
    extensions.insert(result.protection);
    PutResult {
        e_tag: Some(result.etag),
        version: None,
        extensions,
    }
}

fn condition(mode: PutMode, path: &Path) -> object_store::Result<PutCondition> {
    Ok(match mode {
        PutMode::Overwrite => PutCondition::None,
        PutMode::Create => PutCondition::IfNotExists,
        PutMode::Update(version) => match version.e_tag {
            Some(etag) => PutCondition::IfMatch(etag),
            None => {
                return Err(object_store::Error::Precondition {
                    path: path.to_string(),
                    source: "coffer keeps no object versions: an update needs the ETag".into(),
                });
            }
        },
    })
}

#[async_trait]
impl<A: ObjectApi + 'static> ObjectStore for CofferObjectStore<A> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        // Tags are not kept, as the trait asks of a store without tagging.
        let requested = attributes::requested(&opts.attributes)?;
        let mut put = StorePut::default()
            .with_encryption(requested.rule)
            .with_condition(condition(opts.mode, location)?);
        put.attributes = requested.attributes;
        put.user_metadata = requested.user_metadata;
        let (this, path) = (self.clone(), location.to_string());
        blocking(move || {
            let inner = &this.inner;
            let payload = match PayloadBody::new(payload) {
                PayloadBody::Whole(body) => StorePayload::Bytes(body),
                PayloadBody::Chunks(reader) => StorePayload::Reader(Box::new(reader)),
            };
            inner
                .api
                .put_object_as(&inner.bucket, &path, payload, put, &inner.caller)
                .map(put_result)
                .map_err(|e| to_object_store(e, &path))
        })
        .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let upload_id = self.create_upload(location, opts).await?;
        Ok(Box::new(Upload::new(
            self.clone(),
            location.clone(),
            upload_id,
        )))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.get_with(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let this = self.clone();
        locations
            .map(move |location| {
                let this = this.clone();
                async move {
                    let location = location?;
                    let path = location.to_string();
                    blocking(move || {
                        let inner = &this.inner;
                        inner
                            .api
                            .delete_object_as(&inner.bucket, &path, &inner.caller)
                            .map_err(|e| to_object_store(e, &path))
                    })
                    .await?;
                    Ok(location)
                }
            })
            .buffered(CONCURRENT_DELETES)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.list_from(key_prefix(prefix), None)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.list_from(key_prefix(prefix), Some(offset.to_string()))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.list_directory(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let condition = match options.mode {
            CopyMode::Overwrite => PutCondition::None,
            CopyMode::Create => PutCondition::IfNotExists,
        };
        let copy = StoreCopy::default().with_condition(condition);
        let (this, source, destination) = (self.clone(), from.to_string(), to.to_string());
        blocking(move || {
            let (inner, bucket) = (&this.inner, &this.inner.bucket);
            inner
                .api
                .copy_object_as(
                    (bucket, &source),
                    (bucket, &destination),
                    copy,
                    &inner.caller,
                )
                .map_err(|e| match e {
                    // The source is what is missing.
                    e @ coffer_sse::Error::NoSuchKey { .. } => to_object_store(e, &source),
                    e => to_object_store(e, &destination),
                })
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl<A: ObjectApi + 'static> PaginatedListStore for CofferObjectStore<A> {
    async fn list_paginated(
        &self,
        prefix: Option<&str>,
        opts: PaginatedListOptions,
    ) -> object_store::Result<PaginatedListResult> {
        self.list_page(prefix, opts).await
    }
}
