//! Server-side encryption as S3 spells it, mapped onto coffer's rules.
//!
//! | S3 | coffer |
//! |---|---|
//! | `x-amz-server-side-encryption: AES256` | [`EncryptionRule::Managed`] |
//! | `x-amz-server-side-encryption: aws:kms` | [`EncryptionRule::Kms`] |
//! | `x-amz-server-side-encryption-aws-kms-key-id` | the CMK id or alias (none: the default managed CMK) |
//! | `x-amz-server-side-encryption-bucket-key-enabled` | the rule's bucket key |
//! | `ServerSideEncryptionConfiguration/Rule/ApplyServerSideEncryptionByDefault/SSEAlgorithm` | `AES256` or `aws:kms` (OSS's `KMS` too) |
//! | `…/KMSMasterKeyID` | the CMK |
//! | `…/Rule/BucketKeyEnabled` | the bucket key |
//!
//! Responses carry the protection the object has ([`Reported`]): the CMK's
//! id, never the alias a request named.

use coffer_sse::{EncryptionRule, Protection, ProtectionMode};
use s3s::S3Result;
use s3s::dto::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use crate::errors::invalid_argument;

/// The rule a put, copy or upload asks for with its SSE headers (`None`:
/// the bucket's default). `InvalidArgument` for an unknown algorithm, a key
/// id without `aws:kms`, or an empty key id.
pub fn requested_rule(
    algorithm: Option<&ServerSideEncryption>,
    kms_key_id: Option<&str>,
    bucket_key: Option<bool>,
) -> S3Result<Option<EncryptionRule>> {
    let Some(algorithm) = algorithm else {
        if kms_key_id.is_some() {
            return Err(invalid_argument(
                "x-amz-server-side-encryption-aws-kms-key-id needs x-amz-server-side-encryption: aws:kms",
            ));
        }
        return Ok(None);
    };
    rule_of(algorithm.as_str(), kms_key_id, bucket_key.unwrap_or(false)).map(Some)
}

pub(crate) fn rule_of(
    algorithm: &str,
    kms_key_id: Option<&str>,
    bucket_key: bool,
) -> S3Result<EncryptionRule> {
    let rule = match (algorithm, kms_key_id) {
        (ServerSideEncryption::AES256, None) => EncryptionRule::managed(),
        (ServerSideEncryption::AES256, Some(_)) => {
            return Err(invalid_argument(
                "AES256 (store-managed keys) takes no KMS key id; use aws:kms to name a CMK",
            ));
        }
        (_, Some("")) => return Err(invalid_argument("the KMS key id is empty")),
        (ServerSideEncryption::AWS_KMS | "KMS", id) => EncryptionRule::kms(id),
        (other, _) => {
            return Err(invalid_argument(format!(
                "the server-side encryption algorithm {other:?} is not supported (AES256 or aws:kms)"
            )));
        }
    };
    Ok(rule.with_bucket_key(bucket_key))
}

/// A bucket's rule from `PutBucketEncryption`'s XML: exactly one rule with a
/// default (`InvalidArgument` otherwise, or for what [`requested_rule`]
/// refuses).
pub fn bucket_rule(configuration: &ServerSideEncryptionConfiguration) -> S3Result<EncryptionRule> {
    let [rule] = configuration.rules.as_slice() else {
        return Err(invalid_argument(
            "ServerSideEncryptionConfiguration must hold exactly one Rule",
        ));
    };
    let Some(default) = &rule.apply_server_side_encryption_by_default else {
        return Err(invalid_argument(
            "the Rule must have an ApplyServerSideEncryptionByDefault",
        ));
    };
    rule_of(
        default.sse_algorithm.as_str(),
        default.kms_master_key_id.as_deref(),
        rule.bucket_key_enabled.unwrap_or(false),
    )
}

/// `rule` as `GetBucketEncryption` answers it.
pub fn bucket_configuration(rule: &EncryptionRule) -> ServerSideEncryptionConfiguration {
    let (algorithm, key_id) = match rule {
        EncryptionRule::Managed { .. } => (ServerSideEncryption::AES256, None),
        EncryptionRule::Kms { key_id, .. } => (ServerSideEncryption::AWS_KMS, key_id.clone()),
    };
    ServerSideEncryptionConfiguration {
        rules: vec![ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                kms_master_key_id: key_id,
                sse_algorithm: ServerSideEncryption::from(algorithm.to_owned()),
            }),
            bucket_key_enabled: Some(rule.bucket_key()),
        }],
    }
}

/// The protection an object has, as response headers report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reported {
    /// `x-amz-server-side-encryption`: `AES256` or `aws:kms`; none for an
    /// unencrypted object.
    pub algorithm: Option<ServerSideEncryption>,
    /// `x-amz-server-side-encryption-aws-kms-key-id`: the CMK's id.
    pub kms_key_id: Option<String>,
    /// `x-amz-server-side-encryption-bucket-key-enabled`, when it is.
    pub bucket_key: Option<bool>,
}

impl Reported {
    /// What `protection` is reported as.
    pub fn of(protection: &Protection) -> Self {
        let algorithm = match protection.mode {
            ProtectionMode::None => return Self::default(),
            ProtectionMode::Aes256 => ServerSideEncryption::AES256,
            ProtectionMode::Kms => ServerSideEncryption::AWS_KMS,
        };
        Self {
            algorithm: Some(ServerSideEncryption::from(algorithm.to_owned())),
            kms_key_id: protection.kms_key_id.clone(),
            bucket_key: protection.bucket_key.then_some(true),
        }
    }

    /// What a request for `rule` is answered with before the object exists
    /// (CreateMultipartUpload): the algorithm and the key the request named.
    pub fn requested(rule: &EncryptionRule) -> Self {
        let (algorithm, kms_key_id) = match rule {
            EncryptionRule::Managed { .. } => (ServerSideEncryption::AES256, None),
            EncryptionRule::Kms { key_id, .. } => (ServerSideEncryption::AWS_KMS, key_id.clone()),
        };
        Self {
            algorithm: Some(ServerSideEncryption::from(algorithm.to_owned())),
            kms_key_id,
            bucket_key: rule.bucket_key().then_some(true),
        }
    }
}

/// Refuses SSE request headers on a GET or HEAD, as S3 does: an object's
/// protection is its own, not the reader's choice.
pub(crate) fn refuse_on_read(headers: &hyper::HeaderMap) -> S3Result<()> {
    for name in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-bucket-key-enabled",
    ] {
        if headers.contains_key(name) {
            return Err(invalid_argument(format!(
                "{name} is not allowed on a read: objects are decrypted with the keys they were stored with"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(name: &str) -> ServerSideEncryption {
        ServerSideEncryption::from(name.to_owned())
    }

    #[test]
    fn request_headers_become_rules() {
        assert_eq!(requested_rule(None, None, None).ok(), Some(None));
        assert_eq!(
            requested_rule(Some(&sse("AES256")), None, None).ok(),
            Some(Some(EncryptionRule::managed()))
        );
        assert_eq!(
            requested_rule(Some(&sse("aws:kms")), Some("alias/a"), Some(true)).ok(),
            Some(Some(
                EncryptionRule::kms(Some("alias/a")).with_bucket_key(true)
            ))
        );
        assert_eq!(
            requested_rule(Some(&sse("aws:kms")), None, None).ok(),
            Some(Some(EncryptionRule::kms(None)))
        );
        for (algorithm, key) in [
            (Some("AES256"), Some("k")),
            (None, Some("k")),
            (Some("SM4"), None),
            (Some("aws:kms"), Some("")),
        ] {
            let algorithm = algorithm.map(sse);
            let refused = requested_rule(algorithm.as_ref(), key, None);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.code().as_str() == "InvalidArgument"),
                "{algorithm:?} {key:?}"
            );
        }
    }

    #[test]
    fn bucket_rules_round_trip_through_the_configuration() {
        for rule in [
            EncryptionRule::managed(),
            EncryptionRule::kms(None).with_bucket_key(true),
            EncryptionRule::kms(Some("k-1")),
        ] {
            let configuration = bucket_configuration(&rule);
            assert_eq!(bucket_rule(&configuration).ok(), Some(rule));
        }
        let empty = ServerSideEncryptionConfiguration { rules: vec![] };
        assert!(bucket_rule(&empty).is_err());
    }

    #[test]
    fn protection_is_reported_with_the_cmk_id() {
        let protection = Protection {
            mode: ProtectionMode::Kms,
            kms_key_id: Some("k-1".into()),
            key_version: Some(1),
            bucket_key: false,
        };
        let reported = Reported::of(&protection);
        assert_eq!(reported.algorithm, Some(sse("aws:kms")));
        assert_eq!(reported.kms_key_id.as_deref(), Some("k-1"));
        assert_eq!(reported.bucket_key, None);
        let none = Protection {
            mode: ProtectionMode::None,
            kms_key_id: None,
            key_version: None,
            bucket_key: false,
        };
        assert_eq!(Reported::of(&none), Reported::default());
    }
}
