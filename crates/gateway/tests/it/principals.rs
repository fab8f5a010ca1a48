//! Access keys and the principals behind them, through the gateway: the
//! guide's scenario (a user may read the bucket but not decrypt with its
//! CMK gets AccessDenied and no bytes; with the guide's download policy it
//! reads), and requests refused before anything is read (a wrong secret, an
//! unknown key, no signature at all).

use std::io::{Read, Write};

use bytes::Bytes;
use coffer_keyring::{Caller, Principal};
use coffer_policy::PolicyDocument;
use coffer_store::EncryptionRule;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::common::{self, ACCOUNT};

const BUCKET: &str = "kms-bucket";

fn fixture(name: &str) -> PolicyDocument {
    let path = format!(
        "{}/../policy/tests/fixtures/policies/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    PolicyDocument::parse(&std::fs::read_to_string(&path).expect("fixture")).expect(&path)
}

fn reads_the_bucket() -> PolicyDocument {
    PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow",
            "Action":["oss:GetObject","oss:ListObjects"],
            "Resource":["acs:oss:*:{ACCOUNT}:{BUCKET}","acs:oss:*:{ACCOUNT}:{BUCKET}/*"]}}]}}"#
    ))
    .expect("policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_without_kms_decrypt_gets_access_denied_and_no_bytes() {
    let reader = Principal::new("reader", ACCOUNT).with_policy(reads_the_bucket());
    let decrypter = Principal::new("decrypter", ACCOUNT)
        .with_policy(reads_the_bucket())
        .with_policy(fixture("download-from-kms-bucket.json"));
    let g = common::start(vec![
        ("AKIDREADER", "reader-secret", Caller::Principal(reader)),
        (
            "AKIDDECRYPT",
            "decrypt-secret",
            Caller::Principal(decrypter),
        ),
    ]);
    g.store.create_bucket(BUCKET).expect("bucket");
    let cmk = g.new_cmk();
    g.store
        .put_bucket_encryption(BUCKET, EncryptionRule::kms(Some(&cmk)))
        .expect("rule");
    let location = Path::from("report.csv");
    g.s3(BUCKET)
        .put(&location, Bytes::from_static(b"quarterly figures").into())
        .await
        .expect("the trusted key writes");

    let denied = g
        .s3_as(BUCKET, "AKIDREADER", "reader-secret")
        .get(&location)
        .await
        .expect_err("no kms:Decrypt, no bytes");
    let message = denied.to_string();
    assert!(
        message.contains("403") || message.contains("AccessDenied"),
        "{message}"
    );
    assert!(message.contains("kms:Decrypt"), "{message}");
    assert!(!message.contains("quarterly"), "{message}");

    // Listing needs no key: the reader sees the object exists.
    let listed = g
        .s3_as(BUCKET, "AKIDREADER", "reader-secret")
        .list_with_delimiter(None)
        .await
        .expect("the reader lists");
    assert_eq!(listed.objects.len(), 1);

    let body = g
        .s3_as(BUCKET, "AKIDDECRYPT", "decrypt-secret")
        .get(&location)
        .await
        .expect("with the guide's download policy the object reads")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&body[..], b"quarterly figures");

    // Neither may write.
    let refused = g
        .s3_as(BUCKET, "AKIDDECRYPT", "decrypt-secret")
        .put(&Path::from("new"), Bytes::from_static(b"x").into())
        .await
        .expect_err("no oss:PutObject");
    assert!(refused.to_string().contains("oss:PutObject"), "{refused}");
    assert!(g.store.head_object(BUCKET, "new").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_refused_before_anything_is_read() {
    let g = common::start(Vec::new());
    g.store.create_bucket(BUCKET).expect("bucket");
    g.store
        .put_object(BUCKET, "k", Bytes::from_static(b"v"), Default::default())
        .expect("put");
    for (id, secret, code) in [
        (
            common::TRUSTED_ID,
            "not-the-secret",
            "SignatureDoesNotMatch",
        ),
        ("AKIDNOBODY", "whatever", "InvalidAccessKeyId"),
    ] {
        let error = g
            .s3_as(BUCKET, id, secret)
            .get(&Path::from("k"))
            .await
            .expect_err("refused");
        assert!(error.to_string().contains(code), "{id}: {error}");
        let error = g
            .s3_as(BUCKET, id, secret)
            .put(&Path::from("k"), Bytes::from_static(b"changed").into())
            .await
            .expect_err("refused");
        assert!(error.to_string().contains(code), "{id}: {error}");
    }
    assert_eq!(
        &g.store.get_object(BUCKET, "k").expect("intact").body[..],
        b"v"
    );

    // No signature at all.
    let mut socket = std::net::TcpStream::connect(g.address).expect("connects");
    write!(
        socket,
        "GET /{BUCKET}/k HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        g.address
    )
    .expect("writes");
    let mut response = String::new();
    socket.read_to_string(&mut response).expect("reads");
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(response.contains("AccessDenied"), "{response}");
    assert!(!response.contains("\r\n\r\nv"), "{response}");
}
