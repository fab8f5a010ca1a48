//! The one error type of this crate.

use std::io;

/// What went wrong while sealing or opening a payload.
///
/// Every failure to authenticate is an [`Error::Integrity`]: the caller must treat
/// the payload as unreadable and must not retry with the same inputs. No plaintext
/// is ever released from a chunk that failed to authenticate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The payload does not authenticate under this key and identity: it was
    /// tampered with, truncated, extended, reordered, spliced from another object,
    /// or opened with the wrong key or for the wrong object.
    #[error("payload failed authentication: {0}")]
    Integrity(#[from] IntegrityError),
    /// The payload's header names a format this build does not understand. This is
    /// a hard error: nothing is guessed. Upgrade coffer, or the data is not a payload.
    #[error("unsupported payload format: {0}")]
    UnsupportedFormat(#[from] FormatError),
    /// A key was given with the wrong number of bytes (a data key is 32 bytes).
    #[error("a data key is 32 bytes, got {len}")]
    InvalidKeyLength {
        /// The length that was given.
        len: usize,
    },
    /// The requested range does not lie within the plaintext.
    #[error("range {start}..{end} is outside the plaintext of {len} bytes")]
    InvalidRange {
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
        /// Authenticated length of the plaintext.
        len: u64,
    },
    /// A run of chunks that does not end the message must be whole 16 KiB chunks.
    #[error("a run of chunks that does not end the message must be whole 16 KiB chunks")]
    MisalignedRun,
    /// The message is longer than the format allows (2^38 chunks of 16 KiB).
    #[error("message exceeds the format's maximum length")]
    TooLarge,
    /// The system random number generator failed; nothing was sealed.
    #[error("the system random number generator failed")]
    Randomness,
    /// A worker of the pipeline stopped without answering; retry the operation.
    #[error("a pipeline worker stopped unexpectedly")]
    WorkerLost,
    /// Reading the source or writing the sink failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Which authentication check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// The key commitment does not match: wrong key, wrong object identity, or a
    /// modified header, salt or commitment. Checked before any chunk is opened.
    #[error("key commitment mismatch (wrong key, wrong object, or modified header)")]
    Commitment,
    /// Chunk `index` does not authenticate (modified, moved, or the message was
    /// truncated or extended so that its final chunk moved).
    #[error("chunk {index} does not authenticate")]
    Chunk {
        /// Zero-based chunk number.
        index: u64,
    },
    /// The payload's length is impossible for this format: it is cut short inside
    /// the header or a tag, or the required short final chunk is missing.
    #[error("payload is truncated")]
    Truncated,
}

/// Which part of the header is not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The first bytes are not coffer's payload magic.
    #[error("not a coffer payload (bad magic)")]
    BadMagic,
    /// A format version this build does not know.
    #[error("unknown format version {0}")]
    Version(u8),
    /// A cipher suite this build does not know.
    #[error("unknown cipher suite {0}")]
    Suite(u8),
    /// Flag bits this build does not know.
    #[error("unknown header flags {0:#06x}")]
    Flags(u16),
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Io(inner) => inner,
            Error::Integrity(IntegrityError::Truncated) => {
                io::Error::new(io::ErrorKind::UnexpectedEof, error)
            }
            Error::InvalidRange { .. } => io::Error::new(io::ErrorKind::InvalidInput, error),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
