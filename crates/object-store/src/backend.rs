//! The store behind the adapter: trusted, or as a session's principal. Both
//! have the same calls; this forwards each to the one in use.

use std::io::Read;

use bytes::Bytes;
use coffer_store::{
    CompletedPart, CopyOptions, GetConditions, ListOptions, ListResult, ObjectMeta, ObjectStream,
    PutCondition, PutOptions, PutResult, Result, Session, Store, UploadedPart,
};

#[derive(Clone)]
pub(crate) enum Backend {
    Store(Store),
    Session(Session),
}

/// Calls the same method on whichever backend is in use.
macro_rules! forward {
    ($self:ident.$method:ident($($arg:expr),* $(,)?)) => {
        match $self {
            Backend::Store(store) => store.$method($($arg),*),
            Backend::Session(session) => session.$method($($arg),*),
        }
    };
}

impl Backend {
    pub(crate) fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        options: PutOptions,
    ) -> Result<PutResult> {
        forward!(self.put_object(bucket, key, body, options))
    }

    pub(crate) fn put_object_from_reader(
        &self,
        bucket: &str,
        key: &str,
        source: impl Read,
        options: PutOptions,
    ) -> Result<PutResult> {
        forward!(self.put_object_from_reader(bucket, key, source, options))
    }

    pub(crate) fn get_object_stream(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectStream> {
        forward!(self.get_object_stream(bucket, key, conditions))
    }

    pub(crate) fn head_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectMeta> {
        forward!(self.head_object_if(bucket, key, conditions))
    }

    pub(crate) fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        forward!(self.delete_object(bucket, key))
    }

    pub(crate) fn list_objects(&self, bucket: &str, options: &ListOptions) -> Result<ListResult> {
        forward!(self.list_objects(bucket, options))
    }

    pub(crate) fn copy_object(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        options: CopyOptions,
    ) -> Result<PutResult> {
        forward!(self.copy_object(source, destination, options))
    }

    pub(crate) fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
    ) -> Result<String> {
        forward!(self.create_multipart_upload(bucket, key, options))
    }

    pub(crate) fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        forward!(self.upload_part(bucket, key, upload_id, part_number, body))
    }

    pub(crate) fn upload_part_from_reader(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: impl Read,
    ) -> Result<UploadedPart> {
        forward!(self.upload_part_from_reader(bucket, key, upload_id, part_number, source))
    }

    pub(crate) fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<PutResult> {
        forward!(self.complete_multipart_upload(bucket, key, upload_id, parts, &PutCondition::None))
    }

    pub(crate) fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<()> {
        forward!(self.abort_multipart_upload(bucket, key, upload_id))
    }
}
