//! The permission policies of OSS's server-side encryption guide, unmodified in
//! `tests/fixtures/policies`, evaluated for the requests they are meant to allow
//! and for neighbours they must not.

use coffer_policy::{Decision, PolicyDocument, Principal, Request};

const ACCOUNT: &str = "1416614965931234";

/// A policy from `tests/fixtures/policies`, compiled in: the test reads nothing
/// outside the repository, and a test binary reused from another checkout still
/// has its fixtures.
macro_rules! fixture {
    ($name:literal) => {
        parse($name, include_str!(concat!("fixtures/policies/", $name)))
    };
}

fn parse(name: &str, text: &str) -> PolicyDocument {
    PolicyDocument::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn key(account: &str) -> String {
    format!("acs:kms:cn-hangzhou:{account}:key/0b5a1c2d-0000-4000-8000-000000000001")
}

fn allowed(principal: &Principal, action: &str, resource: &str) -> bool {
    principal
        .evaluate(&Request::new(action, resource))
        .is_allowed()
}

#[test]
fn set_bucket_default_kms_cmk() {
    let p =
        Principal::new("admin", ACCOUNT).with_policy(fixture!("set-bucket-default-kms-cmk.json"));
    assert!(allowed(&p, "kms:ListKeys", &key(ACCOUNT)));
    assert!(allowed(&p, "kms:ListAliases", &key(ACCOUNT)));
    assert!(allowed(&p, "kms:DescribeKey", &key(ACCOUNT)));
    assert!(!allowed(&p, "kms:GenerateDataKey", &key(ACCOUNT)));
    assert!(!allowed(&p, "kms:DescribeKey", &key("1416614965939999")));
}

#[test]
fn upload_to_kms_bucket() {
    let p = Principal::new("writer", ACCOUNT).with_policy(fixture!("upload-to-kms-bucket.json"));
    for action in [
        "kms:ListKeys",
        "kms:DescribeKey",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "KMS:generatedatakey",
    ] {
        assert!(allowed(&p, action, &key(ACCOUNT)), "{action}");
    }
    assert!(!allowed(&p, "kms:ScheduleKeyDeletion", &key(ACCOUNT)));
    assert!(!allowed(&p, "kms:GenerateDataKey", &key("999")));
}

#[test]
fn download_from_kms_bucket() {
    let p =
        Principal::new("reader", ACCOUNT).with_policy(fixture!("download-from-kms-bucket.json"));
    assert!(allowed(&p, "kms:Decrypt", &key(ACCOUNT)));
    assert!(!allowed(&p, "kms:GenerateDataKey", &key(ACCOUNT)));
    assert!(!allowed(&p, "kms:Decrypt", &key("2416614965931234")));
}

#[test]
fn explicit_deny_beats_allow_and_says_which_statement() {
    let deny = PolicyDocument::parse(
        r#"{"Version":"1","Statement":[{"Sid":"no-decrypt","Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#,
    )
    .expect("parses");
    let p = Principal::new("reader", ACCOUNT)
        .with_policy(fixture!("download-from-kms-bucket.json"))
        .with_policy(deny);
    match p.evaluate(&Request::new("kms:Decrypt", &key(ACCOUNT))) {
        Decision::ExplicitlyDenied(by) => {
            assert_eq!(
                (by.policy, by.statement, by.sid.as_deref()),
                (1, 0, Some("no-decrypt"))
            );
        }
        other => panic!("expected an explicit deny, got {other:?}"),
    }
    assert_eq!(
        Principal::new("nobody", ACCOUNT).evaluate(&Request::new("kms:Decrypt", "x")),
        Decision::ImplicitlyDenied
    );
}

#[test]
fn bucket_that_refuses_unencrypted_writes() {
    let policy = PolicyDocument::parse(
        r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Action":"oss:*","Resource":"acs:oss:*:*:photos/*"},
            {"Effect":"Deny","Action":"oss:PutObject","Resource":"acs:oss:*:*:photos/*",
             "Condition":{"StringNotEquals":{"oss:x-oss-server-side-encryption":"KMS"}}}]}"#,
    )
    .expect("parses");
    let p = Principal::new("writer", ACCOUNT).with_policy(policy);
    let put = |sse: Option<&str>| {
        let request = Request::new("oss:PutObject", "acs:oss:*:*:photos/a.jpg");
        let request = match sse {
            Some(mode) => request.with("oss:x-oss-server-side-encryption", mode),
            None => request,
        };
        p.evaluate(&request).is_allowed()
    };
    assert!(put(Some("KMS")));
    assert!(!put(Some("AES256")));
    assert!(!put(None));
}
