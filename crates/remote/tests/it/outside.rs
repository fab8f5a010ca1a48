//! What someone outside coffer sees in the S3 bucket, and what coffer makes
//! of their changes: `tests/outside.py` reads every stored object with boto3
//! and the aws CLI (no plaintext, no root key, each length the function of
//! the plaintext size that docs/format.md gives), then tampers with objects
//! through S3 itself; coffer reads each tampered object as an integrity
//! error naming it. Run against moto and SeaweedFS by their tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use coffer_remote::RemoteStore;
use coffer_sse::{CompletedPart, Error, PutCondition, PutOptions, Session};
use object_store::ObjectStore;

use crate::common;

const MARKER: &str = "coffer-plaintext-marker:";

/// The venv's Python (with boto3) and aws CLI, or `None` after saying why
/// (a failure under `CI=true`, as for the servers).
fn tools() -> Option<(PathBuf, PathBuf)> {
    coffer_test_servers::python_and_aws_cli(&["boto3"])
}

fn marked(len: usize) -> Bytes {
    MARKER.bytes().cycle().take(len).collect()
}

fn run(python: &PathBuf, aws: &PathBuf, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/outside.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .env("COFFER_AWS_BIN", aws)
        .output()
        .expect("outside.py runs");
    assert!(
        out.status.success(),
        "outside.py {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn integrity_error_naming(session: &Session<RemoteStore>, key: &str) {
    let error = session
        .get_object("seen", key)
        .expect_err("a tampered object is never data");
    assert!(matches!(error, Error::Integrity(_)), "{key}: {error}");
    assert!(error.to_string().contains(key), "{key}: {error}");
}

/// Objects of many sizes written through coffer into `bucket` (the S3
/// bucket `bucket_name` at `endpoint`), inspected and tampered with from
/// outside.
pub(crate) fn seen_from_outside(endpoint: &str, bucket_name: &str, bucket: Arc<dyn ObjectStore>) {
    let Some((python, aws)) = tools() else {
        return;
    };
    let (store, cmk, _) = common::store(bucket);
    let session = Session::trusted(store);
    session.create_bucket("seen").expect("bucket");
    let mut sizes = serde_json::Map::new();
    let sized = [0, 1, 100, 16 << 10, (16 << 10) + 1, (1 << 20) + 5, 9 << 20];
    for (i, size) in sized.into_iter().enumerate() {
        let options = if i % 2 == 0 {
            PutOptions::managed()
        } else {
            PutOptions::kms(Some(&cmk))
        };
        let key = format!("sized/{size}");
        session
            .put_object("seen", &key, marked(size), options)
            .expect("put");
        sizes.insert(format!("seen/{key}"), size.into());
    }
    // A multipart upload, parts out of order.
    let upload = session
        .create_multipart_upload("seen", "multipart", PutOptions::managed())
        .expect("create");
    let two = session
        .upload_part("seen", "multipart", &upload, 2, marked(70_000))
        .expect("part 2");
    let one = session
        .upload_part("seen", "multipart", &upload, 1, marked(1 << 20))
        .expect("part 1");
    session
        .complete_multipart_upload(
            "seen",
            "multipart",
            &upload,
            &[CompletedPart::from(&one), CompletedPart::from(&two)],
            &PutCondition::None,
        )
        .expect("complete");
    sizes.insert("seen/multipart".into(), ((1 << 20) + 70_000).into());
    // Unencrypted: the marker is there (so the check above can fail).
    session.create_bucket("open").expect("bucket");
    session
        .put_object("open", "plain", marked(5000), PutOptions::default())
        .expect("put");
    sizes.insert("open/plain".into(), 5000.into());
    // Same-sized objects to swap and copy over each other.
    for key in [
        "swap/a",
        "swap/b",
        "copy/source",
        "copy/target",
        "flip",
        "cut",
    ] {
        session
            .put_object("seen", key, marked(40_000), PutOptions::managed())
            .expect("put");
        sizes.insert(format!("seen/{key}"), 40_000.into());
    }
    session
        .put_object("seen", "tail", marked(40_000), PutOptions::kms(Some(&cmk)))
        .expect("put");
    sizes.insert("seen/tail".into(), 40_000.into());

    let expect = serde_json::json!({
        "marker": MARKER,
        "root_key_hex": hex::encode([0x44u8; 32]),
        "plain": ["open/plain"],
        "objects": sizes,
    });
    let dir = tempfile::tempdir().expect("a directory");
    let expect_file = dir.path().join("expect.json");
    std::fs::write(&expect_file, expect.to_string()).expect("written");
    let common = ["--endpoint", endpoint, "--bucket", bucket_name];
    let inspected = run(
        &python,
        &aws,
        &[
            &["inspect"],
            &common[..],
            &["--expect", expect_file.to_str().expect("utf-8")],
        ]
        .concat(),
    );
    let summary: serde_json::Value = serde_json::from_str(inspected.trim()).expect("a summary");
    assert_eq!(summary["objects"], sizes.len(), "{summary}");

    let tamper = |op: &str, key: &str, more: &[&str]| {
        let key = format!("seen/{key}");
        run(
            &python,
            &aws,
            &[&["tamper", "--op", op, "--key", &key], &common[..], more].concat(),
        );
    };
    tamper("flip", "flip", &[]);
    tamper("cut-chunk", "cut", &["--size", "40000"]);
    tamper("cut-tail", "tail", &[]);
    tamper("swap", "swap/a", &["--other", "seen/swap/b"]);
    tamper("copy", "copy/source", &["--other", "seen/copy/target"]);
    for key in ["flip", "cut", "tail", "swap/a", "swap/b", "copy/target"] {
        integrity_error_naming(&session, key);
    }
    // What nobody touched still reads.
    let got = session.get_object("seen", "copy/source").expect("read");
    assert_eq!(got.body, marked(40_000));
}
