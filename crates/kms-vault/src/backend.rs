//! [`TransitKms`]: a Transit mount as a coffer KMS backend.

use std::time::{Duration, SystemTime};

use coffer_keyring::{
    AdminOperation, CreateKeyOptions, DataKey, DefaultKey, EncryptionContext, KeyAdministration,
    KeyMetadata, KeyOrigin, KeyState, KmsBackend, Provider, WrapAlgorithm, WrappedKey, unsupported,
};

use crate::{ConfigError, Error, TransitCiphertext, TransitKey, VaultConfig, VaultTransit};

/// The backend's name in errors and audit events.
pub const BACKEND: &str = "transit";

/// What Transit's key administration offers coffer.
const OFFERED: [AdminOperation; 8] = [
    AdminOperation::CreateKey,
    AdminOperation::ListKeys,
    AdminOperation::EnableKey,
    AdminOperation::DisableKey,
    AdminOperation::DeleteKey,
    AdminOperation::RotateKey,
    AdminOperation::SetRotationPeriod,
    AdminOperation::SetMinDecryptionVersion,
];

/// OpenBao/Vault Transit as a coffer KMS backend: give it to
/// `StoreOptions::with_kms`, and the store's CMKs are Transit keys (the key
/// id is the Transit key name).
///
/// - Data keys are drawn by coffer and sealed by Transit under the key's
///   latest version, bound to the object's encryption context as Transit's
///   `associated_data`: a wrapped key copied into another object's record does
///   not decrypt. The wrapped-key record keeps Transit's `vault:v<N>:...`
///   ciphertext and reports `N` as the key version.
/// - Keys are never created by accident (Transit would create one on the
///   first encrypt under a new name): every encrypt reads the key first.
/// - Administration maps to Transit: rotate to `rotate`, the rotation period
///   to `auto_rotate_period`, disable and enable to OpenBao's `soft-delete` and
///   `soft-delete-restore`, retiring old versions to `min_decryption_version`,
///   and deletion to Transit's deletion, at once (`delete_key`; Transit has no
///   deletion window, so `schedule_key_deletion` is unsupported). Aliases and
///   BYOK import are unsupported.
/// - The store's default CMK (a rule with no key id) is the key named with
///   [`with_default_key`](Self::with_default_key); without one, such rules are
///   unsupported.
pub struct TransitKms {
    transit: VaultTransit,
    default_key: Option<String>,
}

impl TransitKms {
    /// A backend over the Transit mount `config` names. Sends nothing yet.
    pub fn new(config: VaultConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            transit: VaultTransit::new(config)?,
            default_key: None,
        })
    }

    /// A backend over an existing client.
    pub fn from_client(transit: VaultTransit) -> Self {
        Self {
            transit,
            default_key: None,
        }
    }

    /// The Transit key that rules without a key id use (it must exist; coffer
    /// never creates it).
    pub fn with_default_key(mut self, name: &str) -> Self {
        self.default_key = Some(name.to_owned());
        self
    }

    /// The Transit client.
    pub fn client(&self) -> &VaultTransit {
        &self.transit
    }

    fn read(&self, name: &str) -> coffer_keyring::Result<TransitKey> {
        self.transit
            .read_key(name)
            .map_err(to_kms_error)?
            .ok_or_else(|| coffer_keyring::Error::KeyNotFound(name.to_owned()))
    }

    fn ciphertext(&self, wrapped: &WrappedKey) -> coffer_keyring::Result<TransitCiphertext> {
        if wrapped.provider() != Provider::Kms
            || wrapped.algorithm() != WrapAlgorithm::TransitCiphertext
        {
            return Err(wrapped.not_sealed_by("OpenBao/Vault Transit"));
        }
        let text = std::str::from_utf8(wrapped.body())
            .map_err(|_| coffer_keyring::Error::Integrity("a Transit ciphertext is not UTF-8"))?;
        let ciphertext = TransitCiphertext::parse(text)
            .map_err(|_| coffer_keyring::Error::Integrity("not a Transit ciphertext"))?;
        if ciphertext.version() != wrapped.key_version() {
            return Err(coffer_keyring::Error::Integrity(
                "a Transit ciphertext's version is not its record's",
            ));
        }
        Ok(ciphertext)
    }
}

/// The wrapped-key record of a Transit ciphertext under key `name`.
fn record(name: &str, ciphertext: TransitCiphertext) -> coffer_keyring::Result<WrappedKey> {
    let version = ciphertext.version();
    WrappedKey::opaque(
        Provider::Kms,
        WrapAlgorithm::TransitCiphertext,
        name,
        version,
        ciphertext.into_string().into_bytes(),
    )
}

/// A Transit error as the KMS layer's error.
pub fn to_kms_error(error: Error) -> coffer_keyring::Error {
    use coffer_keyring::Error as K;
    match error {
        Error::NotFound { key } => K::KeyNotFound(key),
        Error::SoftDeleted { key } => K::KeyDisabled(key),
        Error::Integrity { .. } => K::Integrity(
            "the Transit ciphertext does not decrypt for this object (another context, key, or a modified ciphertext)",
        ),
        Error::VersionRetired { key, version } => K::UnknownKeyVersion {
            key_id: key,
            version,
        },
        Error::PermissionDenied { message } => K::BackendDenied {
            backend: BACKEND,
            message,
        },
        error @ Error::Unavailable { .. } => K::KmsUnavailable {
            backend: BACKEND,
            reason: error.to_string(),
        },
        Error::InvalidArgument(message) => K::InvalidArgument(message),
        error => K::Backend {
            backend: BACKEND,
            message: error.to_string(),
        },
    }
}

fn metadata(key: &TransitKey) -> KeyMetadata {
    let created = key
        .version_created
        .get(&1)
        .copied()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    KeyMetadata {
        key_id: key.name.clone(),
        resource_name: String::new(),
        description: String::new(),
        state: if key.is_soft_deleted() {
            KeyState::Disabled
        } else {
            KeyState::Enabled
        },
        origin: KeyOrigin::Generated,
        created_at: created,
        current_version: key.latest_version,
        min_decryption_version: key.min_decryption_version.max(1),
        rotation_period: key.auto_rotate_period,
        last_rotated_at: key.version_created.get(&key.latest_version).copied(),
        managed: false,
    }
}

impl KmsBackend for TransitKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> coffer_keyring::Result<(DataKey, WrappedKey)> {
        let data_key = DataKey::generate()?;
        let sealed = self
            .transit
            .encrypt(key_id, &data_key, &context.to_bytes())
            .map_err(to_kms_error)?;
        Ok((data_key, record(key_id, sealed)?))
    }

    fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> coffer_keyring::Result<DataKey> {
        let ciphertext = self.ciphertext(wrapped)?;
        self.transit
            .decrypt(wrapped.key_id(), &ciphertext, &context.to_bytes())
            .map_err(to_kms_error)
    }

    fn rewrap_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> coffer_keyring::Result<Option<WrappedKey>> {
        let ciphertext = self.ciphertext(wrapped)?;
        self.transit
            .rewrap(wrapped.key_id(), &ciphertext, &context.to_bytes())
            .map_err(to_kms_error)?
            .map(|sealed| record(wrapped.key_id(), sealed))
            .transpose()
    }

    fn describe_key(&self, key_id: &str) -> coffer_keyring::Result<KeyMetadata> {
        self.read(key_id).map(|key| metadata(&key))
    }

    /// The Transit mount: a store's CMKs are the keys of one mount.
    fn location(&self) -> Option<String> {
        Some(self.transit.mount().to_owned())
    }

    /// Transit key names (letters, digits, `_`, `-`, `.`): the only form
    /// Transit knows.
    fn is_key_id(&self, key_id: &str) -> bool {
        crate::config::is_plain_name(key_id)
    }

    /// Transit has no aliases: an alias names no key.
    fn resolve_key_id(&self, key_id_or_alias: &str) -> coffer_keyring::Result<String> {
        if key_id_or_alias.starts_with("alias/") {
            return Err(coffer_keyring::Error::KeyNotFound(
                key_id_or_alias.to_owned(),
            ));
        }
        Ok(self.read(key_id_or_alias)?.name)
    }

    fn default_key(&self) -> coffer_keyring::Result<DefaultKey> {
        match &self.default_key {
            Some(name) => Ok(DefaultKey {
                key_id: name.clone(),
                created: false,
            }),
            None => Err(unsupported(
                BACKEND,
                "a default key (name one with TransitKms::with_default_key)",
            )),
        }
    }

    fn requests(&self) -> u64 {
        self.transit.requests()
    }
}

impl KeyAdministration for TransitKms {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn supports(&self, operation: AdminOperation) -> bool {
        OFFERED.contains(&operation)
    }

    /// Creates an `aes256-gcm96` key named `options.name` (or
    /// `coffer-<random>`); [`coffer_keyring::Error::InvalidArgument`] if a key
    /// of that name exists. External (BYOK) keys are unsupported.
    fn create_key(&self, options: CreateKeyOptions) -> coffer_keyring::Result<KeyMetadata> {
        if options.external {
            return Err(unsupported(BACKEND, "external keys (BYOK import)"));
        }
        let name = match &options.name {
            Some(name) => name.clone(),
            None => {
                let mut random = [0u8; 12];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
                    .map_err(|_| coffer_keyring::Error::Randomness)?;
                format!("coffer-{}", hex::encode(random))
            }
        };
        if self
            .transit
            .read_key(&name)
            .map_err(to_kms_error)?
            .is_some()
        {
            return Err(coffer_keyring::Error::InvalidArgument(format!(
                "a Transit key named {name:?} exists"
            )));
        }
        let mut key = self.transit.create_key(&name).map_err(to_kms_error)?;
        if let Some(period) = options.rotation_period {
            key = self
                .transit
                .set_auto_rotate_period(&name, Some(period))
                .map_err(to_kms_error)?;
        }
        Ok(metadata(&key))
    }

    fn list_keys(&self) -> coffer_keyring::Result<Vec<KeyMetadata>> {
        let names = self.transit.list_keys().map_err(to_kms_error)?;
        let mut keys = Vec::with_capacity(names.len());
        for name in names {
            // A key deleted between the list and the read is not listed.
            if let Some(key) = self.transit.read_key(&name).map_err(to_kms_error)? {
                keys.push(metadata(&key));
            }
        }
        Ok(keys)
    }

    fn enable_key(&self, key_id: &str) -> coffer_keyring::Result<()> {
        self.transit
            .soft_delete_restore(key_id)
            .map_err(to_kms_error)
    }

    fn disable_key(&self, key_id: &str) -> coffer_keyring::Result<()> {
        self.transit.soft_delete(key_id).map_err(to_kms_error)
    }

    fn delete_key(&self, key_id: &str) -> coffer_keyring::Result<()> {
        self.read(key_id)?;
        self.transit.delete(key_id).map_err(to_kms_error)
    }

    fn rotate_key(&self, key_id: &str) -> coffer_keyring::Result<u32> {
        if self.read(key_id)?.is_soft_deleted() {
            return Err(coffer_keyring::Error::KeyDisabled(key_id.to_owned()));
        }
        self.transit.rotate(key_id).map_err(to_kms_error)
    }

    fn set_rotation_period(
        &self,
        key_id: &str,
        period: Option<Duration>,
    ) -> coffer_keyring::Result<()> {
        self.read(key_id)?;
        self.transit
            .set_auto_rotate_period(key_id, period)
            .map(drop)
            .map_err(to_kms_error)
    }

    fn set_min_decryption_version(&self, key_id: &str, version: u32) -> coffer_keyring::Result<()> {
        self.read(key_id)?;
        self.transit
            .set_min_decryption_version(key_id, version)
            .map(drop)
            .map_err(to_kms_error)
    }
}
