//! Sessions: the store's operations on behalf of a principal, with its policies
//! enforced — bucket and object actions here, key actions by the KMS.

use std::io::Read;
use std::ops::Range;

use bytes::Bytes;
use coffer_keyring::{Caller, Principal};
use coffer_policy::Request;

use crate::objects::{
    CopyOptions, ListOptions, ListResult, Object, ObjectMeta, PutOptions, PutResult,
};
use crate::reader::ObjectReader;
use crate::rule::EncryptionRule;
use crate::{Error, Result, Store};

/// The condition key carrying a put's effective encryption (`AES256` or `KMS`;
/// absent when the object would be stored unencrypted).
pub const SSE_CONDITION_KEY: &str = "oss:x-oss-server-side-encryption";

/// The store as seen by one principal. Every call is checked against the
/// principal's policies: `oss:*` actions on `acs:oss:*:*:<bucket>[/<key>]`, and
/// the KMS's own `kms:GenerateDataKey` (to write) and `kms:Decrypt` (to read) on
/// the object's CMK. A denied call reads and changes nothing.
#[derive(Clone)]
pub struct Session {
    store: Store,
    principal: Principal,
    caller: Caller,
}

fn bucket_resource(bucket: &str) -> String {
    format!("acs:oss:*:*:{bucket}")
}

fn object_resource(bucket: &str, key: &str) -> String {
    format!("acs:oss:*:*:{bucket}/{key}")
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
    fn check(&self, request: Request) -> Result<()> {
        if self.principal.evaluate(&request).is_allowed() {
            Ok(())
        } else {
            Err(Error::AccessDenied {
                principal: self.principal.id.clone(),
                action: request.action,
                resource: request.resource,
            })
        }
    }

    fn check_put(&self, bucket: &str, key: &str, rule: Option<&EncryptionRule>) -> Result<()> {
        let effective = match rule {
            Some(rule) => Some(rule.clone()),
            // A missing bucket is reported by the put itself, after the policy check,
            // so that a denied principal learns nothing about which buckets exist.
            None => self.store.bucket_record(bucket).ok().and_then(|b| b.rule),
        };
        let mut request = Request::new("oss:PutObject", &object_resource(bucket, key));
        if let Some(rule) = &effective {
            request = request.with(SSE_CONDITION_KEY, rule.algorithm());
            if let EncryptionRule::Kms { key_id: Some(id) } = rule {
                request = request.with("oss:x-oss-server-side-encryption-key-id", id);
            }
        }
        self.check(request)
    }

    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// [`Store::create_bucket`], action `oss:PutBucket`.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        self.check(Request::new("oss:PutBucket", &bucket_resource(name)))?;
        self.store.create_bucket(name)
    }

    /// [`Store::delete_bucket`], action `oss:DeleteBucket`.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        self.check(Request::new("oss:DeleteBucket", &bucket_resource(name)))?;
        self.store.delete_bucket(name)
    }

    /// [`Store::put_bucket_encryption`], action `oss:PutBucketEncryption`; a named
    /// CMK is checked with the principal's `kms:DescribeKey`.
    pub fn put_bucket_encryption(&self, bucket: &str, rule: EncryptionRule) -> Result<()> {
        self.check(Request::new(
            "oss:PutBucketEncryption",
            &bucket_resource(bucket),
        ))?;
        self.store
            .put_bucket_encryption_as(bucket, rule, &self.caller)
    }

    /// [`Store::get_bucket_encryption`], action `oss:GetBucketEncryption`.
    pub fn get_bucket_encryption(&self, bucket: &str) -> Result<EncryptionRule> {
        self.check(Request::new(
            "oss:GetBucketEncryption",
            &bucket_resource(bucket),
        ))?;
        self.store.get_bucket_encryption(bucket)
    }

    /// [`Store::delete_bucket_encryption`], action `oss:DeleteBucketEncryption`.
    pub fn delete_bucket_encryption(&self, bucket: &str) -> Result<()> {
        self.check(Request::new(
            "oss:DeleteBucketEncryption",
            &bucket_resource(bucket),
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
        self.check_put(bucket, key, options.encryption.as_ref())?;
        self.store
            .put_object_as(bucket, key, body, options, &self.caller)
    }

    /// [`Store::put_object_from_reader`], checked as [`Session::put_object`].
    pub fn put_object_from_reader(
        &self,
        bucket: &str,
        key: &str,
        source: impl Read,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.check_put(bucket, key, options.encryption.as_ref())?;
        self.store
            .put_object_from_reader_as(bucket, key, source, options, &self.caller)
    }

    /// [`Store::get_object`], action `oss:GetObject`; KMS objects also need
    /// `kms:Decrypt` on their CMK.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Object> {
        self.check(Request::new("oss:GetObject", &object_resource(bucket, key)))?;
        self.store.get_object_as(bucket, key, &self.caller)
    }

    /// [`Store::get_object_range`], checked as [`Session::get_object`].
    pub fn get_object_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Object> {
        self.check(Request::new("oss:GetObject", &object_resource(bucket, key)))?;
        self.store
            .get_object_range_as(bucket, key, range, &self.caller)
    }

    /// [`Store::open_object`], checked as [`Session::get_object`].
    pub fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader> {
        self.check(Request::new("oss:GetObject", &object_resource(bucket, key)))?;
        self.store.open_object_as(bucket, key, &self.caller)
    }

    /// [`Store::head_object`], action `oss:GetObject` (no decryption happens).
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.check(Request::new("oss:GetObject", &object_resource(bucket, key)))?;
        self.store.head_object(bucket, key)
    }

    /// [`Store::delete_object`], action `oss:DeleteObject`.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        self.check(Request::new(
            "oss:DeleteObject",
            &object_resource(bucket, key),
        ))?;
        self.store.delete_object(bucket, key)
    }

    /// [`Store::list_objects`], action `oss:ListObjects` on the bucket.
    pub fn list_objects(&self, bucket: &str, options: &ListOptions) -> Result<ListResult> {
        self.check(Request::new("oss:ListObjects", &bucket_resource(bucket)))?;
        self.store.list_objects(bucket, options)
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
            &object_resource(source.0, source.1),
        ))?;
        self.check_put(destination.0, destination.1, options.encryption.as_ref())?;
        self.store
            .copy_object_as(source, destination, options, &self.caller)
    }
}
