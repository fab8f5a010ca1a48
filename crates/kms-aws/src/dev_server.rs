//! A real `moto_server` for tests and benchmarks (feature `dev-server`): the
//! AWS API emulator from the PyPI package `moto[server]`, on a free loopback
//! port, killed (and reaped) by its PID when the [`MotoServer`] drops. Not for
//! production.
//!
//! The binary is `COFFER_MOTO_BIN`, else `$HOME/.cache/coffer-venv/bin/moto_server`
//! (where `scripts/install-test-servers` puts it), else `moto_server` on `PATH`.
//! Without one, [`MotoServer::start`] returns `None` after saying why, except
//! under `CI=true`, where it panics: a missing server is a failure there, never
//! a silent skip.

#![allow(clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use coffer_keyring::KeyAdministration;
pub use coffer_test_servers::free_port;
use coffer_test_servers::{Binary, ServerProcess};

use crate::{AwsCredentials, AwsKms, AwsKmsConfig};

/// How long a server may take to answer.
const STARTUP: Duration = Duration::from_secs(30);

/// How to get a `moto_server` binary, for messages.
pub const INSTALL_HINT: &str = "install moto's `moto_server` with scripts/install-test-servers \
     (pip-installs the PyPI package moto[server] into $HOME/.cache/coffer-venv), \
     or point COFFER_MOTO_BIN at a moto_server";

/// A running `moto_server`. Dropping it kills the process and waits for it.
pub struct MotoServer {
    process: ServerProcess,
    endpoint: String,
}

impl MotoServer {
    /// A fresh server (no keys); `None` (after saying why) when `moto_server`
    /// is missing outside CI, so a test starts with
    /// `let Some(server) = MotoServer::start() else { return };`.
    pub fn start() -> Option<Self> {
        let binary = moto_binary()?;
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::spawn(&binary) {
                Ok(server) => return Some(server),
                Err(log) => last_log = log,
            }
        }
        panic!("moto_server did not start three times; its last log:\n{last_log}");
    }

    fn spawn(binary: &Path) -> Result<Self, String> {
        let port = free_port();
        let mut command = Command::new(binary);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let mut server = Self {
            process: ServerProcess::spawn(command, "moto.log"),
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_answering()?;
        Ok(server)
    }

    /// Asks for the aliases until the server answers. `Err(log)` if the
    /// process exited; panics if it never answers.
    fn wait_until_answering(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        let mut config = self.config();
        config.max_attempts = 1;
        config.attempt_timeout = Duration::from_secs(2);
        let probe = AwsKms::new(config).expect("client");
        loop {
            if let Some(status) = self.process.exited() {
                return Err(format!("moto_server exited with {status}:\n{}", self.log()));
            }
            if probe.list_aliases().is_ok() {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "moto_server at {} did not answer within {STARTUP:?}; its log:\n{}",
                self.endpoint,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// A configuration for this server: region `us-east-1`, moto's test
    /// credentials, 2 s to connect, 5 s per attempt, 3 attempts.
    pub fn config(&self) -> AwsKmsConfig {
        let mut config =
            AwsKmsConfig::new("us-east-1", AwsCredentials::new("testing", "testing", None))
                .with_endpoint(self.endpoint.clone());
        config.connect_timeout = Duration::from_secs(2);
        config.attempt_timeout = Duration::from_secs(5);
        config.max_attempts = 3;
        config
    }

    /// A backend with [`config`](Self::config).
    pub fn backend(&self) -> AwsKms {
        AwsKms::new(self.config()).expect("backend")
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server with kill(1).
    pub fn signal(&self, signal: &str) {
        self.process.signal(signal);
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// The `moto_server` binary, or `None` after saying why the caller skips (see
/// the module documentation).
pub fn moto_binary() -> Option<PathBuf> {
    Binary::new("moto_server", "COFFER_MOTO_BIN", INSTALL_HINT).find()
}
