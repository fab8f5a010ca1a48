//! The error type every engine, session and face of coffer shares.

/// What went wrong. Each variant says what the caller can do; none carries
/// plaintext or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bucket does not exist; create it first.
    #[error("no such bucket: {0}")]
    NoSuchBucket(String),
    /// A bucket with this name exists already.
    #[error("bucket already exists: {0}")]
    BucketAlreadyExists(String),
    /// The bucket still holds objects; delete them first.
    #[error("bucket {0} is not empty")]
    BucketNotEmpty(String),
    /// The object does not exist.
    #[error("no such key: {bucket}/{key}")]
    NoSuchKey {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
    },
    /// A conditional put found an object where it asked for none
    /// (`PutCondition::IfNotExists`). Nothing was written.
    #[error("object {bucket}/{key} already exists")]
    AlreadyExists {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
    },
    /// A condition did not hold: a put's `IfMatch` (another ETag, or no
    /// object), a read's If-Match or If-Unmodified-Since, or a multipart
    /// upload's parts. Nothing was written or read; read the object again and
    /// retry.
    #[error("precondition failed for {bucket}/{key}: {condition}")]
    PreconditionFailed {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// What failed, e.g. `If-Match`.
        condition: String,
    },
    /// A read's If-None-Match or If-Modified-Since held: the caller's copy is
    /// current. Nothing was read.
    #[error("object {bucket}/{key} not modified")]
    NotModified {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
    },
    /// No multipart upload has this id (or it is for another object): it was
    /// completed, aborted, swept after its expiry, or never created.
    #[error("no such multipart upload: {0}")]
    NoSuchUpload(String),
    /// No bulk key job has this id.
    #[error("no such job: {0}")]
    NoSuchJob(String),
    /// Completing an upload named a part that was not uploaded, or with
    /// another ETag than its upload returned. Nothing changed.
    #[error("upload {upload_id}: part {part_number} was not uploaded with that ETag")]
    InvalidPart {
        /// The upload.
        upload_id: String,
        /// The part named.
        part_number: u32,
    },
    /// Completing an upload named parts out of ascending order (or one twice).
    /// Nothing changed.
    #[error("upload {upload_id}: parts must be listed in ascending order, each once")]
    InvalidPartOrder {
        /// The upload.
        upload_id: String,
    },
    /// The bucket has no default encryption rule.
    #[error("bucket {0} has no encryption rule")]
    NoSuchEncryptionRule(String),
    /// A name, key, rule, range or option is invalid; the message says which.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The requested range is outside the object.
    #[error("range {start}..{end} is outside the object of {size} bytes")]
    InvalidRange {
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
        /// The object's size.
        size: u64,
    },
    /// The session's principal may not do this (a bucket action, or the KMS
    /// action on the object's CMK). Nothing was read or changed.
    #[error("access denied: {principal} may not {action} on {resource}")]
    AccessDenied {
        /// Who asked.
        principal: String,
        /// The action, e.g. `oss:GetObject` or `kms:Decrypt`.
        action: String,
        /// The resource name.
        resource: String,
    },
    /// The CMK is disabled; enable it to read or write objects under it.
    #[error("KMS key {0} is disabled")]
    KeyDisabled(String),
    /// The CMK is pending deletion; cancel the deletion to use it again.
    #[error("KMS key {0} is pending deletion")]
    KeyPendingDeletion(String),
    /// The CMK does not exist.
    #[error("KMS key not found: {0}")]
    KeyNotFound(String),
    /// The CMK waits for imported key material; import it first.
    #[error("KMS key {0} has no key material yet (pending import)")]
    KeyPendingImport(String),
    /// The KMS backend does not offer this operation (or not on this key).
    #[error("the {backend} KMS does not support {operation}")]
    Unsupported {
        /// The backend: `local`, `transit`, `aws-kms`.
        backend: String,
        /// What was asked.
        operation: String,
    },
    /// The storage engine underneath cannot do this (an object store
    /// without conditional replacement asked for an `If-Match` write, say).
    /// Nothing was changed.
    #[error("the {engine} storage does not offer {operation}")]
    NotImplemented {
        /// What was asked.
        operation: String,
        /// The storage: an object store's name.
        engine: String,
    },
    /// The KMS did not answer (after its retries), or calls fail fast for a
    /// moment after it did not. Nothing was stored or changed; retry later.
    /// Reads of objects whose bucket keys are kept in memory go on working.
    #[error("KMS unavailable: {0}")]
    KmsUnavailable(String),
    /// A key administration call reached the KMS, which never said how it
    /// ended: it may have taken effect. It was not repeated; look at the key
    /// (describe it, list the keys) before trying again.
    #[error("KMS outcome unknown: {0}")]
    KmsOutcomeUnknown(String),
    /// The KMS service refused the store's own credentials (its token or
    /// access key, or the service's policy for them). Nothing was stored.
    #[error("the KMS refused the store's credentials: {0}")]
    KmsDenied(String),
    /// The operation is refused on the store's default managed CMK.
    #[error("KMS key {0} is managed by the store and cannot be disabled or deleted")]
    ManagedKey(String),
    /// The CMK (or master key version) was destroyed: objects under it are
    /// permanently unreadable.
    #[error("key {0} was destroyed; objects under it are permanently unreadable")]
    KeyDestroyed(String),
    /// Stored data failed authentication: tampered with, truncated or misplaced.
    /// Nothing was returned.
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// The store was opened with another KMS backend (or another Transit
    /// mount, another AWS region) than the one its CMKs live in. Nothing
    /// changed: open it with the backend it names.
    #[error(
        "this store's CMKs are in {store}, but it was opened with {opened}; open it with the backend it was created with"
    )]
    KmsMismatch {
        /// Where the store's CMKs live.
        store: String,
        /// What the store was opened with.
        opened: String,
    },
    /// The root key is not the one this store was created with. Nothing changed.
    #[error("wrong root key for this store")]
    WrongRootKey,
    /// There is no store in this directory; create one with `Store::create`
    /// (or `StoreOptions::create_if_missing`).
    #[error("no store in {0:?}; create one with Store::create")]
    StoreNotFound(std::path::PathBuf),
    /// The store was closed; open it again.
    #[error("the store is closed")]
    Closed,
    /// The object is larger than this operation can hold in memory (or than
    /// the format allows); read it with `open_object` instead.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The operating system's random number generator failed; nothing was
    /// written.
    #[error("the system random number generator failed")]
    Randomness,
    /// A worker thread of the cipher stopped unexpectedly (it panicked); the
    /// operation did not complete. Not a sign of tampering.
    #[error("a cipher worker thread stopped unexpectedly")]
    WorkerLost,
    /// Another key-management error (see the source).
    #[error("key management: {0}")]
    Key(#[source] coffer_keyring::Error),
    /// The storage engine failed (RocksDB, an object store); the operation
    /// did not take effect.
    #[error("storage: {0}")]
    Storage(StorageError),
    /// Reading the caller's stream failed; nothing was stored.
    #[error("I/O: {0}")]
    Io(std::io::Error),
    /// The audit log could not record the operation, so it failed: no key
    /// was used and nothing was handed out. A key administration call may
    /// have taken effect at the KMS before its record failed.
    #[error("audit record of {action} failed, so the operation failed: {reason}")]
    AuditFailed {
        /// The action whose record failed.
        action: String,
        /// Why.
        reason: String,
    },
    /// A stored record could not be decoded (corruption or a newer format).
    #[error("corrupt record: {0}")]
    CorruptRecord(String),
}

/// What a storage engine reported, kept whole as the source of
/// [`Error::Storage`]. Cheap to clone.
#[derive(Clone)]
pub struct StorageError(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl StorageError {
    /// Wraps an engine's own error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(error))
    }

    /// The engine's error, to downcast to its type.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl std::fmt::Debug for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<coffer_keyring::Error> for Error {
    fn from(error: coffer_keyring::Error) -> Self {
        use coffer_keyring::Error as K;
        match error {
            K::AccessDenied {
                caller,
                action,
                resource,
            } => Error::AccessDenied {
                principal: caller,
                action,
                resource,
            },
            K::KeyDisabled(id) => Error::KeyDisabled(id),
            K::KeyPendingDeletion { key_id, .. } => Error::KeyPendingDeletion(key_id),
            K::KeyNotFound(id) => Error::KeyNotFound(id),
            K::KeyDestroyed(id) => Error::KeyDestroyed(id),
            K::KeyPendingImport(id) => Error::KeyPendingImport(id),
            K::Unsupported { backend, operation } => Error::Unsupported {
                backend: backend.to_owned(),
                operation,
            },
            error @ K::KmsUnavailable { .. } => Error::KmsUnavailable(error.to_string()),
            error @ K::BackendDenied { .. } => Error::KmsDenied(error.to_string()),
            error @ K::OutcomeUnknown { .. } => Error::KmsOutcomeUnknown(error.to_string()),
            K::ManagedKey(id) => Error::ManagedKey(id),
            K::Randomness => Error::Randomness,
            K::UnknownKeyVersion { key_id, version } => {
                Error::KeyDestroyed(format!("{key_id} version {version}"))
            }
            K::WrongRootKey => Error::WrongRootKey,
            K::Integrity(what) => Error::Integrity(what.to_owned()),
            K::InvalidArgument(what) => Error::InvalidArgument(what),
            K::AuditFailed { action, reason } => Error::AuditFailed { action, reason },
            other => Error::Key(other),
        }
    }
}

impl From<coffer_cipher::Error> for Error {
    fn from(error: coffer_cipher::Error) -> Self {
        match error {
            // A source's error may be the store's own (a damaged segment).
            coffer_cipher::Error::Io(io) => Error::from(io),
            coffer_cipher::Error::InvalidRange { start, end, len } => Error::InvalidRange {
                start,
                end,
                size: len,
            },
            coffer_cipher::Error::Randomness => Error::Randomness,
            coffer_cipher::Error::WorkerLost => Error::WorkerLost,
            coffer_cipher::Error::TooLarge => {
                Error::TooLarge("beyond the payload format's limit".into())
            }
            other => Error::Integrity(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Error {
    /// The store's own error where `error` carries one (a reader's source
    /// failing on a damaged segment), else [`Error::Io`].
    fn from(error: std::io::Error) -> Self {
        if !error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::Io(error);
        }
        let kind = error.kind();
        match error.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(store_error)) => *store_error,
            Some(Err(other)) => Error::Io(std::io::Error::new(kind, other)),
            None => Error::Io(kind.into()),
        }
    }
}

impl Error {
    /// Names the object in an integrity error that does not yet.
    pub fn about_object(self, bucket: &str, key: &str) -> Self {
        match self {
            Error::Integrity(what) if !what.contains(&format!("{bucket}/{key}")) => {
                Error::Integrity(format!("object {bucket}/{key}: {what}"))
            }
            other => other,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Io(io) => io,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}
