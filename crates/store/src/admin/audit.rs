//! The audit log as a store's user reads it: queries, verification, prunes,
//! and the store's own events (denials, jobs) recorded into it.

use coffer_keyring::{AuditEvent, AuditSink};

use crate::engine::audit::{
    AuditPage, AuditQuery, AuditRetention, AuditVerification, Prune, StoreEvent,
};
use crate::{Error, Result, Store};

impl Store {
    /// The audit events `query` selects, oldest first: every KMS call, the
    /// store's policy denials, master key administration, jobs and prunes of
    /// the log. Fails with [`Error::CorruptRecord`], naming it, if it meets an
    /// event the store did not write (edited, planted, or put back after a
    /// prune) or a gap where events were removed (see [`Store::audit_log`] to
    /// read around one).
    pub fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let page = self.inner.engine.audit.query(query)?;
        match page.damaged.into_iter().next() {
            Some(damaged) => Err(Error::CorruptRecord(damaged)),
            None => Ok(page.events),
        }
    }

    /// [`Store::audit_events`], also listing (not failing on) what it met
    /// that the store did not write, and the gaps: an edited or planted event
    /// hides nothing after it.
    pub fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage> {
        self.inner.engine.audit.query(query)
    }

    /// Checks the whole audit log: every event's tag, every link from one
    /// event to the next, the anchor where the chain starts and the head at
    /// its end. What it finds is in [`AuditVerification::problems`].
    pub fn verify_audit_log(&self) -> Result<AuditVerification> {
        self.inner.engine.audit.verify()
    }

    /// Removes the audit events beyond `retention` now (the store also applies
    /// the retention it was opened with as it goes); returns how many. The
    /// newest event stays, and the prune records itself first
    /// (`coffer:PruneAuditLog`, saying what it removes): a later prune can
    /// remove that record only by recording itself.
    pub fn prune_audit_log(&self, retention: &AuditRetention) -> Result<u64> {
        self.inner
            .engine
            .audit
            .prune(retention, self.inner.keys.clock().now(), Prune::Requested)
    }

    /// Records one of the store's own events; [`Error::AuditFailed`] if it
    /// cannot, and then the operation it describes must fail.
    pub(crate) fn audit(&self, event: StoreEvent<'_>) -> Result<()> {
        let event = AuditEvent {
            time: self.inner.keys.clock().now(),
            caller: event.caller.name().to_owned(),
            source: "store".to_owned(),
            action: event.action.to_owned(),
            resource: event.resource,
            key_id: event.key_id.map(str::to_owned),
            key_version: event.key_version,
            bucket: event.bucket.map(str::to_owned),
            object_key: event.object_key.map(str::to_owned),
            context: None,
            detail: None,
            outcome: event.outcome,
        };
        self.inner
            .engine
            .audit
            .record(&event)
            .map_err(|error| Error::AuditFailed {
                action: event.action,
                reason: error.0,
            })
    }
}
