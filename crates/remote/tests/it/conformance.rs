//! The object API's conformance suite (`coffer_sse::conformance`), unchanged,
//! over the remote engine on each backend: trusted, as a principal allowed
//! everything, and as a principal with the suite's partial rights.
//! `LocalFileSystem` cannot replace a file conditionally (no `If-Match`), so
//! there the full-rights runs leave out the two checks that need it
//! (conditions, and copies over themselves) and check that both are a typed
//! error instead.

use bytes::Bytes;
use coffer_policy::PolicyDocument;
use coffer_remote::RemoteStore;
use coffer_sse::conformance::{self, Harness, PARTIAL_RIGHTS_POLICY};
use coffer_sse::{CopyOptions, Error, Principal, PutCondition, PutOptions, Session};

use crate::common;

fn principal(name: &str, policy: &str) -> Principal {
    Principal::new(name, common::ACCOUNT)
        .with_policy(PolicyDocument::parse(policy).expect("the policy parses"))
}

fn run(make: impl Fn(&RemoteStore) -> Session<RemoteStore>, full: bool) {
    for (name, backend, _dir) in common::backends() {
        let (store, cmk, cmk_alias) = common::store(backend);
        let session = make(&store);
        let trusted = Session::trusted(store.clone());
        let harness = Harness {
            session: &session,
            trusted: &trusted,
            cmk,
            cmk_alias,
            prefix: format!("conformance-{name}"),
        };
        if full && name == "local" {
            conformance::rules_override_and_reporting(&harness);
            conformance::changing_a_default_leaves_objects_alone(&harness);
            conformance::ranges(&harness);
            conformance::multipart_uploads(&harness);
            conformance::listing(&harness);
            conformance::bad_input_is_refused(&harness);
            without_conditional_replace(&session);
        } else if full {
            conformance::run_full_rights(&harness);
        } else {
            conformance::partial_rights_are_enforced(&harness);
        }
    }
}

#[test]
fn the_trusted_store_conforms() {
    run(|store| Session::trusted(store.clone()), true);
}

#[test]
fn a_session_with_every_right_conforms() {
    let everything = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:*","kms:*"],"Resource":"*"}]}"#;
    run(
        |store| Session::new(store.clone(), principal("admin", everything)),
        true,
    );
}

#[test]
fn a_session_with_partial_rights_is_refused_all_else() {
    run(
        |store| Session::new(store.clone(), principal("reader", PARTIAL_RIGHTS_POLICY)),
        false,
    );
}

/// Where the backend has no conditional replace, an `If-Match` put and a
/// copy over itself are refused with a typed error and change nothing.
fn without_conditional_replace(session: &Session<RemoteStore>) {
    session.create_bucket("no-if-match").expect("bucket");
    let first = session
        .put_object(
            "no-if-match",
            "k",
            Bytes::from_static(b"one"),
            PutOptions::managed(),
        )
        .expect("put");
    let matching = PutOptions::managed().with_condition(PutCondition::IfMatch(first.etag));
    assert!(matches!(
        session.put_object("no-if-match", "k", Bytes::from_static(b"two"), matching),
        Err(Error::NotImplemented { .. })
    ));
    assert!(matches!(
        session.copy_object(
            ("no-if-match", "k"),
            ("no-if-match", "k"),
            CopyOptions::kms(None)
        ),
        Err(Error::NotImplemented { .. })
    ));
    assert_eq!(
        session.get_object("no-if-match", "k").expect("get").body,
        "one"
    );
}
