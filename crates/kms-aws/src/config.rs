//! Where the AWS KMS API is, which credentials to sign with, and how long to wait.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

/// The environment variables [`AwsCredentials::from_env`] reads.
pub const CREDENTIALS_ENV: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Static credentials that sign every request: an access key id, its secret,
/// and a session token for temporary credentials. No `Clone`; `Debug` shows
/// only the access key id; the secret and token are zeroized on drop.
///
/// coffer never looks for credentials on its own (no profile files, instance
/// metadata or other chains): the service hands them over, from wherever its
/// operators keep them.
pub struct AwsCredentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: Zeroizing<String>,
    pub(crate) session_token: Option<Zeroizing<String>>,
}

impl AwsCredentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: session_token.map(Zeroizing::new),
        }
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, if set,
    /// `AWS_SESSION_TOKEN` ([`ConfigError::MissingCredentials`] unless the
    /// first two are set and not empty).
    pub fn from_env() -> Result<Self, ConfigError> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (read(CREDENTIALS_ENV[0]), read(CREDENTIALS_ENV[1])) {
            (Some(id), Some(secret)) => Ok(Self::new(id, secret, read(CREDENTIALS_ENV[2]))),
            _ => Err(ConfigError::MissingCredentials),
        }
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// How to reach a service that speaks the AWS KMS API (AWS KMS itself, or any
/// compatible one at `endpoint`). Build it with [`AwsKmsConfig::new`] and set
/// the fields to change.
#[derive(Debug)]
#[non_exhaustive]
pub struct AwsKmsConfig {
    /// The region, e.g. `eu-central-1`.
    pub region: String,
    /// The endpoint URL, e.g. `https://kms.eu-central-1.amazonaws.com`;
    /// `None`: AWS's endpoint for the region.
    pub endpoint: Option<String>,
    /// The credentials that sign requests.
    pub credentials: AwsCredentials,
    /// How long to wait for a connection; default 5 s.
    pub connect_timeout: Duration,
    /// How long one attempt may take; default 10 s.
    pub attempt_timeout: Duration,
    /// Attempts per call (the first included) while the service is
    /// unavailable or throttles, with the SDK's jittered exponential backoff;
    /// default 3.
    pub max_attempts: u32,
    /// The key (id, ARN or alias) of rules that name none; `None`: such rules
    /// are unsupported.
    pub default_key: Option<String>,
}

impl AwsKmsConfig {
    /// `region` with AWS's endpoint, 5 s to connect, 10 s per attempt, 3 attempts.
    pub fn new(region: impl Into<String>, credentials: AwsCredentials) -> Self {
        Self {
            region: region.into(),
            endpoint: None,
            credentials,
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            max_attempts: 3,
            default_key: None,
        }
    }

    /// Another endpoint (a compatible service, a VPC endpoint, a test server).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The key rules without a key id use.
    pub fn with_default_key(mut self, key: impl Into<String>) -> Self {
        self.default_key = Some(key.into());
        self
    }

    /// The longest a call can take: every attempt and the backoff between.
    pub(crate) fn call_deadline(&self) -> Duration {
        let attempts = self.max_attempts.max(1);
        (self.attempt_timeout + self.connect_timeout) * attempts
            + Duration::from_secs(20).min(Duration::from_secs(u64::from(attempts) * 5))
    }
}

/// A backend could not be set up. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No credentials: set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or
    /// pass them.
    #[error("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass them")]
    MissingCredentials,
    /// The endpoint is not an `http://` or `https://` URL.
    #[error("invalid endpoint {0:?}: expected http(s)://host[:port]")]
    InvalidEndpoint(String),
    /// The private runtime could not start (out of threads).
    #[error("could not start the backend's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let credentials = AwsCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI", Some("tok3n".into()));
        let config = AwsKmsConfig::new("eu-central-1", credentials);
        let shown = format!("{config:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(
            !shown.contains("wJalrXUtnFEMI") && !shown.contains("tok3n"),
            "{shown}"
        );
    }

    #[test]
    fn a_call_has_a_deadline() {
        let credentials = AwsCredentials::new("a", "b", None);
        let mut config = AwsKmsConfig::new("r", credentials);
        config.max_attempts = 2;
        config.connect_timeout = Duration::from_secs(1);
        config.attempt_timeout = Duration::from_secs(2);
        assert_eq!(config.call_deadline(), Duration::from_secs(16));
    }
}
