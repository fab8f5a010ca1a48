//! Permission policies in the RAM/IAM style: documents of Allow and Deny
//! statements over actions and resource names, with wildcards and conditions, and
//! their evaluation for a principal. No cryptography here.
//!
//! ```
//! use coffer_policy::{Principal, PolicyDocument, Request};
//!
//! let policy = PolicyDocument::parse(r#"{
//!     "Version": "1",
//!     "Statement": [{
//!         "Effect": "Allow",
//!         "Action": ["kms:List*", "kms:Decrypt"],
//!         "Resource": "acs:kms:*:1416614965931234:*"
//!     }]
//! }"#)?;
//! let alice = Principal::new("alice", "1416614965931234").with_policy(policy);
//! let key = "acs:kms:local:1416614965931234:key/k-1";
//! assert!(alice.evaluate(&Request::new("kms:Decrypt", key)).is_allowed());
//! assert!(!alice.evaluate(&Request::new("kms:GenerateDataKey", key)).is_allowed());
//! # Ok::<(), coffer_policy::PolicyError>(())
//! ```
//!
//! Evaluation: an explicit Deny wins, then any Allow, otherwise the request is
//! implicitly denied. The [`Decision`] says which statement decided.

mod condition;
mod document;
mod evaluate;
mod pattern;

pub use condition::{Condition, Operator};
pub use document::{Effect, PolicyDocument, PolicyError, Statement};
pub use evaluate::{DecidedBy, Decision, Principal, Request};
pub use pattern::Pattern;
