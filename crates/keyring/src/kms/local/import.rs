//! BYOK: import tokens, installing imported material, deleting it again.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use ring::agreement::EphemeralPrivateKey;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::LocalKms;
use super::state::{StoredState, usable};
use crate::kms::byok::{self, ImportParameters};
use crate::{Caller, Error, Result};

const IMPORT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// An import key pair waiting for its wrapped material.
struct PendingImportKey {
    key_id: String,
    private: EphemeralPrivateKey,
    expires_at: SystemTime,
}

/// The import key pairs handed out and not yet used, by import token.
#[derive(Default)]
pub(super) struct PendingImports(Mutex<HashMap<String, PendingImportKey>>);

impl LocalKms {
    /// Imports plain key material into an external key (embedded use, where the
    /// material never crosses a network). Action `kms:ImportKeyMaterial`.
    pub fn import_key_material_plain(
        &self,
        key_id: &str,
        material: &[u8; 32],
        caller: &Caller,
    ) -> Result<()> {
        self.audited(caller, "kms:ImportKeyMaterial", Some(key_id), None, || {
            let id = self.resolve(key_id)?;
            caller.authorize("kms:ImportKeyMaterial", &self.resource_name(&id))?;
            self.install_imported(&id, Zeroizing::new(*material))
        })
    }

    /// `kms:GetParametersForImport`: a fresh import key pair and its token.
    pub(super) fn import_parameters(
        &self,
        key_id: &str,
        caller: &Caller,
    ) -> Result<ImportParameters> {
        self.audited(
            caller,
            "kms:GetParametersForImport",
            Some(key_id),
            None,
            || {
                let id = self.resolve(key_id)?;
                caller.authorize("kms:GetParametersForImport", &self.resource_name(&id))?;
                {
                    let keys = self.keys.read();
                    let record = &keys
                        .entries
                        .get(&id)
                        .ok_or_else(|| Error::KeyNotFound(id.clone()))?
                        .record;
                    if !record.external {
                        return Err(Error::Unsupported(
                            "the key's material is generated, not imported".into(),
                        ));
                    }
                    if record.state != StoredState::PendingImport {
                        return Err(Error::InvalidArgument(
                            "the key already has material".into(),
                        ));
                    }
                }
                let (private, public_key) = byok::new_import_key()?;
                let mut token = [0u8; 16];
                SystemRandom::new()
                    .fill(&mut token)
                    .map_err(|_| Error::Randomness)?;
                let import_token = hex::encode(token);
                let expires_at = self.now() + IMPORT_TOKEN_LIFETIME;
                let mut imports = self.imports.0.lock();
                let now = self.now();
                imports.retain(|_, pending| pending.expires_at > now);
                imports.insert(
                    import_token.clone(),
                    PendingImportKey {
                        key_id: id.clone(),
                        private,
                        expires_at,
                    },
                );
                Ok(ImportParameters {
                    key_id: id,
                    public_key,
                    import_token,
                    expires_at,
                })
            },
        )
    }

    /// `kms:ImportKeyMaterial` with wrapped material and a single-use token.
    pub(super) fn import_wrapped(
        &self,
        key_id: &str,
        import_token: &str,
        wrapped_material: &[u8],
        caller: &Caller,
    ) -> Result<()> {
        self.audited(caller, "kms:ImportKeyMaterial", Some(key_id), None, || {
            let id = self.resolve(key_id)?;
            caller.authorize("kms:ImportKeyMaterial", &self.resource_name(&id))?;
            let pending = self
                .imports
                .0
                .lock()
                .remove(import_token)
                .ok_or(Error::InvalidImportToken)?;
            if pending.key_id != id {
                return Err(Error::InvalidImportToken);
            }
            if pending.expires_at <= self.now() {
                return Err(Error::ImportTokenExpired);
            }
            let material =
                byok::unwrap_imported(pending.private, import_token, &id, wrapped_material)?;
            self.install_imported(&id, material)
        })
    }

    /// `kms:DeleteKeyMaterial`: the key returns to pending import.
    pub(super) fn delete_imported(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.set_state(key_id, caller, "kms:DeleteKeyMaterial", |record| {
            if !record.external {
                return Err(Error::Unsupported(
                    "only imported material can be deleted".into(),
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
        // The in-memory material goes too.
        let id = self.resolve(key_id)?;
        if let Some(entry) = self.keys.write().entries.get_mut(&id) {
            entry.materials.clear();
        }
        Ok(())
    }

    /// Installs imported material as the key's next version; material other
    /// than what the key had before is refused.
    fn install_imported(&self, id: &str, material: Zeroizing<[u8; 32]>) -> Result<()> {
        let fingerprint = hex::encode(hmac::sign(&self.fingerprint_key, &material[..]));
        self.mutate(id, |entry, kms| {
            if !entry.record.external {
                return Err(Error::Unsupported(
                    "key material can only be imported into an external key".into(),
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
                .is_some_and(|previous| *previous != fingerprint)
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
