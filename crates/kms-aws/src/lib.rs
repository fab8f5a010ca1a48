//! The AWS KMS API as a key management service for coffer.
//!
//! [`AwsKms`] is the KMS backend, over `aws-sdk-kms` (its own rustls HTTPS
//! client, on a private runtime so the store's API stays blocking): give it to
//! the store, and its CMKs are KMS keys of AWS KMS, or of any service that
//! speaks the API at the configured endpoint.
//!
//! ```no_run
//! use std::sync::Arc;
//! use coffer_kms_aws::{AwsCredentials, AwsKms, AwsKmsConfig};
//! use coffer_store::{EncryptionRule, RootKey, Store, StoreOptions};
//!
//! let config = AwsKmsConfig::new("eu-central-1", AwsCredentials::from_env()?);
//! let options = StoreOptions::new(RootKey::from_file("root.key")?)
//!     .with_kms(Arc::new(AwsKms::new(config)?));
//! let store = Store::create("/var/lib/coffer", options)?;
//! store.create_bucket("photos")?;
//! store.put_bucket_encryption("photos", EncryptionRule::kms(Some("alias/photos")).with_bucket_key(true))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Tested against `moto_server` (PyPI `moto[server]` 5.2.5) for every
//! operation it implements. What moto does not do, and so is not shown by the
//! tests (it is on AWS KMS):
//!
//! - moto does not refuse data-key use under a disabled key or one pending
//!   deletion (AWS answers `DisabledException` / `KMSInvalidStateException`,
//!   which this crate maps to `KeyDisabled` / `KeyPendingDeletion`);
//! - moto keeps no rotation period (`GetKeyRotationStatus` has no
//!   `RotationPeriodInDays`), so `describe_key` reports none there;
//! - moto's rotations keep one material; AWS decrypts every version too, so
//!   nothing coffer does differs;
//! - moto does not implement BYOK import, which this crate does not offer
//!   either (import with AWS's own tooling, then use the key).

mod backend;
mod config;
mod errors;
mod metadata;
mod requests;

#[cfg(feature = "dev-server")]
pub mod dev_server;

pub use backend::{AwsKms, BACKEND};
pub use config::{AwsCredentials, AwsKmsConfig, CREDENTIALS_ENV, ConfigError};
