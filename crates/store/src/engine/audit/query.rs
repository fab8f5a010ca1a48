//! What callers ask of the audit log: retention, queries and what they return.

use std::time::{Duration, SystemTime};

use coffer_keyring::{AuditEvent, AuditOutcome};

use crate::{Error, Result};

/// How long and how much of the audit log to keep. Nothing is dropped unless
/// a limit is set. Pruning removes the oldest events first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditRetention {
    /// Events older than this are removed.
    pub max_age: Option<Duration>,
    /// The oldest events are removed while the log's keys and values total
    /// more than this many bytes.
    pub max_bytes: Option<u64>,
}

impl AuditRetention {
    /// Keep everything.
    pub fn keep_all() -> Self {
        Self::default()
    }

    /// Removes events older than `age`.
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Keeps the log under `bytes`.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }
}

/// How a call ended, for queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcomeKind {
    /// It succeeded.
    Allowed,
    /// A policy refused it.
    Denied,
    /// It was allowed but failed.
    Failed,
    /// It reached the KMS, which never said how it ended.
    Unknown,
}

impl AuditOutcomeKind {
    pub(crate) fn matches(self, outcome: &AuditOutcome) -> bool {
        matches!(
            (self, outcome),
            (Self::Allowed, AuditOutcome::Allowed)
                | (Self::Denied, AuditOutcome::Denied)
                | (Self::Failed, AuditOutcome::Failed(_))
                | (Self::Unknown, AuditOutcome::Unknown(_))
        )
    }
}

impl std::str::FromStr for AuditOutcomeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "allowed" => Ok(Self::Allowed),
            "denied" => Ok(Self::Denied),
            "failed" => Ok(Self::Failed),
            "unknown" => Ok(Self::Unknown),
            other => Err(Error::InvalidArgument(format!(
                "outcome {other:?}: expected allowed, denied, failed or unknown"
            ))),
        }
    }
}

/// Which audit events to return: every filter set must match. Events come
/// oldest first.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Events at or after this time.
    pub since: Option<SystemTime>,
    /// Events before this time.
    pub until: Option<SystemTime>,
    /// Events naming this key id (`master` for the store's master keyring).
    pub key_id: Option<String>,
    /// Events of this caller (`trusted` or a principal's id).
    pub caller: Option<String>,
    /// Events that ended this way.
    pub outcome: Option<AuditOutcomeKind>,
    /// At most this many events.
    pub limit: Option<usize>,
}

impl AuditQuery {
    /// Every event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Events at or after `time`.
    pub fn since(mut self, time: SystemTime) -> Self {
        self.since = Some(time);
        self
    }

    /// Events before `time`.
    pub fn until(mut self, time: SystemTime) -> Self {
        self.until = Some(time);
        self
    }

    /// Events naming `key_id`.
    pub fn key_id(mut self, key_id: &str) -> Self {
        self.key_id = Some(key_id.to_owned());
        self
    }

    /// Events of `caller`.
    pub fn caller(mut self, caller: &str) -> Self {
        self.caller = Some(caller.to_owned());
        self
    }

    /// Events with `outcome`.
    pub fn outcome(mut self, outcome: AuditOutcomeKind) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// At most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    pub(crate) fn matches(&self, event: &AuditEvent) -> bool {
        self.key_id
            .as_deref()
            .is_none_or(|id| event.key_id.as_deref() == Some(id))
            && self.caller.as_deref().is_none_or(|c| event.caller == c)
            && self.outcome.is_none_or(|o| o.matches(&event.outcome))
    }
}

/// What an audit query found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditPage {
    /// The events selected, oldest first.
    pub events: Vec<AuditEvent>,
    /// What is wrong in the range, in order: each entry that is not an
    /// event the store wrote (edited, planted, put back after a prune), each
    /// gap where events were removed, and (for a range that reaches the end
    /// of the log) newest events removed. Each names the entry.
    pub damaged: Vec<String>,
    /// Events read in the range that were written before the log was sealed
    /// (by a version of coffer before audit events were chained): returned,
    /// but not authenticated.
    pub unauthenticated: u64,
}

/// What [`Store::verify_audit_log`](crate::Store::verify_audit_log) found in
/// the whole audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditVerification {
    /// Events that authenticate and follow the one before.
    pub events: u64,
    /// Events from before the log was sealed: read, not authenticated.
    pub unauthenticated: u64,
    /// What is wrong, as [`AuditPage::damaged`] says it; empty for a log
    /// that is whole.
    pub problems: Vec<String>,
}
