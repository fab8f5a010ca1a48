//! Sessions: the store's operations on behalf of a principal, with its policies
//! enforced — bucket and object actions here, key actions by the KMS.

use std::io::Read;
use std::ops::Range;

use bytes::Bytes;
use coffer_keyring::{AuditOutcome, Caller, Principal};
use coffer_policy::Request;

use crate::audit::StoreEvent;
use crate::data_keys::ResolvedRule;
use crate::multipart::{CompletedPart, MultipartUpload, UploadedPart};
use crate::object_stream::ObjectStream;
use crate::object_types::{
    CopyOptions, GetConditions, ListOptions, ListResult, Object, ObjectMeta, PutCondition,
    PutOptions, PutResult,
};
use crate::reader::ObjectReader;
use crate::record::BucketRecord;
use crate::rule::EncryptionRule;
use crate::{Error, Result, Store};

/// The condition key carrying a put's effective encryption (`AES256` or `KMS`;
/// absent when the object would be stored unencrypted).
pub const SSE_CONDITION_KEY: &str = "oss:x-oss-server-side-encryption";

/// The condition key carrying a KMS put's CMK: both the id or alias as the rule
/// gave it and the key id it resolved to (a condition on either matches; a
/// negated one holds only if neither matches). Absent unless KMS.
pub const SSE_KEY_ID_CONDITION_KEY: &str = "oss:x-oss-server-side-encryption-key-id";

/// The store as seen by one principal. Every call is checked against the
/// principal's policies: `oss:*` actions on
/// `acs:oss:<region>:<account>:<bucket>[/<key>]` (the store's region and
/// account), and the KMS's own `kms:GenerateDataKey` (to write) and
/// `kms:Decrypt` (to read) on the object's CMK. A denied call reads and
/// changes nothing.
#[derive(Clone)]
pub struct Session {
    store: Store,
    principal: Principal,
    caller: Caller,
}

fn with_rule(
    mut request: Request,
    algorithm: &str,
    given: Option<&str>,
    resolved: Option<&str>,
) -> Request {
    request = request.with(SSE_CONDITION_KEY, algorithm);
    for id in [given, resolved].into_iter().flatten() {
        request = request.with(SSE_KEY_ID_CONDITION_KEY, id);
    }
    request
}

impl Store {
    /// The store's operations on behalf of `principal`, policies enforced.
    pub fn session(&self, principal: Principal) -> Session {
        Session {
            store: self.clone(),
            caller: Caller::Principal(principal.clone()),
            principal,
        }
    }
}

impl Session {
    /// Checks `request` against the principal's policies. A denial is
    /// recorded in the audit log (and fails with [`Error::AuditFailed`] if it
    /// cannot be).
    fn check(&self, request: Request) -> Result<()> {
        if self.principal.evaluate(&request).is_allowed() {
            return Ok(());
        }
        let prefix = format!("acs:oss:{}:{}:", self.store.region(), self.store.account());
        let (bucket, object_key) = match request.resource.strip_prefix(&prefix) {
            Some(rest) => match rest.split_once('/') {
                Some((bucket, key)) => (Some(bucket), Some(key)),
                None => (Some(rest), None),
            },
            None => (None, None),
        };
        self.store.audit(StoreEvent {
            caller: &self.caller,
            action: &request.action,
            resource: Some(request.resource.clone()),
            key_id: None,
            key_version: None,
            bucket,
            object_key,
            outcome: AuditOutcome::Denied,
        })?;
        Err(Error::AccessDenied {
            principal: self.principal.id.clone(),
            action: request.action,
            resource: request.resource,
        })
    }

    fn bucket_resource(&self, bucket: &str) -> String {
        format!(
            "acs:oss:{}:{}:{bucket}",
            self.store.region(),
            self.store.account()
        )
    }

    fn object_resource(&self, bucket: &str, key: &str) -> String {
        format!(
            "acs:oss:{}:{}:{bucket}/{key}",
            self.store.region(),
            self.store.account()
        )
    }

    /// Checks `oss:PutObject` for the rule the put will apply, resolved once:
    /// the same value is checked, given to the KMS and stored.
    ///
    /// `oss:PutObject` is checked first, on the rule as written (the put's
    /// own, else the bucket's default): a principal that may not put learns
    /// nothing else, neither whether the bucket exists nor which CMK it
    /// defaults to, and nothing is created for it (no default CMK) nor
    /// refused at the KMS (no `kms:DescribeKey` denial). Where that check
    /// fails, a CMK the rule names by alias or ARN is resolved (unaudited:
    /// no key is used) and checked once more, since a condition may name the
    /// key id it resolves to. Only then is the rule resolved with the
    /// caller's `kms:DescribeKey` and checked again with the resolved id.
    fn check_put(
        &self,
        bucket: &str,
        key: &str,
        own: Option<&EncryptionRule>,
    ) -> Result<(BucketRecord, ResolvedRule)> {
        let resource = self.object_resource(bucket, key);
        let record = self.store.bucket_record(bucket);
        let written = own.or_else(|| record.as_ref().ok().and_then(|r| r.rule.as_ref()));
        let put = |rule: Option<&EncryptionRule>, resolved: Option<&str>| {
            let request = Request::new("oss:PutObject", &resource);
            match rule {
                Some(rule) => with_rule(request, rule.algorithm(), rule.kms_key_id(), resolved),
                None => request,
            }
        };
        if !self.principal.evaluate(&put(written, None)).is_allowed() {
            // A condition may name the key id an alias resolves to: resolve a
            // named CMK (nothing is created for a default one) and check once
            // more, recording a denial.
            let resolved = match (written.and_then(EncryptionRule::kms_key_id), &record) {
                (Some(given), Ok(_)) => self.store.kms().canonical_key_id(given).ok(),
                _ => None,
            };
            self.check(put(written, resolved.as_deref()))?;
        }
        let record = record?;
        let rule = self.store.resolve_rule(own, &record, &self.caller)?;
        let mut request = Request::new("oss:PutObject", &resource);
        match &rule {
            ResolvedRule::None => {}
            ResolvedRule::Managed { .. } => request = request.with(SSE_CONDITION_KEY, "AES256"),
            ResolvedRule::Kms { given, key_id, .. } => {
                request = with_rule(request, "KMS", given.as_deref(), Some(key_id));
            }
        }
        self.check(request)?;
        Ok((record, rule))
    }

    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// [`Store::create_bucket`], action `oss:PutBucket`.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        self.check(Request::new("oss:PutBucket", &self.bucket_resource(name)))?;
        self.store.create_bucket(name)
    }

    /// [`Store::delete_bucket`], action `oss:DeleteBucket`.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        self.check(Request::new(
            "oss:DeleteBucket",
            &self.bucket_resource(name),
        ))?;
        self.store.delete_bucket(name)
    }

    /// [`Store::put_bucket_encryption`], action `oss:PutBucketEncryption`; a named
    /// CMK is checked with the principal's `kms:DescribeKey`.
    pub fn put_bucket_encryption(&self, bucket: &str, rule: EncryptionRule) -> Result<()> {
        self.check(Request::new(
            "oss:PutBucketEncryption",
            &self.bucket_resource(bucket),
        ))?;
        self.store
            .put_bucket_encryption_as(bucket, rule, &self.caller)
    }

    /// [`Store::get_bucket_encryption`], action `oss:GetBucketEncryption`.
    pub fn get_bucket_encryption(&self, bucket: &str) -> Result<EncryptionRule> {
        self.check(Request::new(
            "oss:GetBucketEncryption",
            &self.bucket_resource(bucket),
        ))?;
        self.store.get_bucket_encryption(bucket)
    }

    /// [`Store::delete_bucket_encryption`], action `oss:DeleteBucketEncryption`.
    pub fn delete_bucket_encryption(&self, bucket: &str) -> Result<()> {
        self.check(Request::new(
            "oss:DeleteBucketEncryption",
            &self.bucket_resource(bucket),
        ))?;
        self.store.delete_bucket_encryption(bucket)
    }

    /// [`Store::put_object`], action `oss:PutObject` with the condition key
    /// `oss:x-oss-server-side-encryption`; KMS writes also need `kms:GenerateDataKey`.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        options: PutOptions,
    ) -> Result<PutResult> {
        let (bucket, rule) = self.check_put(bucket, key, options.encryption.as_ref())?;
        self.store
            .put_object_resolved(&bucket, key, body, options, &rule, &self.caller)
    }

    /// [`Store::put_object_from_reader`], checked as [`Session::put_object`].
    pub fn put_object_from_reader(
        &self,
        bucket: &str,
        key: &str,
        source: impl Read,
        options: PutOptions,
    ) -> Result<PutResult> {
        let (bucket, rule) = self.check_put(bucket, key, options.encryption.as_ref())?;
        self.store.put_object_from_reader_resolved(
            &bucket,
            key,
            source,
            options,
            &rule,
            &self.caller,
        )
    }

    /// [`Store::get_object`], action `oss:GetObject`; KMS objects also need
    /// `kms:Decrypt` on their CMK.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Object> {
        self.get_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::get_object_if`], checked as [`Session::get_object`].
    pub fn get_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<Object> {
        self.check(Request::new(
            "oss:GetObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store
            .get_object_as(bucket, key, conditions, &self.caller)
    }

    /// [`Store::get_object_range`], checked as [`Session::get_object`].
    pub fn get_object_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Object> {
        self.get_object_range_if(bucket, key, range, &GetConditions::new())
    }

    /// [`Store::get_object_range_if`], checked as [`Session::get_object`].
    pub fn get_object_range_if(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        conditions: &GetConditions,
    ) -> Result<Object> {
        self.check(Request::new(
            "oss:GetObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store
            .get_object_range_as(bucket, key, range, conditions, &self.caller)
    }

    /// [`Store::open_object`], checked as [`Session::get_object`].
    pub fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader> {
        self.open_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::open_object_if`], checked as [`Session::get_object`].
    pub fn open_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectReader> {
        self.check(Request::new(
            "oss:GetObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store
            .open_object_as(bucket, key, conditions, &self.caller)
    }

    /// [`Store::get_object_stream`], checked as [`Session::get_object`].
    pub fn get_object_stream(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectStream> {
        self.check(Request::new(
            "oss:GetObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store
            .get_object_stream_as(bucket, key, conditions, &self.caller)
    }

    /// [`Store::head_object`], action `oss:GetObject` (no decryption happens).
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.head_object_if(bucket, key, &GetConditions::new())
    }

    /// [`Store::head_object_if`], action `oss:GetObject`.
    pub fn head_object_if(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
    ) -> Result<ObjectMeta> {
        self.check(Request::new(
            "oss:GetObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store.head_object_if(bucket, key, conditions)
    }

    /// [`Store::delete_object`], action `oss:DeleteObject`.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        self.check(Request::new(
            "oss:DeleteObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store.delete_object(bucket, key)
    }

    /// [`Store::list_objects`], action `oss:ListObjects` on the bucket.
    pub fn list_objects(&self, bucket: &str, options: &ListOptions) -> Result<ListResult> {
        self.check(Request::new(
            "oss:ListObjects",
            &self.bucket_resource(bucket),
        ))?;
        self.store.list_objects(bucket, options)
    }

    /// [`Store::create_multipart_upload`], checked as [`Session::put_object`]
    /// (`oss:PutObject` with the encryption condition keys, and the KMS's
    /// `kms:GenerateDataKey` for a KMS rule).
    pub fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
    ) -> Result<String> {
        let (bucket, rule) = self.check_put(bucket, key, options.encryption.as_ref())?;
        self.store
            .create_multipart_resolved(&bucket, key, options, &rule, &self.caller)
    }

    /// [`Store::upload_part`], action `oss:PutObject`; a KMS upload's parts
    /// also need `kms:Decrypt` on its CMK (as in S3: the part is sealed under
    /// the upload's data key).
    pub fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        self.upload_part_from_feed(
            bucket,
            key,
            upload_id,
            part_number,
            crate::objects::BytesFeed { body, at: 0 },
        )
    }

    /// [`Store::upload_part_from_reader`], checked as [`Session::upload_part`].
    pub fn upload_part_from_reader(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: impl Read,
    ) -> Result<UploadedPart> {
        self.upload_part_from_feed(
            bucket,
            key,
            upload_id,
            part_number,
            crate::objects::ReaderFeed(source),
        )
    }

    fn upload_part_from_feed(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        feed: impl crate::objects::SegmentFeed,
    ) -> Result<UploadedPart> {
        self.check(Request::new(
            "oss:PutObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store
            .upload_part_as(bucket, key, upload_id, part_number, feed, &self.caller)
    }

    /// [`Store::complete_multipart_upload`], action `oss:PutObject`.
    pub fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        condition: &PutCondition,
    ) -> Result<PutResult> {
        self.check(Request::new(
            "oss:PutObject",
            &self.object_resource(bucket, key),
        ))?;
        self.store
            .complete_multipart_upload(bucket, key, upload_id, parts, condition)
    }

    /// [`Store::abort_multipart_upload`], action `oss:AbortMultipartUpload`.
    pub fn abort_multipart_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.check(Request::new(
            "oss:AbortMultipartUpload",
            &self.object_resource(bucket, key),
        ))?;
        self.store.abort_multipart_upload(bucket, key, upload_id)
    }

    /// [`Store::list_multipart_uploads`], action `oss:ListMultipartUploads` on
    /// the bucket.
    pub fn list_multipart_uploads(&self, bucket: &str) -> Result<Vec<MultipartUpload>> {
        self.check(Request::new(
            "oss:ListMultipartUploads",
            &self.bucket_resource(bucket),
        ))?;
        self.store.list_multipart_uploads(bucket)
    }

    /// [`Store::copy_object`]: `oss:GetObject` on the source and `oss:PutObject`
    /// on the destination (with the encryption condition), plus the KMS actions.
    pub fn copy_object(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        options: CopyOptions,
    ) -> Result<PutResult> {
        self.check(Request::new(
            "oss:GetObject",
            &self.object_resource(source.0, source.1),
        ))?;
        let (bucket, rule) =
            self.check_put(destination.0, destination.1, options.encryption.as_ref())?;
        self.store.copy_object_resolved(
            source,
            &bucket,
            destination.1,
            options,
            &rule,
            &self.caller,
        )
    }
}
