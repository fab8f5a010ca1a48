//! Options for opening a remote store.

use std::sync::Arc;
use std::time::Duration;

use coffer_keyring::{AuditSink, Clock, KmsBackend, NoAudit, RootKey, RotationPolicy, SystemClock};
use coffer_sse::keys::BucketKeyOptions;
use object_store::multipart::MultipartStore;

/// How to open a [`RemoteStore`](crate::RemoteStore). Built with
/// [`RemoteOptions::new`] and the `with_` methods.
pub struct RemoteOptions {
    pub(crate) root_key: RootKey,
    pub(crate) rotation: RotationPolicy,
    pub(crate) threads: usize,
    pub(crate) kms: Option<Arc<dyn KmsBackend>>,
    pub(crate) region: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) create_if_missing: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) bucket_keys: BucketKeyOptions,
    pub(crate) kms_fail_fast: Duration,
    pub(crate) part_size: usize,
    pub(crate) max_conditional_write: usize,
    pub(crate) bucket_cache_ttl: Duration,
    pub(crate) multipart: Option<Arc<dyn MultipartStore>>,
}

/// Streamed bodies are sealed and uploaded in parts of this many plaintext
/// bytes (above S3's 5 MiB minimum) by default.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;

/// A conditional write (`If-None-Match: *`, `If-Match`, and the rewrites of
/// rewrap and re-encryption, which must not overwrite a concurrent write)
/// goes in one request, held in memory: at most this many stored bytes by
/// default.
pub const DEFAULT_MAX_CONDITIONAL_WRITE: usize = 256 << 20;

impl RemoteOptions {
    /// Opens an existing store with `root_key` (the key every process
    /// sharing the store holds); everything else at its default.
    pub fn new(root_key: RootKey) -> Self {
        Self {
            root_key,
            rotation: RotationPolicy::default(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            kms: None,
            region: None,
            account: None,
            create_if_missing: false,
            clock: Arc::new(SystemClock),
            audit: Arc::new(NoAudit),
            bucket_keys: BucketKeyOptions::default(),
            kms_fail_fast: Duration::from_secs(5),
            part_size: DEFAULT_PART_SIZE,
            max_conditional_write: DEFAULT_MAX_CONDITIONAL_WRITE,
            bucket_cache_ttl: Duration::from_secs(2),
            multipart: None,
        }
    }

    /// Creates the store if the object store holds none.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// When the master key rotates.
    pub fn with_rotation(mut self, policy: RotationPolicy) -> Self {
        self.rotation = policy;
        self
    }

    /// Threads of the payload cipher and of the runtime the backend's calls
    /// run on.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// CMKs live in this KMS (Transit, the AWS KMS API) instead of the
    /// built-in one, whose keys live in the shared keyring object. For
    /// processes on several machines, an external KMS is the one to use.
    pub fn with_kms(mut self, kms: Arc<dyn KmsBackend>) -> Self {
        self.kms = Some(kms);
        self
    }

    /// The region and account in resource names (set at creation).
    pub fn with_account(mut self, region: &str, account: &str) -> Self {
        self.region = Some(region.to_owned());
        self.account = Some(account.to_owned());
        self
    }

    /// The clock of rotations, bucket keys and audit events.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where KMS calls, rotations and denials are recorded.
    pub fn with_audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// Bucket keys' bounds and cache.
    pub fn with_bucket_keys(mut self, options: BucketKeyOptions) -> Self {
        self.bucket_keys = options;
        self
    }

    /// How long KMS calls fail fast after the KMS did not answer.
    pub fn with_kms_fail_fast(mut self, period: Duration) -> Self {
        self.kms_fail_fast = period;
        self
    }

    /// The plaintext bytes of each part of a streamed body (at least 1 MiB;
    /// S3 asks at least 5 MiB of every part but the last).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(crate::layout::MIN_PART_LEN as usize);
        self
    }

    /// The most stored bytes a conditional write may take (it is held in
    /// memory and sent in one request; S3 takes at most 5 GiB in one).
    pub fn with_max_conditional_write(mut self, bytes: usize) -> Self {
        self.max_conditional_write = bytes;
        self
    }

    /// How long a bucket's record (its default rule) is trusted before it
    /// is read again: the longest another process's change to a rule may
    /// go unseen here.
    pub fn with_bucket_cache_ttl(mut self, ttl: Duration) -> Self {
        self.bucket_cache_ttl = ttl;
        self
    }

    /// The multipart uploads of the store being opened (the same store:
    /// `AmazonS3`, `GoogleCloudStorage`, `MicrosoftAzure` and `InMemory` are
    /// `MultipartStore`s too). A multipart upload through the object API then
    /// sends its parts of 5 MiB and more straight into the backend's own
    /// upload, writing each byte once, instead of staging them under
    /// `.coffer/uploads` and copying them at completion. Such an upload
    /// completes with parts 1 to n, each once (`MultipartStore` numbers parts
    /// by position) and without conditions; see `docs/design.md`.
    pub fn with_multipart_store(mut self, multipart: Arc<dyn MultipartStore>) -> Self {
        self.multipart = Some(multipart);
        self
    }
}
