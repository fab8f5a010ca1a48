//! The object API's conformance suite (`coffer_sse::conformance`), unchanged,
//! over the remote engine on each backend: trusted, as a principal allowed
//! everything, and as a principal with the suite's partial rights.

use coffer_policy::PolicyDocument;
use coffer_remote::RemoteStore;
use coffer_sse::conformance::{self, Harness, PARTIAL_RIGHTS_POLICY};
use coffer_sse::{Principal, Session};

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
        if full {
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
