//! The plumbing of coffer's test servers (OpenBao for `coffer-kms-vault`,
//! moto for `coffer-kms-aws` and `coffer-remote`, SeaweedFS for
//! `coffer-remote`: [`seaweedfs::SeaweedServer`]): finding the binary, a free loopback port, and a
//! child process whose output goes to a log file and which is killed and
//! reaped by its PID when dropped, so nothing is left running. Each server
//! runs in a process group of its own (see [`ServerProcess::spawn_with`]), so
//! a Ctrl-C in the terminal does not reach it: a test binary interrupted that
//! way (before its servers are dropped) leaves them running; find them with
//! `pgrep -f 'bao server|moto_server|weed mini'`.
//!
//! For tests and benchmarks only (the backends' `dev-server` features).
//!
//! ```no_run
//! use std::process::Command;
//! use coffer_test_servers::{Binary, ServerProcess, free_port};
//!
//! let Some(bao) = Binary::new("bao", "COFFER_BAO_BIN", "run scripts/install-test-servers").find() else {
//!     return; // said why; under CI=true this panics instead
//! };
//! let port = free_port();
//! let mut command = Command::new(bao);
//! command.args(["server", "-dev", &format!("-dev-listen-address=127.0.0.1:{port}")]);
//! let mut server = ServerProcess::spawn(command, "bao.log");
//! assert!(server.exited().is_none());
//! ```

pub mod seaweedfs;

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Where a server's binary is looked for: an environment variable naming it,
/// then the virtualenv `scripts/install-test-servers` fills
/// (`$HOME/.cache/coffer-venv/bin/<name>`), then `PATH`.
#[derive(Debug, Clone)]
pub struct Binary {
    name: &'static str,
    env_var: &'static str,
    install_hint: &'static str,
}

impl Binary {
    /// The binary `name`, overridden by `env_var`; `install_hint` says how to
    /// get it.
    pub fn new(name: &'static str, env_var: &'static str, install_hint: &'static str) -> Self {
        Self {
            name,
            env_var,
            install_hint,
        }
    }

    /// The binary's path, or `None` after saying why the caller skips.
    /// Panics under `CI=true` (a missing server is a failure there, never a
    /// silent skip), and when the environment variable names no file.
    pub fn find(&self) -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(self.env_var) {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{}={} is not a file; {}",
                self.env_var,
                path.display(),
                self.install_hint
            );
            return Some(path);
        }
        let in_venv = std::env::var_os("HOME")
            .map(|home| {
                PathBuf::from(home)
                    .join(".cache/coffer-venv/bin")
                    .join(self.name)
            })
            .filter(|candidate| candidate.is_file());
        let on_path = || {
            std::env::var_os("PATH")
                .into_iter()
                .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
                .map(|dir| dir.join(self.name))
                .find(|candidate| candidate.is_file())
        };
        if let Some(found) = in_venv.or_else(on_path) {
            return Some(found);
        }
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!(
                "`{}` was not found and CI=true: {}",
                self.name, self.install_hint
            );
        }
        eprintln!(
            "skipping: `{}` was not found; {}",
            self.name, self.install_hint
        );
        None
    }
}

/// A server running as a child process, its output in a log file of its own
/// temporary directory. Dropping it kills the process (SIGKILL, which works on
/// a stopped process too) and waits for it, so nothing is left running or
/// defunct.
pub struct ServerProcess {
    child: Child,
    dir: tempfile::TempDir,
    log_name: &'static str,
}

impl ServerProcess {
    /// Starts `command` with stdin closed and stdout and stderr to `log_name`
    /// in a new temporary directory. Panics if it cannot be started.
    pub fn spawn(command: Command, log_name: &'static str) -> Self {
        Self::spawn_with(log_name, |_| command)
    }

    /// Like [`spawn`](Self::spawn), with the command built knowing the
    /// process's directory (for files the server writes there).
    pub fn spawn_with(log_name: &'static str, build: impl FnOnce(&Path) -> Command) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut command = build(dir.path());
        let log = File::create(dir.path().join(log_name)).expect("log file");
        // A process group of its own. In the test binary's group, a server a
        // test stopped (`signal("STOP")`) was woken again by the kernel: where
        // that group is orphaned (a run under `setsid`, as CI's), any member's
        // exit while a member is stopped sends the group SIGHUP and SIGCONT
        // (POSIX job control), and members exit all the time (the `kill` run
        // by `signal` itself, other tests' servers). Stopped tests then saw
        // the server answer.
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {:?}: {e}", command.get_program()));
        Self {
            child,
            dir,
            log_name,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it did.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("child status")
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(self.log_name)).unwrap_or_default()
    }

    /// The process's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `signal` (`STOP`, `CONT`) to the process with kill(1). After
    /// `STOP`, returns once the process is stopped (its state in
    /// `/proc/<pid>/stat` is `T`): the signal is delivered asynchronously.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
        if signal == "STOP" {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.state() != Some('T') {
                assert!(
                    Instant::now() < deadline,
                    "process {} did not stop",
                    self.pid()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// The process's state letter from `/proc/<pid>/stat` (`R`, `S`, `T`, …).
    fn state(&self) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // "pid (comm) state ...": the command may hold spaces and parentheses.
        stat.rsplit_once(')')?.1.trim_start().chars().next()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The aws CLI and a Python with `modules` importable (the virtualenv's
/// Python beside the CLI, else `COFFER_PYTHON`, else `python3`), or `None`
/// after saying why (a failure under `CI=true`, as for the servers).
pub fn python_and_aws_cli(modules: &[&str]) -> Option<(PathBuf, PathBuf)> {
    let aws = Binary::new(
        "aws",
        "COFFER_AWS_BIN",
        "install boto3 and the aws CLI with scripts/install-test-servers",
    )
    .find()?;
    let beside = aws.with_file_name("python");
    let python = match std::env::var_os("COFFER_PYTHON") {
        Some(path) => PathBuf::from(path),
        None if beside.is_file() => beside,
        None => PathBuf::from("python3"),
    };
    let imports = format!("import {}", modules.join(", "));
    let importable = Command::new(&python)
        .args(["-c", &imports])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} cannot `{imports}` and CI=true: run scripts/install-test-servers",
            python.display()
        );
        eprintln!("skipping: {} cannot `{imports}`", python.display());
        return None;
    }
    Some((python, aws))
}

/// A loopback port nothing listened on a moment ago (a server may still lose
/// it to another process before binding it: retry on another).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding a loopback port")
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_process_is_killed_and_reaped() {
        let mut command = Command::new("sleep");
        command.arg("60");
        let mut process = ServerProcess::spawn(command, "sleep.log");
        let pid = process.pid();
        assert!(process.exited().is_none());
        process.signal("STOP");
        process.signal("CONT");
        drop(process);
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        assert!(!alive, "process {pid} is still there");
    }

    #[test]
    fn binaries_are_found_on_the_path() {
        let found = Binary::new("sh", "COFFER_TEST_SERVERS_UNSET", "hint")
            .find()
            .expect("sh is on PATH");
        assert!(found.ends_with("sh"), "{}", found.display());
    }
}
