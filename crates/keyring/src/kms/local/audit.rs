//! The audit event every local KMS call records.

use super::LocalKms;
use crate::audit::{AuditEvent, AuditOutcome};
use crate::{Caller, EncryptionContext, Error, Result};

impl LocalKms {
    /// Runs `call` and records its outcome as one event (see [`LocalKms::record`]).
    pub(super) fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        key_id: Option<&str>,
        context: Option<&EncryptionContext>,
        call: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let result = call();
        self.record(caller, action, key_id, context, &result);
        result
    }

    /// Records one event for a call that ended with `result`: `Allowed`,
    /// `Denied` for [`Error::AccessDenied`], otherwise `Failed` with the error's
    /// message (which never holds key material).
    pub(super) fn record<T>(
        &self,
        caller: &Caller,
        action: &str,
        key_id: Option<&str>,
        context: Option<&EncryptionContext>,
        result: &Result<T>,
    ) {
        let outcome = match result {
            Ok(_) => AuditOutcome::Allowed,
            Err(Error::AccessDenied { .. }) => AuditOutcome::Denied,
            Err(error) => AuditOutcome::Failed(error.to_string()),
        };
        self.options.audit.record(AuditEvent {
            time: self.now(),
            caller: caller.name().to_owned(),
            action: action.to_owned(),
            key_id: key_id.map(str::to_owned),
            context: context.map(ToString::to_string),
            outcome,
        });
    }
}
