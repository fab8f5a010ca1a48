//! The gateway's configuration file (TOML). Paths in it are relative to the
//! file's own directory.
//!
//! ```toml
//! listen = "127.0.0.1:9000"     # the default
//! region = "us-east-1"          # what GetBucketLocation answers; the default
//! max_object_size = 5368709120  # bytes per PUT or part; the default (5 GiB)
//! # Hosts `<bucket>.<domain>` name the bucket (virtual-hosted requests);
//! # any other Host is path-style. ali-oss, given an IP address as its
//! # endpoint, sends `<bucket>.oss-<region>.aliyuncs.com`.
//! virtual_host_domains = ["s3.example.internal", "oss-cn-hangzhou.aliyuncs.com"]
//!
//! [tls]                         # optional: HTTPS with these PEM files
//! certificate = "gateway.crt"
//! key = "gateway.key"
//!
//! [engine]                      # optional: coffer over an S3 bucket (coffer-remote)
//! kind = "s3"                   # instead of the RocksDB store `coffer --dir` names
//! endpoint = "http://127.0.0.1:8333"   # absent: AWS itself
//! bucket = "coffer-data"
//! region = "us-east-1"
//! access_key_id = "AKID..."     # absent: AWS_ACCESS_KEY_ID
//! secret_access_key_file = "s3.secret" # absent: AWS_SECRET_ACCESS_KEY
//! allow_http = true
//! root_key_file = "remote.root.key"    # 64 hex digits, mode 0600
//! create = true                 # make the store (and the root key file) if missing
//!
//! [[access_keys]]               # a service that does its own authorization
//! id = "AKIDSERVICE"
//! secret_file = "service.secret"  # or `secret = "..."`
//! trusted = true
//!
//! [[access_keys]]               # a principal with RAM-style policies
//! id = "AKIDALICE"
//! secret_file = "alice.secret"
//! principal = "alice"
//! account = "1416614965931234"
//! policies = ["policies/upload-to-kms-bucket.json"]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use coffer_policy::PolicyDocument;
use coffer_sse::{Caller, Principal};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::{AccessKeys, DEFAULT_MAX_OBJECT_SIZE};

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of this shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// A policy file is not a valid policy document.
    #[error("{path}: {source}")]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// Why.
        source: coffer_policy::PolicyError,
    },
    /// A value is wrong (an access key without a secret, given twice, …).
    #[error("{0}")]
    Invalid(String),
}

/// The gateway's settings, as read from its file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The region reported to clients.
    #[serde(default = "default_region")]
    pub region: String,
    /// The largest body of one PUT or part, in bytes.
    #[serde(default = "default_max_object_size")]
    pub max_object_size: u64,
    /// HTTPS, if given.
    pub tls: Option<TlsConfig>,
    /// Base domains of virtual-hosted requests (`<bucket>.<domain>`).
    #[serde(default)]
    pub virtual_host_domains: Vec<String>,
    /// The engine to serve, when not the store the command line opens.
    pub engine: Option<EngineConfig>,
    /// The access keys requests are signed with.
    #[serde(default)]
    access_keys: Vec<AccessKeyConfig>,
    #[serde(skip)]
    directory: PathBuf,
}

/// An engine the configuration names.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum EngineConfig {
    /// coffer over an S3 bucket (`coffer-remote` with `object_store`'s
    /// `AmazonS3`).
    S3(S3EngineConfig),
}

/// coffer over an S3 bucket. The secret is read from its file (or the
/// environment) when the engine is opened, and never kept here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3EngineConfig {
    /// The S3 endpoint (absent: AWS).
    pub endpoint: Option<String>,
    /// The bucket coffer keeps its store in.
    pub bucket: String,
    /// The bucket's region.
    #[serde(default = "default_region")]
    pub region: String,
    /// The access key id (absent: `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// The file holding the secret access key (absent:
    /// `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key_file: Option<PathBuf>,
    /// Whether a plain-HTTP endpoint is allowed.
    #[serde(default)]
    pub allow_http: bool,
    /// The store's root key file.
    pub root_key_file: PathBuf,
    /// Whether to create the store, and its root key file, when missing.
    #[serde(default)]
    pub create: bool,
}

/// The PEM files of an HTTPS listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain.
    pub certificate: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessKeyConfig {
    id: String,
    secret: Option<Zeroizing<String>>,
    secret_file: Option<PathBuf>,
    #[serde(default)]
    trusted: bool,
    principal: Option<String>,
    account: Option<String>,
    #[serde(default)]
    policies: Vec<PathBuf>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9000))
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

fn default_max_object_size() -> u64 {
    DEFAULT_MAX_OBJECT_SIZE
}

impl GatewayConfig {
    /// Reads the configuration in `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read(path)?;
        Self::parse(&text, path)
    }

    /// Parses `text`, as the file `path` (relative paths in it resolve
    /// against its directory).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.directory = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if let Some(tls) = &mut config.tls {
            tls.certificate = config.directory.join(&tls.certificate);
            tls.key = config.directory.join(&tls.key);
        }
        if let Some(EngineConfig::S3(s3)) = &mut config.engine {
            s3.root_key_file = config.directory.join(&s3.root_key_file);
            if let Some(file) = &mut s3.secret_access_key_file {
                *file = config.directory.join(&*file);
            }
        }
        Ok(config)
    }

    /// The access keys, with their secrets and the policies of their
    /// principals read from their files.
    pub fn access_keys(&self) -> Result<AccessKeys, ConfigError> {
        let mut keys = AccessKeys::new();
        for key in &self.access_keys {
            let secret = match (&key.secret, &key.secret_file) {
                (Some(secret), None) => secret.clone(),
                (None, Some(file)) => {
                    let text = Zeroizing::new(read(&self.directory.join(file))?);
                    Zeroizing::new(text.trim().to_owned())
                }
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "access key {}: give exactly one of secret and secret_file",
                        key.id
                    )));
                }
            };
            if secret.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "access key {}: the secret is empty",
                    key.id
                )));
            }
            let caller = self.caller_of(key)?;
            keys.insert(&key.id, &secret, caller)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        Ok(keys)
    }

    fn caller_of(&self, key: &AccessKeyConfig) -> Result<Caller, ConfigError> {
        let id = &key.id;
        match (key.trusted, &key.principal, &key.account) {
            (true, None, None) if key.policies.is_empty() => Ok(Caller::Trusted),
            (true, _, _) => Err(ConfigError::Invalid(format!(
                "access key {id}: a trusted key has no principal, account or policies"
            ))),
            (false, Some(principal), Some(account)) => {
                let mut principal = Principal::new(principal, account);
                for file in &key.policies {
                    let path = self.directory.join(file);
                    let text = read(&path)?;
                    let policy = PolicyDocument::parse(&text)
                        .map_err(|source| ConfigError::Policy { path, source })?;
                    principal = principal.with_policy(policy);
                }
                Ok(Caller::Principal(principal))
            }
            (false, _, _) => Err(ConfigError::Invalid(format!(
                "access key {id}: give trusted = true, or a principal and its account"
            ))),
        }
    }
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.access_keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("region", &self.region)
            .field("max_object_size", &self.max_object_size)
            .field("tls", &self.tls)
            .field("virtual_host_domains", &self.virtual_host_domains)
            .field("engine", &self.engine)
            .field("access_keys", &ids)
            .finish()
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_names_keys_and_principals() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("alice.secret"), "s3cret\n").expect("secret");
        std::fs::write(
            dir.path().join("p.json"),
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"}]}"#,
        )
        .expect("policy");
        let text = r#"
            listen = "127.0.0.1:9100"
            [[access_keys]]
            id = "SERVICE"
            secret = "x"
            trusted = true
            [[access_keys]]
            id = "ALICE"
            secret_file = "alice.secret"
            principal = "alice"
            account = "1234"
            policies = ["p.json"]
        "#;
        let config = GatewayConfig::parse(text, &dir.path().join("gateway.toml")).expect("parses");
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.region, "us-east-1");
        let keys = config.access_keys().expect("keys");
        assert_eq!(keys.len(), 2);
        assert!(matches!(keys.caller("SERVICE"), Ok(Caller::Trusted)));
        match keys.caller("ALICE") {
            Ok(Caller::Principal(p)) => {
                assert_eq!((p.id.as_str(), p.account.as_str()), ("alice", "1234"));
                assert_eq!(p.policies.len(), 1);
            }
            _ => panic!("alice is a principal"),
        }
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn wrong_configurations_are_refused_with_the_reason() {
        let path = Path::new("/nonexistent/gateway.toml");
        for (text, says) in [
            ("listen = 5", "listen"),
            ("bogus = 1", "bogus"),
            (
                "[[access_keys]]\nid = \"A\"\ntrusted = true",
                "exactly one of secret",
            ),
            (
                "[[access_keys]]\nid = \"A\"\nsecret = \"s\"",
                "a principal and its account",
            ),
            (
                "[[access_keys]]\nid = \"A\"\nsecret = \"s\"\ntrusted = true\n[[access_keys]]\nid = \"A\"\nsecret = \"t\"\ntrusted = true",
                "twice",
            ),
        ] {
            let error = GatewayConfig::parse(text, path)
                .and_then(|c| c.access_keys().map(|_| ()))
                .expect_err(text);
            assert!(error.to_string().contains(says), "{text}: {error}");
        }
    }
}
