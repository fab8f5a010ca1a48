//! The object API's conformance suite (`coffer_sse::conformance`) over the
//! RocksDB engine, unchanged, three times: trusted, as a principal allowed
//! everything, and as a principal with the suite's partial rights (each
//! denial checked, and that it changed nothing).

use crate::common;

use coffer_keyring::{Caller, CreateKeyOptions};
use coffer_sse::conformance::{self, Harness, PARTIAL_RIGHTS_POLICY};
use coffer_store::{PolicyDocument, Principal, Session, Store};

/// The store and a CMK with an alias.
fn engine() -> (common::Fixture, String, String) {
    let fixture = common::fixture();
    let kms = fixture.store.kms();
    let cmk = kms
        .create_key(CreateKeyOptions::default(), &Caller::Trusted)
        .expect("a CMK")
        .key_id;
    let alias = "alias/conformance".to_owned();
    kms.create_alias(&alias, &cmk, &Caller::Trusted)
        .expect("an alias");
    (fixture, cmk, alias)
}

fn principal(name: &str, policy: &str) -> Principal {
    Principal::new(name, common::ACCOUNT)
        .with_policy(PolicyDocument::parse(policy).expect("the policy parses"))
}

fn run(session: &Session, store: &Store, cmk: String, cmk_alias: String, full: bool) {
    let trusted = Session::trusted(store.clone());
    let harness = Harness {
        session,
        trusted: &trusted,
        cmk,
        cmk_alias,
        prefix: "conformance".into(),
    };
    if full {
        conformance::run_full_rights(&harness);
    } else {
        conformance::partial_rights_are_enforced(&harness);
    }
}

#[test]
fn the_trusted_store_conforms() {
    let (fixture, cmk, alias) = engine();
    let session = Session::trusted(fixture.store.clone());
    run(&session, &fixture.store, cmk, alias, true);
}

#[test]
fn a_session_with_every_right_conforms() {
    let (fixture, cmk, alias) = engine();
    let everything = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:*","kms:*"],"Resource":"*"}]}"#;
    let session = fixture.store.session(principal("admin", everything));
    run(&session, &fixture.store, cmk, alias, true);
}

#[test]
fn a_session_with_partial_rights_is_refused_all_else() {
    let (fixture, cmk, alias) = engine();
    let session = fixture
        .store
        .session(principal("reader", PARTIAL_RIGHTS_POLICY));
    run(&session, &fixture.store, cmk, alias, false);
}
