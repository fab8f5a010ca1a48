//! Multipart uploads, both ways `object_store` offers them:
//!
//! - [`object_store::MultipartUpload`] (from `put_multipart`): parts are
//!   numbered in the order `put_part` is called (1, 2, …), may be in flight
//!   concurrently, and are completed in that order.
//! - [`object_store::MultipartStore`]: part index `i` is coffer's part number
//!   `i + 1`; a part's `content_id` is the ETag coffer returned for it.
//!
//! Each part is sealed as it arrives, in a blocking call; its payload is
//! read chunk by chunk, never gathered into one buffer.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use coffer_sse::{
    CompletedPart, MAX_PART_NUMBER, ObjectApi, PutCondition as StoreCondition, PutOptions,
    PutPayload as StorePayload, UploadedPart,
};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutMultipartOptions, PutPayload, PutResult, UploadPart};
use parking_lot::Mutex;

use crate::error::to_object_store;
use crate::object_store_impl::put_result;
use crate::payload::PayloadBody;
use crate::{CofferObjectStore, attributes, blocking};

impl<A: ObjectApi + 'static> CofferObjectStore<A> {
    pub(crate) async fn create_upload(
        &self,
        location: &Path,
        options: PutMultipartOptions,
    ) -> object_store::Result<String> {
        // Tags are not kept, as the trait asks of a store without tagging.
        let requested = attributes::requested(&options.attributes)?;
        let mut put = PutOptions::default().with_encryption(requested.rule);
        put.attributes = requested.attributes;
        put.user_metadata = requested.user_metadata;
        let (this, path) = (self.clone(), location.to_string());
        blocking(move || {
            let inner = &this.inner;
            inner
                .api
                .create_multipart_upload_as(&inner.bucket, &path, put, &inner.caller)
                .map_err(|e| to_object_store(e, &path))
        })
        .await
    }

    pub(crate) async fn upload_part(
        &self,
        location: &Path,
        upload_id: &str,
        part_number: u32,
        payload: PutPayload,
    ) -> object_store::Result<UploadedPart> {
        let (this, path, upload_id) = (self.clone(), location.to_string(), upload_id.to_owned());
        blocking(move || {
            let inner = &this.inner;
            let payload = match PayloadBody::new(payload) {
                PayloadBody::Whole(body) => StorePayload::Bytes(body),
                PayloadBody::Chunks(reader) => StorePayload::Reader(Box::new(reader)),
            };
            let (bucket, caller) = (&inner.bucket, &inner.caller);
            inner
                .api
                .upload_part_as(bucket, &path, &upload_id, part_number, payload, caller)
                .map_err(|e| to_object_store(e, &path))
        })
        .await
    }

    pub(crate) async fn complete_upload(
        &self,
        location: &Path,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> object_store::Result<PutResult> {
        let (this, path, upload_id) = (self.clone(), location.to_string(), upload_id.to_owned());
        blocking(move || {
            let inner = &this.inner;
            let none = StoreCondition::None;
            let (bucket, caller) = (&inner.bucket, &inner.caller);
            inner
                .api
                .complete_multipart_upload_as(bucket, &path, &upload_id, &parts, &none, caller)
                .map(put_result)
                .map_err(|e| to_object_store(e, &path))
        })
        .await
    }

    pub(crate) async fn abort_upload(
        &self,
        location: &Path,
        upload_id: &str,
    ) -> object_store::Result<()> {
        let (this, path, upload_id) = (self.clone(), location.to_string(), upload_id.to_owned());
        blocking(move || {
            let inner = &this.inner;
            inner
                .api
                .abort_multipart_upload_as(&inner.bucket, &path, &upload_id, &inner.caller)
                .map_err(|e| to_object_store(e, &path))
        })
        .await
    }
}

/// An upload started by `put_multipart`.
pub(crate) struct Upload<A> {
    store: CofferObjectStore<A>,
    location: Path,
    upload_id: String,
    /// The number the next `put_part` gets.
    next_part: u32,
    /// The ETags of the parts stored so far, by part number.
    stored: Arc<Mutex<BTreeMap<u32, String>>>,
}

impl<A> Upload<A> {
    pub(crate) fn new(store: CofferObjectStore<A>, location: Path, upload_id: String) -> Self {
        Self {
            store,
            location,
            upload_id,
            next_part: 1,
            stored: Arc::default(),
        }
    }
}

impl<A> std::fmt::Debug for Upload<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("location", &self.location)
            .field("upload_id", &self.upload_id)
            .field("next_part", &self.next_part)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<A: ObjectApi + 'static> object_store::MultipartUpload for Upload<A> {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let number = self.next_part;
        self.next_part = self.next_part.saturating_add(1);
        let (store, location, upload_id) = (
            self.store.clone(),
            self.location.clone(),
            self.upload_id.clone(),
        );
        let stored = self.stored.clone();
        Box::pin(async move {
            if number > MAX_PART_NUMBER {
                return Err(object_store::Error::Generic {
                    store: crate::STORE_NAME,
                    source: format!("{location}: an upload has at most {MAX_PART_NUMBER} parts")
                        .into(),
                });
            }
            let part = store
                .upload_part(&location, &upload_id, number, data)
                .await?;
            stored.lock().insert(number, part.etag);
            Ok(())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let parts: Vec<CompletedPart> = {
            let stored = self.stored.lock();
            let expected = usize::try_from(self.next_part - 1).unwrap_or(usize::MAX);
            if stored.len() != expected {
                return Err(object_store::Error::Generic {
                    store: crate::STORE_NAME,
                    source: format!(
                        "{}: {} of {expected} parts were stored; complete after every put_part has finished",
                        self.location,
                        stored.len()
                    )
                    .into(),
                });
            }
            stored
                .iter()
                .map(|(&number, etag)| CompletedPart::new(number, etag))
                .collect()
        };
        self.store
            .complete_upload(&self.location, &self.upload_id, parts)
            .await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.store
            .abort_upload(&self.location, &self.upload_id)
            .await
    }
}

#[async_trait]
impl<A: ObjectApi + 'static> MultipartStore for CofferObjectStore<A> {
    async fn create_multipart(&self, path: &Path) -> object_store::Result<MultipartId> {
        self.create_upload(path, PutMultipartOptions::default())
            .await
    }

    async fn create_multipart_opts(
        &self,
        path: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<MultipartId> {
        self.create_upload(path, opts).await
    }

    async fn put_part(
        &self,
        path: &Path,
        id: &MultipartId,
        part_idx: usize,
        data: PutPayload,
    ) -> object_store::Result<PartId> {
        let number = u32::try_from(part_idx)
            .ok()
            .and_then(|i| i.checked_add(1))
            .filter(|&n| n <= MAX_PART_NUMBER)
            .ok_or_else(|| object_store::Error::Generic {
                store: crate::STORE_NAME,
                source: format!("{path}: part index {part_idx} is past the last part").into(),
            })?;
        let part = self.upload_part(path, id, number, data).await?;
        Ok(PartId {
            content_id: part.etag,
        })
    }

    async fn complete_multipart(
        &self,
        path: &Path,
        id: &MultipartId,
        parts: Vec<PartId>,
    ) -> object_store::Result<PutResult> {
        let parts = (1..)
            .zip(&parts)
            .map(|(number, part)| CompletedPart::new(number, &part.content_id))
            .collect();
        self.complete_upload(path, id, parts).await
    }

    async fn abort_multipart(&self, path: &Path, id: &MultipartId) -> object_store::Result<()> {
        self.abort_upload(path, id).await
    }
}
