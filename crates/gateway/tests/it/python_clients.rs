//! boto3 and the aws CLI (PyPI, pinned by scripts/install-test-servers)
//! against the gateway: `tests/clients/s3_clients.py` sets bucket
//! encryption, puts with and without SSE headers, reads ranges, lists,
//! copies, uploads in parts (also by `aws s3 cp` of a 20 MiB file), and
//! sends the bad requests S3 refuses; then the store itself is checked for
//! what the clients were told.

use std::process::Command;

use coffer_keyring::Caller;
use coffer_sse::ProtectionMode;

use crate::common;

#[test]
fn boto3_and_the_aws_cli_use_the_gateway() {
    let Some((python, aws)) = coffer_test_servers::python_and_aws_cli(&["boto3"]) else {
        return;
    };
    let g = common::start(Vec::new());
    let cmk = g.new_cmk();
    let kms = g.store.kms();
    kms.create_alias("alias/reports", &cmk, &Caller::Trusted)
        .expect("alias");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/s3_clients.py");
    let out = Command::new(&python)
        .arg(script)
        .args([
            &g.endpoint(),
            common::TRUSTED_ID,
            common::TRUSTED_SECRET,
            &cmk,
            "alias/reports",
        ])
        .env("COFFER_AWS_BIN", &aws)
        .output()
        .expect("the script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "s3_clients.py failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("ok:").count(), 9, "{stdout}");

    // What the clients were told is what the store holds.
    let big = g
        .store
        .head_object("cli-bucket", "big.bin")
        .expect("big.bin");
    assert_eq!(big.size, 20 << 20);
    assert_eq!(big.protection.mode, ProtectionMode::Kms);
    assert_eq!(big.protection.kms_key_id.as_deref(), Some(cmk.as_str()));
    let managed = g
        .store
        .head_object("reports", "managed.txt")
        .expect("copied");
    assert_eq!(managed.protection.kms_key_id.as_deref(), Some(cmk.as_str()));
    for absent in ["swapped", "short", "bad"] {
        assert!(g.store.head_object("reports", absent).is_err(), "{absent}");
    }
    assert!(g.store.head_object("cli-bucket", "default.bin").is_err());
}
