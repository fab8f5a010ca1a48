//! What can go wrong: [`ConfigError`] while building a client, [`Error`] for each
//! call. Neither ever contains the token.

use std::path::PathBuf;

/// A client could not be configured. Nothing was sent to the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No server address: set `BAO_ADDR` (or `VAULT_ADDR`) or pass one.
    #[error("no OpenBao/Vault address: set BAO_ADDR (or VAULT_ADDR) or pass one")]
    MissingAddress,
    /// The address is not an `http://` or `https://` URL with a host.
    #[error("invalid OpenBao/Vault address {0:?}: expected http(s)://host[:port]")]
    InvalidAddress(String),
    /// No token: set `BAO_TOKEN` (or `VAULT_TOKEN`), or name a token file.
    #[error("no OpenBao/Vault token: set BAO_TOKEN (or VAULT_TOKEN) or give a token file")]
    NoToken,
    /// The token is empty or has characters an HTTP header cannot carry.
    #[error("invalid token from {source_name}: {reason}")]
    InvalidToken {
        /// Where the token came from (a value, a file path, an env variable).
        source_name: String,
        /// What is wrong with it; never the token itself.
        reason: &'static str,
    },
    /// The token file could not be read.
    #[error("token file {path:?}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA file could not be read or holds no PEM certificate.
    #[error("CA file {path:?}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The Transit mount path or namespace is not a `/`-separated list of names
    /// made of letters, digits, `_`, `-` and `.`.
    #[error("invalid {what} {value:?}: use letters, digits, '_', '-', '.' and '/' between names")]
    InvalidPath {
        /// `"mount path"` or `"namespace"`.
        what: &'static str,
        /// The rejected value.
        value: String,
    },
}

/// A Transit call failed. Each variant says what the caller can do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Transit key does not exist. Nothing was created: create it explicitly.
    #[error("transit key {key:?} not found")]
    NotFound {
        /// The key name.
        key: String,
    },
    /// The server refused the token for this path (HTTP 403): the token is
    /// unknown or expired, or its policy lacks the capability.
    #[error("permission denied by OpenBao/Vault: {message}")]
    PermissionDenied {
        /// The server's message.
        message: String,
    },
    /// The key is soft-deleted: every use is refused until it is restored with
    /// `soft_delete_restore`.
    #[error("transit key {key:?} is soft-deleted; restore it to use it")]
    SoftDeleted {
        /// The key name.
        key: String,
    },
    /// The ciphertext did not authenticate: it was made for other associated
    /// data (another object), under another key, or it was modified.
    #[error("ciphertext does not decrypt under transit key {key:?} with this associated data")]
    Integrity {
        /// The key name.
        key: String,
    },
    /// The ciphertext's key version is below the key's `min_decryption_version`:
    /// lower the floor, or the data is unreadable.
    #[error("version {version} of transit key {key:?} is below its minimum decryption version")]
    VersionRetired {
        /// The key name.
        key: String,
        /// The ciphertext's version.
        version: u32,
    },
    /// The server did not answer in time, refused the connection, or answered
    /// 502/503/504 (sealed, standby, overloaded), after `attempts` tries. The
    /// operation may be retried later; a non-idempotent one (rotate, delete)
    /// may or may not have taken effect when the request was sent.
    #[error("OpenBao/Vault unavailable after {attempts} attempt(s): {reason}")]
    Unavailable {
        /// How many requests were tried.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The TLS connection could not be set up: most often the server's
    /// certificate is not signed by a trusted CA (set `ca_file`) or is for
    /// another host name. Not retried.
    #[error("TLS with OpenBao/Vault failed: {0}")]
    Tls(String),
    /// The server answered with something this client does not understand.
    #[error("unexpected response from OpenBao/Vault: {0}")]
    InvalidResponse(String),
    /// Any other error status, with the server's message (for example 400 for
    /// a malformed ciphertext, 404 for a missing mount or namespace, 500).
    #[error("OpenBao/Vault answered {status}: {message}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The server's messages, joined.
        message: String,
    },
    /// An argument is malformed (a key name that is not a plain name, a
    /// ciphertext that is not `vault:v<N>:...`); nothing was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The token could not be read for this call (a token file that went
    /// missing or empty); nothing was sent.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
