//! The interface a KMS backend implements: its protocol and nothing else.
//!
//! Two traits, split along what every KMS has and what only some have:
//!
//! - [`KmsBackend`], the data plane: generate a data key for an encryption
//!   context, unwrap it, move it to the key's current material, describe a key.
//! - [`KeyAdministration`], key administration: create keys, aliases,
//!   enable/disable, deletion, rotation, import. Every method has a default
//!   that returns [`Error::Unsupported`], so a backend implements what its
//!   service offers and lists it in [`KeyAdministration::supports`].
//!
//! Neither sees the caller: checking the caller's `kms:*` policies, recording
//! the audit event and failing fast while the service is unreachable are done
//! once for every backend by [`Kms`](crate::Kms), the layer that wraps it.

use std::time::{Duration, SystemTime};

use super::byok::{ImportOptions, ImportParameters};
use super::{CreateKeyOptions, KeyMetadata};
use crate::{DataKey, EncryptionContext, Error, Result, WrappedKey};

/// The key administration operations, each named by its policy action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdminOperation {
    /// Create a key.
    CreateKey,
    /// List every key.
    ListKeys,
    /// Point an alias at a key.
    CreateAlias,
    /// Remove an alias.
    DeleteAlias,
    /// List every alias.
    ListAliases,
    /// Enable a disabled key.
    EnableKey,
    /// Disable a key.
    DisableKey,
    /// Schedule a key's deletion after a waiting period.
    ScheduleKeyDeletion,
    /// Cancel a scheduled deletion.
    CancelKeyDeletion,
    /// Destroy a key now, with no waiting period.
    DeleteKey,
    /// Add a material version now.
    RotateKey,
    /// Set the automatic rotation period.
    SetRotationPeriod,
    /// Refuse material versions below a floor.
    SetMinDecryptionVersion,
    /// Hand out a wrapping key and token for BYOK import.
    GetParametersForImport,
    /// Import key material (wrapped to an import token's key).
    ImportKeyMaterial,
    /// Import plain key material (embedded use).
    ImportPlainKeyMaterial,
    /// Delete imported material.
    DeleteKeyMaterial,
}

impl AdminOperation {
    /// Every operation.
    pub const ALL: [AdminOperation; 17] = [
        Self::CreateKey,
        Self::ListKeys,
        Self::CreateAlias,
        Self::DeleteAlias,
        Self::ListAliases,
        Self::EnableKey,
        Self::DisableKey,
        Self::ScheduleKeyDeletion,
        Self::CancelKeyDeletion,
        Self::DeleteKey,
        Self::RotateKey,
        Self::SetRotationPeriod,
        Self::SetMinDecryptionVersion,
        Self::GetParametersForImport,
        Self::ImportKeyMaterial,
        Self::ImportPlainKeyMaterial,
        Self::DeleteKeyMaterial,
    ];

    /// The policy action it is checked as, e.g. `kms:CreateKey`.
    pub fn action(self) -> &'static str {
        match self {
            Self::CreateKey => "kms:CreateKey",
            Self::ListKeys => "kms:ListKeys",
            Self::CreateAlias => "kms:CreateAlias",
            Self::DeleteAlias => "kms:DeleteAlias",
            Self::ListAliases => "kms:ListAliases",
            Self::EnableKey => "kms:EnableKey",
            Self::DisableKey => "kms:DisableKey",
            Self::ScheduleKeyDeletion => "kms:ScheduleKeyDeletion",
            Self::CancelKeyDeletion => "kms:CancelKeyDeletion",
            Self::DeleteKey => "kms:DeleteKey",
            Self::RotateKey => "kms:RotateKey",
            Self::SetRotationPeriod => "kms:UpdateRotationPolicy",
            Self::SetMinDecryptionVersion => "kms:UpdateMinDecryptionVersion",
            Self::GetParametersForImport => "kms:GetParametersForImport",
            Self::ImportKeyMaterial | Self::ImportPlainKeyMaterial => "kms:ImportKeyMaterial",
            Self::DeleteKeyMaterial => "kms:DeleteKeyMaterial",
        }
    }
}

/// The store's default CMK, as [`KmsBackend::default_key`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultKey {
    /// Its key id.
    pub key_id: String,
    /// Whether this call created it (recorded as one `kms:CreateKey` event).
    pub created: bool,
}

/// Key material to import into an external key.
pub enum KeyImport<'a> {
    /// Wrapped with RSAES-OAEP-SHA-256 to the public key of `token`.
    Wrapped {
        /// The import token from `get_parameters_for_import`.
        token: &'a str,
        /// The wrapped material.
        material: &'a [u8],
    },
    /// 32 bytes in the clear, for embedded use where they never cross a network.
    Plain(&'a [u8; 32]),
}

/// The error for an operation `backend` does not offer.
pub fn unsupported(backend: &'static str, operation: impl Into<String>) -> Error {
    Error::Unsupported {
        backend,
        operation: operation.into(),
    }
}

/// Key administration: the operations only some KMS services offer. Every
/// method but [`backend_name`](Self::backend_name) has a default that returns
/// [`Error::Unsupported`]; a backend overrides what it offers and says so in
/// [`supports`](Self::supports). Key ids are resolved (never aliases) except
/// where a method takes an alias by name. Ranges the layer checks (deletion
/// windows of 7 to 366 days, rotation periods of 7 to 365 days) arrive checked;
/// a service's narrower limits are the backend's to refuse.
pub trait KeyAdministration: Send + Sync {
    /// The backend's name in errors and audit events: `local`, `transit`,
    /// `aws-kms`.
    fn backend_name(&self) -> &'static str;

    /// Whether the backend offers `operation`.
    fn supports(&self, operation: AdminOperation) -> bool {
        let _ = operation;
        false
    }

    /// Creates a key.
    fn create_key(&self, options: CreateKeyOptions) -> Result<KeyMetadata> {
        let _ = options;
        Err(unsupported(self.backend_name(), "kms:CreateKey"))
    }

    /// Every key.
    fn list_keys(&self) -> Result<Vec<KeyMetadata>> {
        Err(unsupported(self.backend_name(), "kms:ListKeys"))
    }

    /// Points `alias` at the key `key_id`.
    fn create_alias(&self, alias: &str, key_id: &str) -> Result<()> {
        let _ = (alias, key_id);
        Err(unsupported(self.backend_name(), "kms:CreateAlias"))
    }

    /// Removes `alias`.
    fn delete_alias(&self, alias: &str) -> Result<()> {
        let _ = alias;
        Err(unsupported(self.backend_name(), "kms:DeleteAlias"))
    }

    /// Every alias with its key id.
    fn list_aliases(&self) -> Result<Vec<(String, String)>> {
        Err(unsupported(self.backend_name(), "kms:ListAliases"))
    }

    /// Enables a disabled key.
    fn enable_key(&self, key_id: &str) -> Result<()> {
        let _ = key_id;
        Err(unsupported(self.backend_name(), "kms:EnableKey"))
    }

    /// Disables a key: generate and decrypt are refused until it is enabled.
    fn disable_key(&self, key_id: &str) -> Result<()> {
        let _ = key_id;
        Err(unsupported(self.backend_name(), "kms:DisableKey"))
    }

    /// Schedules the key's destruction `pending_days` from now; returns when.
    fn schedule_key_deletion(&self, key_id: &str, pending_days: u32) -> Result<SystemTime> {
        let _ = (key_id, pending_days);
        Err(unsupported(self.backend_name(), "kms:ScheduleKeyDeletion"))
    }

    /// Cancels a scheduled deletion; the key is usable again.
    fn cancel_key_deletion(&self, key_id: &str) -> Result<()> {
        let _ = key_id;
        Err(unsupported(self.backend_name(), "kms:CancelKeyDeletion"))
    }

    /// Destroys the key now: everything under it is unreadable for good.
    fn delete_key(&self, key_id: &str) -> Result<()> {
        let _ = key_id;
        Err(unsupported(self.backend_name(), "kms:DeleteKey"))
    }

    /// Adds a material version now; returns it.
    fn rotate_key(&self, key_id: &str) -> Result<u32> {
        let _ = key_id;
        Err(unsupported(self.backend_name(), "kms:RotateKey"))
    }

    /// Sets or clears the automatic rotation period.
    fn set_rotation_period(&self, key_id: &str, period: Option<Duration>) -> Result<()> {
        let _ = (key_id, period);
        Err(unsupported(self.backend_name(), "kms:UpdateRotationPolicy"))
    }

    /// Refuses to decrypt under material versions below `version`.
    fn set_min_decryption_version(&self, key_id: &str, version: u32) -> Result<()> {
        let _ = (key_id, version);
        Err(unsupported(
            self.backend_name(),
            "kms:UpdateMinDecryptionVersion",
        ))
    }

    /// A wrapping key and single-use token for importing material.
    fn get_parameters_for_import(
        &self,
        key_id: &str,
        options: ImportOptions,
    ) -> Result<ImportParameters> {
        let _ = (key_id, options);
        Err(unsupported(
            self.backend_name(),
            "kms:GetParametersForImport",
        ))
    }

    /// Imports material into an external key.
    fn import_key_material(&self, key_id: &str, import: KeyImport<'_>) -> Result<()> {
        let _ = key_id;
        let operation = match import {
            KeyImport::Wrapped { .. } => "kms:ImportKeyMaterial",
            KeyImport::Plain(_) => "kms:ImportKeyMaterial of plain material",
        };
        Err(unsupported(self.backend_name(), operation))
    }

    /// Deletes imported material; the key waits for an import again.
    fn delete_key_material(&self, key_id: &str) -> Result<()> {
        let _ = key_id;
        Err(unsupported(self.backend_name(), "kms:DeleteKeyMaterial"))
    }
}

/// A KMS backend: the data plane of a key management service (this trait) and
/// whatever key administration it offers ([`KeyAdministration`]).
///
/// Implement the protocol only. [`Kms`](crate::Kms) wraps a backend and does,
/// the same for every backend: the caller's policy checks on the key's resource
/// name, the audit event of every call, alias resolution for the checks, and
/// failing fast while the service is unavailable. Report an unreachable
/// service as [`Error::KmsUnavailable`] (after the backend's own bounded
/// retries), a ciphertext that does not open for its context as
/// [`Error::Integrity`], a refusal of the backend's own credentials as
/// [`Error::BackendDenied`].
pub trait KmsBackend: KeyAdministration {
    /// Draws a fresh data key and wraps it under the current material of
    /// `key_id` (a key id, or an alias where the backend has aliases), bound to
    /// `context`: the wrapped key opens only for the same context. The wrapped
    /// key carries the key id (never an alias) and the material version.
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey)>;

    /// Unwraps a data key this backend wrapped, for `context`.
    fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey>;

    /// Wraps the same data key under the key's current material; `None` if the
    /// wrapped key is current already.
    fn rewrap_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Option<WrappedKey>>;

    /// Describes a key by id or alias. The layer fills in `resource_name`.
    fn describe_key(&self, key_id: &str) -> Result<KeyMetadata>;

    /// Whether `key_id` is a key id as this backend spells it: the form its
    /// wrapped keys carry and policies are checked on, told without a call.
    /// The layer resolves anything else (an alias, an ARN, an alias ARN)
    /// with [`resolve_key_id`](Self::resolve_key_id) before any check and
    /// before any audit event, and refuses what that does not turn into a
    /// key id: a `Deny` on a key holds however the caller spells it.
    fn is_key_id(&self, key_id: &str) -> bool;

    /// The key id an alias (or another spelling the service accepts) names.
    /// By default, from [`describe_key`](Self::describe_key).
    fn resolve_key_id(&self, key_id_or_alias: &str) -> Result<String> {
        self.describe_key(key_id_or_alias).map(|m| m.key_id)
    }

    /// The store's default CMK: created on first use where the backend
    /// manages one (exactly once however many callers race), or the key the
    /// backend was configured with. [`Error::Unsupported`] if there is none.
    fn default_key(&self) -> Result<DefaultKey>;

    /// The key the backend manages on the store's behalf, if it exists already:
    /// the layer does not check the data-key actions on it (as OSS does with
    /// its `alias/acs/oss` key). `None` by default: every key is checked.
    fn managed_key_id(&self) -> Option<String> {
        None
    }

    /// Requests made to the KMS service so far (HTTP requests, retries
    /// included; for the local KMS, operations), for measuring KMS traffic.
    fn requests(&self) -> u64;

    /// Where in its service this backend's keys live, beyond its kind: the
    /// Transit mount, the AWS region. A store records it with the backend's
    /// name and refuses to open with another. `None` (the default) for a
    /// backend whose keys are in the store itself.
    fn location(&self) -> Option<String> {
        None
    }
}

/// Whether `id` is a UUID as key services write them (`8-4-4-4-12` lowercase
/// hex digits): the key ids of the local KMS and of AWS KMS. Any other
/// spelling (uppercase among them) is resolved by the layer first, so that
/// policies see one spelling of a key.
pub fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, len)| {
            group.len() == len
                && group
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::is_uuid;

    #[test]
    fn uuids_and_nothing_else() {
        assert!(is_uuid("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(
            !is_uuid("1234ABCD-12AB-34CD-56EF-1234567890AB"),
            "one spelling only"
        );
        for not in [
            "",
            "alias/x",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890a",
            "1234abcd-12ab-34cd-56ef-1234567890abc",
            "1234abcd12ab-34cd-56ef-1234567890ab-",
            "1234abcg-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(!is_uuid(not), "{not}");
        }
    }
}
