//! What a principal's request is checked against: the `oss:*` actions, the
//! resource names of buckets and objects, and the condition keys a put
//! carries. Engines build their requests here, so that the same call is the
//! same request whatever engine serves it; the `kms:*` actions are the KMS
//! layer's (`coffer_keyring::Kms`).

use coffer_keyring::Caller;
use coffer_policy::Request;

use crate::keys::{Keys, ResolvedRule};
use crate::{EncryptionRule, Error, Result, validate_key};

/// The condition key carrying a put's effective encryption (`AES256` or `KMS`;
/// absent when the object would be stored unencrypted).
pub const SSE_CONDITION_KEY: &str = "oss:x-oss-server-side-encryption";

/// The condition key carrying a KMS put's CMK: both the id or alias as the rule
/// gave it and the key id it resolved to (a condition on either matches; a
/// negated one holds only if neither matches). Absent unless KMS.
pub const SSE_KEY_ID_CONDITION_KEY: &str = "oss:x-oss-server-side-encryption-key-id";

/// The `oss:*` actions, as OSS names them.
pub mod action {
    /// Create a bucket.
    pub const PUT_BUCKET: &str = "oss:PutBucket";
    /// Delete a bucket.
    pub const DELETE_BUCKET: &str = "oss:DeleteBucket";
    /// Describe a bucket.
    pub const GET_BUCKET_INFO: &str = "oss:GetBucketInfo";
    /// List the buckets.
    pub const LIST_BUCKETS: &str = "oss:ListBuckets";
    /// Set a bucket's default encryption.
    pub const PUT_BUCKET_ENCRYPTION: &str = "oss:PutBucketEncryption";
    /// Read a bucket's default encryption.
    pub const GET_BUCKET_ENCRYPTION: &str = "oss:GetBucketEncryption";
    /// Remove a bucket's default encryption.
    pub const DELETE_BUCKET_ENCRYPTION: &str = "oss:DeleteBucketEncryption";
    /// Write an object (puts, copies' destinations, multipart uploads).
    pub const PUT_OBJECT: &str = "oss:PutObject";
    /// Read an object or its metadata.
    pub const GET_OBJECT: &str = "oss:GetObject";
    /// Delete an object.
    pub const DELETE_OBJECT: &str = "oss:DeleteObject";
    /// List a bucket's objects.
    pub const LIST_OBJECTS: &str = "oss:ListObjects";
    /// Abandon a multipart upload.
    pub const ABORT_MULTIPART_UPLOAD: &str = "oss:AbortMultipartUpload";
    /// List a bucket's multipart uploads.
    pub const LIST_MULTIPART_UPLOADS: &str = "oss:ListMultipartUploads";
    /// List the parts uploaded so far to a multipart upload.
    pub const LIST_PARTS: &str = "oss:ListParts";
}

/// The resource names of one store's buckets and objects:
/// `acs:oss:<region>:<account>:<bucket>[/<key>]`. Borrows the region and
/// account: made per request, it allocates only the names it builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources<'a> {
    region: &'a str,
    account: &'a str,
}

impl<'a> Resources<'a> {
    /// The names in `region` for `account`.
    pub fn new(region: &'a str, account: &'a str) -> Self {
        Self { region, account }
    }

    /// A bucket's resource name.
    pub fn bucket(&self, bucket: &str) -> String {
        format!("acs:oss:{}:{}:{bucket}", self.region, self.account)
    }

    /// An object's resource name.
    pub fn object(&self, bucket: &str, key: &str) -> String {
        format!("acs:oss:{}:{}:{bucket}/{key}", self.region, self.account)
    }

    /// The resource of every bucket of the account (what `oss:ListBuckets`
    /// is checked on).
    pub fn all_buckets(&self) -> String {
        format!("acs:oss:*:{}:*", self.account)
    }

    /// The bucket and key a resource of this store names (either may be
    /// absent), for the audit record of a denial.
    pub fn parse<'r>(&self, resource: &'r str) -> (Option<&'r str>, Option<&'r str>) {
        let prefix = format!("acs:oss:{}:{}:", self.region, self.account);
        match resource.strip_prefix(&prefix) {
            Some(rest) => match rest.split_once('/') {
                Some((bucket, key)) => (Some(bucket), Some(key)),
                None => (Some(rest), None),
            },
            None => (None, None),
        }
    }
}

/// `oss:PutObject` on `resource` with the condition keys of the encryption
/// the put applies: its algorithm (`AES256`, `KMS`; `None` for no
/// encryption), and for KMS the CMK as the rule gave it and the key id it
/// resolved to (either, both or neither may be known).
pub fn put_object_request(
    resource: &str,
    algorithm: Option<&str>,
    given: Option<&str>,
    resolved: Option<&str>,
) -> Request {
    let mut request = Request::new(action::PUT_OBJECT, resource);
    if let Some(algorithm) = algorithm {
        request = request.with(SSE_CONDITION_KEY, algorithm);
        for id in [given, resolved].into_iter().flatten() {
            request = request.with(SSE_KEY_ID_CONDITION_KEY, id);
        }
    }
    request
}

/// The rule a put to bucket/key applies, resolved once for `caller` and,
/// for a principal, checked as `oss:PutObject`: the same value is checked,
/// given to the KMS and stored. `bucket_default` is the bucket's default
/// rule (`None`: there is no such bucket); `authorize` is the engine's check
/// of one request, which records a denial.
///
/// `oss:PutObject` is checked first, on the rule as written (the put's own,
/// else the bucket's default): a principal that may not put learns nothing
/// else, neither whether the bucket exists nor which CMK it defaults to, and
/// nothing is created for it (no default CMK) nor refused at the KMS (no
/// `kms:DescribeKey` denial). Where that check fails, a CMK the rule names
/// by alias or ARN is resolved (unaudited: no key is used) and checked once
/// more, since a condition may name the key id it resolves to. Only then is
/// the rule resolved with the caller's `kms:DescribeKey` and checked again
/// with the resolved id.
#[allow(clippy::too_many_arguments)]
pub fn authorize_put(
    keys: &Keys,
    resources: &Resources<'_>,
    bucket: &str,
    key: &str,
    own: Option<&EncryptionRule>,
    bucket_default: Option<Option<&EncryptionRule>>,
    caller: &Caller,
    authorize: &dyn Fn(Request) -> Result<()>,
) -> Result<ResolvedRule> {
    let no_bucket = || Error::NoSuchBucket(bucket.to_owned());
    let Caller::Principal(principal) = caller else {
        validate_key(key)?;
        let default = bucket_default.ok_or_else(no_bucket)?;
        return keys.resolve_rule(own, default, caller);
    };
    let resource = resources.object(bucket, key);
    let written = own.or(bucket_default.flatten());
    let put = |rule: Option<&EncryptionRule>, resolved: Option<&str>| {
        put_object_request(
            &resource,
            rule.map(EncryptionRule::algorithm),
            rule.and_then(EncryptionRule::kms_key_id),
            resolved,
        )
    };
    if !principal.evaluate(&put(written, None)).is_allowed() {
        // A condition may name the key id an alias resolves to: resolve a
        // named CMK (nothing is created for a default one) and check once
        // more, recording a denial.
        let resolved = match (written.and_then(EncryptionRule::kms_key_id), bucket_default) {
            (Some(given), Some(_)) => keys.kms().canonical_key_id(given).ok(),
            _ => None,
        };
        authorize(put(written, resolved.as_deref()))?;
    }
    validate_key(key)?;
    let default = bucket_default.ok_or_else(no_bucket)?;
    let rule = keys.resolve_rule(own, default, caller)?;
    let request = match &rule {
        ResolvedRule::None => put_object_request(&resource, None, None, None),
        ResolvedRule::Managed { .. } => put_object_request(&resource, Some("AES256"), None, None),
        ResolvedRule::Kms { given, key_id, .. } => {
            put_object_request(&resource, Some("KMS"), given.as_deref(), Some(key_id))
        }
    };
    authorize(request)?;
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_buckets_and_objects_and_parse_back() {
        let names = Resources::new("cn-hangzhou", "123456");
        assert_eq!(names.bucket("docs"), "acs:oss:cn-hangzhou:123456:docs");
        let object = names.object("docs", "a/b.txt");
        assert_eq!(object, "acs:oss:cn-hangzhou:123456:docs/a/b.txt");
        assert_eq!(names.parse(&object), (Some("docs"), Some("a/b.txt")));
        assert_eq!(names.parse(&names.bucket("docs")), (Some("docs"), None));
        assert_eq!(names.parse("acs:oss:other:1:docs"), (None, None));
    }
}
