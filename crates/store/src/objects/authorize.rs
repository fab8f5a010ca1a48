//! Authorization of a principal's calls: the `oss:*` check every object API
//! operation makes before it reads or changes anything (the KMS checks its
//! own `kms:*` actions), and the audit record of a denial. A trusted caller
//! passes without a check. The actions, resources and condition keys are the
//! core's ([`coffer_sse::access`]), so every engine checks the same request.

use coffer_keyring::{AuditOutcome, Caller, Principal};
use coffer_policy::Request;
use coffer_sse::access::{Resources, authorize_put};

use crate::engine::audit::StoreEvent;
use crate::format::record::BucketRecord;
use crate::{EncryptionRule, Error, Result, Session, Store};
use coffer_sse::keys::ResolvedRule;

impl Store {
    /// The store's operations on behalf of `principal`, policies enforced.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use coffer_store::{Error, PolicyDocument, Principal, PutOptions, RootKey, Store, StoreOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::create(dir.path(), StoreOptions::new(RootKey::generate()?))?;
    /// store.create_bucket("photos")?;
    /// let reader = Principal::new("reader", "1416614965931234").with_policy(PolicyDocument::parse(
    ///     r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}]}"#,
    /// )?);
    /// let session = store.session(reader);
    /// let denied = session.put_object("photos", "a.jpg", Bytes::from_static(b"x"), PutOptions::default());
    /// assert!(matches!(denied, Err(Error::AccessDenied { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session(&self, principal: Principal) -> Session {
        Session::new(self.clone(), principal)
    }

    /// The resource names of this store's buckets and objects.
    pub(crate) fn resources(&self) -> Resources<'_> {
        Resources::new(self.region(), self.account())
    }

    /// Checks `request` for `caller` (a trusted caller passes). A denial is
    /// recorded in the audit log (and fails with [`Error::AuditFailed`] if it
    /// cannot be).
    pub(crate) fn authorize(&self, caller: &Caller, request: Request) -> Result<()> {
        let Caller::Principal(principal) = caller else {
            return Ok(());
        };
        if principal.evaluate(&request).is_allowed() {
            return Ok(());
        }
        let resources = self.resources();
        let (bucket, object_key) = resources.parse(&request.resource);
        self.audit(StoreEvent {
            caller,
            action: &request.action,
            resource: Some(request.resource.clone()),
            key_id: None,
            key_version: None,
            bucket,
            object_key,
            outcome: AuditOutcome::Denied,
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

    /// The bucket and the rule a put to bucket/key applies, resolved once for
    /// `caller` and, for a principal, checked as `oss:PutObject`
    /// ([`coffer_sse::access::authorize_put`]).
    pub(crate) fn prepare_put(
        &self,
        bucket: &str,
        key: &str,
        own: Option<&EncryptionRule>,
        caller: &Caller,
    ) -> Result<(BucketRecord, ResolvedRule)> {
        let record = self.bucket_record(bucket);
        let default = record.as_ref().ok().map(|r| r.rule.as_ref());
        let rule = authorize_put(
            &self.inner.keys,
            &self.resources(),
            bucket,
            key,
            own,
            default,
            caller,
            &|request| self.authorize(caller, request),
        );
        match (record, rule) {
            (Ok(record), Ok(rule)) => Ok((record, rule)),
            // The store's own reason the bucket is not there (closed, or no
            // such bucket), once the caller may learn it.
            (Err(error), Err(Error::NoSuchBucket(_))) => Err(error),
            (_, Err(error)) => Err(error),
            (Err(error), Ok(_)) => Err(error),
        }
    }
}
