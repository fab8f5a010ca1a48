//! The wrapped-key record: a data key sealed under a key-encryption key, with
//! everything needed to find that key again. Versioned binary, little-endian.
//!
//! Record version 1, a data key wrapped by coffer itself (the master keyring or
//! the local KMS):
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
//!
//! Record version 2, an opaque body made elsewhere: an external KMS's
//! ciphertext (OpenBao/Vault Transit's `vault:vN:...`, an AWS KMS ciphertext
//! blob), or a reference to a bucket key:
//!
//! ```text
//! offset  size  field
//! 0       4     magic "CFWK"
//! 4       1     record version = 2
//! 5       1     provider: 1 = master keyring, 2 = KMS
//! 6       1     algorithm: 2 = Transit ciphertext, 3 = AWS KMS ciphertext blob,
//!               4 = derived from a bucket key
//! 7       1     reserved, 0
//! 8       4     key version (u32), as the backend numbers them
//! 12      2     key id length n (u16)
//! 14      n     key id (UTF-8): the backend's key id, never an alias
//! 14+n    2     body length m (u16), 1 to 4096
//! 16+n    m     body, opaque: the backend authenticates it
//! ```

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{DataKey, EncryptionContext, Error, Result};

const MAGIC: [u8; 4] = *b"CFWK";
/// Wrapped by coffer (algorithm 1): with a salt.
const RECORD_VERSION_LOCAL: u8 = 1;
/// An opaque body (algorithms 2 to 4): no salt.
const RECORD_VERSION_OPAQUE: u8 = 2;
const SALT_LEN: usize = 32;
const BODY_LEN: usize = 32 + 16;
/// The largest opaque body: AWS KMS ciphertext blobs are at most 6144 bytes of
/// base64 for 4096 bytes of plaintext; a data key's is a few hundred.
pub const MAX_OPAQUE_BODY: usize = 4096;
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

/// How the body is sealed, and so which backend opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WrapAlgorithm {
    /// HKDF-SHA256 per-wrap key, AES-256-GCM: the master keyring and the local
    /// KMS (record version 1).
    HkdfSha256Aes256Gcm,
    /// An OpenBao/Vault Transit ciphertext, `vault:v<N>:<base64>`, bound to the
    /// encryption context as Transit's associated data.
    TransitCiphertext,
    /// An AWS KMS ciphertext blob, bound to the encryption context as its
    /// `EncryptionContext`.
    AwsKmsCiphertext,
    /// No wrapping of its own: the data key is derived from a bucket key, whose
    /// 16-byte id is the body (the bucket key itself is wrapped by `provider`).
    BucketKey,
}

impl WrapAlgorithm {
    fn byte(self) -> u8 {
        match self {
            Self::HkdfSha256Aes256Gcm => 1,
            Self::TransitCiphertext => 2,
            Self::AwsKmsCiphertext => 3,
            Self::BucketKey => 4,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::HkdfSha256Aes256Gcm,
            2 => Self::TransitCiphertext,
            3 => Self::AwsKmsCiphertext,
            4 => Self::BucketKey,
            _ => return None,
        })
    }

    /// Who makes and opens such bodies, as errors name it.
    pub fn maker(self) -> &'static str {
        match self {
            Self::HkdfSha256Aes256Gcm => "coffer (master keyring or local KMS)",
            Self::TransitCiphertext => "OpenBao/Vault Transit",
            Self::AwsKmsCiphertext => "AWS KMS",
            Self::BucketKey => "a bucket key",
        }
    }
}

/// A data key wrapped under a key-encryption key, as stored in object metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    provider: Provider,
    algorithm: WrapAlgorithm,
    key_id: String,
    key_version: u32,
    /// Algorithm 1 only.
    salt: Option<[u8; SALT_LEN]>,
    body: Vec<u8>,
}

impl WrappedKey {
    /// A record around a body made elsewhere: an external KMS's ciphertext
    /// (provider [`Provider::Kms`]) or a bucket key's id
    /// ([`WrapAlgorithm::BucketKey`]). [`Error::InvalidArgument`] for
    /// algorithm [`WrapAlgorithm::HkdfSha256Aes256Gcm`] (coffer seals those
    /// itself), an empty body or one over [`MAX_OPAQUE_BODY`] bytes, or a key
    /// id over 65535 bytes.
    pub fn opaque(
        provider: Provider,
        algorithm: WrapAlgorithm,
        key_id: &str,
        key_version: u32,
        body: Vec<u8>,
    ) -> Result<Self> {
        if algorithm == WrapAlgorithm::HkdfSha256Aes256Gcm {
            return Err(Error::InvalidArgument(
                "coffer's own wraps are sealed, not built from a body".into(),
            ));
        }
        if body.is_empty() || body.len() > MAX_OPAQUE_BODY {
            return Err(Error::InvalidArgument(format!(
                "a wrapped key's body must be 1 to {MAX_OPAQUE_BODY} bytes, not {}",
                body.len()
            )));
        }
        check_key_id(key_id)?;
        Ok(Self {
            provider,
            algorithm,
            key_id: key_id.to_owned(),
            key_version,
            salt: None,
            body,
        })
    }

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

    /// The body: sealed data key, external ciphertext, or bucket key id. Not
    /// secret (a data key inside is sealed).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.body);
        out
    }

    /// The algorithm of an encoded record, read without decoding the rest
    /// (`None` if it is not a record or the algorithm is unknown).
    pub fn peek_algorithm(bytes: &[u8]) -> Option<WrapAlgorithm> {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        WrapAlgorithm::from_byte(*bytes.get(6)?)
    }

    /// Parses a record; anything not understood is [`Error::MalformedWrappedKey`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let malformed = Error::MalformedWrappedKey;
        let take = |at: usize, len: usize| {
            bytes
                .get(at..at.checked_add(len).ok_or(malformed("truncated"))?)
                .ok_or(malformed("truncated"))
        };
        if take(0, 4)? != MAGIC {
            return Err(malformed("bad magic"));
        }
        let fixed = take(4, 10)?;
        let provider = match fixed[1] {
            1 => Provider::MasterKeyring,
            2 => Provider::Kms,
            _ => return Err(malformed("unknown provider")),
        };
        let algorithm =
            WrapAlgorithm::from_byte(fixed[2]).ok_or(malformed("unknown wrap algorithm"))?;
        let local = algorithm == WrapAlgorithm::HkdfSha256Aes256Gcm;
        match (fixed[0], local) {
            (RECORD_VERSION_LOCAL, true) | (RECORD_VERSION_OPAQUE, false) => {}
            (RECORD_VERSION_LOCAL | RECORD_VERSION_OPAQUE, _) => {
                return Err(malformed("wrap algorithm and record version disagree"));
            }
            _ => return Err(malformed("unknown record version")),
        }
        if fixed[3] != 0 {
            return Err(malformed("reserved byte set"));
        }
        let external = matches!(
            algorithm,
            WrapAlgorithm::TransitCiphertext | WrapAlgorithm::AwsKmsCiphertext
        );
        if external && provider != Provider::Kms {
            return Err(malformed("an external ciphertext must be a KMS's"));
        }
        let key_version = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let id_len = usize::from(u16::from_le_bytes([fixed[8], fixed[9]]));
        let key_id = std::str::from_utf8(take(14, id_len)?)
            .map_err(|_| malformed("key id is not UTF-8"))?
            .to_owned();
        let mut at = 14 + id_len;
        let salt = if local {
            let salt: [u8; SALT_LEN] = take(at, SALT_LEN)?
                .try_into()
                .map_err(|_| malformed("truncated"))?;
            at += SALT_LEN;
            Some(salt)
        } else {
            None
        };
        let body_len = take(at, 2)?;
        let body_len = usize::from(u16::from_le_bytes([body_len[0], body_len[1]]));
        let length_ok = if local {
            body_len == BODY_LEN
        } else {
            (1..=MAX_OPAQUE_BODY).contains(&body_len)
        };
        if !length_ok {
            return Err(malformed("wrong body length"));
        }
        let body = take(at + 2, body_len)?.to_vec();
        if bytes.len() != at + 2 + body_len {
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
        let mut out = Vec::with_capacity(48 + self.key_id.len() + self.body.len());
        out.extend_from_slice(&MAGIC);
        out.push(match self.salt {
            Some(_) => RECORD_VERSION_LOCAL,
            None => RECORD_VERSION_OPAQUE,
        });
        out.push(match self.provider {
            Provider::MasterKeyring => 1,
            Provider::Kms => 2,
        });
        out.push(self.algorithm.byte());
        out.push(0);
        out.extend_from_slice(&self.key_version.to_le_bytes());
        let id_len = u16::try_from(self.key_id.len()).expect("key ids are checked to be short");
        out.extend_from_slice(&id_len.to_le_bytes());
        out.extend_from_slice(self.key_id.as_bytes());
        if let Some(salt) = &self.salt {
            out.extend_from_slice(salt);
        }
        let body_len = u16::try_from(self.body.len()).expect("bodies are checked to be short");
        out.extend_from_slice(&body_len.to_le_bytes());
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
        let mut salt = [0; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| Error::Randomness)?;
        Self::seal_with_salt(kek, provider, key_id, key_version, data_key, context, salt)
    }

    /// [`WrappedKey::seal`] with the salt given: the whole of it but the
    /// randomness, so that a test can fix its bytes. Never call it with a
    /// salt that was not just drawn at random.
    pub(crate) fn seal_with_salt(
        kek: &[u8; 32],
        provider: Provider,
        key_id: &str,
        key_version: u32,
        data_key: &DataKey,
        context: &EncryptionContext,
        salt: [u8; SALT_LEN],
    ) -> Result<Self> {
        check_key_id(key_id)?;
        let mut wrapped = Self {
            provider,
            algorithm: WrapAlgorithm::HkdfSha256Aes256Gcm,
            key_id: key_id.to_owned(),
            key_version,
            salt: Some(salt),
            body: vec![0; BODY_LEN],
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
    /// a flipped bit) is [`Error::Integrity`]. [`Error::InvalidArgument`] for a
    /// record coffer did not seal itself.
    pub(crate) fn open(&self, kek: &[u8; 32], context: &EncryptionContext) -> Result<DataKey> {
        let Some(salt) = &self.salt else {
            return Err(self.not_sealed_by("coffer's own keys"));
        };
        let header = self.header();
        let key = wrap_key(kek, salt, &header[..header.len() - SALT_LEN - 2]);
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

    /// The error for a record presented to something that did not make it:
    /// `opener` is who was asked.
    pub fn not_sealed_by(&self, opener: &str) -> Error {
        Error::InvalidArgument(format!(
            "the data key was wrapped by {}, not by {opener}",
            self.algorithm.maker()
        ))
    }
}

fn check_key_id(key_id: &str) -> Result<()> {
    if key_id.len() > usize::from(u16::MAX) {
        return Err(Error::InvalidArgument(
            "key id longer than 65535 bytes".into(),
        ));
    }
    Ok(())
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

    fn opaque_sample() -> WrappedKey {
        WrappedKey::opaque(
            Provider::Kms,
            WrapAlgorithm::TransitCiphertext,
            "coffer-photos",
            7,
            b"vault:v7:AAAA".to_vec(),
        )
        .expect("builds")
    }

    #[test]
    fn opaque_records_round_trip_without_a_salt() {
        let wrapped = opaque_sample();
        let bytes = wrapped.encode();
        assert_eq!(bytes[4], RECORD_VERSION_OPAQUE);
        assert_eq!(bytes.len(), 16 + "coffer-photos".len() + 13);
        let decoded = WrappedKey::decode(&bytes).expect("decodes");
        assert_eq!(decoded, wrapped);
        assert_eq!(decoded.body(), b"vault:v7:AAAA");
        assert_eq!(
            WrappedKey::peek_algorithm(&bytes),
            Some(WrapAlgorithm::TransitCiphertext)
        );
        assert_eq!(
            WrappedKey::peek_algorithm(&sample().0.encode()),
            Some(WrapAlgorithm::HkdfSha256Aes256Gcm)
        );
        assert_eq!(WrappedKey::peek_algorithm(b"CFWK"), None);
        assert_eq!(decoded.key_version(), 7);
        assert!(matches!(
            decoded.open(&[1; 32], &context(b"o")),
            Err(Error::InvalidArgument(_))
        ));
        for len in 0..bytes.len() {
            assert!(matches!(
                WrappedKey::decode(&bytes[..len]),
                Err(Error::MalformedWrappedKey(_))
            ));
        }
    }

    #[test]
    fn versions_algorithms_and_providers_must_agree() {
        let mut local = sample().0.encode();
        local[4] = RECORD_VERSION_OPAQUE;
        assert!(matches!(
            WrappedKey::decode(&local),
            Err(Error::MalformedWrappedKey(_))
        ));
        let mut opaque = opaque_sample().encode();
        opaque[4] = RECORD_VERSION_LOCAL;
        assert!(matches!(
            WrappedKey::decode(&opaque),
            Err(Error::MalformedWrappedKey(_))
        ));
        let mut master_transit = opaque_sample().encode();
        master_transit[5] = 1;
        assert!(matches!(
            WrappedKey::decode(&master_transit),
            Err(Error::MalformedWrappedKey(_))
        ));
        let mut unknown = opaque_sample().encode();
        unknown[6] = 9;
        assert!(matches!(
            WrappedKey::decode(&unknown),
            Err(Error::MalformedWrappedKey(_))
        ));
    }

    #[test]
    fn opaque_bodies_are_bounded() {
        for body in [Vec::new(), vec![1; MAX_OPAQUE_BODY + 1]] {
            assert!(
                WrappedKey::opaque(Provider::Kms, WrapAlgorithm::AwsKmsCiphertext, "k", 1, body)
                    .is_err()
            );
        }
        assert!(
            WrappedKey::opaque(
                Provider::Kms,
                WrapAlgorithm::HkdfSha256Aes256Gcm,
                "k",
                1,
                vec![0; 48]
            )
            .is_err()
        );
        let longest = WrappedKey::opaque(
            Provider::MasterKeyring,
            WrapAlgorithm::BucketKey,
            "k",
            1,
            vec![3; MAX_OPAQUE_BODY],
        )
        .expect("builds");
        assert_eq!(
            WrappedKey::decode(&longest.encode()).expect("decodes"),
            longest
        );
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
        fn opaque_round_trip(id in "[a-z0-9/-]{0,40}", version: u32, body in proptest::collection::vec(any::<u8>(), 1..300), algorithm in 2u8..=4) {
            let algorithm = WrapAlgorithm::from_byte(algorithm).expect("known");
            let wrapped = WrappedKey::opaque(Provider::Kms, algorithm, &id, version, body).expect("builds");
            prop_assert_eq!(WrappedKey::decode(&wrapped.encode()).expect("decodes"), wrapped);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = WrappedKey::decode(&bytes);
        }
    }
}
