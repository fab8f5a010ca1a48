//! `object_store` attributes ↔ coffer's object attributes, user metadata and
//! protection.
//!
//! | `object_store` attribute | coffer |
//! | --- | --- |
//! | `ContentType`, `ContentDisposition`, `ContentEncoding`, `ContentLanguage`, `CacheControl` | the same [`ObjectAttributes`] field |
//! | `Metadata(name)` | user metadata `name` |
//! | `Metadata("x-oss-server-side-encryption")` on a put | the request's rule: `AES256` or `KMS` (not stored as metadata) |
//! | `Metadata("x-oss-server-side-encryption-key-id")` on a put | the CMK of a `KMS` rule |
//! | `Metadata("x-oss-server-side-encryption-bucket-key-enabled")` on a put | `true`: derive from a bucket key |
//! | `StorageClass` | refused (`NotSupported`): coffer has one storage class |

use std::collections::BTreeMap;

use coffer_sse::{EncryptionRule, ObjectAttributes, ObjectMeta, Protection, ProtectionMode};
use object_store::{Attribute, AttributeValue, Attributes};

/// Metadata attribute naming the rule of a put (`AES256` or `KMS`) and, when
/// reported, the protection applied (absent for an unencrypted object).
pub const SSE_ATTRIBUTE: &str = "x-oss-server-side-encryption";
/// Metadata attribute naming a `KMS` rule's CMK, and the CMK reported.
pub const SSE_KEY_ID_ATTRIBUTE: &str = "x-oss-server-side-encryption-key-id";
/// Metadata attribute asking for (`true`) or reporting a bucket key.
pub const SSE_BUCKET_KEY_ATTRIBUTE: &str = "x-oss-server-side-encryption-bucket-key-enabled";
/// Metadata attribute reporting the version of the master key or CMK that
/// wraps the object's data key (reported only; ignored on a put).
pub const SSE_KEY_VERSION_ATTRIBUTE: &str = "x-oss-server-side-encryption-key-version";

/// What a put's attributes ask of the store.
pub(crate) struct Requested {
    pub(crate) attributes: ObjectAttributes,
    pub(crate) user_metadata: BTreeMap<String, String>,
    /// `None`: the bucket's default rule.
    pub(crate) rule: Option<EncryptionRule>,
}

/// Splits `attributes` into coffer's attributes, user metadata and rule.
pub(crate) fn requested(attributes: &Attributes) -> object_store::Result<Requested> {
    let mut out = Requested {
        attributes: ObjectAttributes::new(),
        user_metadata: BTreeMap::new(),
        rule: None,
    };
    let (mut algorithm, mut key_id, mut bucket_key) = (None, None, None);
    for (attribute, value) in attributes {
        let value = value.as_ref().to_owned();
        match attribute {
            Attribute::ContentType => out.attributes.content_type = Some(value),
            Attribute::ContentDisposition => out.attributes.content_disposition = Some(value),
            Attribute::ContentEncoding => out.attributes.content_encoding = Some(value),
            Attribute::ContentLanguage => out.attributes.content_language = Some(value),
            Attribute::CacheControl => out.attributes.cache_control = Some(value),
            Attribute::Metadata(name) if name.eq_ignore_ascii_case(SSE_ATTRIBUTE) => {
                algorithm = Some(value)
            }
            Attribute::Metadata(name) if name.eq_ignore_ascii_case(SSE_KEY_ID_ATTRIBUTE) => {
                key_id = Some(value)
            }
            Attribute::Metadata(name) if name.eq_ignore_ascii_case(SSE_BUCKET_KEY_ATTRIBUTE) => {
                bucket_key = Some(value)
            }
            Attribute::Metadata(name) if name.eq_ignore_ascii_case(SSE_KEY_VERSION_ATTRIBUTE) => {}
            Attribute::Metadata(name) => {
                out.user_metadata.insert(name.to_string(), value);
            }
            other => {
                return Err(object_store::Error::NotSupported {
                    source: format!("coffer does not store the attribute {other:?}").into(),
                });
            }
        }
    }
    let invalid = |message: String| object_store::Error::Generic {
        store: crate::STORE_NAME,
        source: message.into(),
    };
    let bucket_key = match bucket_key
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(invalid(format!(
                "{SSE_BUCKET_KEY_ATTRIBUTE} is true or false, not {other:?}"
            )));
        }
    };
    out.rule = match (algorithm, key_id) {
        (Some(algorithm), key_id) => Some(
            EncryptionRule::from_parts(&algorithm, key_id.as_deref())
                .map_err(|e| invalid(e.to_string()))?
                .with_bucket_key(bucket_key),
        ),
        (None, Some(_)) => {
            return Err(invalid(format!(
                "{SSE_KEY_ID_ATTRIBUTE} needs {SSE_ATTRIBUTE}: KMS"
            )));
        }
        (None, None) if bucket_key => {
            return Err(invalid(format!(
                "{SSE_BUCKET_KEY_ATTRIBUTE} needs {SSE_ATTRIBUTE}"
            )));
        }
        (None, None) => None,
    };
    Ok(out)
}

/// The attributes `object_store` reports for an object: what was stored,
/// and its protection if `with_protection`.
pub(crate) fn reported(meta: &ObjectMeta, with_protection: bool) -> Attributes {
    let mut out = Attributes::new();
    let stored = &meta.attributes;
    for (attribute, value) in [
        (Attribute::ContentType, &stored.content_type),
        (Attribute::ContentDisposition, &stored.content_disposition),
        (Attribute::ContentEncoding, &stored.content_encoding),
        (Attribute::ContentLanguage, &stored.content_language),
        (Attribute::CacheControl, &stored.cache_control),
    ] {
        if let Some(value) = value {
            out.insert(attribute, AttributeValue::from(value.clone()));
        }
    }
    for (name, value) in &meta.user_metadata {
        out.insert(
            Attribute::Metadata(name.clone().into()),
            AttributeValue::from(value.clone()),
        );
    }
    if with_protection {
        insert_protection(&mut out, &meta.protection);
    }
    out
}

fn insert_protection(out: &mut Attributes, protection: &Protection) {
    let metadata = |name: &'static str| Attribute::Metadata(name.into());
    let Some(algorithm) = protection.mode.algorithm() else {
        return;
    };
    out.insert(metadata(SSE_ATTRIBUTE), algorithm.into());
    if protection.mode == ProtectionMode::Kms
        && let Some(key_id) = &protection.kms_key_id
    {
        out.insert(
            metadata(SSE_KEY_ID_ATTRIBUTE),
            AttributeValue::from(key_id.clone()),
        );
    }
    if let Some(version) = protection.key_version {
        out.insert(
            metadata(SSE_KEY_VERSION_ATTRIBUTE),
            AttributeValue::from(version.to_string()),
        );
    }
    if protection.bucket_key {
        out.insert(metadata(SSE_BUCKET_KEY_ATTRIBUTE), "true".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_attributes_become_a_rule_not_metadata() {
        let attributes = Attributes::from_iter([
            (Attribute::ContentType, "text/plain"),
            (Attribute::Metadata("owner".into()), "alice"),
            (Attribute::Metadata(SSE_ATTRIBUTE.into()), "KMS"),
            (
                Attribute::Metadata(SSE_KEY_ID_ATTRIBUTE.into()),
                "alias/app",
            ),
            (Attribute::Metadata(SSE_BUCKET_KEY_ATTRIBUTE.into()), "true"),
        ]);
        let requested = requested(&attributes).expect("valid");
        assert_eq!(
            requested.rule,
            Some(EncryptionRule::kms(Some("alias/app")).with_bucket_key(true))
        );
        assert_eq!(
            requested.user_metadata,
            BTreeMap::from([("owner".to_owned(), "alice".to_owned())])
        );
        assert_eq!(
            requested.attributes.content_type.as_deref(),
            Some("text/plain")
        );
    }

    #[test]
    fn bad_protection_attributes_are_refused() {
        for attributes in [
            vec![(SSE_ATTRIBUTE, "AES128")],
            vec![(SSE_ATTRIBUTE, "AES256"), (SSE_KEY_ID_ATTRIBUTE, "k")],
            vec![(SSE_KEY_ID_ATTRIBUTE, "k")],
            vec![(SSE_BUCKET_KEY_ATTRIBUTE, "true")],
            vec![(SSE_ATTRIBUTE, "KMS"), (SSE_BUCKET_KEY_ATTRIBUTE, "yes")],
        ] {
            let attributes = Attributes::from_iter(
                attributes
                    .into_iter()
                    .map(|(name, value)| (Attribute::Metadata(name.into()), value)),
            );
            assert!(
                matches!(
                    requested(&attributes),
                    Err(object_store::Error::Generic { .. })
                ),
                "{attributes:?}"
            );
        }
        let storage_class = Attributes::from_iter([(Attribute::StorageClass, "GLACIER")]);
        assert!(matches!(
            requested(&storage_class),
            Err(object_store::Error::NotSupported { .. })
        ));
    }
}
