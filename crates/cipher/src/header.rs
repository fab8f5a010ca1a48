//! coffer's 8-byte header in front of every payload.
//!
//! ```text
//! offset  size  field
//!      0     4  magic   "CFPL"
//!      4     1  version 1
//!      5     1  suite   1 = Cobblestone-256 (HKDF-SHA512, AES-256-GCM, 16 KiB chunks)
//!      6     2  flags   little-endian; no flag is defined, any set bit is rejected
//! ```
//!
//! The header bytes are part of the key-derivation context, so changing any of
//! them fails the commitment check even where the parser would accept them.

use crate::{Error, FormatError, IntegrityError, Result};

/// The payload magic.
pub const MAGIC: [u8; 4] = *b"CFPL";
/// The only format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the header in bytes.
pub const HEADER_LEN: usize = 8;

const VERSION_AT: usize = MAGIC.len();
const SUITE_AT: usize = VERSION_AT + 1;
const FLAGS_AT: usize = SUITE_AT + 1;
const _: () = assert!(FLAGS_AT + 2 == HEADER_LEN);

/// The cipher suite of a payload. Room is left for others (such as SM4-GCM);
/// an unknown suite is a hard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Suite {
    /// C2SP chunked encryption with HKDF-SHA512 and AES-256-GCM.
    Cobblestone256 = 1,
}

/// A parsed payload header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The cipher suite.
    pub suite: Suite,
}

impl Header {
    /// The header coffer writes today.
    pub const CURRENT: Header = Header {
        suite: Suite::Cobblestone256,
    };

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0; HEADER_LEN];
        bytes[..VERSION_AT].copy_from_slice(&MAGIC);
        bytes[VERSION_AT] = FORMAT_VERSION;
        bytes[SUITE_AT] = self.suite as u8;
        bytes[FLAGS_AT..].copy_from_slice(&0u16.to_le_bytes());
        bytes
    }

    /// Parses the start of a payload. Too few bytes is
    /// [`IntegrityError::Truncated`]; anything not understood is
    /// [`Error::UnsupportedFormat`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bytes: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(IntegrityError::Truncated)?;
        if bytes[..VERSION_AT] != MAGIC {
            return Err(FormatError::BadMagic.into());
        }
        if bytes[VERSION_AT] != FORMAT_VERSION {
            return Err(FormatError::Version(bytes[VERSION_AT]).into());
        }
        let suite = match bytes[SUITE_AT] {
            1 => Suite::Cobblestone256,
            other => return Err(Error::from(FormatError::Suite(other))),
        };
        let flags = u16::from_le_bytes([bytes[FLAGS_AT], bytes[FLAGS_AT + 1]]);
        if flags != 0 {
            return Err(FormatError::Flags(flags).into());
        }
        Ok(Self { suite })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = Header::CURRENT.encode();
        assert_eq!(&bytes, b"CFPL\x01\x01\x00\x00");
        assert_eq!(Header::decode(&bytes).expect("decodes"), Header::CURRENT);
    }

    #[test]
    fn unknown_fields_are_hard_errors() {
        let good = Header::CURRENT.encode();
        let with = |at: usize, value: u8| {
            let mut b = good;
            b[at] = value;
            Header::decode(&b)
        };
        assert!(matches!(
            with(0, b'X'),
            Err(Error::UnsupportedFormat(FormatError::BadMagic))
        ));
        assert!(matches!(
            with(4, 2),
            Err(Error::UnsupportedFormat(FormatError::Version(2)))
        ));
        assert!(matches!(
            with(5, 9),
            Err(Error::UnsupportedFormat(FormatError::Suite(9)))
        ));
        assert!(matches!(
            with(7, 1),
            Err(Error::UnsupportedFormat(FormatError::Flags(0x100)))
        ));
        assert!(matches!(
            Header::decode(&good[..7]),
            Err(Error::Integrity(IntegrityError::Truncated))
        ));
    }
}
