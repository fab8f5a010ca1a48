//! Authorization fails closed: a matrix of principals (Allow and Deny,
//! account-scoped, region-scoped and wildcard policies) × requests (bucket,
//! object and KMS key actions) against a store of account 1416614965931234 in
//! cn-hangzhou. No request expected to be denied succeeds, and no request
//! expected to be allowed fails.

use crate::common;

use coffer_keyring::{Caller, CreateKeyOptions};
use coffer_store::{Error, ListOptions, PolicyDocument, Principal, PutOptions, Session, Store};
use common::{ACCOUNT, data, fixture};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Req {
    GetSecret,
    GetPublic,
    PutSecret,
    PutPublic,
    GetUnderCmk1,
    GetUnderCmk2,
    PutUnderCmk1,
    ListPhotos,
    GetOtherBucket,
    DeleteMissing,
    HeadSecret,
}

const ALL: [Req; 11] = [
    Req::GetSecret,
    Req::GetPublic,
    Req::PutSecret,
    Req::PutPublic,
    Req::GetUnderCmk1,
    Req::GetUnderCmk2,
    Req::PutUnderCmk1,
    Req::ListPhotos,
    Req::GetOtherBucket,
    Req::DeleteMissing,
    Req::HeadSecret,
];

fn run(session: &Session, request: Req, cmk1: &str) -> coffer_store::Result<()> {
    match request {
        Req::GetSecret => session.get_object("photos", "secret/a").map(drop),
        Req::GetPublic => session.get_object("photos", "public/a").map(drop),
        Req::PutSecret => session
            .put_object("photos", "secret/b", data(10, 1), PutOptions::managed())
            .map(drop),
        Req::PutPublic => session
            .put_object("photos", "public/b", data(10, 1), PutOptions::managed())
            .map(drop),
        Req::GetUnderCmk1 => session.get_object("photos", "kms1").map(drop),
        Req::GetUnderCmk2 => session.get_object("photos", "kms2").map(drop),
        Req::PutUnderCmk1 => session
            .put_object(
                "photos",
                "public/c",
                data(10, 1),
                PutOptions::kms(Some(cmk1)),
            )
            .map(drop),
        Req::ListPhotos => session
            .list_objects("photos", &ListOptions::new())
            .map(drop),
        Req::GetOtherBucket => session.get_object("other", "x").map(drop),
        Req::DeleteMissing => session.delete_object("photos", "public/missing"),
        Req::HeadSecret => session.head_object("photos", "secret/a").map(drop),
    }
}

fn policy(statements: &str) -> PolicyDocument {
    PolicyDocument::parse(&format!(r#"{{"Version":"1","Statement":[{statements}]}}"#))
        .expect("policy parses")
}

fn allow(actions: &str, resources: &str) -> String {
    format!(r#"{{"Effect":"Allow","Action":[{actions}],"Resource":[{resources}]}}"#)
}

fn deny(actions: &str, resources: &str) -> String {
    format!(r#"{{"Effect":"Deny","Action":[{actions}],"Resource":[{resources}]}}"#)
}

fn setup(store: &Store) -> (String, String) {
    let kms = store.kms();
    let cmk1 = kms
        .create_key(CreateKeyOptions::default(), &Caller::Trusted)
        .expect("cmk1")
        .key_id;
    let cmk2 = kms
        .create_key(CreateKeyOptions::default(), &Caller::Trusted)
        .expect("cmk2")
        .key_id;
    for bucket in ["photos", "other"] {
        store.create_bucket(bucket).expect("bucket");
    }
    for (key, options) in [
        ("secret/a", PutOptions::managed()),
        ("public/a", PutOptions::managed()),
        ("kms1", PutOptions::kms(Some(&cmk1))),
        ("kms2", PutOptions::kms(Some(&cmk2))),
    ] {
        store
            .put_object("photos", key, data(100, 2), options)
            .expect("put");
    }
    store
        .put_object("other", "x", data(100, 3), PutOptions::managed())
        .expect("put");
    (cmk1, cmk2)
}

#[test]
fn no_denied_request_succeeds_and_no_allowed_one_fails() {
    let f = fixture();
    assert_eq!(f.store.account(), ACCOUNT);
    assert_eq!(f.store.region(), "cn-hangzhou");
    let (cmk1, cmk2) = setup(&f.store);
    let all_oss = r#""acs:oss:*:*:*""#;
    let all_kms = r#""acs:kms:*:*:*""#;
    let wildcard = [allow(r#""oss:*""#, all_oss), allow(r#""kms:*""#, all_kms)].join(",");
    let secret = format!(r#""acs:oss:*:{ACCOUNT}:photos/secret/*""#);
    type Expect = fn(Req) -> bool;
    let principals: Vec<(&str, String, Expect)> = vec![
        ("wildcard", wildcard.clone(), |_| true),
        (
            "wildcard-with-account-denies",
            [
                wildcard.clone(),
                deny(r#""oss:*""#, &secret),
                deny(
                    r#""kms:Decrypt""#,
                    &format!(r#""acs:kms:*:{ACCOUNT}:key/{cmk2}""#),
                ),
            ]
            .join(","),
            |r| {
                !matches!(
                    r,
                    Req::GetSecret | Req::PutSecret | Req::HeadSecret | Req::GetUnderCmk2
                )
            },
        ),
        (
            "account-scoped-to-photos",
            [
                allow(
                    r#""oss:*""#,
                    &format!(r#""acs:oss:*:{ACCOUNT}:photos","acs:oss:*:{ACCOUNT}:photos/*""#),
                ),
                allow(r#""kms:*""#, &format!(r#""acs:kms:*:{ACCOUNT}:*""#)),
            ]
            .join(","),
            |r| r != Req::GetOtherBucket,
        ),
        (
            "another-account",
            [
                allow(r#""oss:*""#, r#""acs:oss:*:999:*""#),
                allow(r#""kms:*""#, r#""acs:kms:*:999:*""#),
            ]
            .join(","),
            |_| false,
        ),
        (
            "this-region",
            [
                allow(
                    r#""oss:*""#,
                    &format!(r#""acs:oss:cn-hangzhou:{ACCOUNT}:*""#),
                ),
                allow(
                    r#""kms:*""#,
                    &format!(r#""acs:kms:cn-hangzhou:{ACCOUNT}:*""#),
                ),
            ]
            .join(","),
            |_| true,
        ),
        (
            "another-region",
            [
                allow(
                    r#""oss:*""#,
                    &format!(r#""acs:oss:cn-beijing:{ACCOUNT}:*""#),
                ),
                allow(
                    r#""kms:*""#,
                    &format!(r#""acs:kms:cn-beijing:{ACCOUNT}:*""#),
                ),
            ]
            .join(","),
            |_| false,
        ),
        ("objects-but-no-kms", allow(r#""oss:*""#, all_oss), |r| {
            !matches!(r, Req::GetUnderCmk1 | Req::GetUnderCmk2 | Req::PutUnderCmk1)
        }),
        (
            "wildcard-but-account-denied",
            [
                wildcard.clone(),
                deny(r#""oss:*""#, &format!(r#""acs:oss:*:{ACCOUNT}:*""#)),
            ]
            .join(","),
            |_| false,
        ),
        (
            "read-only-with-decrypt",
            [
                allow(r#""oss:GetObject","oss:ListObjects""#, all_oss),
                allow(r#""kms:Decrypt""#, &format!(r#""acs:kms:*:{ACCOUNT}:*""#)),
            ]
            .join(","),
            |r| {
                matches!(
                    r,
                    Req::GetSecret
                        | Req::GetPublic
                        | Req::GetUnderCmk1
                        | Req::GetUnderCmk2
                        | Req::ListPhotos
                        | Req::GetOtherBucket
                        | Req::HeadSecret
                )
            },
        ),
    ];
    let mut cells = 0;
    for (name, statements, expect) in &principals {
        let session = f
            .store
            .session(Principal::new(name, ACCOUNT).with_policy(policy(statements)));
        for request in ALL {
            let outcome = run(&session, request, &cmk1);
            match (expect(request), outcome) {
                (true, Ok(())) | (false, Err(Error::AccessDenied { .. })) => {}
                (true, Err(error)) => panic!("{name} × {request:?}: allowed, but failed: {error}"),
                (false, Ok(())) => panic!("{name} × {request:?}: denied, but it succeeded"),
                (false, Err(error)) => {
                    panic!("{name} × {request:?}: denied with the wrong error: {error}")
                }
            }
            cells += 1;
        }
    }
    assert_eq!(cells, principals.len() * ALL.len());
}

#[test]
fn a_put_is_checked_against_the_cmk_it_will_use_alias_and_id_alike() {
    let f = fixture();
    let (cmk1, cmk2) = setup(&f.store);
    let kms = f.store.kms();
    kms.create_alias("alias/photos", &cmk1, &Caller::Trusted)
        .expect("alias");
    let key_condition = |op: &str, value: &str| {
        format!(
            r#"{{"Effect":"Allow","Action":["oss:PutObject"],"Resource":["acs:oss:*:*:photos/*"],"Condition":{{"{op}":{{"oss:x-oss-server-side-encryption-key-id":["{value}"]}}}}}}"#
        )
    };
    let kms_all = allow(r#""kms:*""#, r#""acs:kms:*:*:*""#);
    for (condition, rule_key, allowed) in [
        // A condition on the id matches a put that names the alias, and back.
        (key_condition("StringEquals", &cmk1), "alias/photos", true),
        (
            key_condition("StringEquals", "alias/photos"),
            cmk1.as_str(),
            false,
        ),
        (
            key_condition("StringEquals", "alias/photos"),
            "alias/photos",
            true,
        ),
        (key_condition("StringEquals", &cmk1), cmk2.as_str(), false),
        // A negated condition holds only if neither the alias nor the id matches.
        (
            key_condition("StringNotEquals", &cmk1),
            "alias/photos",
            false,
        ),
        (key_condition("StringNotEquals", &cmk1), cmk2.as_str(), true),
    ] {
        let session = f.store.session(
            Principal::new("uploader", ACCOUNT)
                .with_policy(policy(&[condition.clone(), kms_all.clone()].join(","))),
        );
        let result = session.put_object(
            "photos",
            "public/k",
            data(10, 1),
            PutOptions::kms(Some(rule_key)),
        );
        match (allowed, result) {
            (true, Ok(put)) => {
                let expected = if rule_key == cmk2 { &cmk2 } else { &cmk1 };
                assert_eq!(
                    put.protection.kms_key_id.as_deref(),
                    Some(expected.as_str())
                );
            }
            (false, Err(Error::AccessDenied { .. })) => {}
            (allowed, other) => {
                panic!("{condition} with {rule_key}: expected allowed={allowed}, got {other:?}")
            }
        }
    }
    // The bucket default resolves once too: the checked key is the key used.
    f.store
        .put_bucket_encryption(
            "photos",
            coffer_store::EncryptionRule::kms(Some("alias/photos")),
        )
        .expect("rule");
    let session = f
        .store
        .session(Principal::new("uploader", ACCOUNT).with_policy(policy(
            &[key_condition("StringEquals", &cmk1), kms_all].join(","),
        )));
    let put = session
        .put_object("photos", "public/d", data(10, 1), PutOptions::default())
        .expect("allowed by the resolved id");
    assert_eq!(put.protection.kms_key_id.as_deref(), Some(cmk1.as_str()));
    assert_eq!(
        f.store
            .head_object("photos", "public/d")
            .expect("head")
            .protection,
        put.protection
    );
}
