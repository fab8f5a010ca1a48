//! Audit events: one for every KMS call (recorded by the [`Kms`](crate::Kms)
//! layer, whatever the backend), to a pluggable sink.

use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;

/// How a KMS call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutcome {
    /// It succeeded.
    Allowed,
    /// The caller's policies refused it.
    Denied,
    /// It was allowed but failed; the error's message (never a key).
    Failed(String),
}

/// One KMS call. Holds no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub time: SystemTime,
    /// Who: `trusted` or the principal's id.
    pub caller: String,
    /// The KMS backend: `local`, `transit`, `aws-kms`.
    pub backend: String,
    /// The action, e.g. `kms:GenerateDataKey`.
    pub action: String,
    /// The key, when the call concerns one.
    pub key_id: Option<String>,
    /// The encryption context, when the call has one.
    pub context: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
}

/// Receives audit events. Must not block for long: it is called on every KMS call.
pub trait AuditSink: Send + Sync {
    /// Records one event.
    fn record(&self, event: AuditEvent);
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
    fn record(&self, event: AuditEvent) {
        self.events.lock().push(event);
    }
}

/// Discards events.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: AuditEvent) {}
}
