//! The secret key every payload is sealed under.

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result};

/// Length of a [`DataKey`] in bytes.
pub const DATA_KEY_LEN: usize = 32;

/// A 256-bit data key (DEK): the input key of one payload.
///
/// It has no `Clone` and no `Debug`, and its bytes are zeroized when it is
/// dropped. **Invariant:** a data key seals exactly one object write; coffer draws a
/// fresh one for every write (see [`DataKey::generate`]).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// Draws a fresh key from the operating system's CSPRNG.
    ///
    /// Fails with [`Error::Randomness`] if the generator is unavailable.
    pub fn generate() -> Result<Self> {
        let mut key = Self([0; DATA_KEY_LEN]);
        SystemRandom::new()
            .fill(&mut key.0)
            .map_err(|_| Error::Randomness)?;
        Ok(key)
    }

    /// Takes ownership of key bytes that came from a trusted source (a key
    /// unwrap, a KMS). The caller should zeroize its own copy.
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Copies a key out of a slice, failing with [`Error::InvalidKeyLength`] unless
    /// it is exactly 32 bytes.
    pub fn try_from_slice(bytes: &[u8]) -> Result<Self> {
        let array: [u8; DATA_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::InvalidKeyLength { len: bytes.len() })?;
        Ok(Self(array))
    }

    /// The raw key bytes, for wrapping the key under a master key. Never log,
    /// print or store them.
    pub fn expose_secret(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_differ() {
        let a = DataKey::generate().expect("rng");
        let b = DataKey::generate().expect("rng");
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn wrong_length_is_rejected() {
        assert!(matches!(
            DataKey::try_from_slice(&[0; 31]),
            Err(Error::InvalidKeyLength { len: 31 })
        ));
        assert!(DataKey::try_from_slice(&[7; 32]).is_ok());
    }
}
