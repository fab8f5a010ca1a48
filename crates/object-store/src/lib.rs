//! One bucket of an encrypted coffer store as an [`object_store::ObjectStore`],
//! so that DataFusion, Polars, delta-rs, Lance and anything else written
//! against Apache Arrow's object-store trait can keep its data in coffer.
//!
//! ```no_run
//! # async fn example() -> object_store::Result<()> {
//! use coffer_object_store::CofferObjectStore;
//! use object_store::{ObjectStoreExt, path::Path};
//!
//! let store = coffer_store::Store::open(
//!     "/var/lib/app/coffer",
//!     coffer_store::StoreOptions::new(coffer_store::RootKey::from_bytes([7; 32])),
//! )
//! .expect("opens");
//! let objects = CofferObjectStore::new(store, "tables");
//! objects.put(&Path::from("a/b.parquet"), vec![1, 2, 3].into()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`CofferObjectStore`]: the adapter, over a [`coffer_store::Store`]
//!   (trusted) or a [`coffer_store::Session`] (every call authorized as the
//!   session's principal). It implements `ObjectStore`, `MultipartStore` and
//!   `PaginatedListStore`.
//! - Every blocking store call runs on the runtime's blocking pool; gets
//!   stream one stored segment (1 MiB) at a time, decrypted ahead of the
//!   reader by one segment; puts read a `PutPayload` chunk by chunk.
//! - Protection: the bucket's default rule, or per request through
//!   metadata attributes named as OSS's headers ([`SSE_ATTRIBUTE`],
//!   [`SSE_KEY_ID_ATTRIBUTE`], [`SSE_BUCKET_KEY_ATTRIBUTE`]). What was applied
//!   comes back as a [`coffer_store::Protection`] in the extensions of every
//!   `GetResult` and `PutResult`, and in the attributes when asked for
//!   ([`CofferObjectStore::with_protection_attributes`]).
//! - Errors: [`error`] maps coffer's errors onto `object_store::Error`.

mod attributes;
mod backend;
pub mod error;
mod get;
mod list;
mod multipart;
mod object_store_impl;
mod payload;

use std::sync::Arc;

use backend::Backend;

pub use attributes::{
    SSE_ATTRIBUTE, SSE_BUCKET_KEY_ATTRIBUTE, SSE_KEY_ID_ATTRIBUTE, SSE_KEY_VERSION_ATTRIBUTE,
};

/// The name `object_store` errors carry for this store.
pub const STORE_NAME: &str = "Coffer";

/// One bucket of a coffer store as an `object_store::ObjectStore`. Cheap to
/// clone: clones share the store.
#[derive(Clone)]
pub struct CofferObjectStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    bucket: String,
    protection_attributes: bool,
}

impl CofferObjectStore {
    /// The bucket `bucket` of `store`, every call trusted. The bucket must
    /// exist (calls fail with `NotFound` otherwise).
    pub fn new(store: coffer_store::Store, bucket: &str) -> Self {
        Self::with_backend(Backend::Store(store), bucket)
    }

    /// The bucket `bucket` as `session`'s principal sees it: every call is
    /// authorized as the matching store call is (`oss:PutObject`,
    /// `oss:GetObject`, `oss:ListObjects`, …), a refusal is
    /// `PermissionDenied`.
    pub fn with_session(session: coffer_store::Session, bucket: &str) -> Self {
        Self::with_backend(Backend::Session(session), bucket)
    }

    fn with_backend(backend: Backend, bucket: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                bucket: bucket.to_owned(),
                protection_attributes: false,
            }),
        }
    }

    /// Also reports each object's protection in the attributes of get and
    /// head, as metadata attributes [`SSE_ATTRIBUTE`],
    /// [`SSE_KEY_ID_ATTRIBUTE`], [`SSE_KEY_VERSION_ATTRIBUTE`] and
    /// [`SSE_BUCKET_KEY_ATTRIBUTE`]. Off by default, because callers (and
    /// `object_store`'s own tests) expect to read back exactly the attributes
    /// they wrote; the extensions carry the protection either way.
    pub fn with_protection_attributes(self, report: bool) -> Self {
        let inner = Inner {
            backend: self.inner.backend.clone(),
            bucket: self.inner.bucket.clone(),
            protection_attributes: report,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The bucket this store reads and writes.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }
}

impl std::fmt::Display for CofferObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CofferObjectStore({})", self.inner.bucket)
    }
}

impl std::fmt::Debug for CofferObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CofferObjectStore")
            .field("bucket", &self.inner.bucket)
            .field(
                "session",
                &matches!(self.inner.backend, Backend::Session(_)),
            )
            .finish_non_exhaustive()
    }
}

/// Runs a blocking store call on the runtime's blocking pool.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> object_store::Result<T> + Send + 'static,
) -> object_store::Result<T> {
    tokio::task::spawn_blocking(call).await?
}
