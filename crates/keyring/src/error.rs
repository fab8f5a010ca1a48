//! The one error type of the keyring and the KMS.

use std::path::PathBuf;
use std::time::SystemTime;

/// What went wrong with a key operation. Each variant says what the caller can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's policies do not allow this action on this key. Grant the
    /// action (for example `kms:Decrypt` on the key's resource name) or use
    /// another principal.
    #[error("access denied: {caller} may not {action} on {resource}")]
    AccessDenied {
        /// Who asked.
        caller: String,
        /// The action, e.g. `kms:Decrypt`.
        action: String,
        /// The resource name the action was checked against.
        resource: String,
    },
    /// No key has this id or alias.
    #[error("key not found: {0}")]
    KeyNotFound(String),
    /// The key is disabled: generate and decrypt are refused until it is enabled.
    #[error("key {0} is disabled")]
    KeyDisabled(String),
    /// The key is scheduled for deletion; cancel the deletion to use it again.
    #[error("key {key_id} is pending deletion (material destroyed at {delete_at:?})")]
    KeyPendingDeletion {
        /// The key.
        key_id: String,
        /// When its material is destroyed.
        delete_at: SystemTime,
    },
    /// The key waits for imported material; import it first.
    #[error("key {0} has no key material (pending import)")]
    KeyPendingImport(String),
    /// The key's material was destroyed: everything under it is permanently
    /// unreadable.
    #[error("key {0} was deleted; data under it is permanently unreadable")]
    KeyDestroyed(String),
    /// A wrapped key names a key version this keyring no longer (or never) had.
    #[error("key {key_id} has no version {version}")]
    UnknownKeyVersion {
        /// The key (or keyring) id.
        key_id: String,
        /// The version the wrapped key names.
        version: u32,
    },
    /// The operation is not allowed on the store's managed default key.
    #[error("key {0} is managed by the store and cannot be disabled or deleted")]
    ManagedKey(String),
    /// The KMS backend does not offer this operation, or not on this key (for
    /// example rotating imported material). Nothing was changed.
    #[error("the {backend} KMS does not support {operation}")]
    Unsupported {
        /// The backend, e.g. `local`, `transit`, `aws-kms`.
        backend: &'static str,
        /// What was asked, e.g. `kms:CreateAlias` or `rotating imported key material`.
        operation: String,
    },
    /// The KMS service did not answer in time or refused the connection
    /// (after the backend's retries), or calls fail fast for a moment after
    /// that happened. Nothing was changed; retry later.
    #[error("the {backend} KMS is unavailable: {reason}")]
    KmsUnavailable {
        /// The backend.
        backend: &'static str,
        /// The last failure.
        reason: String,
    },
    /// A key administration call (creating a key, rotating it, scheduling its
    /// deletion, ...) was sent to the service, which never said how it ended:
    /// no answer within the deadline, or the connection failed after the
    /// request left. It was not sent again (it is not safe to repeat), and it
    /// may have taken effect: look at the key (describe it, list keys) before
    /// you try again.
    #[error("the {backend} KMS did not say whether {operation} took effect: {reason}")]
    OutcomeUnknown {
        /// The backend.
        backend: &'static str,
        /// The operation, e.g. `kms:CreateKey`.
        operation: String,
        /// What happened to the call.
        reason: String,
    },
    /// The KMS service refused coffer's own credentials (an expired token, a
    /// policy on the service's side that lacks the operation). Fix the
    /// credentials or the service's policy.
    #[error("the {backend} KMS refused the store's credentials: {message}")]
    BackendDenied {
        /// The backend.
        backend: &'static str,
        /// The service's message.
        message: String,
    },
    /// The KMS service failed in a way coffer does not interpret; the message
    /// says how.
    #[error("the {backend} KMS failed: {message}")]
    Backend {
        /// The backend.
        backend: &'static str,
        /// The service's message.
        message: String,
    },
    /// An argument is out of range or malformed; the message says which.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The import token is unknown, used already, or for another key.
    #[error("invalid import token")]
    InvalidImportToken,
    /// The import token has expired; get new import parameters.
    #[error("the import token has expired")]
    ImportTokenExpired,
    /// A wrapped key or sealed record failed to authenticate: it was modified, or
    /// presented for another object or key.
    #[error("integrity check failed: {0}")]
    Integrity(&'static str),
    /// The bytes are not a wrapped-key record this build understands.
    #[error("malformed wrapped key: {0}")]
    MalformedWrappedKey(&'static str),
    /// The root key does not open the keys sealed in this store: it is not the
    /// root key this store was created with. Nothing was changed.
    #[error("wrong root key: it does not open this store's keys")]
    WrongRootKey,
    /// A root key file can be read by group or others; `chmod 600` it.
    #[error(
        "root key file {path:?} has mode {mode:o}; it must be readable by its owner only (chmod 600)"
    )]
    KeyFileTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A root key (file or environment variable) is not 64 hex digits.
    #[error("root key from {source_name} is not 64 hex digits")]
    MalformedRootKey {
        /// Where it came from.
        source_name: String,
    },
    /// Reading or creating a key file failed.
    #[error("key file {path:?}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The persistence layer failed; the operation did not take effect.
    #[error("key storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Randomness,
    /// The audit sink could not record the call, so the call failed: its
    /// result (a data key, a key's metadata) was dropped. An administration
    /// call may have taken effect at the backend before the record failed;
    /// check the key's state once the audit log works again.
    #[error("audit record of {action} failed, so the call failed: {reason}")]
    AuditFailed {
        /// The action whose record failed.
        action: String,
        /// Why the sink failed.
        reason: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<coffer_cipher::Error> for Error {
    fn from(error: coffer_cipher::Error) -> Self {
        match error {
            coffer_cipher::Error::Randomness => Error::Randomness,
            _ => Error::Integrity("data key"),
        }
    }
}
