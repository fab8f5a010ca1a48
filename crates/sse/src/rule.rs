//! Encryption rules (what to do) and protection (what was done).

use crate::{Error, Result};

/// How objects are to be encrypted: a bucket's default, or a put's own choice.
///
/// `bucket_key` (S3's `BucketKeyEnabled`) derives each object's data key from
/// a bucket key instead of asking the KMS (or the master keyring) for one per
/// object: see the engine's bucket-key options for the bounds and the trade-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionRule {
    /// Store-managed keys ("AES256"): data keys wrapped by the master keyring.
    Managed {
        /// Derive data keys from a bucket key.
        bucket_key: bool,
    },
    /// KMS keys ("KMS"): data keys from a CMK — the store's default managed CMK
    /// when `key_id` is `None`, otherwise that CMK id or alias.
    Kms {
        /// A CMK id or alias, or `None` for the default managed CMK.
        key_id: Option<String>,
        /// Derive data keys from a bucket key.
        bucket_key: bool,
    },
}

impl EncryptionRule {
    /// Store-managed keys ("AES256"), a data key per object.
    pub fn managed() -> Self {
        Self::Managed { bucket_key: false }
    }

    /// KMS keys under `key_id`, or the default managed CMK, a data key per object.
    pub fn kms(key_id: Option<&str>) -> Self {
        Self::Kms {
            key_id: key_id.map(str::to_owned),
            bucket_key: false,
        }
    }

    /// The same rule with data keys derived from a bucket key (`true`) or one
    /// data key per object from the KMS or master keyring (`false`).
    pub fn with_bucket_key(mut self, enabled: bool) -> Self {
        match &mut self {
            Self::Managed { bucket_key } | Self::Kms { bucket_key, .. } => *bucket_key = enabled,
        }
        self
    }

    /// Whether data keys are derived from a bucket key.
    pub fn bucket_key(&self) -> bool {
        match self {
            Self::Managed { bucket_key } | Self::Kms { bucket_key, .. } => *bucket_key,
        }
    }

    /// The CMK id or alias a KMS rule names (`None` for the default managed
    /// CMK and for store-managed keys).
    pub fn kms_key_id(&self) -> Option<&str> {
        match self {
            Self::Kms { key_id, .. } => key_id.as_deref(),
            Self::Managed { .. } => None,
        }
    }

    /// The rule as OSS spells it: algorithm `"AES256"` or `"KMS"`, and a CMK id
    /// that only `"KMS"` accepts. Anything else is [`Error::InvalidArgument`].
    pub fn from_parts(algorithm: &str, kms_key_id: Option<&str>) -> Result<Self> {
        match (algorithm, kms_key_id) {
            ("AES256", None) => Ok(Self::managed()),
            ("AES256", Some(_)) => Err(Error::InvalidArgument(
                "AES256 (store-managed) encryption takes no KMS key id".into(),
            )),
            ("KMS", Some("")) => Err(Error::InvalidArgument("empty KMS key id".into())),
            ("KMS", id) => Ok(Self::kms(id)),
            (other, _) => Err(Error::InvalidArgument(format!(
                "unknown server-side encryption algorithm {other:?} (AES256 or KMS)"
            ))),
        }
    }

    /// `"AES256"` or `"KMS"`, the value of `oss:x-oss-server-side-encryption`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Managed { .. } => "AES256",
            Self::Kms { .. } => "KMS",
        }
    }
}

/// How an object is actually protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtectionMode {
    /// Stored unencrypted (neither the put nor the bucket asked for encryption).
    None,
    /// Store-managed keys ("AES256").
    Aes256,
    /// A KMS CMK ("KMS").
    Kms,
}

impl ProtectionMode {
    /// `"AES256"`, `"KMS"`, or `None` for unencrypted objects.
    pub fn algorithm(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Aes256 => Some("AES256"),
            Self::Kms => Some("KMS"),
        }
    }
}

/// The protection reported by get and head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// The mode.
    pub mode: ProtectionMode,
    /// The CMK id used (resolved, never an alias); `None` unless KMS.
    pub kms_key_id: Option<String>,
    /// The master key version (AES256) or CMK material version (KMS) that
    /// wraps the object's data key, or its bucket key.
    pub key_version: Option<u32>,
    /// Whether the data key is derived from a bucket key.
    pub bucket_key: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_as_oss_spells_them() {
        assert_eq!(
            EncryptionRule::from_parts("AES256", None).expect("ok"),
            EncryptionRule::managed()
        );
        assert!(matches!(
            EncryptionRule::from_parts("AES256", Some("k")),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(
            EncryptionRule::from_parts("KMS", None).expect("ok"),
            EncryptionRule::kms(None)
        );
        assert_eq!(
            EncryptionRule::from_parts("KMS", Some("k")).expect("ok"),
            EncryptionRule::kms(Some("k"))
        );
        assert!(matches!(
            EncryptionRule::from_parts("SM4", None),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn bucket_keys_are_part_of_the_rule() {
        let rule = EncryptionRule::kms(Some("k")).with_bucket_key(true);
        assert!(rule.bucket_key());
        assert_eq!(rule.kms_key_id(), Some("k"));
        assert!(!rule.clone().with_bucket_key(false).bucket_key());
        assert!(EncryptionRule::managed().with_bucket_key(true).bucket_key());
        assert_eq!(EncryptionRule::managed().kms_key_id(), None);
    }
}
