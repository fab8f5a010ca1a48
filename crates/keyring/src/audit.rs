//! Audit events: one for every KMS call (recorded by the [`Kms`](crate::Kms)
//! layer, whatever the backend), and the store's own (its policy denials,
//! master key administration), to a pluggable sink. A sink that fails to
//! record an event fails the call it describes: no key is used unaudited.

use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutcome {
    /// It succeeded.
    Allowed,
    /// The caller's policies refused it.
    Denied,
    /// It was allowed but failed; the error's message (never a key).
    Failed(String),
    /// It was sent to the service, which never said how it ended (no answer
    /// within the deadline, or the connection failed after the request left):
    /// it may have taken effect. Why, never a key.
    Unknown(String),
}

impl AuditOutcome {
    /// `allowed`, `denied`, `failed` or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Failed(_) => "failed",
            Self::Unknown(_) => "unknown",
        }
    }
}

/// One key use, key administration or refused request. Holds no key material
/// and no object data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub time: SystemTime,
    /// Who: `trusted` or the principal's id.
    pub caller: String,
    /// Who recorded it: the KMS backend (`local`, `transit`, `aws-kms`) or
    /// `store` for the store's own events.
    pub source: String,
    /// The action, e.g. `kms:GenerateDataKey` or `oss:GetObject`.
    pub action: String,
    /// The resource name the action was checked against, when it was.
    pub resource: Option<String>,
    /// The key (a CMK id, or `master` for the store's master keyring), when
    /// the call concerns one.
    pub key_id: Option<String>,
    /// The key's material version, when known (the version a data key was
    /// wrapped under or is being unwrapped from, a rotation's new version).
    pub key_version: Option<u32>,
    /// The bucket, when the call concerns one.
    pub bucket: Option<String>,
    /// The object key, when the call concerns one object.
    pub object_key: Option<String>,
    /// The encryption context (store id, bucket, object id; no secret), when
    /// the call has one.
    pub context: Option<String>,
    /// What else the event says, when it says more (a prune of the audit
    /// log: how many events it removed, and up to when).
    pub detail: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
}

/// Why a sink could not record an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuditWriteError(pub String);

/// Receives audit events. Called on every KMS call: it must not block for
/// long. An error fails the call the event describes (its result, such as a
/// data key, is dropped), as [`crate::Error::AuditFailed`].
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: &AuditEvent) -> Result<(), AuditWriteError>;
}

/// Keeps events in memory (for tests and inspection).
#[derive(Debug, Default, Clone)]
pub struct MemoryAuditSink {
    events: Arc<Mutex<Vec<AuditEvent>>>,
}

impl MemoryAuditSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().clone()
    }
}

impl AuditSink for MemoryAuditSink {
    fn record(&self, event: &AuditEvent) -> Result<(), AuditWriteError> {
        self.events.lock().push(event.clone());
        Ok(())
    }
}

/// Discards events.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: &AuditEvent) -> Result<(), AuditWriteError> {
        Ok(())
    }
}
