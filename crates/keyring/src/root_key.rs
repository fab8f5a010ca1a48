//! The root key the application supplies: it seals every master key and CMK the
//! store persists.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Error, Result};

const ROOT_KEY_LEN: usize = 32;
const SEAL_INFO: &[u8] = b"coffer/root-seal/v1";

/// The application's root key. No `Clone`, no `Debug`, zeroized on drop.
///
/// Keep it outside the store directory: a key file with owner-only permissions,
/// an environment variable, or bytes fetched from the application's own KMS.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RootKey([u8; ROOT_KEY_LEN]);

impl RootKey {
    /// A root key from raw bytes.
    pub fn from_bytes(bytes: [u8; ROOT_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads a key file of 64 hex digits (a trailing newline is allowed).
    ///
    /// Refuses a file that group or others can read ([`Error::KeyFileTooOpen`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(Error::KeyFileTooOpen {
                    path: path.to_owned(),
                    mode: mode & 0o777,
                });
            }
        }
        let text = Zeroizing::new(fs::read_to_string(path).map_err(io)?);
        Self::from_hex(text.trim_end(), &path.display().to_string())
    }

    /// Reads 64 hex digits from the environment variable `name`.
    pub fn from_env(name: &str) -> Result<Self> {
        let text = Zeroizing::new(std::env::var(name).map_err(|_| Error::MalformedRootKey {
            source_name: format!("environment variable {name} (unset or not UTF-8)"),
        })?);
        Self::from_hex(text.trim(), &format!("environment variable {name}"))
    }

    /// Creates a new random key file readable by its owner only (mode 600) and
    /// returns the key. Fails if the file exists.
    pub fn create_key_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        let key = Self::generate()?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        let mut text = Zeroizing::new(hex::encode(key.0));
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(key)
    }

    /// A fresh random root key.
    pub fn generate() -> Result<Self> {
        let mut key = Self([0; ROOT_KEY_LEN]);
        SystemRandom::new()
            .fill(&mut key.0)
            .map_err(|_| Error::Randomness)?;
        Ok(key)
    }

    fn from_hex(text: &str, source_name: &str) -> Result<Self> {
        let mut key = Self([0; ROOT_KEY_LEN]);
        hex::decode_to_slice(text, &mut key.0).map_err(|_| Error::MalformedRootKey {
            source_name: source_name.to_owned(),
        })?;
        Ok(key)
    }

    /// The sealing key for records, derived so the root key itself never touches
    /// AES directly.
    pub(crate) fn sealer(&self) -> RecordSealer {
        let key = self.derive(SEAL_INFO);
        RecordSealer {
            key: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key[..]).expect("32-byte key")),
        }
    }

    /// A 32-byte key derived from the root key for one purpose (`info`).
    pub(crate) fn derive(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &self.0);
        let mut key = Zeroizing::new([0u8; 32]);
        prk.expand(&[info], &AES_256_GCM)
            .and_then(|okm| okm.fill(&mut key[..]))
            .expect("32 bytes is within HKDF-SHA256's output limit");
        key
    }
}

/// Key-record layout 1: key material sealed on its own under the root key,
/// bound to a label. Kept only to read stores written in that layout (see
/// [`crate::SealedKeyStore`], which seals whole records now); nothing is
/// written this way any more.
pub(crate) struct RecordSealer {
    key: LessSafeKey,
}

impl RecordSealer {
    /// `nonce ‖ AES-256-GCM(secret, aad = label) ‖ tag` (tests write layout-1
    /// records with it).
    #[cfg(test)]
    pub(crate) fn seal(&self, label: &str, secret: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Randomness)?;
        let mut body = Zeroizing::new(secret.to_vec());
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(label.as_bytes()),
                &mut body,
            )
            .map_err(|_| Error::Integrity("sealing a record"))?;
        Ok([&nonce[..], &body[..], tag.as_ref()].concat())
    }

    /// Opens what [`RecordSealer::seal`] sealed under the same label.
    pub(crate) fn open_key(&self, label: &str, sealed: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        if sealed.len() != NONCE_LEN + 32 + 16 {
            return Err(Error::Integrity("sealed key record has the wrong length"));
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN])
            .map_err(|_| Error::Integrity("nonce"))?;
        let mut body = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(label.as_bytes()), &mut body)
            .map_err(|_| Error::Integrity("sealed key record does not open under this root key"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(plain);
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_must_be_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.key");
        let created = RootKey::create_key_file(&path).expect("creates");
        let read = RootKey::from_file(&path).expect("reads");
        assert_eq!(created.0, read.0);
        assert!(matches!(
            RootKey::create_key_file(&path),
            Err(Error::KeyFile { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
            let error = RootKey::from_file(&path).err().expect("refused");
            assert!(matches!(error, Error::KeyFileTooOpen { mode: 0o640, .. }));
            assert!(error.to_string().contains("chmod 600"));
        }
    }

    #[test]
    fn malformed_keys_are_refused_without_echoing_them() {
        let error = RootKey::from_hex("not hex at all", "test")
            .err()
            .expect("refused");
        assert!(matches!(error, Error::MalformedRootKey { .. }));
        assert!(!error.to_string().contains("not hex"));
    }

    #[test]
    fn sealed_records_are_bound_to_their_label() {
        let sealer = RootKey::from_bytes([3; 32]).sealer();
        let sealed = sealer.seal("kek/1", &[8; 32]).expect("seals");
        assert_eq!(*sealer.open_key("kek/1", &sealed).expect("opens"), [8; 32]);
        assert!(sealer.open_key("kek/2", &sealed).is_err());
        assert!(
            RootKey::from_bytes([4; 32])
                .sealer()
                .open_key("kek/1", &sealed)
                .is_err()
        );
    }
}
