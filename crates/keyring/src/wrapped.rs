//! The wrapped-key record: a data key sealed under a key-encryption key, with
//! everything needed to find that key again. Versioned binary, little-endian:
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CFWK"
//! 4       1     record version = 1
//! 5       1     provider: 1 = master keyring (managed), 2 = KMS
//! 6       1     wrap algorithm: 1 = HKDF-SHA256 + AES-256-GCM
//! 7       1     reserved, 0
//! 8       4     key version (u32)
//! 12      2     key id length n (u16)
//! 14      n     key id (UTF-8): the keyring id or the CMK id, never an alias
//! 14+n    32    salt, random per wrap
//! 46+n    2     body length m (u16), 48 for algorithm 1
//! 48+n    m     body: AES-256-GCM(wrap key, nonce 0, aad, data key) ‖ tag
//! ```
//!
//! wrap key = HKDF-SHA256(salt, key-encryption key, info = "coffer/wrap/v1" ‖
//! bytes 0..14+n of the record); aad = bytes 0..48+n of the record ‖ canonical
//! encryption context. Each wrap derives a fresh key from a fresh salt, so the
//! zero nonce is never reused under one key; every header byte is authenticated.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{DataKey, EncryptionContext, Error, Result};

const MAGIC: [u8; 4] = *b"CFWK";
const RECORD_VERSION: u8 = 1;
const SALT_LEN: usize = 32;
const BODY_LEN: usize = 32 + 16;
const WRAP_INFO: &[u8] = b"coffer/wrap/v1";

/// Who can unwrap a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// The store's master keyring ("AES256", store-managed keys).
    MasterKeyring,
    /// A KMS customer master key ("KMS").
    Kms,
}

/// How the body is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrapAlgorithm {
    /// HKDF-SHA256 per-wrap key, AES-256-GCM.
    HkdfSha256Aes256Gcm,
}

/// A data key wrapped under a key-encryption key, as stored in object metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    provider: Provider,
    algorithm: WrapAlgorithm,
    key_id: String,
    key_version: u32,
    salt: [u8; SALT_LEN],
    body: Vec<u8>,
}

impl WrappedKey {
    /// Who can unwrap it.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The keyring id or CMK id (never an alias).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key version (master key version or CMK material version).
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The wrap algorithm.
    pub fn algorithm(&self) -> WrapAlgorithm {
        self.algorithm
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.body);
        out
    }

    /// Parses a record; anything not understood is [`Error::MalformedWrappedKey`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let malformed = Error::MalformedWrappedKey;
        let take = |at: usize, len: usize| bytes.get(at..at + len).ok_or(malformed("truncated"));
        if take(0, 4)? != MAGIC {
            return Err(malformed("bad magic"));
        }
        let fixed = take(4, 10)?;
        if fixed[0] != RECORD_VERSION {
            return Err(malformed("unknown record version"));
        }
        let provider = match fixed[1] {
            1 => Provider::MasterKeyring,
            2 => Provider::Kms,
            _ => return Err(malformed("unknown provider")),
        };
        let algorithm = match fixed[2] {
            1 => WrapAlgorithm::HkdfSha256Aes256Gcm,
            _ => return Err(malformed("unknown wrap algorithm")),
        };
        if fixed[3] != 0 {
            return Err(malformed("reserved byte set"));
        }
        let key_version = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let id_len = usize::from(u16::from_le_bytes([fixed[8], fixed[9]]));
        let key_id = std::str::from_utf8(take(14, id_len)?)
            .map_err(|_| malformed("key id is not UTF-8"))?
            .to_owned();
        let salt: [u8; SALT_LEN] = take(14 + id_len, SALT_LEN)?
            .try_into()
            .map_err(|_| malformed("truncated"))?;
        let body_len_at = 14 + id_len + SALT_LEN;
        let body_len = take(body_len_at, 2)?;
        let body_len = usize::from(u16::from_le_bytes([body_len[0], body_len[1]]));
        if body_len != BODY_LEN {
            return Err(malformed("wrong body length"));
        }
        let body = take(body_len_at + 2, body_len)?.to_vec();
        if bytes.len() != body_len_at + 2 + body_len {
            return Err(malformed("trailing bytes"));
        }
        Ok(Self {
            provider,
            algorithm,
            key_id,
            key_version,
            salt,
            body,
        })
    }

    /// Everything in front of the body.
    fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.key_id.len() + BODY_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(RECORD_VERSION);
        out.push(match self.provider {
            Provider::MasterKeyring => 1,
            Provider::Kms => 2,
        });
        out.push(match self.algorithm {
            WrapAlgorithm::HkdfSha256Aes256Gcm => 1,
        });
        out.push(0);
        out.extend_from_slice(&self.key_version.to_le_bytes());
        let id_len = u16::try_from(self.key_id.len()).expect("key ids are validated to be short");
        out.extend_from_slice(&id_len.to_le_bytes());
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&(BODY_LEN as u16).to_le_bytes());
        out
    }

    /// Seals `data_key` under key-encryption key `kek`.
    pub(crate) fn seal(
        kek: &[u8; 32],
        provider: Provider,
        key_id: &str,
        key_version: u32,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<Self> {
        if key_id.len() > usize::from(u16::MAX) {
            return Err(Error::InvalidArgument(
                "key id longer than 65535 bytes".into(),
            ));
        }
        let mut salt = [0; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| Error::Randomness)?;
        let mut wrapped = Self {
            provider,
            algorithm: WrapAlgorithm::HkdfSha256Aes256Gcm,
            key_id: key_id.to_owned(),
            key_version,
            salt,
            body: Vec::new(),
        };
        let header = wrapped.header();
        let key = wrap_key(kek, &salt, &header[..header.len() - SALT_LEN - 2]);
        let mut body = data_key.expose_secret().to_vec();
        let aad = [&header[..], &context.to_bytes()].concat();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| Error::Integrity("sealing a data key"))?;
        wrapped.body = body;
        Ok(wrapped)
    }

    /// Opens the data key with `kek`; any mismatch (key, version, id, context,
    /// a flipped bit) is [`Error::Integrity`].
    pub(crate) fn open(&self, kek: &[u8; 32], context: &EncryptionContext) -> Result<DataKey> {
        let header = self.header();
        let key = wrap_key(kek, &self.salt, &header[..header.len() - SALT_LEN - 2]);
        let aad = [&header[..], &context.to_bytes()].concat();
        let mut body = Zeroizing::new(self.body.clone());
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key([0; 12]),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| {
                Error::Integrity("wrapped data key does not open for this key and context")
            })?;
        Ok(DataKey::try_from_slice(plain)?)
    }
}

fn wrap_key(kek: &[u8; 32], salt: &[u8; SALT_LEN], header_prefix: &[u8]) -> LessSafeKey {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(kek);
    let info = [WRAP_INFO, header_prefix];
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand(&info, &AES_256_GCM)
        .and_then(|okm| okm.fill(&mut key[..]))
        .expect("32 bytes is within HKDF-SHA256's output limit");
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key[..]).expect("32-byte key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn context(object: &[u8]) -> EncryptionContext {
        EncryptionContext::new(b"store", "bucket", object)
    }

    fn sample() -> (WrappedKey, DataKey) {
        let dek = DataKey::from_bytes([9; 32]);
        let wrapped = WrappedKey::seal(&[1; 32], Provider::Kms, "key-1", 3, &dek, &context(b"o"))
            .expect("wraps");
        (wrapped, dek)
    }

    #[test]
    fn opens_only_with_the_same_key_and_context() {
        let (wrapped, dek) = sample();
        let opened = wrapped.open(&[1; 32], &context(b"o")).expect("opens");
        assert_eq!(opened.expose_secret(), dek.expose_secret());
        assert!(matches!(
            wrapped.open(&[2; 32], &context(b"o")),
            Err(Error::Integrity(_))
        ));
        assert!(matches!(
            wrapped.open(&[1; 32], &context(b"other")),
            Err(Error::Integrity(_))
        ));
        let mut other_version = wrapped.clone();
        other_version.key_version = 4;
        assert!(matches!(
            other_version.open(&[1; 32], &context(b"o")),
            Err(Error::Integrity(_))
        ));
    }

    #[test]
    fn every_bit_flip_fails() {
        let (wrapped, _) = sample();
        let mut bytes = wrapped.encode();
        for bit in 0..bytes.len() * 8 {
            bytes[bit / 8] ^= 1 << (bit % 8);
            let opened = WrappedKey::decode(&bytes).and_then(|w| w.open(&[1; 32], &context(b"o")));
            assert!(
                opened.is_err(),
                "bit {bit} flipped and the key still opened"
            );
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
    }

    #[test]
    fn truncated_or_extended_records_are_malformed() {
        let bytes = sample().0.encode();
        for len in 0..bytes.len() {
            assert!(matches!(
                WrappedKey::decode(&bytes[..len]),
                Err(Error::MalformedWrappedKey(_))
            ));
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            WrappedKey::decode(&longer),
            Err(Error::MalformedWrappedKey(_))
        ));
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(id in "[a-z0-9/-]{0,40}", version: u32, kms: bool) {
            let provider = if kms { Provider::Kms } else { Provider::MasterKeyring };
            let dek = DataKey::from_bytes([5; 32]);
            let wrapped = WrappedKey::seal(&[7; 32], provider, &id, version, &dek, &context(b"x")).expect("wraps");
            let decoded = WrappedKey::decode(&wrapped.encode()).expect("decodes");
            prop_assert_eq!(&decoded, &wrapped);
            let opened = decoded.open(&[7; 32], &context(b"x")).expect("opens");
            prop_assert_eq!(opened.expose_secret(), dek.expose_secret());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = WrappedKey::decode(&bytes);
        }
    }
}
