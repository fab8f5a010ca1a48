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

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer_keyring::KeyAdministration;

use crate::{AwsCredentials, AwsKms, AwsKmsConfig};

/// How long a server may take to answer.
const STARTUP: Duration = Duration::from_secs(30);

/// How to get a `moto_server` binary, for messages.
pub const INSTALL_HINT: &str = "install moto's `moto_server` with scripts/install-test-servers \
     (pip-installs the PyPI package moto[server] into $HOME/.cache/coffer-venv), \
     or point COFFER_MOTO_BIN at a moto_server";

/// A running `moto_server`. Dropping it kills the process and waits for it.
pub struct MotoServer {
    child: Child,
    endpoint: String,
    /// Holds the server's log.
    dir: tempfile::TempDir,
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
        let dir = tempfile::tempdir().expect("temporary directory");
        let log = File::create(dir.path().join("moto.log")).expect("log file");
        let child = Command::new(binary)
            .arg("-H")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
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
            if let Some(status) = self.child.try_wait().expect("child status") {
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
        self.child.id()
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
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // SIGKILL works on a stopped process too; wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `moto_server` binary, or `None` after saying why the test skips.
/// Panics under `CI=true`, and when `COFFER_MOTO_BIN` names a file that is not there.
pub fn moto_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("COFFER_MOTO_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "COFFER_MOTO_BIN={} is not a file; {INSTALL_HINT}",
            path.display()
        );
        return Some(path);
    }
    let in_venv = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/coffer-venv/bin/moto_server"))
        .filter(|candidate| candidate.is_file());
    let on_path = || {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    };
    if let Some(found) = in_venv.or_else(on_path) {
        return Some(found);
    }
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("moto's `moto_server` was not found and CI=true: {INSTALL_HINT}");
    }
    eprintln!("skipping: moto's `moto_server` was not found; {INSTALL_HINT}");
    None
}

/// A loopback port nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding a loopback port")
        .port()
}
