//! Sessions: the object API bound to one caller, over any implementation.

use std::io::Read;
use std::ops::Range;

use bytes::Bytes;
use coffer_keyring::{Caller, Principal};

use crate::{
    BucketInfo, ByteRange, CompletedPart, CopyOptions, EncryptionRule, GetConditions, GetOptions,
    ListOptions, ListResult, MultipartUpload, Object, ObjectApi, ObjectMeta, PutCondition,
    PutOptions, PutPayload, PutResult, Result, UploadedPart,
};

/// An engine as seen by one caller, usually a principal: every [`ObjectApi`]
/// operation without the caller, each made as it, so the engine checks the
/// principal's policies
/// (`oss:*` actions on `acs:oss:<region>:<account>:<bucket>[/<key>]`, and the
/// KMS's `kms:GenerateDataKey` to write and `kms:Decrypt` to read on the
/// object's CMK). A denied call reads and changes nothing.
#[derive(Clone)]
pub struct Session<A> {
    api: A,
    caller: Caller,
}

impl<A: ObjectApi> Session<A> {
    /// `api` as `principal` sees it.
    pub fn new(api: A, principal: Principal) -> Self {
        Self {
            api,
            caller: Caller::Principal(principal),
        }
    }

    /// `api` for a trusted caller: nothing is checked (the service does its
    /// own authorization).
    pub fn trusted(api: A) -> Self {
        Self {
            api,
            caller: Caller::Trusted,
        }
    }

    /// The principal (`None` for a trusted session).
    pub fn principal(&self) -> Option<&Principal> {
        match &self.caller {
            Caller::Principal(principal) => Some(principal),
            Caller::Trusted => None,
        }
    }

    /// The caller every operation is made as.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The implementation underneath.
    pub fn api(&self) -> &A {
        &self.api
    }

    /// The implementation and the caller, for a face that makes its calls
    /// as this session (the `object_store` adapter).
    pub fn into_parts(self) -> (A, Caller) {
        (self.api, self.caller)
    }

    /// [`ObjectApi::create_bucket_as`], action `oss:PutBucket`.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        self.api.create_bucket_as(name, &self.caller)
    }

    /// [`ObjectApi::delete_bucket_as`], action `oss:DeleteBucket`.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        self.api.delete_bucket_as(name, &self.caller)
    }

    /// [`ObjectApi::head_bucket_as`], action `oss:GetBucketInfo`.
    pub fn head_bucket(&self, name: &str) -> Result<BucketInfo> {
        self.api.head_bucket_as(name, &self.caller)
    }

    /// [`ObjectApi::list_buckets_as`], action `oss:ListBuckets`.
    pub fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        self.api.list_buckets_as(&self.caller)
    }

    /// [`ObjectApi::put_bucket_encryption_as`], action
    /// `oss:PutBucketEncryption`; a named CMK is checked with the principal's
    /// `kms:DescribeKey`.
    pub fn put_bucket_encryption(&self, bucket: &str, rule: EncryptionRule) -> Result<()> {
        self.api
            .put_bucket_encryption_as(bucket, rule, &self.caller)
    }

    /// [`ObjectApi::get_bucket_encryption_as`], action `oss:GetBucketEncryption`.
    pub fn get_bucket_encryption(&self, bucket: &str) -> Result<EncryptionRule> {
        self.api.get_bucket_encryption_as(bucket, &self.caller)
    }

    /// [`ObjectApi::delete_bucket_encryption_as`], action
    /// `oss:DeleteBucketEncryption`.
    pub fn delete_bucket_encryption(&self, bucket: &str) -> Result<()> {
        self.api.delete_bucket_encryption_as(bucket, &self.caller)
    }

    /// [`ObjectApi::put_object_as`] from bytes, action `oss:PutObject` with
    /// the condition key `oss:x-oss-server-side-encryption`; KMS writes also
    /// need `kms:GenerateDataKey`.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.api
            .put_object_as(bucket, key, PutPayload::Bytes(body), options, &self.caller)
    }

    /// [`ObjectApi::put_object_as`] from a stream, checked as
    /// [`Session::put_object`].
    pub fn put_object_from_reader(
        &self,
        bucket: &str,
        key: &str,
        source: impl Read,
        options: PutOptions,
    ) -> Result<PutResult> {
        let payload = PutPayload::Reader(Box::new(source));
        self.api
            .put_object_as(bucket, key, payload, options, &self.caller)
    }

    /// [`ObjectApi::get_object_as`], action `oss:GetObject`; KMS objects also
    /// need `kms:Decrypt` on their CMK.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Object> {
        self.api
            .get_object_as(bucket, key, &GetOptions::new(), &self.caller)
    }

    /// [`Session::get_object`] if `conditions` hold.
    pub fn get_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<Object> {
        let options = GetOptions::new().with_conditions(conditions.clone());
        self.api.get_object_as(bucket, key, &options, &self.caller)
    }

    /// [`Session::get_object`] of `range` only.
    pub fn get_object_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Object> {
        self.get_object_range_if(bucket, key, range, &GetConditions::new())
    }

    /// [`Session::get_object_range`] if `conditions` hold.
    pub fn get_object_range_if(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        conditions: &GetConditions,
    ) -> Result<Object> {
        self.api
            .get_object_range_as(bucket, key, range, conditions, &self.caller)
    }

    /// [`ObjectApi::open_object_as`], checked as [`Session::get_object`].
    pub fn open_object(&self, bucket: &str, key: &str) -> Result<A::Reader> {
        self.open_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Session::open_object`] if `conditions` hold.
    pub fn open_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<A::Reader> {
        self.api
            .open_object_as(bucket, key, conditions, &self.caller)
    }

    /// [`ObjectApi::get_object_stream_as`], checked as [`Session::get_object`].
    pub fn get_object_stream(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<A::Stream> {
        self.api
            .get_object_stream_as(bucket, key, conditions, &self.caller)
    }

    /// [`ObjectApi::get_object_stream_range_as`], checked as
    /// [`Session::get_object`].
    pub fn get_object_stream_range(
        &self,
        bucket: &str,
        key: &str,
        range: Option<&ByteRange>,
        conditions: &GetConditions,
    ) -> Result<A::Stream> {
        self.api
            .get_object_stream_range_as(bucket, key, range, conditions, &self.caller)
    }

    /// [`ObjectApi::head_object_as`], action `oss:GetObject` (no decryption).
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.head_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Session::head_object`] if `conditions` hold.
    pub fn head_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectMeta> {
        self.api
            .head_object_as(bucket, key, conditions, &self.caller)
    }

    /// [`ObjectApi::delete_object_as`], action `oss:DeleteObject`.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        self.api.delete_object_as(bucket, key, &self.caller)
    }

    /// [`ObjectApi::list_objects_as`], action `oss:ListObjects` on the bucket.
    pub fn list_objects(&self, bucket: &str, options: &ListOptions) -> Result<ListResult> {
        self.api.list_objects_as(bucket, options, &self.caller)
    }

    /// [`ObjectApi::copy_object_as`]: `oss:GetObject` on the source and
    /// `oss:PutObject` on the destination (with the encryption condition),
    /// plus the KMS actions.
    pub fn copy_object(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        options: CopyOptions,
    ) -> Result<PutResult> {
        self.api
            .copy_object_as(source, destination, options, &self.caller)
    }

    /// [`ObjectApi::create_multipart_upload_as`], checked as
    /// [`Session::put_object`].
    pub fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
    ) -> Result<String> {
        self.api
            .create_multipart_upload_as(bucket, key, options, &self.caller)
    }

    /// [`ObjectApi::upload_part_as`] from bytes, action `oss:PutObject`; a KMS
    /// upload's parts also need `kms:Decrypt` on its CMK (as in S3: the part
    /// is sealed under the upload's data key).
    pub fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        self.api.upload_part_as(
            bucket,
            key,
            upload_id,
            part_number,
            PutPayload::Bytes(body),
            &self.caller,
        )
    }

    /// [`ObjectApi::upload_part_as`] from a stream, checked as
    /// [`Session::upload_part`].
    pub fn upload_part_from_reader(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: impl Read,
    ) -> Result<UploadedPart> {
        self.api.upload_part_as(
            bucket,
            key,
            upload_id,
            part_number,
            PutPayload::Reader(Box::new(source)),
            &self.caller,
        )
    }

    /// [`ObjectApi::complete_multipart_upload_as`], action `oss:PutObject`.
    pub fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        condition: &PutCondition,
    ) -> Result<PutResult> {
        self.api.complete_multipart_upload_as(
            bucket,
            key,
            upload_id,
            parts,
            condition,
            &self.caller,
        )
    }

    /// [`ObjectApi::abort_multipart_upload_as`], action
    /// `oss:AbortMultipartUpload`.
    pub fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.api
            .abort_multipart_upload_as(bucket, key, upload_id, &self.caller)
    }

    /// [`ObjectApi::list_multipart_uploads_as`], action
    /// `oss:ListMultipartUploads` on the bucket.
    pub fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<MultipartUpload>> {
        self.api.list_multipart_uploads_as(bucket, &self.caller)
    }

    /// The parts uploaded so far to an upload ([`ObjectApi::list_parts_as`]).
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>> {
        self.api.list_parts_as(bucket, key, upload_id, &self.caller)
    }
}
