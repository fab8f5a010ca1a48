//! [`AwsKms`]: the AWS KMS API as a coffer KMS backend.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType, OriginType};
use coffer_keyring::{
    AdminOperation, CreateKeyOptions, DataKey, DefaultKey, EncryptionContext, KeyAdministration,
    KeyMetadata, KmsBackend, Provider, WrapAlgorithm, WrappedKey, unsupported,
};
use parking_lot::Mutex;
use zeroize::Zeroizing;

use crate::errors::{is_unsupported, to_kms_error};
use crate::metadata::{key_id_of, key_metadata};
use crate::requests::CountRequests;
use crate::{AwsKmsConfig, ConfigError};

/// The backend's name in errors and audit events.
pub const BACKEND: &str = "aws-kms";

/// How long a key's material version, as counted from its rotations, is
/// trusted before it is counted again.
const VERSION_TTL: Duration = Duration::from_secs(300);

/// AWS KMS's limits on the deletion waiting period, in days.
const AWS_PENDING_DAYS: std::ops::RangeInclusive<u32> = 7..=30;

/// What the AWS KMS API's key administration offers coffer.
const OFFERED: [AdminOperation; 11] = [
    AdminOperation::CreateKey,
    AdminOperation::ListKeys,
    AdminOperation::CreateAlias,
    AdminOperation::DeleteAlias,
    AdminOperation::ListAliases,
    AdminOperation::EnableKey,
    AdminOperation::DisableKey,
    AdminOperation::ScheduleKeyDeletion,
    AdminOperation::CancelKeyDeletion,
    AdminOperation::RotateKey,
    AdminOperation::SetRotationPeriod,
];

/// A service that speaks the AWS KMS API as a coffer KMS backend: give it to
/// `StoreOptions::with_kms`, and the store's CMKs are KMS keys (key ids as AWS
/// gives them, aliases `alias/...`).
///
/// - `GenerateDataKey` (AES_256) with coffer's encryption context as the
///   request's `EncryptionContext` (`coffer:store`, `coffer:bucket`,
///   `coffer:object`, ids in hex): the ciphertext blob decrypts only for the
///   same object. `Decrypt` names the key id, so a blob under another key is
///   refused.
/// - The key version coffer reports is 1 + the key's completed rotations
///   (`ListKeyRotations`), counted again at most every 5 minutes: AWS does not
///   number material versions itself, and decrypts any of them.
/// - Calls run on a private tokio runtime (one worker thread), so the store's
///   API stays blocking and works from any thread, a tokio worker's included.
///   Each call has the SDK's connect and per-attempt timeouts and a deadline
///   over all of them. Reads and data-key calls are retried with jittered
///   backoff; key administration calls are sent once, and one the service
///   never answered is [`coffer_keyring::Error::OutcomeUnknown`] (it may
///   have taken effect), not a failure.
/// - Import of key material (BYOK) and immediate deletion are not offered
///   (import with AWS's own tooling, then use the key); deletion waiting
///   periods are AWS's 7 to 30 days.
pub struct AwsKms {
    client: aws_sdk_kms::Client,
    region: String,
    runtime: tokio::runtime::Runtime,
    deadline: Duration,
    requests: Arc<AtomicU64>,
    default_key: Option<String>,
    default_key_id: OnceLock<String>,
    /// Key id → (current version, when it was counted).
    versions: Mutex<HashMap<String, (u32, Instant)>>,
}

impl AwsKms {
    /// A backend for `config`. Starts the private runtime; sends nothing.
    pub fn new(config: AwsKmsConfig) -> Result<Self, ConfigError> {
        if let Some(endpoint) = &config.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ConfigError::InvalidEndpoint(endpoint.clone()));
        }
        let requests = Arc::new(AtomicU64::new(0));
        let credentials = Credentials::new(
            config.credentials.access_key_id.clone(),
            config.credentials.secret_access_key.as_str(),
            config
                .credentials
                .session_token
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            None,
            "coffer",
        );
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .operation_attempt_timeout(config.attempt_timeout)
            .build();
        let mut builder = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts.max(1)))
            .interceptor(CountRequests(Arc::clone(&requests)));
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("coffer-kms-aws")
            .enable_all()
            .build()
            .map_err(ConfigError::Runtime)?;
        Ok(Self {
            client: aws_sdk_kms::Client::from_conf(builder.build()),
            region: config.region.clone(),
            runtime,
            deadline: config.call_deadline(),
            requests,
            default_key: config.default_key,
            default_key_id: OnceLock::new(),
            versions: Mutex::new(HashMap::new()),
        })
    }

    /// Runs one SDK call on the private runtime and waits for it (at most the
    /// deadline); errors as the KMS layer's, about `key`. For calls a repeat
    /// cannot harm (reads, data keys), which the SDK retries.
    fn run<T, E, F>(&self, key: &str, call: F) -> coffer_keyring::Result<T>
    where
        F: Future<Output = Result<T, SdkError<E>>> + Send + 'static,
        T: Send + 'static,
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match self.wait(call) {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => Err(to_kms_error(error, key)),
            None => Err(coffer_keyring::Error::KmsUnavailable {
                backend: BACKEND,
                reason: format!("no answer within {:?}", self.deadline),
            }),
        }
    }

    /// Runs one key administration call, `operation`, sent once (its request
    /// built with [`once`]): a repeat of a create, a rotation or a scheduled
    /// deletion whose answer was lost would make a second key, rotate twice,
    /// or report a success as a failure. When the service answers, its answer
    /// is the result; when it does not (no answer within the deadline, the
    /// connection failing after the request left, an unreadable response),
    /// [`coffer_keyring::Error::OutcomeUnknown`]: the call may have taken
    /// effect.
    fn run_once<T, E, F>(&self, operation: &str, key: &str, call: F) -> coffer_keyring::Result<T>
    where
        F: Future<Output = Result<T, SdkError<E>>> + Send + 'static,
        T: Send + 'static,
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let unknown = |reason: String| coffer_keyring::Error::OutcomeUnknown {
            backend: BACKEND,
            operation: operation.to_owned(),
            reason,
        };
        match self.wait(call) {
            Some(Ok(value)) => Ok(value),
            // The service answered, or the request never left.
            Some(Err(error @ (SdkError::ServiceError(_) | SdkError::ConstructionFailure(_)))) => {
                Err(to_kms_error(error, key))
            }
            Some(Err(error)) => Err(unknown(
                aws_sdk_kms::error::DisplayErrorContext(&error).to_string(),
            )),
            None => Err(unknown(format!("no answer within {:?}", self.deadline))),
        }
    }

    /// The call's outcome, or `None` if it gave none within the deadline (it
    /// goes on on the runtime).
    fn wait<T, E, F>(&self, call: F) -> Option<Result<T, SdkError<E>>>
    where
        F: Future<Output = Result<T, SdkError<E>>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = sender.send(call.await);
        });
        receiver.recv_timeout(self.deadline).ok()
    }

    /// The error for a key in a state that refuses use, as its state says.
    fn state_error(&self, key_id: &str, error: coffer_keyring::Error) -> coffer_keyring::Error {
        if !matches!(error, coffer_keyring::Error::KeyPendingDeletion { .. }) {
            return error;
        }
        match self.describe_key(key_id) {
            Ok(metadata) => match metadata.state {
                coffer_keyring::KeyState::PendingDeletion { delete_at } => {
                    coffer_keyring::Error::KeyPendingDeletion {
                        key_id: metadata.key_id,
                        delete_at,
                    }
                }
                _ => error,
            },
            Err(_) => error,
        }
    }

    /// The key's material version: 1 + its completed rotations.
    fn current_version(&self, key_id: &str) -> coffer_keyring::Result<u32> {
        if let Some((version, counted)) = self.versions.lock().get(key_id)
            && counted.elapsed() < VERSION_TTL
        {
            return Ok(*version);
        }
        let (version, _) = self.count_rotations(key_id)?;
        Ok(version)
    }

    /// 1 + the key's rotations, and when it was last rotated; remembered.
    fn count_rotations(&self, key_id: &str) -> coffer_keyring::Result<(u32, Option<SystemTime>)> {
        let mut rotations = 0u32;
        let mut last = None;
        let mut marker: Option<String> = None;
        loop {
            let request = self
                .client
                .list_key_rotations()
                .key_id(key_id)
                .set_marker(marker.clone());
            let page = match self.run(key_id, request.send()) {
                Ok(page) => page,
                // Keys whose material is imported have no rotations.
                Err(error) if is_unsupported(&error) => break,
                Err(error) => return Err(error),
            };
            for rotation in page.rotations() {
                rotations = rotations.saturating_add(1);
                let date = rotation
                    .rotation_date()
                    .and_then(|d| SystemTime::try_from(*d).ok());
                last = last.max(date);
            }
            match page.next_marker() {
                Some(next) if page.truncated() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        let version = rotations.saturating_add(1);
        self.versions
            .lock()
            .insert(key_id.to_owned(), (version, Instant::now()));
        Ok((version, last))
    }

    fn ciphertext<'a>(&self, wrapped: &'a WrappedKey) -> coffer_keyring::Result<&'a [u8]> {
        if wrapped.provider() != Provider::Kms
            || wrapped.algorithm() != WrapAlgorithm::AwsKmsCiphertext
        {
            return Err(wrapped.not_sealed_by("AWS KMS"));
        }
        Ok(wrapped.body())
    }
}

/// A per-operation configuration that sends a request once: no retry of any
/// kind (the client's standard retry applies to everything else).
fn once() -> aws_sdk_kms::config::Builder {
    aws_sdk_kms::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// coffer's encryption context as an AWS `EncryptionContext`.
fn context_map(context: &EncryptionContext) -> HashMap<String, String> {
    let identity = context.identity();
    HashMap::from([
        ("coffer:store".to_owned(), hex::encode(identity.store_id())),
        ("coffer:bucket".to_owned(), identity.bucket().to_owned()),
        (
            "coffer:object".to_owned(),
            hex::encode(identity.object_id()),
        ),
    ])
}

fn data_key_from(plaintext: Option<Blob>) -> coffer_keyring::Result<DataKey> {
    let bytes = Zeroizing::new(plaintext.map(Blob::into_inner).unwrap_or_default());
    DataKey::try_from_slice(&bytes).map_err(|_| coffer_keyring::Error::Backend {
        backend: BACKEND,
        message: format!("the data key has {} bytes, not 32", bytes.len()),
    })
}

fn record(key_id: &str, version: u32, blob: Option<Blob>) -> coffer_keyring::Result<WrappedKey> {
    let body = blob.map(Blob::into_inner).unwrap_or_default();
    WrappedKey::opaque(
        Provider::Kms,
        WrapAlgorithm::AwsKmsCiphertext,
        key_id,
        version,
        body,
    )
}

impl KmsBackend for AwsKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> coffer_keyring::Result<(DataKey, WrappedKey)> {
        let request = self
            .client
            .generate_data_key()
            .key_id(key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context_map(context)));
        let mut output = self
            .run(key_id, request.send())
            .map_err(|e| self.state_error(key_id, e))?;
        let id = output.key_id().map_or_else(|| key_id.to_owned(), key_id_of);
        let data_key = data_key_from(output.plaintext.take())?;
        let version = self.current_version(&id)?;
        Ok((
            data_key,
            record(&id, version, output.ciphertext_blob.take())?,
        ))
    }

    fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> coffer_keyring::Result<DataKey> {
        let blob = Blob::new(self.ciphertext(wrapped)?);
        let key_id = wrapped.key_id();
        let request = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(blob)
            .set_encryption_context(Some(context_map(context)));
        let mut output = self
            .run(key_id, request.send())
            .map_err(|e| self.state_error(key_id, e))?;
        data_key_from(output.plaintext.take())
    }

    fn rewrap_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> coffer_keyring::Result<Option<WrappedKey>> {
        let key_id = wrapped.key_id();
        let current = self.current_version(key_id)?;
        if wrapped.key_version() >= current {
            return Ok(None);
        }
        let blob = Blob::new(self.ciphertext(wrapped)?);
        let map = context_map(context);
        let request = self
            .client
            .re_encrypt()
            .ciphertext_blob(blob)
            .source_key_id(key_id)
            .set_source_encryption_context(Some(map.clone()))
            .destination_key_id(key_id)
            .set_destination_encryption_context(Some(map));
        let mut output = self
            .run(key_id, request.send())
            .map_err(|e| self.state_error(key_id, e))?;
        record(key_id, current, output.ciphertext_blob.take()).map(Some)
    }

    fn describe_key(&self, key_id: &str) -> coffer_keyring::Result<KeyMetadata> {
        let output = self.run(key_id, self.client.describe_key().key_id(key_id).send())?;
        let Some(metadata) = output.key_metadata() else {
            return Err(coffer_keyring::Error::Backend {
                backend: BACKEND,
                message: "DescribeKey answered no key metadata".into(),
            });
        };
        let id = metadata.key_id().to_owned();
        let imported = metadata.origin() == Some(&OriginType::External);
        let (version, last_rotated) = self.count_rotations(&id)?;
        let rotation = if imported {
            None
        } else {
            self.run(
                &id,
                self.client.get_key_rotation_status().key_id(&id).send(),
            )
            .ok()
        };
        let rotation_period = rotation
            .filter(|status| status.key_rotation_enabled())
            .and_then(|status| status.rotation_period_in_days())
            .and_then(|days| u64::try_from(days).ok())
            .map(|days| Duration::from_secs(days * 24 * 3600));
        Ok(key_metadata(
            metadata,
            version,
            rotation_period,
            last_rotated,
        ))
    }

    /// The region: key ids are the region's.
    fn location(&self) -> Option<String> {
        Some(self.region.clone())
    }

    /// AWS key ids: a UUID, or `mrk-` and 32 hex digits for a multi-Region
    /// key. A key ARN, an alias and an alias ARN, all of which AWS accepts,
    /// are resolved by the layer first.
    fn is_key_id(&self, key_id: &str) -> bool {
        coffer_keyring::is_uuid(key_id)
            || key_id
                .strip_prefix("mrk-")
                .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// An alias or ARN to the key id, with one `DescribeKey`.
    fn resolve_key_id(&self, key_id_or_alias: &str) -> coffer_keyring::Result<String> {
        let output = self.run(
            key_id_or_alias,
            self.client.describe_key().key_id(key_id_or_alias).send(),
        )?;
        output
            .key_metadata()
            .map(|m| m.key_id().to_owned())
            .ok_or_else(|| coffer_keyring::Error::KeyNotFound(key_id_or_alias.to_owned()))
    }

    fn default_key(&self) -> coffer_keyring::Result<DefaultKey> {
        let Some(configured) = &self.default_key else {
            return Err(unsupported(
                BACKEND,
                "a default key (name one with AwsKmsConfig::with_default_key)",
            ));
        };
        if let Some(id) = self.default_key_id.get() {
            return Ok(DefaultKey {
                key_id: id.clone(),
                created: false,
            });
        }
        let id = self.resolve_key_id(configured)?;
        Ok(DefaultKey {
            key_id: self.default_key_id.get_or_init(|| id).clone(),
            created: false,
        })
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl KeyAdministration for AwsKms {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn supports(&self, operation: AdminOperation) -> bool {
        OFFERED.contains(&operation)
    }

    /// A symmetric encryption key (origin `EXTERNAL` for an external one).
    /// AWS chooses the id: a name is [`coffer_keyring::Error::InvalidArgument`]
    /// (give the key an alias instead).
    fn create_key(&self, options: CreateKeyOptions) -> coffer_keyring::Result<KeyMetadata> {
        if options.name.is_some() {
            return Err(coffer_keyring::Error::InvalidArgument(
                "AWS KMS chooses key ids; create an alias to name the key".into(),
            ));
        }
        let request = self
            .client
            .create_key()
            .description(options.description.clone())
            .key_usage(KeyUsageType::EncryptDecrypt)
            .key_spec(KeySpec::SymmetricDefault)
            .origin(if options.external {
                OriginType::External
            } else {
                OriginType::AwsKms
            });
        let output = self.run_once(
            "kms:CreateKey",
            "",
            request.customize().config_override(once()).send(),
        )?;
        let id = output
            .key_metadata()
            .map(|m| m.key_id().to_owned())
            .ok_or_else(|| coffer_keyring::Error::Backend {
                backend: BACKEND,
                message: "CreateKey answered no key metadata".into(),
            })?;
        // The key exists from here on: a failure names it.
        let created = |error: coffer_keyring::Error| coffer_keyring::Error::Backend {
            backend: BACKEND,
            message: format!("key {id} was created, then: {error}"),
        };
        if let Some(period) = options.rotation_period {
            self.set_rotation_period(&id, Some(period))
                .map_err(created)?;
        }
        self.describe_key(&id).map_err(created)
    }

    fn list_keys(&self) -> coffer_keyring::Result<Vec<KeyMetadata>> {
        let mut ids = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let request = self.client.list_keys().set_marker(marker.clone());
            let page = self.run("", request.send())?;
            ids.extend(
                page.keys()
                    .iter()
                    .filter_map(|k| k.key_id().map(str::to_owned)),
            );
            match page.next_marker() {
                Some(next) if page.truncated() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        ids.iter().map(|id| self.describe_key(id)).collect()
    }

    fn create_alias(&self, alias: &str, key_id: &str) -> coffer_keyring::Result<()> {
        let request = self
            .client
            .create_alias()
            .alias_name(alias)
            .target_key_id(key_id);
        self.run_once(
            "kms:CreateAlias",
            key_id,
            request.customize().config_override(once()).send(),
        )
        .map(drop)
    }

    fn delete_alias(&self, alias: &str) -> coffer_keyring::Result<()> {
        let request = self.client.delete_alias().alias_name(alias);
        self.run_once(
            "kms:DeleteAlias",
            alias,
            request.customize().config_override(once()).send(),
        )
        .map(drop)
    }

    fn list_aliases(&self) -> coffer_keyring::Result<Vec<(String, String)>> {
        let mut aliases = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let request = self.client.list_aliases().set_marker(marker.clone());
            let page = self.run("", request.send())?;
            aliases.extend(
                page.aliases().iter().filter_map(|a| {
                    Some((a.alias_name()?.to_owned(), a.target_key_id()?.to_owned()))
                }),
            );
            match page.next_marker() {
                Some(next) if page.truncated() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(aliases)
    }

    fn enable_key(&self, key_id: &str) -> coffer_keyring::Result<()> {
        let request = self.client.enable_key().key_id(key_id);
        self.run_once(
            "kms:EnableKey",
            key_id,
            request.customize().config_override(once()).send(),
        )
        .map(drop)
    }

    fn disable_key(&self, key_id: &str) -> coffer_keyring::Result<()> {
        let request = self.client.disable_key().key_id(key_id);
        self.run_once(
            "kms:DisableKey",
            key_id,
            request.customize().config_override(once()).send(),
        )
        .map(drop)
    }

    /// AWS allows 7 to 30 days; more is [`coffer_keyring::Error::InvalidArgument`].
    fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_days: u32,
    ) -> coffer_keyring::Result<SystemTime> {
        if !AWS_PENDING_DAYS.contains(&pending_days) {
            return Err(coffer_keyring::Error::InvalidArgument(format!(
                "AWS KMS allows a deletion waiting period of 7 to 30 days, not {pending_days}"
            )));
        }
        let request = self
            .client
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(i32::try_from(pending_days).unwrap_or(30));
        let output = self.run_once(
            "kms:ScheduleKeyDeletion",
            key_id,
            request.customize().config_override(once()).send(),
        )?;
        Ok(output
            .deletion_date()
            .and_then(|d| SystemTime::try_from(*d).ok())
            .unwrap_or_else(|| {
                SystemTime::now() + Duration::from_secs(u64::from(pending_days) * 86_400)
            }))
    }

    /// Cancels the deletion; AWS leaves the key Disabled, as every coffer
    /// backend does (enabling it is a call of its own, `kms:EnableKey`).
    fn cancel_key_deletion(&self, key_id: &str) -> coffer_keyring::Result<()> {
        let request = self.client.cancel_key_deletion().key_id(key_id);
        self.run_once(
            "kms:CancelKeyDeletion",
            key_id,
            request.customize().config_override(once()).send(),
        )
        .map(drop)
    }

    /// `RotateKeyOnDemand`; returns the version counted from the key's
    /// rotations afterwards.
    fn rotate_key(&self, key_id: &str) -> coffer_keyring::Result<u32> {
        let request = self.client.rotate_key_on_demand().key_id(key_id);
        self.run_once(
            "kms:RotateKey",
            key_id,
            request.customize().config_override(once()).send(),
        )?;
        // Rotated: a failure to count the new version now is not a failed
        // rotation.
        self.count_rotations(key_id)
            .map(|(version, _)| version)
            .map_err(|error| coffer_keyring::Error::Backend {
                backend: BACKEND,
                message: format!(
                    "key {key_id} was rotated, but its new version could not be counted: {error}"
                ),
            })
    }

    /// `EnableKeyRotation` with the period in days (AWS allows 90 to 2560), or
    /// `DisableKeyRotation`.
    fn set_rotation_period(
        &self,
        key_id: &str,
        period: Option<Duration>,
    ) -> coffer_keyring::Result<()> {
        match period {
            Some(period) => {
                let days = i32::try_from(period.as_secs() / 86_400).unwrap_or(i32::MAX);
                let request = self
                    .client
                    .enable_key_rotation()
                    .key_id(key_id)
                    .rotation_period_in_days(days);
                self.run_once(
                    "kms:UpdateRotationPolicy",
                    key_id,
                    request.customize().config_override(once()).send(),
                )
                .map(drop)
            }
            None => {
                let request = self.client.disable_key_rotation().key_id(key_id);
                self.run_once(
                    "kms:UpdateRotationPolicy",
                    key_id,
                    request.customize().config_override(once()).send(),
                )
                .map(drop)
            }
        }
    }
}
