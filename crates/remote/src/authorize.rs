//! Authorization of a principal's calls: the `oss:*` check each operation
//! makes before it reads or changes anything (the core's requests,
//! [`coffer_sse::access`]), and a denial recorded in the store's audit sink.

use coffer_keyring::{AuditEvent, AuditOutcome, Caller};
use coffer_policy::Request;
use coffer_sse::access::authorize_put;
use coffer_sse::keys::ResolvedRule;
use coffer_sse::{EncryptionRule, Error, Result};

use crate::RemoteStore;
use crate::buckets::BucketRecord;

impl RemoteStore {
    /// Checks `request` for `caller` (a trusted caller passes); a denial is
    /// recorded ([`Error::AuditFailed`] if it cannot be).
    pub(crate) fn authorize(&self, caller: &Caller, request: Request) -> Result<()> {
        let Caller::Principal(principal) = caller else {
            return Ok(());
        };
        if principal.evaluate(&request).is_allowed() {
            return Ok(());
        }
        let resources = self.resources();
        let (bucket, object_key) = resources.parse(&request.resource);
        let event = AuditEvent {
            time: self.inner.keys.clock().now(),
            caller: caller.name().to_owned(),
            source: "remote".to_owned(),
            action: request.action.clone(),
            resource: Some(request.resource.clone()),
            key_id: None,
            key_version: None,
            bucket: bucket.map(str::to_owned),
            object_key: object_key.map(str::to_owned),
            context: None,
            detail: None,
            outcome: AuditOutcome::Denied,
        };
        self.inner
            .keys
            .audit()
            .record(&event)
            .map_err(|error| Error::AuditFailed {
                action: event.action.clone(),
                reason: error.0,
            })?;
        Err(Error::AccessDenied {
            principal: principal.id.clone(),
            action: request.action,
            resource: request.resource,
        })
    }

    /// Checks `action` on the bucket (`key` `None`) or the object.
    pub(crate) fn authorize_on(
        &self,
        caller: &Caller,
        action: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<()> {
        if matches!(caller, Caller::Trusted) {
            return Ok(());
        }
        let resources = self.resources();
        let resource = match key {
            Some(key) => resources.object(bucket, key),
            None => resources.bucket(bucket),
        };
        self.authorize(caller, Request::new(action, &resource))
    }

    /// The bucket and the rule a put to bucket/key applies, checked for a
    /// principal as `oss:PutObject` ([`authorize_put`]).
    pub(crate) fn prepare_put(
        &self,
        bucket: &str,
        key: &str,
        own: Option<&EncryptionRule>,
        caller: &Caller,
    ) -> Result<(BucketRecord, ResolvedRule)> {
        let record = self.bucket(bucket)?;
        let rule = authorize_put(
            &self.inner.keys,
            &self.resources(),
            bucket,
            key,
            own,
            record.as_ref().map(|r| r.rule.as_ref()),
            caller,
            &|request| self.authorize(caller, request),
        )?;
        let record = record.ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
        Ok((record, rule))
    }
}
