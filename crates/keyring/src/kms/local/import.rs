//! BYOK: import tokens, installing imported material, deleting it again.
//!
//! A token is 16 random bytes in hex. Each pending import is one record,
//! `kms/import/<token>`, so a token survives a restart:
//!
//! ```text
//! { "key_id": "<key id>", "expires_at_ms": <u64>,
//!   "private_key": hex(PKCS#8 DER of the RSA key) }
//! ```
//! (sealed whole under the root key, like every key record).
//! The record is deleted when its token is presented (whatever the outcome: a
//! token is single use) and when it is found expired.

use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::persist::storage;
use super::state::{StoredState, usable};
use super::{BACKEND, LocalKms};
use crate::clock::{from_millis, to_millis};
use crate::kms::byok::{self, ImportOptions, ImportParameters, WrappingKey};
use crate::kms::unsupported;
use crate::{Error, Result};

/// How long an import token is good for, as in AWS KMS and Alibaba Cloud KMS.
const IMPORT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const IMPORT_PREFIX: &str = "kms/import/";
const TOKEN_BYTES: usize = 16;

/// A pending import as persisted (the record is sealed whole).
#[derive(Serialize, Deserialize)]
pub(crate) struct PendingImportRecord {
    pub(crate) key_id: String,
    pub(crate) expires_at_ms: u64,
    pub(crate) private_key: Zeroizing<String>,
}

/// Serializes taking a token (read, then delete) so each is used once.
#[derive(Default)]
pub(super) struct PendingImports {
    taking: Mutex<()>,
}

pub(crate) fn import_name(token: &str) -> String {
    format!("{IMPORT_PREFIX}{token}")
}

/// Whether `token` has the form this KMS hands out (so it is safe in a name).
fn well_formed(token: &str) -> bool {
    token.len() == 2 * TOKEN_BYTES
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl LocalKms {
    /// `kms:GetParametersForImport`: a fresh RSA wrapping key pair, its private
    /// half persisted sealed under a new token; expired tokens are removed.
    pub(super) fn import_parameters(
        &self,
        key_id: &str,
        options: ImportOptions,
    ) -> Result<ImportParameters> {
        {
            let id = self.resolve(key_id)?;
            {
                let keys = self.keys.read();
                let record = &keys
                    .entries
                    .get(&id)
                    .ok_or_else(|| Error::KeyNotFound(id.clone()))?
                    .record;
                if !record.external {
                    return Err(unsupported(
                        BACKEND,
                        "importing material into a key whose material is generated",
                    ));
                }
                if record.state != StoredState::PendingImport {
                    return Err(Error::InvalidArgument(
                        "the key already has material".into(),
                    ));
                }
            }
            let wrapping_key = WrappingKey::generate(options.wrapping_key_spec)?;
            let public_key_der = wrapping_key.public_key_der()?;
            let mut token = [0u8; TOKEN_BYTES];
            SystemRandom::new()
                .fill(&mut token)
                .map_err(|_| Error::Randomness)?;
            let import_token = hex::encode(token);
            let name = import_name(&import_token);
            let now = self.now();
            let expires_at = now + IMPORT_TOKEN_LIFETIME;
            let record = PendingImportRecord {
                key_id: id.clone(),
                expires_at_ms: to_millis(expires_at),
                private_key: Zeroizing::new(hex::encode(&wrapping_key.to_pkcs8()?[..])),
            };
            let mut changes = self.expired_imports(now)?;
            changes.push((name, Some(serde_json::to_vec(&record).map_err(storage)?)));
            self.store.apply(changes)?;
            Ok(ImportParameters {
                key_id: id,
                wrapping_key_spec: options.wrapping_key_spec,
                public_key_pem: byok::public_key_pem(&public_key_der),
                public_key_der,
                import_token,
                expires_at,
            })
        }
    }

    /// `kms:ImportKeyMaterial` with wrapped material and a single-use token:
    /// [`Error::InvalidImportToken`] if the token is unknown, used or for another
    /// key, [`Error::ImportTokenExpired`] if it expired, [`Error::Integrity`] if
    /// the wrapped bytes do not unwrap with the token's key.
    pub(super) fn import_wrapped(
        &self,
        key_id: &str,
        import_token: &str,
        wrapped_material: &[u8],
    ) -> Result<()> {
        {
            let id = self.resolve(key_id)?;
            let pending = self.take_import(import_token)?;
            if pending.key_id != id {
                return Err(Error::InvalidImportToken);
            }
            if from_millis(pending.expires_at_ms) <= self.now() {
                return Err(Error::ImportTokenExpired);
            }
            let der = Zeroizing::new(
                hex::decode(pending.private_key.as_str())
                    .map_err(|_| Error::Integrity("a pending import's key is malformed"))?,
            );
            let material = WrappingKey::from_pkcs8(&der)?.unwrap(wrapped_material)?;
            self.install_imported(&id, material)
        }
    }

    /// Reads and deletes the pending import of `token`.
    fn take_import(&self, token: &str) -> Result<PendingImportRecord> {
        if !well_formed(token) {
            return Err(Error::InvalidImportToken);
        }
        let name = import_name(token);
        let _taking = self.imports.taking.lock();
        let value = Zeroizing::new(self.store.get(&name)?.ok_or(Error::InvalidImportToken)?);
        self.store.apply(vec![(name, None)])?;
        serde_json::from_slice(&value).map_err(storage)
    }

    /// Deletions of every pending import that expired by `now`.
    fn expired_imports(&self, now: SystemTime) -> Result<Vec<(String, Option<Vec<u8>>)>> {
        let mut changes = Vec::new();
        for (name, value) in self.store.scan(IMPORT_PREFIX)? {
            let record: PendingImportRecord = serde_json::from_slice(&value).map_err(storage)?;
            if from_millis(record.expires_at_ms) <= now {
                changes.push((name, None));
            }
        }
        Ok(changes)
    }

    /// `kms:DeleteKeyMaterial`: the key returns to pending import.
    pub(super) fn delete_imported(&self, key_id: &str) -> Result<()> {
        self.set_state(key_id, |record| {
            if !record.external {
                return Err(unsupported(
                    BACKEND,
                    "deleting key material that was generated, not imported",
                ));
            }
            if matches!(
                record.state,
                StoredState::Destroyed | StoredState::PendingDeletion { .. }
            ) {
                return usable(record);
            }
            // Re-importing the same material restores the same version numbers,
            // so data keys wrapped before keep decrypting.
            record.materials.clear();
            record.current_version = 0;
            record.state = StoredState::PendingImport;
            Ok(())
        })?;
        // The in-memory material goes too, and the record's earlier versions,
        // which held it, are compacted out of the storage's files.
        let id = self.resolve(key_id)?;
        if let Some(entry) = self.keys.write().entries.get_mut(&id) {
            entry.materials.clear();
        }
        self.store.compact()
    }

    /// Installs imported material as the key's next version; material other
    /// than what the key had before is refused.
    /// The fingerprint of imported material (version 2: under a key derived
    /// from the store secret, so it survives root-key rotation).
    pub(crate) fn fingerprint(&self, material: &[u8]) -> String {
        format!(
            "v2:{}",
            hex::encode(hmac::sign(&self.fingerprint_key, material))
        )
    }

    /// Whether `previous` (a stored fingerprint, version 2 or layout 1) is the
    /// fingerprint of `material`, whose version-2 fingerprint is `current`.
    fn same_material(&self, previous: &str, current: &str, material: &[u8]) -> bool {
        if previous.starts_with("v2:") {
            previous == current
        } else {
            hex::encode(hmac::sign(&self.legacy_fingerprint_key, material)) == previous
        }
    }

    pub(super) fn install_imported(&self, id: &str, material: Zeroizing<[u8; 32]>) -> Result<()> {
        let fingerprint = self.fingerprint(&material[..]);
        self.mutate(id, |entry, kms| {
            if !entry.record.external {
                return Err(unsupported(
                    BACKEND,
                    "importing material into a key whose material is generated",
                ));
            }
            if entry.record.state != StoredState::PendingImport {
                return Err(Error::InvalidArgument(
                    "the key already has material; delete it first".into(),
                ));
            }
            if entry
                .record
                .fingerprint
                .as_ref()
                .is_some_and(|previous| !kms.same_material(previous, &fingerprint, &material[..]))
            {
                return Err(Error::InvalidArgument(
                    "this is not the material the key had before; data under the key would be unreadable".into(),
                ));
            }
            entry.record.fingerprint = Some(fingerprint);
            kms.add_material(entry, Some(material))?;
            entry.record.state = StoredState::Enabled;
            Ok(())
        })
    }
}
