//! The RocksDB engine's implementation of the object API: each operation
//! checks a principal's `oss:*` action first ([`crate::objects::authorize`]), then
//! does the work with the caller passed down to the KMS. The trusted forms
//! (`Store::put_object`, `Store::get_object`, …) are these operations with
//! [`Caller::Trusted`].

use std::ops::Range;

use coffer_keyring::Caller;
use coffer_policy::Request;
use coffer_sse::access::action;

use crate::objects::put::{BytesFeed, ReaderFeed};
use crate::{
    BucketInfo, CompletedPart, CopyOptions, EncryptionRule, GetConditions, GetOptions, ListOptions,
    ListResult, MultipartUpload, Object, ObjectApi, ObjectMeta, ObjectRead, ObjectReader,
    ObjectStream, PlaintextStream, PutCondition, PutOptions, PutPayload, PutResult, Result, Store,
    UploadedPart,
};

impl ObjectApi for Store {
    type Reader = ObjectReader;
    type Stream = ObjectStream;

    fn create_bucket_as(&self, name: &str, caller: &Caller) -> Result<()> {
        self.authorize_on(caller, action::PUT_BUCKET, name, None)?;
        self.create_bucket(name)
    }

    fn delete_bucket_as(&self, name: &str, caller: &Caller) -> Result<()> {
        self.authorize_on(caller, action::DELETE_BUCKET, name, None)?;
        self.delete_bucket(name)
    }

    fn head_bucket_as(&self, name: &str, caller: &Caller) -> Result<BucketInfo> {
        self.authorize_on(caller, action::GET_BUCKET_INFO, name, None)?;
        self.head_bucket(name)
    }

    fn list_buckets_as(&self, caller: &Caller) -> Result<Vec<BucketInfo>> {
        if !matches!(caller, Caller::Trusted) {
            let all = self.resources().all_buckets();
            self.authorize(caller, Request::new(action::LIST_BUCKETS, &all))?;
        }
        self.list_buckets()
    }

    fn put_bucket_encryption_as(
        &self,
        bucket: &str,
        rule: EncryptionRule,
        caller: &Caller,
    ) -> Result<()> {
        self.authorize_on(caller, action::PUT_BUCKET_ENCRYPTION, bucket, None)?;
        self.set_bucket_encryption(bucket, rule, caller)
    }

    fn get_bucket_encryption_as(&self, bucket: &str, caller: &Caller) -> Result<EncryptionRule> {
        self.authorize_on(caller, action::GET_BUCKET_ENCRYPTION, bucket, None)?;
        self.get_bucket_encryption(bucket)
    }

    fn delete_bucket_encryption_as(&self, bucket: &str, caller: &Caller) -> Result<()> {
        self.authorize_on(caller, action::DELETE_BUCKET_ENCRYPTION, bucket, None)?;
        self.delete_bucket_encryption(bucket)
    }

    fn put_object_as(
        &self,
        bucket: &str,
        key: &str,
        payload: PutPayload<'_>,
        options: PutOptions,
        caller: &Caller,
    ) -> Result<PutResult> {
        let (bucket, rule) = self.prepare_put(bucket, key, options.encryption.as_ref(), caller)?;
        match payload {
            PutPayload::Bytes(body) => {
                self.put_object_resolved(&bucket, key, body, options, &rule, caller)
            }
            PutPayload::Reader(source) => {
                self.put_object_from_reader_resolved(&bucket, key, source, options, &rule, caller)
            }
        }
    }

    fn get_object_as(
        &self,
        bucket: &str,
        key: &str,
        options: &GetOptions,
        caller: &Caller,
    ) -> Result<Object> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        let Some(range) = options.range.clone() else {
            return self.read_whole(bucket, key, &options.conditions, caller);
        };
        let mut reader = self.open_for(bucket, key, &options.conditions, caller)?;
        let body = reader
            .read_range(range)
            .map_err(|e| e.about_object(bucket, key))?;
        Ok(Object {
            body: body.into(),
            meta: reader.meta().clone(),
        })
    }

    fn open_object_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectReader> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.open_for(bucket, key, conditions, caller)
    }

    fn get_object_stream_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectStream> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.stream_for(bucket, key, conditions, caller)
    }

    fn head_object_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectMeta> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.head_object_if(bucket, key, conditions)
    }

    fn delete_object_as(&self, bucket: &str, key: &str, caller: &Caller) -> Result<()> {
        self.authorize_on(caller, action::DELETE_OBJECT, bucket, Some(key))?;
        self.delete_object(bucket, key)
    }

    fn list_objects_as(
        &self,
        bucket: &str,
        options: &ListOptions,
        caller: &Caller,
    ) -> Result<ListResult> {
        self.authorize_on(caller, action::LIST_OBJECTS, bucket, None)?;
        self.list_objects(bucket, options)
    }

    fn copy_object_as(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        options: CopyOptions,
        caller: &Caller,
    ) -> Result<PutResult> {
        self.authorize_on(caller, action::GET_OBJECT, source.0, Some(source.1))?;
        let (bucket, rule) = self.prepare_put(
            destination.0,
            destination.1,
            options.encryption.as_ref(),
            caller,
        )?;
        self.copy_object_resolved(source, &bucket, destination.1, options, &rule, caller)
    }

    fn create_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
        caller: &Caller,
    ) -> Result<String> {
        let (bucket, rule) = self.prepare_put(bucket, key, options.encryption.as_ref(), caller)?;
        self.create_multipart_resolved(&bucket, key, options, &rule, caller)
    }

    fn upload_part_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        payload: PutPayload<'_>,
        caller: &Caller,
    ) -> Result<UploadedPart> {
        self.authorize_on(caller, action::PUT_OBJECT, bucket, Some(key))?;
        match payload {
            PutPayload::Bytes(body) => {
                let feed = BytesFeed { body, at: 0 };
                self.upload_part_from_feed(bucket, key, upload_id, part_number, feed, caller)
            }
            PutPayload::Reader(source) => {
                let feed = ReaderFeed(source);
                self.upload_part_from_feed(bucket, key, upload_id, part_number, feed, caller)
            }
        }
    }

    fn complete_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        condition: &PutCondition,
        caller: &Caller,
    ) -> Result<PutResult> {
        self.authorize_on(caller, action::PUT_OBJECT, bucket, Some(key))?;
        self.complete_multipart_upload(bucket, key, upload_id, parts, condition)
    }

    fn abort_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        caller: &Caller,
    ) -> Result<()> {
        self.authorize_on(caller, action::ABORT_MULTIPART_UPLOAD, bucket, Some(key))?;
        self.abort_multipart_upload(bucket, key, upload_id)
    }

    fn list_multipart_uploads_as(
        &self,
        bucket: &str,
        caller: &Caller,
    ) -> Result<Vec<MultipartUpload>> {
        self.authorize_on(caller, action::LIST_MULTIPART_UPLOADS, bucket, None)?;
        self.list_multipart_uploads(bucket)
    }

    fn list_parts_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        caller: &Caller,
    ) -> Result<Vec<UploadedPart>> {
        self.authorize_on(caller, action::LIST_PARTS, bucket, Some(key))?;
        self.list_parts(bucket, key, upload_id)
    }
}

impl ObjectRead for ObjectReader {
    fn meta(&self) -> &ObjectMeta {
        ObjectReader::meta(self)
    }

    fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>> {
        ObjectReader::read_range(self, range)
    }
}

impl PlaintextStream for ObjectStream {
    fn meta(&self) -> &ObjectMeta {
        ObjectStream::meta(self)
    }

    fn range(&self) -> Range<u64> {
        ObjectStream::range(self)
    }

    fn with_range(self, range: Range<u64>) -> Result<Self> {
        ObjectStream::with_range(self, range)
    }
}
