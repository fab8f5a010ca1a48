//! Where the server is, how to authenticate, and how long to wait.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::ConfigError;
use crate::retry::RetryPolicy;

/// The environment variables a token is read from, in order (OpenBao's name
/// first, then Vault's).
pub const TOKEN_ENV: [&str; 2] = ["BAO_TOKEN", "VAULT_TOKEN"];
/// The environment variables the address is read from by [`VaultConfig::from_env`].
pub const ADDRESS_ENV: [&str; 2] = ["BAO_ADDR", "VAULT_ADDR"];
/// The environment variables the namespace is read from by [`VaultConfig::from_env`].
pub const NAMESPACE_ENV: [&str; 2] = ["BAO_NAMESPACE", "VAULT_NAMESPACE"];
/// The environment variables the CA file is read from by [`VaultConfig::from_env`].
pub const CA_FILE_ENV: [&str; 2] = ["BAO_CACERT", "VAULT_CACERT"];

/// A Vault/OpenBao token. No `Clone`; `Debug` prints no part of it; zeroized on drop.
pub struct VaultToken(Zeroizing<String>);

impl VaultToken {
    /// Wraps a token; surrounding whitespace is trimmed.
    /// [`ConfigError::InvalidToken`] if it is empty or has characters other than
    /// visible ASCII (it travels in the `X-Vault-Token` header).
    pub fn new(token: impl Into<String>) -> Result<Self, ConfigError> {
        Self::parse(Zeroizing::new(token.into()), "a token value")
    }

    fn parse(raw: Zeroizing<String>, source_name: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidToken {
            source_name: source_name.to_owned(),
            reason,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("it has characters other than visible ASCII"));
        }
        Ok(Self(Zeroizing::new(trimmed.to_owned())))
    }

    /// Reads a token file (for example a Vault Agent sink).
    pub(crate) fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let raw = std::fs::read_to_string(path).map_err(|source| ConfigError::TokenFile {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(Zeroizing::new(raw), &path.display().to_string())
    }

    /// Reads the first of [`TOKEN_ENV`] that is set.
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        for name in TOKEN_ENV {
            if let Ok(raw) = std::env::var(name) {
                return Self::parse(Zeroizing::new(raw), name);
            }
        }
        Err(ConfigError::NoToken)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VaultToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultToken(<redacted>)")
    }
}

/// Where the client's token comes from.
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenSource {
    /// This token.
    Value(VaultToken),
    /// A file holding the token, read when the client is built and again before
    /// every request, so a token rewritten by an agent is picked up.
    File(PathBuf),
    /// `BAO_TOKEN`, else `VAULT_TOKEN`, read once when the client is built.
    Env,
}

/// How to reach a Transit secrets engine.
///
/// Build one with [`VaultConfig::new`] or [`VaultConfig::from_env`], then set
/// the fields to change. `Debug` shows no token.
#[derive(Debug)]
#[non_exhaustive]
pub struct VaultConfig {
    /// `http(s)://host[:port]`, optionally with a path prefix; no trailing `/v1`.
    pub address: String,
    /// The token.
    pub token: TokenSource,
    /// Where Transit is mounted; default `transit`.
    pub mount: String,
    /// Sent as `X-Vault-Namespace` when set.
    pub namespace: Option<String>,
    /// PEM file of the CA certificates to trust for `https` addresses, instead
    /// of Mozilla's root set (like `BAO_CACERT`).
    pub ca_file: Option<PathBuf>,
    /// How long to wait for a connection (TCP and TLS); default 5 s.
    pub connect_timeout: Duration,
    /// How long one attempt may take in all, connection included; default 10 s.
    pub request_timeout: Duration,
    /// Retries of calls that found the server unavailable.
    pub retry: RetryPolicy,
}

impl VaultConfig {
    /// A configuration with the defaults: mount `transit`, no namespace,
    /// Mozilla's roots, 5 s to connect, 10 s per attempt, [`RetryPolicy::default`].
    pub fn new(address: impl Into<String>, token: TokenSource) -> Self {
        Self {
            address: address.into(),
            token,
            mount: "transit".to_owned(),
            namespace: None,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// The configuration the `bao` and `vault` commands would use: address from
    /// [`ADDRESS_ENV`], token from [`TOKEN_ENV`], namespace from
    /// [`NAMESPACE_ENV`], CA file from [`CA_FILE_ENV`].
    /// [`ConfigError::MissingAddress`] if no address is set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let first = |names: [&str; 2]| names.iter().find_map(|n| std::env::var(n).ok());
        let address = first(ADDRESS_ENV).ok_or(ConfigError::MissingAddress)?;
        let mut config = Self::new(address, TokenSource::Env);
        config.namespace = first(NAMESPACE_ENV).filter(|n| !n.is_empty());
        config.ca_file = first(CA_FILE_ENV)
            .filter(|f| !f.is_empty())
            .map(PathBuf::from);
        Ok(config)
    }
}

/// `value` trimmed of `/` at both ends, if every `/`-separated part is a name of
/// letters, digits, `_`, `-` and `.` (and not `.` or `..`).
pub(crate) fn normalize_path(what: &'static str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim_matches('/');
    if !trimmed.is_empty() && trimmed.split('/').all(is_plain_name) {
        Ok(trimmed.to_owned())
    } else {
        Err(ConfigError::InvalidPath {
            what,
            value: value.to_owned(),
        })
    }
}

/// A name that is safe as one URL path segment without escaping.
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let config = VaultConfig::new(
            "http://127.0.0.1:8200",
            TokenSource::Value(VaultToken::new("s.supersecret").expect("token")),
        );
        let shown = format!("{config:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn tokens_are_trimmed_and_checked() {
        assert_eq!(
            VaultToken::new(" s.abc\n").expect("token").expose(),
            "s.abc"
        );
        for bad in ["", "  \n", "s.a b", "s.a\r\nX-Evil: 1"] {
            let error = VaultToken::new(bad).expect_err(bad);
            assert!(!error.to_string().contains("s.a"), "{error}");
        }
    }

    #[test]
    fn a_token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "s.fromfile\n").expect("write");
        assert_eq!(
            VaultToken::from_file(&path).expect("token").expose(),
            "s.fromfile"
        );
        assert!(matches!(
            VaultToken::from_file(&dir.path().join("missing")),
            Err(ConfigError::TokenFile { .. })
        ));
    }

    #[test]
    fn paths_are_plain_names() {
        assert_eq!(
            normalize_path("mount path", "/transit/").expect("ok"),
            "transit"
        );
        assert_eq!(
            normalize_path("mount path", "team-a/transit").expect("ok"),
            "team-a/transit"
        );
        for bad in ["", "/", "a//b", "../sys", "a/./b", "a b", "a?b", "a%2f"] {
            assert!(normalize_path("mount path", bad).is_err(), "{bad:?}");
        }
    }
}
