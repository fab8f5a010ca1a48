//! [`Kms`]: any [`KmsBackend`] behind the one layer every backend shares —
//! the caller's policy checks, the audit event of every call, and failing fast
//! while the service is unreachable.
//!
//! Policies are checked on the key's resource name,
//! `acs:kms:<region>:<account>:key/<id>` (the store's region and account), and
//! account-wide actions (`kms:CreateKey`, `kms:ListKeys`, `kms:ListAliases`) on
//! `acs:kms:<region>:<account>:key`. The key the backend manages for the store
//! ([`KmsBackend::managed_key_id`]) skips the data-key checks
//! (`kms:GenerateDataKey`, `kms:Decrypt`, `kms:DescribeKey`), as OSS does with
//! its `alias/acs/oss` key; everything is still audited.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::backend::{AdminOperation, KeyImport, KmsBackend};
use super::breaker::Breaker;
use super::byok::{ImportOptions, ImportParameters};
use super::{Caller, CreateKeyOptions, KeyMetadata};
use crate::audit::{AuditEvent, AuditOutcome, AuditSink, NoAudit};
use crate::clock::{Clock, SystemClock};
use crate::{DataKey, EncryptionContext, Error, Provider, Result, WrappedKey};

/// The actions the managed default key does not check.
const MANAGED_KEY_UNCHECKED: [&str; 3] = ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"];
const MIN_PENDING_DAYS: u32 = 7;
const MAX_PENDING_DAYS: u32 = 366;
const MIN_ROTATION: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_ROTATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Told the id of a key the layer made unusable ([`KmsOptions::revoked`]).
pub type RevokedHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Where the keys live in resource names, where audit events go, and how long
/// calls fail fast after the service was found unreachable.
#[derive(Clone)]
#[non_exhaustive]
pub struct KmsOptions {
    /// The region in resource names (`acs:kms:<region>:...`).
    pub region: String,
    /// The account that owns the keys (`acs:kms:<region>:<account>:key/<id>`).
    pub account: String,
    /// Where audit events go.
    pub audit: Arc<dyn AuditSink>,
    /// The clock of audit events.
    pub clock: Arc<dyn Clock>,
    /// After a call finds the service unavailable, every call fails at once
    /// with [`Error::KmsUnavailable`] for this long, then one call (the
    /// probe) goes through to see whether it is back while the others keep
    /// failing fast. Default 2 s.
    pub fail_fast_for: Duration,
    /// Told the id of every key this layer disabled, scheduled for deletion,
    /// deleted or took the material of (after the backend did it), so that
    /// what a caller keeps of the key in memory (bucket keys) goes at once.
    pub revoked: Option<RevokedHook>,
}

impl Default for KmsOptions {
    /// Region `local`, account `0`, no audit, the system clock, 2 s of failing fast.
    fn default() -> Self {
        Self {
            region: "local".into(),
            account: "0".into(),
            audit: Arc::new(NoAudit),
            clock: Arc::new(SystemClock),
            fail_fast_for: Duration::from_secs(2),
            revoked: None,
        }
    }
}

impl KmsOptions {
    /// The region and account of resource names.
    pub fn with_account(mut self, region: &str, account: &str) -> Self {
        self.region = region.to_owned();
        self.account = account.to_owned();
        self
    }

    /// Where audit events go.
    pub fn with_audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// The clock of audit events.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long calls fail fast after the service was found unavailable.
    pub fn with_fail_fast_for(mut self, period: Duration) -> Self {
        self.fail_fast_for = period;
        self
    }

    /// Who is told of the keys this layer makes unusable
    /// ([`KmsOptions::revoked`]).
    pub fn with_revoked(mut self, revoked: RevokedHook) -> Self {
        self.revoked = Some(revoked);
        self
    }
}

/// A key management service as coffer's callers use it: a [`KmsBackend`]
/// with every call checked against the caller's policies, audited, and
/// failing fast while the service is unreachable. Cheap to clone.
///
/// Errors: [`Error::AccessDenied`] when the caller's policies refuse (nothing
/// reaches the backend), [`Error::Unsupported`] for an operation the backend
/// does not offer, [`Error::KmsUnavailable`] while the service is unreachable,
/// and whatever the backend reports.
#[derive(Clone)]
pub struct Kms {
    inner: Arc<Layer>,
}

struct Layer {
    backend: Arc<dyn KmsBackend>,
    options: KmsOptions,
    breaker: Breaker,
}

impl Kms {
    /// `backend` behind the layer.
    pub fn new(backend: Arc<dyn KmsBackend>, options: KmsOptions) -> Self {
        let breaker = Breaker::new(options.fail_fast_for);
        Self {
            inner: Arc::new(Layer {
                backend,
                options,
                breaker,
            }),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn KmsBackend> {
        &self.inner.backend
    }

    /// The backend's name (`local`, `transit`, `aws-kms`).
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.backend_name()
    }

    /// Whether the backend offers `operation`.
    pub fn supports(&self, operation: AdminOperation) -> bool {
        self.inner.backend.supports(operation)
    }

    /// Requests the backend has made to its service.
    pub fn requests(&self) -> u64 {
        self.inner.backend.requests()
    }

    /// The resource name of a key, as policies match it.
    pub fn resource_name(&self, key_id: &str) -> String {
        format!("{}/{key_id}", self.account_resource())
    }

    /// The resource of account-wide actions.
    pub fn account_resource(&self) -> String {
        format!(
            "acs:kms:{}:{}:key",
            self.inner.options.region, self.inner.options.account
        )
    }

    /// Checks `action` on the key `key_id` (a key id: an alias or an ARN is
    /// [`Error::InvalidArgument`]) for `caller` without calling the backend: for callers that use a data key kept in
    /// memory (a bucket key), whose policies must still hold on every use. A
    /// refusal is [`Error::AccessDenied`] and recorded as a denied event;
    /// an allowed check records nothing (no key was used at the KMS).
    pub fn authorize(&self, caller: &Caller, action: &str, key_id: &str) -> Result<()> {
        let result = self
            .key_id_only(key_id)
            .and_then(|()| self.check(caller, action, key_id));
        if result.is_err() {
            self.record(caller, action, Some(key_id), None, &result)?;
        }
        result
    }

    // ---- the data plane --------------------------------------------------

    /// Draws a fresh data key and wraps it under the current material of
    /// `key_id` (an id or an alias) for `context`. Action `kms:GenerateDataKey`.
    pub fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<(DataKey, WrappedKey)> {
        let action = "kms:GenerateDataKey";
        let id = self.resolve_recorded(caller, action, key_id, Some(context), Ok(()))?;
        self.audited_version(
            caller,
            action,
            Some(&id),
            Some(context),
            |(_, wrapped): &(DataKey, WrappedKey)| Some(wrapped.key_version()),
            || {
                self.check(caller, action, &id)?;
                self.backend_call(|b| b.generate_data_key(&id, context))
            },
        )
    }

    /// Unwraps a data key for `context`. Action `kms:Decrypt` on the key the
    /// wrapped key names.
    pub fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<DataKey> {
        let id = wrapped.key_id();
        let version = wrapped.key_version();
        self.audited_version(
            caller,
            "kms:Decrypt",
            Some(id),
            Some(context),
            |_| Some(version),
            || {
                if wrapped.provider() != Provider::Kms {
                    return Err(Error::InvalidArgument(
                        "the wrapped key is not from a KMS".into(),
                    ));
                }
                self.key_id_only(id)?;
                self.check(caller, "kms:Decrypt", id)?;
                self.backend_call(|b| b.decrypt_data_key(wrapped, context))
            },
        )
    }

    /// Re-wraps under the key's current material without handing out the data
    /// key; `None` if already current. Actions: `kms:DescribeKey` (to learn the
    /// current version), then, unless already current, `kms:Decrypt` and
    /// `kms:GenerateDataKey`; each is checked and audited on its own.
    pub fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &Caller,
    ) -> Result<Option<WrappedKey>> {
        self.key_id_only(wrapped.key_id())?;
        let current = self.describe_key(wrapped.key_id(), caller)?.current_version;
        if wrapped.key_version() >= current {
            return Ok(None);
        }
        let id = wrapped.key_id();
        let version = wrapped.key_version();
        self.audited_version(
            caller,
            "kms:Decrypt",
            Some(id),
            Some(context),
            |_| Some(version),
            || self.check(caller, "kms:Decrypt", id),
        )?;
        self.audited_version(
            caller,
            "kms:GenerateDataKey",
            Some(id),
            Some(context),
            |rewrapped: &Option<WrappedKey>| rewrapped.as_ref().map(WrappedKey::key_version),
            || {
                self.check(caller, "kms:GenerateDataKey", id)?;
                self.backend_call(|b| b.rewrap_data_key(wrapped, context))
            },
        )
    }

    /// Describes a key by id or alias. Action `kms:DescribeKey`.
    pub fn describe_key(&self, key_id: &str, caller: &Caller) -> Result<KeyMetadata> {
        let action = "kms:DescribeKey";
        let id = self.resolve_recorded(caller, action, key_id, None, Ok(()))?;
        self.audited(caller, action, Some(&id), None, || {
            self.check(caller, action, &id)?;
            let mut metadata = self.backend_call(|b| b.describe_key(&id))?;
            metadata.resource_name = self.resource_name(&metadata.key_id);
            Ok(metadata)
        })
    }

    /// The id of the store's default CMK (created on first use where the
    /// backend manages one). Not checked against the caller's policies; a
    /// creation is one `kms:CreateKey` event naming the new key and the caller,
    /// however many callers race the first use.
    pub fn default_key_id(&self, caller: &Caller) -> Result<String> {
        let found = self.backend_call(|b| b.default_key());
        match found {
            Ok(default) => {
                if default.created {
                    self.record(
                        caller,
                        "kms:CreateKey",
                        Some(&default.key_id),
                        None,
                        &Ok::<_, Error>(()),
                    )?;
                }
                Ok(default.key_id)
            }
            Err(error @ Error::Unsupported { .. }) => Err(error),
            Err(error) => {
                let failed = Err(error);
                self.record(caller, "kms:CreateKey", None, None, &failed)?;
                failed
            }
        }
    }

    // ---- key administration ----------------------------------------------

    /// Every key. Action `kms:ListKeys`, on the account.
    pub fn list_keys(&self, caller: &Caller) -> Result<Vec<KeyMetadata>> {
        self.admin_on_account(caller, AdminOperation::ListKeys, || {
            let mut keys = self.backend_call(|b| b.list_keys())?;
            for key in &mut keys {
                key.resource_name = self.resource_name(&key.key_id);
            }
            Ok(keys)
        })
    }

    /// Every alias with its key id. Action `kms:ListAliases`, on the account.
    pub fn list_aliases(&self, caller: &Caller) -> Result<Vec<(String, String)>> {
        self.admin_on_account(caller, AdminOperation::ListAliases, || {
            self.backend_call(|b| b.list_aliases())
        })
    }

    /// Creates a key. Action `kms:CreateKey`, on the account.
    pub fn create_key(&self, options: CreateKeyOptions, caller: &Caller) -> Result<KeyMetadata> {
        if let Some(period) = options.rotation_period {
            check_rotation_period(period)?;
        }
        // Not `admin_on_account`: the event names the key created.
        let operation = AdminOperation::CreateKey;
        let action = operation.action();
        let result = self
            .offered(operation)
            .and_then(|()| caller.authorize(action, &self.account_resource()))
            .and_then(|()| {
                let mut metadata = self.backend_call(|b| b.create_key(options))?;
                metadata.resource_name = self.resource_name(&metadata.key_id);
                Ok(metadata)
            });
        let created = result.as_ref().ok().map(|m| m.key_id.clone());
        self.record(caller, action, created.as_deref(), None, &result)?;
        result
    }

    /// Points `alias` (`alias/...`) at a key. Action `kms:CreateAlias`, on the key.
    pub fn create_alias(&self, alias: &str, key_id: &str, caller: &Caller) -> Result<()> {
        self.admin_on_key(caller, AdminOperation::CreateAlias, key_id, |id| {
            self.backend_call(|b| b.create_alias(alias, id))
        })
    }

    /// Removes an alias. Action `kms:DeleteAlias`, on the key it points at.
    pub fn delete_alias(&self, alias: &str, caller: &Caller) -> Result<()> {
        self.admin_on_key(caller, AdminOperation::DeleteAlias, alias, |_| {
            self.backend_call(|b| b.delete_alias(alias))
        })
    }

    /// Enables a disabled key. Action `kms:EnableKey`.
    pub fn enable_key(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.admin_on_key(caller, AdminOperation::EnableKey, key_id, |id| {
            self.backend_call(|b| b.enable_key(id))
        })
    }

    /// Disables a key: generate and decrypt are refused until it is enabled.
    /// Action `kms:DisableKey`.
    pub fn disable_key(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.admin_on_key(caller, AdminOperation::DisableKey, key_id, |id| {
            self.revoked_after(id, self.backend_call(|b| b.disable_key(id)))
        })
    }

    /// Schedules deletion after `pending_days` (7 to 366; a backend's service
    /// may allow fewer). Action `kms:ScheduleKeyDeletion`. Returns when the
    /// material will be destroyed.
    pub fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_days: u32,
        caller: &Caller,
    ) -> Result<SystemTime> {
        if !(MIN_PENDING_DAYS..=MAX_PENDING_DAYS).contains(&pending_days) {
            return Err(Error::InvalidArgument(format!(
                "the deletion window must be {MIN_PENDING_DAYS} to {MAX_PENDING_DAYS} days, got {pending_days}"
            )));
        }
        self.admin_on_key(caller, AdminOperation::ScheduleKeyDeletion, key_id, |id| {
            self.revoked_after(
                id,
                self.backend_call(|b| b.schedule_key_deletion(id, pending_days)),
            )
        })
    }

    /// Cancels a scheduled deletion. The key is then Disabled, whatever it
    /// was before (as AWS KMS leaves it; an external key without material
    /// returns to PendingImport): using it again takes `kms:EnableKey`, so
    /// scheduling and cancelling a deletion never enables a key. Action
    /// `kms:CancelKeyDeletion`.
    pub fn cancel_key_deletion(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.admin_on_key(caller, AdminOperation::CancelKeyDeletion, key_id, |id| {
            self.backend_call(|b| b.cancel_key_deletion(id))
        })
    }

    /// Destroys a key now, with no waiting period (where the service offers
    /// that: Transit). Everything under it is unreadable for good. Action
    /// `kms:DeleteKey`.
    pub fn delete_key(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.admin_on_key(caller, AdminOperation::DeleteKey, key_id, |id| {
            self.revoked_after(id, self.backend_call(|b| b.delete_key(id)))
        })
    }

    /// Rotates the key's material now; older material keeps decrypting.
    /// Action `kms:RotateKey`. Returns the new version.
    pub fn rotate_key(&self, key_id: &str, caller: &Caller) -> Result<u32> {
        self.admin_on_key_version(
            caller,
            AdminOperation::RotateKey,
            key_id,
            |version| Some(*version),
            |id| self.backend_call(|b| b.rotate_key(id)),
        )
    }

    /// Sets (or clears) the automatic rotation period (7 to 365 days; a
    /// backend's service may allow less). Action `kms:UpdateRotationPolicy`.
    pub fn set_rotation_period(
        &self,
        key_id: &str,
        period: Option<Duration>,
        caller: &Caller,
    ) -> Result<()> {
        if let Some(period) = period {
            check_rotation_period(period)?;
        }
        self.admin_on_key(caller, AdminOperation::SetRotationPeriod, key_id, |id| {
            self.backend_call(|b| b.set_rotation_period(id, period))
        })
    }

    /// Refuses to decrypt data keys under material versions below `version`
    /// (retiring them after a rewrap). Action `kms:UpdateMinDecryptionVersion`.
    pub fn set_min_decryption_version(
        &self,
        key_id: &str,
        version: u32,
        caller: &Caller,
    ) -> Result<()> {
        self.admin_on_key_version(
            caller,
            AdminOperation::SetMinDecryptionVersion,
            key_id,
            |()| Some(version),
            |id| self.backend_call(|b| b.set_min_decryption_version(id, version)),
        )
    }

    /// Import parameters for an external key waiting for material: an RSA
    /// wrapping public key of `options.wrapping_key_spec` and a single-use
    /// token valid for 24 hours. Action `kms:GetParametersForImport`.
    pub fn get_parameters_for_import(
        &self,
        key_id: &str,
        options: ImportOptions,
        caller: &Caller,
    ) -> Result<ImportParameters> {
        self.admin_on_key(
            caller,
            AdminOperation::GetParametersForImport,
            key_id,
            |id| self.backend_call(|b| b.get_parameters_for_import(id, options)),
        )
    }

    /// Imports 32 bytes of material wrapped with RSAES-OAEP-SHA-256 to the
    /// public key of `import_token` (with `openssl pkeyutl` or
    /// [`wrap_key_material_for_import`](crate::wrap_key_material_for_import)).
    /// Action `kms:ImportKeyMaterial`. [`Error::InvalidImportToken`] for a
    /// token that is unknown, used, or for another key;
    /// [`Error::ImportTokenExpired`]; [`Error::Integrity`] for wrapped bytes
    /// that do not unwrap.
    pub fn import_key_material(
        &self,
        key_id: &str,
        import_token: &str,
        wrapped_material: &[u8],
        caller: &Caller,
    ) -> Result<()> {
        let import = KeyImport::Wrapped {
            token: import_token,
            material: wrapped_material,
        };
        self.admin_on_key(caller, AdminOperation::ImportKeyMaterial, key_id, |id| {
            self.backend_call(|b| b.import_key_material(id, import))
        })
    }

    /// Imports plain key material into an external key (embedded use, where
    /// the material never crosses a network). Action `kms:ImportKeyMaterial`.
    pub fn import_key_material_plain(
        &self,
        key_id: &str,
        material: &[u8; 32],
        caller: &Caller,
    ) -> Result<()> {
        self.admin_on_key(
            caller,
            AdminOperation::ImportPlainKeyMaterial,
            key_id,
            |id| self.backend_call(|b| b.import_key_material(id, KeyImport::Plain(material))),
        )
    }

    /// Deletes imported material; the key returns to pending import. Action
    /// `kms:DeleteKeyMaterial`.
    pub fn delete_key_material(&self, key_id: &str, caller: &Caller) -> Result<()> {
        self.admin_on_key(caller, AdminOperation::DeleteKeyMaterial, key_id, |id| {
            self.revoked_after(id, self.backend_call(|b| b.delete_key_material(id)))
        })
    }

    // ---- the layer's machinery -------------------------------------------

    /// `key_id` resolved for `action`, once `ready` (the operation is
    /// offered); a failure of either is recorded under `key_id` as given, so
    /// that events name the resolved id whenever there is one.
    fn resolve_recorded(
        &self,
        caller: &Caller,
        action: &str,
        key_id: &str,
        context: Option<&EncryptionContext>,
        ready: Result<()>,
    ) -> Result<String> {
        let resolved = ready.and_then(|()| self.resolve(key_id));
        if resolved.is_err() {
            self.record(caller, action, Some(key_id), context, &resolved)?;
        }
        resolved
    }

    /// A key id as it is; any other spelling (an alias, an ARN) resolved to
    /// the key id by the backend. What the backend does not turn into one of
    /// its key ids is refused ([`Error::InvalidArgument`]), so that every
    /// check and every audit event is on the key id.
    fn resolve(&self, given: &str) -> Result<String> {
        let backend = &self.inner.backend;
        if backend.is_key_id(given) {
            return Ok(given.to_owned());
        }
        let id = self.backend_call(|b| b.resolve_key_id(given))?;
        if backend.is_key_id(&id) {
            Ok(id)
        } else {
            Err(Error::InvalidArgument(format!(
                "{given:?} does not name a key of the {} KMS",
                self.backend_name()
            )))
        }
    }

    /// The key id `given` names, resolved as every keyed call resolves it
    /// (an id as it is; an alias, an ARN or an alias ARN through the
    /// backend). Neither checked against a caller's policies nor audited: it
    /// uses no key. [`Error::KeyNotFound`] or [`Error::InvalidArgument`] for
    /// what names no key.
    pub fn canonical_key_id(&self, given: &str) -> Result<String> {
        self.resolve(given)
    }

    /// [`Error::InvalidArgument`] unless `id` is a key id as the backend
    /// spells it (for calls that take no alias: a wrapped key's id).
    fn key_id_only(&self, id: &str) -> Result<()> {
        if self.inner.backend.is_key_id(id) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{id:?} is not a key id of the {} KMS",
                self.backend_name()
            )))
        }
    }

    /// Checks `action` on the key, except the data-key actions on the managed
    /// default key ([`MANAGED_KEY_UNCHECKED`]).
    fn check(&self, caller: &Caller, action: &str, id: &str) -> Result<()> {
        if matches!(caller, Caller::Trusted) {
            return Ok(());
        }
        if MANAGED_KEY_UNCHECKED.contains(&action)
            && self.inner.backend.managed_key_id().as_deref() == Some(id)
        {
            return Ok(());
        }
        caller.authorize(action, &self.resource_name(id))
    }

    /// An administration operation on one key: offered by the backend, the
    /// key resolved, the caller checked, then `call` with the key id.
    fn admin_on_key<T>(
        &self,
        caller: &Caller,
        operation: AdminOperation,
        key_id: &str,
        call: impl FnOnce(&str) -> Result<T>,
    ) -> Result<T> {
        self.admin_on_key_version(caller, operation, key_id, |_| None, call)
    }

    /// [`Kms::admin_on_key`], the event naming the version `version_of`
    /// finds in the result.
    fn admin_on_key_version<T>(
        &self,
        caller: &Caller,
        operation: AdminOperation,
        key_id: &str,
        version_of: impl FnOnce(&T) -> Option<u32>,
        call: impl FnOnce(&str) -> Result<T>,
    ) -> Result<T> {
        let action = operation.action();
        let id = self.resolve_recorded(caller, action, key_id, None, self.offered(operation))?;
        self.audited_version(caller, action, Some(&id), None, version_of, || {
            self.check(caller, action, &id)?;
            call(&id)
        })
    }

    /// An administration operation on the account.
    fn admin_on_account<T>(
        &self,
        caller: &Caller,
        operation: AdminOperation,
        call: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let action = operation.action();
        self.audited(caller, action, None, None, || {
            self.offered(operation)?;
            caller.authorize(action, &self.account_resource())?;
            call()
        })
    }

    /// Tells [`KmsOptions::revoked`] that `id` is no longer usable, when
    /// `result` says it may not be (done, or an outcome the service never
    /// told); returns `result`.
    fn revoked_after<T>(&self, id: &str, result: Result<T>) -> Result<T> {
        if matches!(result, Ok(_) | Err(Error::OutcomeUnknown { .. }))
            && let Some(revoked) = &self.inner.options.revoked
        {
            revoked(id);
        }
        result
    }

    fn offered(&self, operation: AdminOperation) -> Result<()> {
        if self.inner.backend.supports(operation) {
            Ok(())
        } else {
            Err(super::backend::unsupported(
                self.backend_name(),
                operation.action(),
            ))
        }
    }

    /// One call to the backend, through the breaker.
    fn backend_call<T>(&self, call: impl FnOnce(&dyn KmsBackend) -> Result<T>) -> Result<T> {
        let backend = self.inner.backend.as_ref();
        self.inner
            .breaker
            .call(backend.backend_name(), || call(backend))
    }

    /// Runs `call` and records its outcome as one event; a record that fails
    /// fails the call ([`Error::AuditFailed`], its result dropped).
    fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        key_id: Option<&str>,
        context: Option<&EncryptionContext>,
        call: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.audited_version(caller, action, key_id, context, |_| None, call)
    }

    /// [`Kms::audited`], the event naming the key version `version_of` finds
    /// in the result.
    fn audited_version<T>(
        &self,
        caller: &Caller,
        action: &str,
        key_id: Option<&str>,
        context: Option<&EncryptionContext>,
        version_of: impl FnOnce(&T) -> Option<u32>,
        call: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let result = call();
        let version = result.as_ref().ok().and_then(version_of);
        let event = self.event(caller, action, key_id, version, context, &result);
        self.write(event)?;
        result
    }

    /// Records one event for a call that ended with `result`.
    fn record<T>(
        &self,
        caller: &Caller,
        action: &str,
        key_id: Option<&str>,
        context: Option<&EncryptionContext>,
        result: &Result<T>,
    ) -> Result<()> {
        self.write(self.event(caller, action, key_id, None, context, result))
    }

    /// The event of a call that ended with `result`: `Allowed`, `Denied` for
    /// [`Error::AccessDenied`] (with the resource refused), otherwise `Failed`
    /// with the error's message (which never holds key material).
    fn event<T>(
        &self,
        caller: &Caller,
        action: &str,
        key_id: Option<&str>,
        key_version: Option<u32>,
        context: Option<&EncryptionContext>,
        result: &Result<T>,
    ) -> AuditEvent {
        let (outcome, refused) = match result {
            Ok(_) => (AuditOutcome::Allowed, None),
            Err(Error::AccessDenied { resource, .. }) => {
                (AuditOutcome::Denied, Some(resource.clone()))
            }
            Err(error @ Error::OutcomeUnknown { .. }) => {
                (AuditOutcome::Unknown(error.to_string()), None)
            }
            Err(error) => (AuditOutcome::Failed(error.to_string()), None),
        };
        let resource = refused.or_else(|| match key_id {
            Some(id) if !id.starts_with("alias/") => Some(self.resource_name(id)),
            Some(_) => None,
            None => Some(self.account_resource()),
        });
        AuditEvent {
            time: self.inner.options.clock.now(),
            caller: caller.name().to_owned(),
            source: self.backend_name().to_owned(),
            action: action.to_owned(),
            resource,
            key_id: key_id.map(str::to_owned),
            key_version,
            bucket: context.map(|c| c.identity().bucket().to_owned()),
            object_key: context.and_then(|c| c.object_key().map(str::to_owned)),
            context: context.map(ToString::to_string),
            detail: None,
            outcome,
        }
    }

    fn write(&self, event: AuditEvent) -> Result<()> {
        self.inner
            .options
            .audit
            .record(&event)
            .map_err(|error| Error::AuditFailed {
                action: event.action,
                reason: error.0,
            })
    }
}

fn check_rotation_period(period: Duration) -> Result<()> {
    if (MIN_ROTATION..=MAX_ROTATION).contains(&period) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "the rotation period must be 7 to 365 days".into(),
        ))
    }
}
