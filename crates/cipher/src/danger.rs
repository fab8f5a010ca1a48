//! Options that are unsafe unless you know exactly why you need them.

use crate::cobblestone::{SALT_LEN, Salt};

/// A caller-chosen salt, for reproducible test vectors and for checking that
/// every code path writes identical bytes.
///
/// **Never** seal two messages under one key with the same salt: the derived AES
/// key and nonces would repeat, which breaks AES-GCM's confidentiality and
/// authenticity. Production code uses [`Salt::random`].
pub fn fixed_salt(bytes: [u8; SALT_LEN]) -> Salt {
    Salt::from_array(bytes)
}
