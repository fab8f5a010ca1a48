//! Evaluating a request for a principal: explicit Deny, then Allow, else implicit deny.

use std::collections::BTreeMap;

use crate::{Effect, PolicyDocument, Statement};

/// What is being asked: an action on a resource, with condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The action, e.g. `kms:Decrypt`.
    pub action: String,
    /// The resource name, e.g. `acs:kms:local:123:key/k-1`.
    pub resource: String,
    context: BTreeMap<String, Vec<String>>,
}

impl Request {
    /// A request with no condition keys.
    pub fn new(action: &str, resource: &str) -> Self {
        Self {
            action: action.to_owned(),
            resource: resource.to_owned(),
            context: BTreeMap::new(),
        }
    }

    /// Adds a value for a condition key (keys are case-insensitive).
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.context
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.to_owned());
        self
    }

    /// The values of a condition key, if the request carries it.
    pub fn values(&self, key: &str) -> Option<&[String]> {
        self.context
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// Who is asking, with the policies attached to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The principal's id, e.g. a RAM user name.
    pub id: String,
    /// The account the principal belongs to.
    pub account: String,
    /// The attached policies.
    pub policies: Vec<PolicyDocument>,
}

/// Which statement decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidedBy {
    /// Index of the policy among the principal's policies.
    pub policy: usize,
    /// Index of the statement in that policy.
    pub statement: usize,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<String>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement matched and no Deny did.
    Allowed(DecidedBy),
    /// A Deny statement matched.
    ExplicitlyDenied(DecidedBy),
    /// Nothing matched.
    ImplicitlyDenied,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed(_))
    }
}

impl Principal {
    /// A principal with no policies (everything is implicitly denied).
    pub fn new(id: &str, account: &str) -> Self {
        Self {
            id: id.to_owned(),
            account: account.to_owned(),
            policies: Vec::new(),
        }
    }

    /// Attaches a policy.
    pub fn with_policy(mut self, policy: PolicyDocument) -> Self {
        self.policies.push(policy);
        self
    }

    /// Evaluates `request` against every attached policy.
    pub fn evaluate(&self, request: &Request) -> Decision {
        let mut allowed = None;
        for (p, policy) in self.policies.iter().enumerate() {
            for (s, statement) in policy.statements.iter().enumerate() {
                if !applies(statement, request) {
                    continue;
                }
                let by = DecidedBy {
                    policy: p,
                    statement: s,
                    sid: statement.sid.clone(),
                };
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitlyDenied(by),
                    Effect::Allow => {
                        allowed.get_or_insert(by);
                    }
                }
            }
        }
        allowed.map_or(Decision::ImplicitlyDenied, Decision::Allowed)
    }
}

fn applies(statement: &Statement, request: &Request) -> bool {
    statement.actions.iter().any(|a| a.matches(&request.action))
        && statement
            .resources
            .iter()
            .any(|r| r.matches(&request.resource))
        && statement
            .conditions
            .iter()
            .all(|c| c.holds(request.values(&c.key)))
}
