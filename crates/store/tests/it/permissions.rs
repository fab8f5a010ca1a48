//! Sessions enforce policies: bucket and object actions in the store, key
//! actions in the KMS; the OSS guide's policies work unmodified; a reader without
//! kms:Decrypt gets AccessDenied and no plaintext; a bucket can refuse writes that
//! are not KMS-encrypted; a principal that may not put learns nothing of a
//! bucket (whether it exists, which CMK it defaults to) and makes the KMS
//! create nothing.

use crate::common;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_store::{EncryptionRule, Error, PolicyDocument, Principal, PutOptions};
use common::{ACCOUNT, data, fixture};

/// One of the OSS guide's policies, compiled in from coffer-policy's fixtures so
/// that the test reads nothing outside the repository.
macro_rules! fixture_policy {
    ($name:literal) => {
        policy(include_str!(concat!(
            "../../../policy/tests/fixtures/policies/",
            $name
        )))
    };
}

fn policy(text: &str) -> PolicyDocument {
    PolicyDocument::parse(text).expect("parses")
}

const BUCKET_ADMIN: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:PutBucketEncryption","oss:GetBucketEncryption","oss:DeleteBucketEncryption"],"Resource":"acs:oss:*:*:photos"}]}"#;
const WRITE_OBJECTS: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:PutObject","Resource":"acs:oss:*:*:photos/*"}]}"#;
const READ_OBJECTS: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject","oss:ListObjects"],"Resource":["acs:oss:*:*:photos","acs:oss:*:*:photos/*"]}]}"#;

#[test]
fn the_oss_guide_policies_set_upload_and_download() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("photos").expect("bucket");
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;

    let admin = s.session(
        Principal::new("admin", ACCOUNT)
            .with_policy(policy(BUCKET_ADMIN))
            .with_policy(fixture_policy!("set-bucket-default-kms-cmk.json")),
    );
    admin
        .put_bucket_encryption("photos", EncryptionRule::kms(Some(&cmk)))
        .expect("admin sets the rule");
    assert_eq!(
        admin.get_bucket_encryption("photos").expect("rule"),
        EncryptionRule::kms(Some(&cmk))
    );

    let uploader = s.session(
        Principal::new("uploader", ACCOUNT)
            .with_policy(policy(WRITE_OBJECTS))
            .with_policy(fixture_policy!("upload-to-kms-bucket.json")),
    );
    uploader
        .put_object("photos", "a.jpg", data(5000, 1), PutOptions::default())
        .expect("uploads");

    let downloader = s.session(
        Principal::new("downloader", ACCOUNT)
            .with_policy(policy(READ_OBJECTS))
            .with_policy(fixture_policy!("download-from-kms-bucket.json")),
    );
    assert_eq!(
        downloader
            .get_object("photos", "a.jpg")
            .expect("downloads")
            .body,
        data(5000, 1)
    );
    assert!(matches!(
        downloader.put_object("photos", "b.jpg", data(1, 1), PutOptions::default()),
        Err(Error::AccessDenied { .. })
    ));

    // Allowed to read the bucket, but no kms:Decrypt on the CMK: denied, no plaintext.
    let no_kms = s.session(Principal::new("reader", ACCOUNT).with_policy(policy(READ_OBJECTS)));
    match no_kms.get_object("photos", "a.jpg") {
        Err(Error::AccessDenied { action, .. }) => assert_eq!(action, "kms:Decrypt"),
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    assert!(matches!(
        no_kms.get_object_range("photos", "a.jpg", 0..10),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        no_kms.open_object("photos", "a.jpg").err(),
        Some(Error::AccessDenied { .. })
    ));
    no_kms
        .head_object("photos", "a.jpg")
        .expect("metadata is readable");
    // A writer without kms:GenerateDataKey cannot write into the KMS bucket.
    let no_generate = s.session(Principal::new("w", ACCOUNT).with_policy(policy(WRITE_OBJECTS)));
    assert!(matches!(
        no_generate.put_object("photos", "c.jpg", data(1, 1), PutOptions::default()),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        s.head_object("photos", "c.jpg"),
        Err(Error::NoSuchKey { .. })
    ));
    // And without bucket permissions nothing happens at all.
    let nobody = s.session(Principal::new("nobody", ACCOUNT));
    assert!(matches!(
        nobody.get_object("photos", "a.jpg"),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        nobody.put_bucket_encryption("photos", EncryptionRule::managed()),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        nobody.delete_object("photos", "a.jpg"),
        Err(Error::AccessDenied { .. })
    ));
}

#[test]
fn a_bucket_policy_can_refuse_writes_that_are_not_kms_encrypted() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("photos").expect("bucket");
    let writer = s.session(
        Principal::new("writer", ACCOUNT)
            .with_policy(policy(WRITE_OBJECTS))
            .with_policy(policy(
                r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"oss:PutObject","Resource":"acs:oss:*:*:photos/*",
                    "Condition":{"StringNotEquals":{"oss:x-oss-server-side-encryption":"KMS"}}}]}"#,
            )),
    );
    assert!(matches!(
        writer.put_object(
            "photos",
            "plain",
            Bytes::from_static(b"x"),
            PutOptions::default()
        ),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        writer.put_object(
            "photos",
            "managed",
            Bytes::from_static(b"x"),
            PutOptions::managed()
        ),
        Err(Error::AccessDenied { .. })
    ));
    // The default managed CMK is used on every caller's behalf, as in OSS.
    writer
        .put_object(
            "photos",
            "kms",
            Bytes::from_static(b"x"),
            PutOptions::kms(None),
        )
        .expect("KMS writes pass");
    // With the bucket's default set to KMS, a put without its own rule passes too.
    s.put_bucket_encryption("photos", EncryptionRule::kms(None))
        .expect("rule");
    writer
        .put_object(
            "photos",
            "by-default",
            Bytes::from_static(b"x"),
            PutOptions::default(),
        )
        .expect("default KMS passes");
}

#[test]
fn a_principal_that_may_not_put_learns_nothing_and_creates_nothing() {
    let f = fixture();
    let s = &f.store;
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    s.create_bucket("named").expect("bucket");
    s.put_bucket_encryption("named", EncryptionRule::kms(Some(&cmk)))
        .expect("rule");
    s.create_bucket("default").expect("bucket");
    s.put_bucket_encryption("default", EncryptionRule::kms(None))
        .expect("rule: the default CMK is made on first use");
    let keys_before = s.kms().list_keys(&Caller::Trusted).expect("keys").len();
    let nobody = s.session(Principal::new("nobody", ACCOUNT));
    let denial = |bucket: &str| match nobody.put_object(
        bucket,
        "k",
        Bytes::from_static(b"x"),
        PutOptions::default(),
    ) {
        Err(Error::AccessDenied {
            action, resource, ..
        }) => (action, resource.replace(bucket, "BUCKET")),
        other => panic!(
            "{bucket}: expected AccessDenied, got {:?}",
            other.map(|r| r.etag)
        ),
    };
    let named = denial("named");
    assert_eq!(named.0, "oss:PutObject", "nothing about the CMK: {named:?}");
    assert_eq!(named, denial("missing"), "a missing bucket looks the same");
    assert_eq!(named, denial("default"));
    // The same for a multipart upload, and a put naming a CMK of its own.
    assert!(matches!(
        nobody.create_multipart_upload("named", "k", PutOptions::kms(Some(&cmk))),
        Err(Error::AccessDenied { action, .. }) if action == "oss:PutObject"
    ));
    assert_eq!(
        s.kms().list_keys(&Caller::Trusted).expect("keys").len(),
        keys_before,
        "no default CMK was created for a principal that was refused"
    );
    assert!(s.head_object("named", "k").is_err() && s.head_object("default", "k").is_err());
}
