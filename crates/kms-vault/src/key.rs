//! What Transit says about a key (`GET <mount>/keys/<name>`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// The key types whose encryption authenticates `associated_data`. coffer binds
/// every data key to its object through it, so only these are used.
pub const AEAD_KEY_TYPES: [&str; 3] = ["aes256-gcm96", "aes128-gcm96", "chacha20-poly1305"];

/// A Transit key's state. Holds no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransitKey {
    /// The key name.
    pub name: String,
    /// Transit's key type, e.g. `aes256-gcm96`.
    pub key_type: String,
    /// The version new ciphertexts are made with.
    pub latest_version: u32,
    /// Ciphertexts of older versions do not decrypt.
    pub min_decryption_version: u32,
    /// Whether the key may be deleted (`delete` sets it first).
    pub deletion_allowed: bool,
    /// Whether the key needs a derivation context (coffer does not use such keys).
    pub derived: bool,
    /// Whether the key is soft-deleted; `None` from servers without soft
    /// deletion (HashiCorp Vault, OpenBao before 2.3).
    pub soft_deleted: Option<bool>,
    /// Whether the key type can encrypt.
    pub supports_encryption: bool,
    /// Whether the key type can decrypt.
    pub supports_decryption: bool,
    /// The automatic rotation period, if one is set.
    pub auto_rotate_period: Option<Duration>,
    /// When each version was created (where the server says).
    pub version_created: BTreeMap<u32, SystemTime>,
}

impl TransitKey {
    /// Whether it is soft-deleted (false where the server has no soft deletion).
    pub fn is_soft_deleted(&self) -> bool {
        self.soft_deleted == Some(true)
    }

    /// Whether its type authenticates associated data (see [`AEAD_KEY_TYPES`])
    /// and it needs no derivation context.
    pub fn binds_associated_data(&self) -> bool {
        AEAD_KEY_TYPES.contains(&self.key_type.as_str()) && !self.derived
    }
}

/// The wire form; fields this crate does not use are ignored.
#[derive(Deserialize)]
pub(crate) struct KeyWire {
    name: String,
    #[serde(rename = "type")]
    key_type: String,
    latest_version: u32,
    min_decryption_version: u32,
    #[serde(default)]
    deletion_allowed: bool,
    #[serde(default)]
    derived: bool,
    soft_deleted: Option<bool>,
    #[serde(default)]
    supports_encryption: bool,
    #[serde(default)]
    supports_decryption: bool,
    /// Seconds (0: none).
    #[serde(default)]
    auto_rotate_period: Option<serde_json::Value>,
    /// Version → creation time: Unix seconds for symmetric keys.
    #[serde(default)]
    keys: BTreeMap<String, serde_json::Value>,
}

impl From<KeyWire> for TransitKey {
    fn from(wire: KeyWire) -> Self {
        Self {
            name: wire.name,
            key_type: wire.key_type,
            latest_version: wire.latest_version,
            min_decryption_version: wire.min_decryption_version,
            deletion_allowed: wire.deletion_allowed,
            derived: wire.derived,
            soft_deleted: wire.soft_deleted,
            supports_encryption: wire.supports_encryption,
            supports_decryption: wire.supports_decryption,
            auto_rotate_period: wire
                .auto_rotate_period
                .as_ref()
                .and_then(serde_json::Value::as_u64)
                .filter(|&s| s > 0)
                .map(Duration::from_secs),
            version_created: wire
                .keys
                .iter()
                .filter_map(|(version, created)| {
                    let version = version.parse().ok()?;
                    let seconds = created.as_u64()?;
                    Some((
                        version,
                        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
                    ))
                })
                .collect(),
        }
    }
}
