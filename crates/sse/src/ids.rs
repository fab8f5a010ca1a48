//! The ids and times records carry: 16 random bytes for an object, upload,
//! job or bucket key; milliseconds since the Unix epoch.

use std::time::SystemTime;

use ring::rand::{SecureRandom, SystemRandom};

use crate::{Error, Result};

/// How long an object, upload, job or bucket key id is.
pub const ID_LEN: usize = 16;

/// 16 random bytes from the system's generator ([`Error::Randomness`] if it
/// fails).
pub fn random_id() -> Result<[u8; ID_LEN]> {
    let mut id = [0u8; ID_LEN];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| Error::Randomness)?;
    Ok(id)
}

/// Milliseconds since the Unix epoch (0 before it, `u64::MAX` far after).
pub fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
