//! One HTTP exchange with the server, retried while the server is unavailable,
//! and the mapping of its answers to [`Error`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use zeroize::Zeroizing;

use crate::config::{VaultToken, normalize_path};
use crate::retry::RetryPolicy;
use crate::{ConfigError, Error, Result, TokenSource, VaultConfig};

/// Largest response body read; Transit answers are a few hundred bytes.
const MAX_BODY: u64 = 1 << 20;

/// The HTTP methods Transit uses.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Method {
    Get,
    Post,
    Delete,
}

/// Whether a request may be sent again after it may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotence {
    /// Sending it twice has the effect of sending it once (reads, encrypt,
    /// decrypt, setting configuration, create of an existing key).
    Safe,
    /// Sending it twice may do it twice (rotate, delete): retried only when
    /// the request certainly never left (no connection).
    Unsafe,
}

/// One call: what to send and what it is about, for the errors.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    /// Below `/v1/`, with the mount, e.g. `transit/keys/k1`.
    pub(crate) path: String,
    /// JSON body for `POST`.
    pub(crate) body: Option<&'a [u8]>,
    pub(crate) idempotence: Idempotence,
    /// The key the call is about.
    pub(crate) key: &'a str,
    /// The key version of the ciphertext, for a decryption.
    pub(crate) version: Option<u32>,
}

/// A successful (2xx) answer. The body may hold key material.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Zeroizing<String>,
}

enum Token {
    Fixed(VaultToken),
    File(PathBuf),
}

impl Token {
    /// The token for the next request: a file is read again each time.
    fn current(&self) -> Result<CurrentToken<'_>, ConfigError> {
        match self {
            Token::Fixed(token) => Ok(CurrentToken::Fixed(token)),
            Token::File(path) => VaultToken::from_file(path).map(CurrentToken::Read),
        }
    }
}

enum CurrentToken<'a> {
    Fixed(&'a VaultToken),
    Read(VaultToken),
}

impl CurrentToken<'_> {
    fn expose(&self) -> &str {
        match self {
            CurrentToken::Fixed(token) => token.expose(),
            CurrentToken::Read(token) => token.expose(),
        }
    }
}

/// The HTTP side of a client: one connection pool, one token, one namespace.
pub(crate) struct Transport {
    agent: ureq::Agent,
    /// `<address>/v1/`.
    base: String,
    token: Token,
    namespace: Option<String>,
    retry: RetryPolicy,
    /// Requests sent (every attempt counts).
    requests: AtomicU64,
}

impl Transport {
    /// Checks the configuration, reads the token and the CA file, and builds
    /// the connection pool. Returns the transport and the normalized mount.
    pub(crate) fn new(config: VaultConfig) -> Result<(Self, String), ConfigError> {
        let base = base_url(&config.address)?;
        let mount = normalize_path("mount path", &config.mount)?;
        let namespace = config
            .namespace
            .as_deref()
            .map(|n| normalize_path("namespace", n))
            .transpose()?;
        let token = match config.token {
            TokenSource::Value(token) => Token::Fixed(token),
            TokenSource::Env => Token::Fixed(VaultToken::from_env()?),
            TokenSource::File(path) => {
                VaultToken::from_file(&path)?;
                Token::File(path)
            }
        };
        let roots = match &config.ca_file {
            Some(path) => read_ca_file(path)?,
            None => RootCerts::WebPki,
        };
        let agent_config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.request_timeout))
            // A redirect would carry the token to whatever host it names;
            // surface it as an `Http` error instead.
            .max_redirects(0)
            .max_redirects_will_error(false)
            // Proxies come from configuration, not from the environment of
            // whoever runs the service.
            .proxy(None)
            .user_agent(concat!("coffer-kms-vault/", env!("CARGO_PKG_VERSION")))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        let transport = Self {
            agent: agent_config.into(),
            base,
            token,
            namespace,
            retry: RetryPolicy {
                max_attempts: config.retry.max_attempts.max(1),
                ..config.retry
            },
            requests: AtomicU64::new(0),
        };
        Ok((transport, mount))
    }

    /// Sends `call`, retrying while the server is unavailable as the retry
    /// policy and the call's idempotence allow. `Ok` only for a 2xx answer.
    pub(crate) fn call(&self, call: &Call<'_>) -> Result<Reply> {
        let mut attempt = 1;
        loop {
            let (error, retry) = match self.once(call) {
                Ok(Exchange::Answer(reply)) if (200..300).contains(&reply.status) => {
                    return Ok(reply);
                }
                Ok(Exchange::Answer(reply)) => {
                    let error = classify(reply.status, &reply.body, call);
                    let retry = call.idempotence == Idempotence::Safe
                        && matches!(
                            error,
                            Error::Unavailable { .. } | Error::Http { status: 500.., .. }
                        );
                    (error, retry)
                }
                Ok(Exchange::NoAnswer { reason, sent }) => {
                    let retry = call.idempotence == Idempotence::Safe || !sent;
                    (
                        Error::Unavailable {
                            attempts: attempt,
                            reason,
                        },
                        retry,
                    )
                }
                Err(error) => return Err(error),
            };
            if !retry || attempt >= self.retry.max_attempts {
                return Err(match error {
                    Error::Unavailable { reason, .. } => Error::Unavailable {
                        attempts: attempt,
                        reason,
                    },
                    other => other,
                });
            }
            let delay = self.retry.delay_after(attempt);
            tracing::warn!(
                path = %call.path,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "OpenBao/Vault call failed; retrying"
            );
            std::thread::sleep(delay);
            attempt += 1;
        }
    }

    /// Requests sent so far, retries included.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn once(&self, call: &Call<'_>) -> Result<Exchange> {
        let token = self.token.current()?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}{}", self.base, call.path);
        let response = match call.method {
            Method::Get => self.headers(self.agent.get(&url), &token).call(),
            Method::Delete => self.headers(self.agent.delete(&url), &token).call(),
            Method::Post => self
                .headers(self.agent.post(&url), &token)
                .content_type("application/json")
                .send(call.body.unwrap_or(b"{}")),
        };
        let mut response = match response {
            Ok(response) => response,
            Err(error) => return no_answer(error),
        };
        let status = response.status().as_u16();
        match response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
        {
            Ok(body) => Ok(Exchange::Answer(Reply {
                status,
                body: Zeroizing::new(body),
            })),
            Err(error @ ureq::Error::BodyExceedsLimit(_)) => Err(Error::InvalidResponse(format!(
                "{} answered {status} with a body over {MAX_BODY} bytes: {error}",
                call.path
            ))),
            Err(error) => no_answer(error),
        }
    }

    fn headers<B>(
        &self,
        request: ureq::RequestBuilder<B>,
        token: &CurrentToken<'_>,
    ) -> ureq::RequestBuilder<B> {
        let request = request.header("X-Vault-Token", token.expose());
        match &self.namespace {
            Some(namespace) => request.header("X-Vault-Namespace", namespace),
            None => request,
        }
    }
}

enum Exchange {
    Answer(Reply),
    /// No complete answer; `sent` unless the request certainly never left.
    NoAnswer {
        reason: String,
        sent: bool,
    },
}

/// What a failed exchange means. TLS failures will not heal by retrying, so
/// they are reported at once.
fn no_answer(error: ureq::Error) -> Result<Exchange> {
    use ureq::Timeout;
    let unsent = match &error {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => true,
        // rustls reports a rejected certificate as invalid data.
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
            return Err(Error::Tls(error.to_string()));
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Error::Tls(error.to_string()));
        }
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::NetworkUnreachable
                | std::io::ErrorKind::HostUnreachable
        ),
        _ => false,
    };
    Ok(Exchange::NoAnswer {
        reason: error.to_string(),
        sent: !unsent,
    })
}

/// The error an unsuccessful status means. Transit reports most failures as
/// 400 with a message, so the message decides.
pub(crate) fn classify(status: u16, body: &str, call: &Call<'_>) -> Error {
    let message = server_message(body);
    let lower = message.to_ascii_lowercase();
    let key = || call.key.to_owned();
    if status == 403 {
        return Error::PermissionDenied { message };
    }
    if lower.contains("soft-deleted") {
        return Error::SoftDeleted { key: key() };
    }
    if lower.contains("message authentication failed") {
        return Error::Integrity { key: key() };
    }
    if lower.contains("disallowed by policy (too old)") {
        return Error::VersionRetired {
            key: key(),
            version: call.version.unwrap_or(0),
        };
    }
    let key_not_found = lower.contains("key not found")
        || lower.contains("no existing key named")
        || lower.contains("could not delete key; not found");
    // 404 with no message is Transit's "no such key"; a 404 that says
    // something (no route: the mount is missing; no such namespace) is not.
    if (status == 404 && message.is_empty()) || (status == 400 && key_not_found) {
        return Error::NotFound { key: key() };
    }
    if matches!(status, 429 | 502 | 503 | 504) {
        return Error::Unavailable {
            attempts: 1,
            reason: format!("HTTP {status}: {message}"),
        };
    }
    Error::Http { status, message }
}

/// The server's `errors` joined, or the start of a body that has none.
fn server_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<String>,
    }
    match serde_json::from_str::<Errors>(body) {
        Ok(parsed) => parsed
            .errors
            .iter()
            .map(|e| e.trim().replace("\n\t* ", " ").replace('\n', " "))
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => body.chars().take(200).collect(),
    }
}

fn base_url(address: &str) -> Result<String, ConfigError> {
    let trimmed = address.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['?', '#']) => {
            Ok(format!("{trimmed}/v1/"))
        }
        _ => Err(ConfigError::InvalidAddress(address.to_owned())),
    }
}

fn read_ca_file(path: &std::path::Path) -> Result<RootCerts, ConfigError> {
    let ca_error = |reason: String| ConfigError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(cert) = item.map_err(|e| ca_error(e.to_string()))? {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(ca_error("no PEM certificate in it".to_owned()));
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(key: &str) -> Call<'_> {
        Call {
            method: Method::Post,
            path: format!("transit/decrypt/{key}"),
            body: None,
            idempotence: Idempotence::Safe,
            key,
            version: Some(1),
        }
    }

    // The bodies are the ones OpenBao 2.7 sends (see the integration tests).
    #[test]
    fn transit_messages_map_to_variants() {
        let c = call("k");
        // Status, body, and what the error must be.
        type Case = (u16, &'static str, fn(&Error) -> bool);
        let cases: [Case; 10] = [
            (404, r#"{"errors":[]}"#, |e| {
                matches!(e, Error::NotFound { .. })
            }),
            (400, r#"{"errors":["encryption key not found"]}"#, |e| {
                matches!(e, Error::NotFound { .. })
            }),
            (
                400,
                r#"{"errors":["no existing key named k could be found"]}"#,
                |e| matches!(e, Error::NotFound { .. }),
            ),
            (
                403,
                r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#,
                |e| matches!(e, Error::PermissionDenied { message } if message == "1 error occurred: permission denied"),
            ),
            (
                400,
                r#"{"errors":["refusing to use soft-deleted key"]}"#,
                |e| matches!(e, Error::SoftDeleted { .. }),
            ),
            (
                500,
                r#"{"errors":["1 error occurred:\n\t* refusing to use soft-deleted key\n\n"]}"#,
                |e| matches!(e, Error::SoftDeleted { .. }),
            ),
            (
                400,
                r#"{"errors":["cipher: message authentication failed"]}"#,
                |e| matches!(e, Error::Integrity { .. }),
            ),
            (
                400,
                r#"{"errors":["ciphertext or signature version is disallowed by policy (too old)"]}"#,
                |e| matches!(e, Error::VersionRetired { version: 1, .. }),
            ),
            (
                404,
                r#"{"errors":["no handler for route \"nomount/keys/k\". route entry not found."]}"#,
                |e| matches!(e, Error::Http { status: 404, .. }),
            ),
            (503, r#"{"errors":["Vault is sealed"]}"#, |e| {
                matches!(e, Error::Unavailable { .. })
            }),
        ];
        for (status, body, expected) in cases {
            let error = classify(status, body, &c);
            assert!(expected(&error), "{status} {body} gave {error:?}");
        }
        assert!(matches!(
            classify(502, "<html>bad gateway</html>", &c),
            Error::Unavailable { reason, .. } if reason.contains("bad gateway")
        ));
    }

    #[test]
    fn addresses_are_checked() {
        assert_eq!(
            base_url("http://127.0.0.1:8200/").expect("ok"),
            "http://127.0.0.1:8200/v1/"
        );
        assert_eq!(
            base_url("https://bao.example/prefix").expect("ok"),
            "https://bao.example/prefix/v1/"
        );
        for bad in [
            "",
            "127.0.0.1:8200",
            "ftp://x",
            "http://",
            "http:///x",
            "http://h?x",
        ] {
            assert!(base_url(bad).is_err(), "{bad:?}");
        }
    }
}
