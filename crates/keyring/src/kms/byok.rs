//! Bring your own key, the way AWS KMS and Alibaba Cloud KMS users already do it.
//!
//! 1. [`Kms::get_parameters_for_import`](super::Kms::get_parameters_for_import)
//!    returns an RSA wrapping public key (2048 bits by default, or 3072) as
//!    SubjectPublicKeyInfo DER and PEM, and an import token valid for 24 hours.
//! 2. The key owner wraps the 32 bytes of material with RSAES-OAEP, SHA-256 and
//!    MGF1-SHA-256, no label (AWS's `RSAES_OAEP_SHA_256`):
//!
//!    ```text
//!    openssl pkeyutl -encrypt -pubin -inkey wrapping.pem \
//!        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
//!        -pkeyopt rsa_mgf1_md:sha256 -in material.bin -out wrapped.bin
//!    ```
//!
//!    or, from Rust, [`wrap_key_material_for_import`].
//! 3. [`Kms::import_key_material`](super::Kms::import_key_material) with the key
//!    id, the token and the wrapped bytes (as long as the RSA modulus).
//!
//! Every token has its own wrapping key pair. The private half never leaves the
//! KMS: the local KMS keeps it sealed under the root key until the token is used
//! (once) or found expired.

use std::time::SystemTime;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The length of key material: an AES-256 key.
const MATERIAL_LEN: usize = 32;

/// The size of the RSA wrapping key handed out for an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WrappingKeySpec {
    /// RSA 2048 bits (AWS's and Alibaba Cloud's `RSA_2048`); the wrapped material
    /// is 256 bytes.
    #[default]
    Rsa2048,
    /// RSA 3072 bits (`RSA_3072`); the wrapped material is 384 bytes.
    Rsa3072,
}

impl WrappingKeySpec {
    /// The modulus size in bits.
    pub fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
        }
    }

    fn key_size(self) -> KeySize {
        match self {
            Self::Rsa2048 => KeySize::Rsa2048,
            Self::Rsa3072 => KeySize::Rsa3072,
        }
    }
}

/// What to ask [`get_parameters_for_import`](super::Kms::get_parameters_for_import)
/// for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOptions {
    /// The size of the RSA wrapping key (default 2048 bits).
    pub wrapping_key_spec: WrappingKeySpec,
}

/// What the owner of external key material needs to wrap it for import. Holds
/// no secret: the token is only good with the wrapped material, for this key,
/// once, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportParameters {
    /// The key the material is for.
    pub key_id: String,
    /// The size of the wrapping key.
    pub wrapping_key_spec: WrappingKeySpec,
    /// The RSA wrapping public key, X.509 SubjectPublicKeyInfo, DER.
    pub public_key_der: Vec<u8>,
    /// The same key as PEM (`-----BEGIN PUBLIC KEY-----`), for
    /// `openssl pkeyutl -pubin -inkey`.
    pub public_key_pem: String,
    /// The token to present with the wrapped material (single use).
    pub import_token: String,
    /// After this the token is refused.
    pub expires_at: SystemTime,
}

/// Wraps 32 bytes of key material for import with these parameters (the key
/// owner's side of BYOK): RSAES-OAEP with SHA-256 and MGF1-SHA-256, as the
/// `openssl pkeyutl` command in the module docs does.
///
/// Fails with [`Error::InvalidArgument`] if `public_key_der` is not an RSA
/// public key of 2048 bits or more.
pub fn wrap_key_material_for_import(
    parameters: &ImportParameters,
    material: &[u8; 32],
) -> Result<Vec<u8>> {
    let public = PublicEncryptingKey::from_der(&parameters.public_key_der)
        .ok()
        .and_then(|key| OaepPublicEncryptingKey::new(key).ok())
        .ok_or_else(|| {
            Error::InvalidArgument("the import parameters' public key is not an RSA key".into())
        })?;
    let mut wrapped = vec![0u8; public.ciphertext_size()];
    let len = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, material, &mut wrapped, None)
        .map_err(|_| Error::Integrity("wrapping key material"))?
        .len();
    wrapped.truncate(len);
    Ok(wrapped)
}

/// The private half of an import's wrapping key pair. No `Clone`, no `Debug`;
/// AWS-LC clears the key's memory when it is freed.
pub(crate) struct WrappingKey(PrivateDecryptingKey);

impl WrappingKey {
    /// A fresh key pair.
    pub(crate) fn generate(spec: WrappingKeySpec) -> Result<Self> {
        PrivateDecryptingKey::generate(spec.key_size())
            .map(Self)
            .map_err(|_| Error::Randomness)
    }

    /// The key as sealed in storage (PKCS#8 v1 DER).
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self> {
        PrivateDecryptingKey::from_pkcs8(der)
            .map(Self)
            .map_err(|_| Error::Integrity("a stored import key is not an RSA private key"))
    }

    /// PKCS#8 v1 DER, to seal for storage.
    pub(crate) fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        let der = self
            .0
            .as_der()
            .map_err(|_| Error::Integrity("encoding an import key"))?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// The public half as SubjectPublicKeyInfo DER.
    pub(crate) fn public_key_der(&self) -> Result<Vec<u8>> {
        let der = self
            .0
            .public_key()
            .as_der()
            .map_err(|_| Error::Integrity("encoding an import public key"))?;
        Ok(der.as_ref().to_vec())
    }

    /// Unwraps material wrapped to this key; the key is used up.
    ///
    /// [`Error::InvalidArgument`] if `wrapped` is not as long as the modulus or
    /// holds something other than 32 bytes; [`Error::Integrity`] if it does not
    /// decrypt (modified, or wrapped to another key).
    pub(crate) fn unwrap(self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let key_len = self.0.key_size_bytes();
        if wrapped.len() != key_len {
            return Err(Error::InvalidArgument(format!(
                "wrapped key material must be {key_len} bytes (RSA-{}), got {}",
                key_len * 8,
                wrapped.len()
            )));
        }
        let private = OaepPrivateDecryptingKey::new(self.0)
            .map_err(|_| Error::Integrity("the import key is not usable for RSA-OAEP"))?;
        let mut plain = Zeroizing::new(vec![0u8; private.min_output_size()]);
        let material = private
            .decrypt(&OAEP_SHA256_MGF1SHA256, wrapped, &mut plain, None)
            .map_err(|_| {
                Error::Integrity(
                    "wrapped key material does not unwrap with this import token's key",
                )
            })?;
        if material.len() != MATERIAL_LEN {
            return Err(Error::InvalidArgument(format!(
                "key material must be {MATERIAL_LEN} bytes, got {}",
                material.len()
            )));
        }
        let mut out = Zeroizing::new([0u8; MATERIAL_LEN]);
        out.copy_from_slice(material);
        Ok(out)
    }
}

/// RFC 7468 PEM of a SubjectPublicKeyInfo: base64 with padding, 64 characters a
/// line.
pub(crate) fn public_key_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                base64.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                base64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(key: &WrappingKey) -> ImportParameters {
        let der = key.public_key_der().expect("public key");
        ImportParameters {
            key_id: "k".into(),
            wrapping_key_spec: WrappingKeySpec::Rsa2048,
            public_key_pem: public_key_pem(&der),
            public_key_der: der,
            import_token: "t".into(),
            expires_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn wrapped_material_unwraps_once_and_only_unmodified() {
        let key = WrappingKey::generate(WrappingKeySpec::Rsa2048).expect("generates");
        let params = parameters(&key);
        let wrapped = wrap_key_material_for_import(&params, &[7; 32]).expect("wraps");
        assert_eq!(wrapped.len(), 256);
        let stored = key.to_pkcs8().expect("encodes");
        let again = WrappingKey::from_pkcs8(&stored).expect("decodes");
        assert_eq!(*key.unwrap(&wrapped).expect("unwraps"), [7; 32]);
        let mut tampered = wrapped.clone();
        tampered[100] ^= 1;
        assert!(matches!(again.unwrap(&tampered), Err(Error::Integrity(_))));
        let short = WrappingKey::from_pkcs8(&stored).expect("decodes");
        assert!(matches!(
            short.unwrap(&wrapped[..255]),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn pem_is_rfc_7468_base64() {
        // RFC 4648's test vectors, inside the PEM frame.
        for (der, text) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            let body = if text.is_empty() {
                String::new()
            } else {
                format!("{text}\n")
            };
            assert_eq!(
                public_key_pem(der),
                format!("-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n")
            );
        }
        let long = public_key_pem(&[0xff; 96]);
        let lines: Vec<&str> = long.lines().collect();
        assert_eq!((lines.len(), lines[1].len(), lines[2].len()), (4, 64, 64));
    }
}
