//! Arbitrary text parsed as a policy document and evaluated against arbitrary
//! requests: parsing returns a document or an error, evaluation never panics, and
//! a document with no Allow never allows.
#![no_main]

use arbitrary::Arbitrary;
use coffer_policy::{Effect, PolicyDocument, Principal, Request};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    document: String,
    action: String,
    resource: String,
    context: Vec<(String, String)>,
}

fuzz_target!(|input: Input| {
    let Ok(document) = PolicyDocument::parse(&input.document) else { return };
    let has_allow = document.statements.iter().any(|s| s.effect == Effect::Allow);
    let principal = Principal::new("fuzz", "0").with_policy(document);
    let mut request = Request::new(&input.action, &input.resource);
    for (key, value) in &input.context {
        request = request.with(key, value);
    }
    let decision = principal.evaluate(&request);
    assert!(has_allow || !decision.is_allowed());
});
