//! Bucket key records: a bucket key as an engine stores it, its secret
//! wrapped; the tag over it is [`RecordKey`](crate::keys::RecordKey)'s
//! (`docs/format.md`, *Bucket keys*).

use coffer_keyring::{Provider, WrapAlgorithm, WrappedKey};

use crate::ProtectionMode;
use crate::codec::{Reader, put_len16};
use crate::{Error, Result};

const RECORD_MAGIC: &[u8] = b"CFBK";
const RECORD_VERSION: u8 = 1;
/// What a bucket key record's tag is computed for.
pub(crate) const BUCKET_KEY_DOMAIN: &[u8] = b"coffer/bucket-key/v1";

/// A bucket key as stored: no secret, its key is wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketKeyRecord {
    /// The bucket's incarnation when the key was made.
    pub incarnation: u64,
    /// When it was made (ms since the epoch).
    pub created_ms: u64,
    /// Store-managed (the master keyring) or KMS.
    pub mode: ProtectionMode,
    /// The bucket key, wrapped.
    pub wrapped: WrappedKey,
}

impl BucketKeyRecord {
    /// `"CFBK" ‖ u8 1 ‖ u64 incarnation ‖ u64 created ‖ u8 mode ‖ bytes16 wrapped`.
    pub fn encode_unsealed(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(64 + self.wrapped.body().len());
        out.extend_from_slice(RECORD_MAGIC);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.incarnation.to_le_bytes());
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.push(match self.mode {
            ProtectionMode::Aes256 => 1,
            _ => 2,
        });
        put_len16(&mut out, &self.wrapped.encode())?;
        Ok(out)
    }

    /// Decodes what [`encode_unsealed`](Self::encode_unsealed) wrote.
    pub fn decode(raw: &[u8]) -> Result<Self> {
        let corrupt = || Error::CorruptRecord("bucket key record".into());
        let mut r = Reader::new(raw);
        if r.take(4).map_err(|_| corrupt())? != RECORD_MAGIC || r.u8()? != RECORD_VERSION {
            return Err(corrupt());
        }
        let incarnation = r.u64()?;
        let created_ms = r.u64()?;
        let mode = match r.u8()? {
            1 => ProtectionMode::Aes256,
            2 => ProtectionMode::Kms,
            _ => return Err(corrupt()),
        };
        let wrapped = WrappedKey::decode(r.bytes16()?)?;
        if r.at != raw.len() {
            return Err(corrupt());
        }
        let provider_agrees = match mode {
            ProtectionMode::Aes256 => wrapped.provider() == Provider::MasterKeyring,
            _ => wrapped.provider() == Provider::Kms,
        };
        if !provider_agrees || wrapped.algorithm() == WrapAlgorithm::BucketKey {
            return Err(corrupt());
        }
        Ok(Self {
            incarnation,
            created_ms,
            mode,
            wrapped,
        })
    }
}
