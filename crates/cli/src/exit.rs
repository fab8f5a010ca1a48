//! What went wrong, and the exit code that says so.

use std::process::ExitCode;

/// A command's failure.
#[derive(Debug)]
pub(crate) enum Failure {
    /// From the store.
    Store(coffer_store::Error),
    /// From the KMS or the root key.
    Key(coffer_keyring::Error),
    /// Reading or writing a local file.
    Io(String, std::io::Error),
    /// A bad argument clap could not catch.
    Usage(String),
    /// `verify` found this many problems.
    Problems(usize),
}

impl From<coffer_store::Error> for Failure {
    fn from(error: coffer_store::Error) -> Self {
        Self::Store(error)
    }
}

impl From<coffer_keyring::Error> for Failure {
    fn from(error: coffer_keyring::Error) -> Self {
        Self::Key(error)
    }
}

/// The exit codes, as the help text lists them.
pub(crate) const OTHER: u8 = 1;
pub(crate) const USAGE: u8 = 2;
pub(crate) const NOT_FOUND: u8 = 3;
pub(crate) const ACCESS_DENIED: u8 = 4;
pub(crate) const INTEGRITY: u8 = 5;
pub(crate) const ALREADY_EXISTS: u8 = 6;

impl Failure {
    pub(crate) fn exit_code(&self) -> ExitCode {
        use coffer_store::Error as E;
        let code = match self {
            Self::Store(error) => match error {
                E::NoSuchBucket(_)
                | E::NoSuchKey { .. }
                | E::NoSuchUpload(_)
                | E::NoSuchJob(_)
                | E::NoSuchEncryptionRule(_)
                | E::StoreNotFound(_)
                | E::KeyNotFound(_) => NOT_FOUND,
                E::AccessDenied { .. }
                | E::KmsDenied(_)
                | E::KeyDisabled(_)
                | E::KeyPendingDeletion(_)
                | E::KeyPendingImport(_)
                | E::KeyDestroyed(_)
                | E::ManagedKey(_)
                | E::WrongRootKey => ACCESS_DENIED,
                E::Integrity(_) | E::CorruptRecord(_) => INTEGRITY,
                E::AlreadyExists { .. } | E::BucketAlreadyExists(_) => ALREADY_EXISTS,
                E::InvalidArgument(_) | E::InvalidRange { .. } | E::KmsMismatch { .. } => USAGE,
                E::Key(error) => key_code(error),
                _ => OTHER,
            },
            Self::Key(error) => key_code(error),
            Self::Io(_, error) if error.kind() == std::io::ErrorKind::NotFound => NOT_FOUND,
            Self::Io(_, error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                ALREADY_EXISTS
            }
            Self::Io(..) => OTHER,
            Self::Usage(_) => USAGE,
            Self::Problems(_) => INTEGRITY,
        };
        ExitCode::from(code)
    }
}

fn key_code(error: &coffer_keyring::Error) -> u8 {
    use coffer_keyring::Error as K;
    match error {
        K::KeyNotFound(_) => NOT_FOUND,
        K::KeyFileTooOpen { .. }
        | K::WrongRootKey
        | K::AccessDenied { .. }
        | K::KeyDisabled(_)
        | K::KeyPendingDeletion { .. }
        | K::KeyPendingImport(_)
        | K::KeyDestroyed(_)
        | K::ManagedKey(_) => ACCESS_DENIED,
        K::InvalidArgument(_) | K::InvalidImportToken | K::ImportTokenExpired => USAGE,
        K::Integrity(_) | K::MalformedWrappedKey(_) => INTEGRITY,
        K::MalformedRootKey { .. } => USAGE,
        K::KeyFile { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => NOT_FOUND,
            std::io::ErrorKind::AlreadyExists => ALREADY_EXISTS,
            std::io::ErrorKind::PermissionDenied => ACCESS_DENIED,
            _ => OTHER,
        },
        _ => OTHER,
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(error) => write!(f, "{error}"),
            Self::Key(error) => write!(f, "{error}"),
            Self::Io(path, error) => write!(f, "{path}: {error}"),
            Self::Usage(message) => write!(f, "{message}"),
            Self::Problems(n) => write!(f, "verify found {n} problem(s)"),
        }
    }
}
