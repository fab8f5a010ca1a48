//! Authorization of a principal's calls: the `oss:*` check every object API
//! operation makes before it reads or changes anything (the KMS checks its
//! own `kms:*` actions), and the audit record of a denial. A trusted caller
//! passes without a check. The actions, resources and condition keys are the
//! core's ([`coffer_sse::access`]), so every engine checks the same request.

use coffer_keyring::{AuditOutcome, Caller, Principal};
use coffer_policy::Request;
use coffer_sse::access::{Resources, put_object_request};
use coffer_sse::validate_key;

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
    /// `caller` and, for a principal, checked as `oss:PutObject`: the same
    /// value is checked, given to the KMS and stored.
    ///
    /// `oss:PutObject` is checked first, on the rule as written (the put's
    /// own, else the bucket's default): a principal that may not put learns
    /// nothing else, neither whether the bucket exists nor which CMK it
    /// defaults to, and nothing is created for it (no default CMK) nor
    /// refused at the KMS (no `kms:DescribeKey` denial). Where that check
    /// fails, a CMK the rule names by alias or ARN is resolved (unaudited:
    /// no key is used) and checked once more, since a condition may name the
    /// key id it resolves to. Only then is the rule resolved with the
    /// caller's `kms:DescribeKey` and checked again with the resolved id.
    pub(crate) fn prepare_put(
        &self,
        bucket: &str,
        key: &str,
        own: Option<&EncryptionRule>,
        caller: &Caller,
    ) -> Result<(BucketRecord, ResolvedRule)> {
        let Caller::Principal(principal) = caller else {
            validate_key(key)?;
            let record = self.bucket_record(bucket)?;
            let rule = self.resolve_rule(own, &record, caller)?;
            return Ok((record, rule));
        };
        let resource = self.resources().object(bucket, key);
        let record = self.bucket_record(bucket);
        let written = own.or_else(|| record.as_ref().ok().and_then(|r| r.rule.as_ref()));
        let put = |rule: Option<&EncryptionRule>, resolved: Option<&str>| {
            put_object_request(
                &resource,
                rule.map(EncryptionRule::algorithm),
                rule.and_then(EncryptionRule::kms_key_id),
                resolved,
            )
        };
        if !principal.evaluate(&put(written, None)).is_allowed() {
            // A condition may name the key id an alias resolves to: resolve a
            // named CMK (nothing is created for a default one) and check once
            // more, recording a denial.
            let resolved = match (written.and_then(EncryptionRule::kms_key_id), &record) {
                (Some(given), Ok(_)) => self.kms().canonical_key_id(given).ok(),
                _ => None,
            };
            self.authorize(caller, put(written, resolved.as_deref()))?;
        }
        validate_key(key)?;
        let record = record?;
        let rule = self.resolve_rule(own, &record, caller)?;
        let request = match &rule {
            ResolvedRule::None => put_object_request(&resource, None, None, None),
            ResolvedRule::Managed { .. } => {
                put_object_request(&resource, Some("AES256"), None, None)
            }
            ResolvedRule::Kms { given, key_id, .. } => {
                put_object_request(&resource, Some("KMS"), given.as_deref(), Some(key_id))
            }
        };
        self.authorize(caller, request)?;
        Ok((record, rule))
    }
}
