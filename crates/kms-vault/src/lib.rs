//! OpenBao/Vault Transit as a key management service for coffer.
//!
//! [`TransitKms`] is the KMS backend: give it to the store and its CMKs are
//! Transit keys.
//!
//! ```no_run
//! use std::sync::Arc;
//! use coffer_kms_vault::{TransitKms, VaultConfig};
//! use coffer_store::{EncryptionRule, RootKey, Store, StoreOptions};
//!
//! // BAO_ADDR=https://bao.internal:8200, BAO_TOKEN=..., BAO_CACERT=/etc/bao/ca.pem
//! let transit = TransitKms::new(VaultConfig::from_env()?)?;
//! let options = StoreOptions::new(RootKey::from_file("root.key")?).with_kms(Arc::new(transit));
//! let store = Store::create("/var/lib/coffer", options)?;
//! store.create_bucket("photos")?;
//! store.put_bucket_encryption("photos", EncryptionRule::kms(Some("coffer-photos")).with_bucket_key(true))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Underneath, [`VaultTransit`] is a blocking client of one Transit mount, over rustls
//! (ureq; no async runtime). It has the operations a coffer KMS backend needs,
//! as plain methods: read, create, rotate, soft-delete and delete keys;
//! encrypt a [`DataKey`](coffer_keyring::DataKey) bound to associated data (the
//! object's encryption context) into a [`TransitCiphertext`], decrypt it, move
//! it to the latest key version.
//!
//! - Keys are never created by accident: Transit creates a key on the first
//!   encrypt under a new name, so [`VaultTransit::encrypt`] checks first.
//! - Errors say what to do next ([`Error`]): a missing key, a denied token, a
//!   soft-deleted key, a ciphertext for other associated data, a retired key
//!   version, an unavailable server.
//! - Every request has a connect and a total timeout; calls that find the
//!   server unavailable (no connection, timeout, 429, 5xx) are retried a bounded
//!   number of times with jittered backoff ([`RetryPolicy`]).
//! - The token is read from a value, a file or `BAO_TOKEN`/`VAULT_TOKEN`, and
//!   never appears in `Debug` output or errors.
//!
//! ```no_run
//! use coffer_keyring::DataKey;
//! use coffer_kms_vault::{VaultConfig, VaultTransit};
//!
//! // BAO_ADDR=https://bao.internal:8200, BAO_TOKEN=..., BAO_CACERT=/etc/bao/ca.pem
//! let transit = VaultTransit::new(VaultConfig::from_env()?)?;
//! transit.create_key("coffer-photos")?;
//! let data_key = DataKey::generate()?;
//! let context = b"store/photos/object-1";
//! let sealed = transit.encrypt("coffer-photos", &data_key, context)?;
//! assert!(sealed.as_str().starts_with("vault:v1:"));
//! let opened = transit.decrypt("coffer-photos", &sealed, context)?;
//! assert_eq!(opened.expose_secret(), data_key.expose_secret());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod ciphertext;
mod client;
mod config;
mod error;
mod key;
mod retry;
mod transport;

#[cfg(feature = "dev-server")]
pub mod dev_server;

pub use backend::{BACKEND, TransitKms, to_kms_error};
pub use ciphertext::TransitCiphertext;
pub use client::VaultTransit;
pub use config::{
    ADDRESS_ENV, CA_FILE_ENV, NAMESPACE_ENV, TOKEN_ENV, TokenSource, VaultConfig, VaultToken,
};
pub use error::{ConfigError, Error, Result};
pub use key::{AEAD_KEY_TYPES, TransitKey};
pub use retry::RetryPolicy;
