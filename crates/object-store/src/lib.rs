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
//! - [`CofferObjectStore`]: the adapter, over any implementation of the
//!   object API ([`coffer_sse::ObjectApi`]: the RocksDB engine's
//!   `coffer_store::Store`, …), trusted or through a [`coffer_sse::Session`]
//!   (every call authorized as the session's principal). It implements
//!   `ObjectStore`, `MultipartStore` and `PaginatedListStore`.
//! - Every blocking store call runs on the runtime's blocking pool; gets
//!   stream one stored segment (1 MiB) at a time, decrypted ahead of the
//!   reader by one segment; puts read a `PutPayload` chunk by chunk.
//! - Protection: the bucket's default rule, or per request through
//!   metadata attributes named as OSS's headers ([`SSE_ATTRIBUTE`],
//!   [`SSE_KEY_ID_ATTRIBUTE`], [`SSE_BUCKET_KEY_ATTRIBUTE`]). What was applied
//!   comes back as a [`coffer_sse::Protection`] in the extensions of every
//!   `GetResult` and `PutResult`, and in the attributes when asked for
//!   ([`CofferObjectStore::with_protection_attributes`]).
//! - Errors: [`error`] maps coffer's errors onto `object_store::Error`.

mod attributes;
pub mod error;
mod get;
mod list;
mod multipart;
mod object_store_impl;
mod payload;

use std::sync::Arc;

use coffer_sse::{Caller, ObjectApi, Session};

pub use attributes::{
    SSE_ATTRIBUTE, SSE_BUCKET_KEY_ATTRIBUTE, SSE_KEY_ID_ATTRIBUTE, SSE_KEY_VERSION_ATTRIBUTE,
};

/// The name `object_store` errors carry for this store.
pub const STORE_NAME: &str = "Coffer";

/// One bucket of a coffer engine (any [`ObjectApi`] implementation, such as
/// a `coffer_store::Store`) as an `object_store::ObjectStore`. Cheap to
/// clone: clones share the engine.
pub struct CofferObjectStore<A> {
    inner: Arc<Inner<A>>,
    protection_attributes: bool,
}

struct Inner<A> {
    api: A,
    caller: Caller,
    bucket: String,
}

impl<A> Clone for CofferObjectStore<A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            protection_attributes: self.protection_attributes,
        }
    }
}

impl<A: ObjectApi + 'static> CofferObjectStore<A> {
    /// The bucket `bucket` of `api`, every call trusted. The bucket must
    /// exist (calls fail with `NotFound` otherwise).
    ///
    /// ```
    /// use coffer_object_store::CofferObjectStore;
    /// use coffer_store::{RootKey, Store, StoreOptions};
    /// use object_store::{ObjectStoreExt, path::Path};
    ///
    /// # let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    /// # runtime.block_on(async {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::create(dir.path(), StoreOptions::new(RootKey::generate()?))?;
    /// store.create_bucket("tables")?;
    /// let objects = CofferObjectStore::new(store, "tables");
    /// let path = Path::from("a/b.parquet");
    /// objects.put(&path, vec![1, 2, 3].into()).await?;
    /// let read = objects.get(&path).await?.bytes().await?;
    /// assert_eq!(&read[..], [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).expect("the example runs");
    /// ```
    pub fn new(api: A, bucket: &str) -> Self {
        Self::as_caller(api, Caller::Trusted, bucket)
    }

    /// The bucket `bucket` as `session`'s principal sees it: every call is
    /// authorized as the matching store call is (`oss:PutObject`,
    /// `oss:GetObject`, `oss:ListObjects`, …), a refusal is
    /// `PermissionDenied`.
    pub fn with_session(session: Session<A>, bucket: &str) -> Self {
        let (api, caller) = session.into_parts();
        Self::as_caller(api, caller, bucket)
    }

    fn as_caller(api: A, caller: Caller, bucket: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                caller,
                bucket: bucket.to_owned(),
            }),
            protection_attributes: false,
        }
    }

    /// Also reports each object's protection in the attributes of get and
    /// head, as metadata attributes [`SSE_ATTRIBUTE`],
    /// [`SSE_KEY_ID_ATTRIBUTE`], [`SSE_KEY_VERSION_ATTRIBUTE`] and
    /// [`SSE_BUCKET_KEY_ATTRIBUTE`]. Off by default, because callers (and
    /// `object_store`'s own tests) expect to read back exactly the attributes
    /// they wrote; the extensions carry the protection either way.
    pub fn with_protection_attributes(mut self, report: bool) -> Self {
        self.protection_attributes = report;
        self
    }

    /// The bucket this store reads and writes.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }
}

impl<A> std::fmt::Display for CofferObjectStore<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CofferObjectStore({})", self.inner.bucket)
    }
}

impl<A> std::fmt::Debug for CofferObjectStore<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CofferObjectStore")
            .field("bucket", &self.inner.bucket)
            .field("trusted", &matches!(self.inner.caller, Caller::Trusted))
            .finish_non_exhaustive()
    }
}

/// Runs a blocking store call on the runtime's blocking pool.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> object_store::Result<T> + Send + 'static,
) -> object_store::Result<T> {
    tokio::task::spawn_blocking(call).await?
}
