//! The OSS SDKs for Python (`oss2`, PyPI) and Node.js (`ali-oss`, npm), both
//! pinned by scripts/install-test-servers, against the gateway: the guide's
//! own snippets for setting bucket encryption, then uploads with and
//! without `x-oss-server-side-encryption`, downloads, a multipart upload,
//! presigned URLs and refusals (`tests/clients/oss_clients.py` and `.js`);
//! then the store itself is checked for what the clients were told.

use std::path::PathBuf;
use std::process::Command;

use coffer_sse::ProtectionMode;

use crate::common;

/// A gateway with a new CMK, and what `program` running `script` (in
/// tests/clients) against it printed; the script gets the endpoint, the
/// trusted key and the CMK.
fn run_against_gateway(
    program: &std::path::Path,
    script: &str,
    env: &[(&str, PathBuf)],
) -> (common::Running, String, String) {
    let g = common::start(Vec::new());
    let cmk = g.new_cmk();
    let script = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let endpoint = g.endpoint();
    let args = [
        endpoint.as_str(),
        common::TRUSTED_ID,
        common::TRUSTED_SECRET,
        cmk.as_str(),
    ];
    let stdout = run(program, &script, &args, env);
    (g, cmk, stdout)
}

fn run(program: &std::path::Path, script: &str, args: &[&str], env: &[(&str, PathBuf)]) -> String {
    let mut command = Command::new(program);
    command.arg(script).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("the script runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn oss2_runs_the_guides_python_against_the_gateway() {
    let Some((python, _)) = coffer_test_servers::python_and_aws_cli(&["oss2", "requests"]) else {
        return;
    };
    let (g, cmk, stdout) = run_against_gateway(&python, "oss_clients.py", &[]);
    assert_eq!(stdout.matches("ok:").count(), 7, "{stdout}");
    assert!(stdout.contains("http response code: 200"), "{stdout}");

    let parts = g
        .store
        .head_object("examplebucket", "parts.bin")
        .expect("parts.bin");
    assert_eq!(parts.size, (5 << 20) + 1000);
    assert_eq!(parts.protection.kms_key_id.as_deref(), Some(cmk.as_str()));
    let plain = g
        .store
        .head_object("examplebucket", "by-default.txt")
        .expect("stored");
    assert_eq!(plain.protection.mode, ProtectionMode::Aes256);
    assert!(g.store.head_object("examplebucket", "bad.txt").is_err());
}

/// `node` and the directory holding `ali-oss` (`COFFER_NODE_MODULES`, else
/// the cache scripts/install-test-servers fills), or `None` after saying why
/// (a failure under `CI=true`).
fn node_with_ali_oss() -> Option<(PathBuf, PathBuf)> {
    let modules = std::env::var_os("COFFER_NODE_MODULES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/coffer-npm/node_modules"))
        })
        .filter(|dir| dir.join("ali-oss").is_dir());
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    match (node, modules) {
        (true, Some(modules)) => Some((PathBuf::from("node"), modules)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no node with ali-oss and CI=true: run scripts/install-test-servers"
            );
            eprintln!("skipping: no node with ali-oss (run scripts/install-test-servers)");
            None
        }
    }
}

#[test]
fn ali_oss_runs_the_guides_node_js_against_the_gateway() {
    let Some((node, modules)) = node_with_ali_oss() else {
        return;
    };
    let (g, cmk, stdout) = run_against_gateway(&node, "oss_clients.js", &[("NODE_PATH", modules)]);
    assert_eq!(stdout.matches("ok:").count(), 5, "{stdout}");
    let named = g
        .store
        .head_object("node-bucket", "named.txt")
        .expect("stored");
    assert_eq!(named.protection.kms_key_id.as_deref(), Some(cmk.as_str()));
}
