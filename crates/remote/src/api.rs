//! The remote engine's implementation of the object API: each operation
//! checks a principal's `oss:*` action first ([`crate::authorize`]), then
//! does the work with the caller passed down to the KMS.

use coffer_keyring::Caller;
use coffer_policy::Request;
use coffer_sse::access::action;
use coffer_sse::{
    BucketInfo, ByteRange, CompletedPart, CopyOptions, EncryptionRule, GetConditions, GetOptions,
    ListOptions, ListResult, MultipartUpload, Object, ObjectApi, ObjectMeta, PlaintextStream,
    PutCondition, PutOptions, PutPayload, PutResult, Result, UploadedPart,
};

use crate::read::{First, Opened, TAIL_LEN};
use crate::{RemoteReader, RemoteStore, RemoteStream};

impl ObjectApi for RemoteStore {
    type Reader = RemoteReader;
    type Stream = RemoteStream;

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
        self.set_bucket_encryption(bucket, Some(rule), caller)
    }

    fn get_bucket_encryption_as(&self, bucket: &str, caller: &Caller) -> Result<EncryptionRule> {
        self.authorize_on(caller, action::GET_BUCKET_ENCRYPTION, bucket, None)?;
        self.get_bucket_encryption(bucket)
    }

    fn delete_bucket_encryption_as(&self, bucket: &str, caller: &Caller) -> Result<()> {
        self.authorize_on(caller, action::DELETE_BUCKET_ENCRYPTION, bucket, None)?;
        self.set_bucket_encryption(bucket, None, caller)
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
        self.put_resolved(&bucket, key, payload, options, &rule, caller)
    }

    fn get_object_as(
        &self,
        bucket: &str,
        key: &str,
        options: &GetOptions,
        caller: &Caller,
    ) -> Result<Object> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.bucket_or_missing(bucket)?;
        self.read_object(
            bucket,
            key,
            options.range.clone(),
            &options.conditions,
            caller,
        )
    }

    fn open_object_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<RemoteReader> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.bucket_or_missing(bucket)?;
        let first = First::Last(TAIL_LEN);
        Ok(RemoteReader::new(Opened::open(
            self, bucket, key, first, conditions, caller,
        )?))
    }

    fn get_object_stream_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<RemoteStream> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.bucket_or_missing(bucket)?;
        self.get_object_stream_range_as(bucket, key, None, conditions, caller)
    }

    /// One request for an object of up to 8 MiB, whole, or for a suffix
    /// range (the trailer and the chunks under it); the trailer first for
    /// other ranges.
    fn get_object_stream_range_as(
        &self,
        bucket: &str,
        key: &str,
        range: Option<&ByteRange>,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<RemoteStream> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.bucket_or_missing(bucket)?;
        RemoteStream::open(self, (bucket, key), range, conditions, caller)?.narrowed(range)
    }

    fn head_object_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectMeta> {
        self.authorize_on(caller, action::GET_OBJECT, bucket, Some(key))?;
        self.bucket_or_missing(bucket)?;
        Ok(self.fetch_object(bucket, key, conditions, false)?.meta)
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
        self.bucket_or_missing(source.0)?;
        self.copy_resolved(source, &bucket, destination.1, options, &rule, caller)
    }

    fn create_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
        caller: &Caller,
    ) -> Result<String> {
        let (bucket, rule) = self.prepare_put(bucket, key, options.encryption.as_ref(), caller)?;
        self.create_upload(&bucket, key, options, &rule, caller)
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
        self.upload_part((bucket, key), upload_id, part_number, payload, caller)
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
        self.complete_upload((bucket, key), upload_id, parts, condition, caller)
    }

    fn abort_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        caller: &Caller,
    ) -> Result<()> {
        self.authorize_on(caller, action::ABORT_MULTIPART_UPLOAD, bucket, Some(key))?;
        self.abort_upload(bucket, key, upload_id)
    }

    fn list_multipart_uploads_as(
        &self,
        bucket: &str,
        caller: &Caller,
    ) -> Result<Vec<MultipartUpload>> {
        self.authorize_on(caller, action::LIST_MULTIPART_UPLOADS, bucket, None)?;
        self.list_uploads(bucket)
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
