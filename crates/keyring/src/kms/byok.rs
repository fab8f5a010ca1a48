//! Bring your own key: material is wrapped for import to an ephemeral X25519
//! public key (ECDH, then HKDF-SHA256, then AES-256-GCM).
//!
//! ```text
//! wrapped material = sender public key (32) ‖ AES-256-GCM(k, nonce 0, aad, material (32)) ‖ tag (16)
//! k   = HKDF-SHA256(salt = import token, X25519(sender, KMS import key),
//!                   info = "coffer/byok/v1" ‖ key id)
//! aad = key id ‖ import token
//! ```
//! Each import key pair is used once and lives only in the KMS's memory until it
//! is used or expires, so the zero nonce never repeats under one `k`.

use std::time::SystemTime;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::hkdf;
use ring::rand::SystemRandom;
use zeroize::Zeroizing;

use crate::{Error, Result};

const INFO: &[u8] = b"coffer/byok/v1";
const WRAPPED_LEN: usize = 32 + 32 + 16;

/// What the owner of external key material needs to wrap it for import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportParameters {
    /// The key the material is for.
    pub key_id: String,
    /// The KMS's ephemeral X25519 public key.
    pub public_key: [u8; 32],
    /// The token to present with the wrapped material (single use).
    pub import_token: String,
    /// After this the token is refused.
    pub expires_at: SystemTime,
}

/// Wraps 32 bytes of key material for import with these parameters (the key
/// owner's side of BYOK).
pub fn wrap_key_material_for_import(
    parameters: &ImportParameters,
    material: &[u8; 32],
) -> Result<Vec<u8>> {
    let rng = SystemRandom::new();
    let private = EphemeralPrivateKey::generate(&X25519, &rng).map_err(|_| Error::Randomness)?;
    let public = private
        .compute_public_key()
        .map_err(|_| Error::Randomness)?;
    let key = agree(
        private,
        &parameters.public_key,
        &parameters.import_token,
        &parameters.key_id,
    )?;
    let mut body = Zeroizing::new(material.to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key([0; 12]),
        Aad::from(aad(&parameters.key_id, &parameters.import_token)),
        &mut *body,
    )
    .map_err(|_| Error::Integrity("wrapping key material"))?;
    Ok([public.as_ref(), &body[..]].concat())
}

/// The KMS's side: opens wrapped material with the import key pair's private half.
pub(crate) fn unwrap_imported(
    private: EphemeralPrivateKey,
    token: &str,
    key_id: &str,
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; 32]>> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(Error::InvalidArgument(format!(
            "wrapped key material must be {WRAPPED_LEN} bytes"
        )));
    }
    let peer: [u8; 32] = wrapped[..32]
        .try_into()
        .map_err(|_| Error::Integrity("peer key"))?;
    let key = agree(private, &peer, token, key_id)?;
    let mut body = Zeroizing::new(wrapped[32..].to_vec());
    let material = key
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(aad(key_id, token)),
            &mut body,
        )
        .map_err(|_| {
            Error::Integrity("wrapped key material does not open with these import parameters")
        })?;
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(material);
    Ok(out)
}

pub(crate) fn new_import_key() -> Result<(EphemeralPrivateKey, [u8; 32])> {
    let private = EphemeralPrivateKey::generate(&X25519, &SystemRandom::new())
        .map_err(|_| Error::Randomness)?;
    let public = private
        .compute_public_key()
        .map_err(|_| Error::Randomness)?;
    let public: [u8; 32] = public.as_ref().try_into().map_err(|_| Error::Randomness)?;
    Ok((private, public))
}

fn agree(
    private: EphemeralPrivateKey,
    peer: &[u8; 32],
    token: &str,
    key_id: &str,
) -> Result<LessSafeKey> {
    agreement::agree_ephemeral(private, &UnparsedPublicKey::new(&X25519, peer), |shared| {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, token.as_bytes()).extract(shared);
        let mut key = Zeroizing::new([0u8; 32]);
        prk.expand(&[INFO, key_id.as_bytes()], &AES_256_GCM)
            .and_then(|okm| okm.fill(&mut key[..]))
            .map(|()| {
                LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key[..]).expect("32-byte key"))
            })
    })
    .map_err(|_| Error::Integrity("key agreement failed"))?
    .map_err(|_| Error::Integrity("key derivation failed"))
}

fn aad(key_id: &str, token: &str) -> Vec<u8> {
    [key_id.as_bytes(), b"\0", token.as_bytes()].concat()
}
