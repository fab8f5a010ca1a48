//! coffer over HTTP: an S3-compatible gateway over any engine of the object
//! API, so that the aws CLI, boto3, `object_store`'s `AmazonS3` and any other
//! S3 client keep their objects encrypted the way coffer encrypts them.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use coffer_gateway::{AccessKeys, Gateway, serve};
//! use coffer_sse::{Caller, Principal};
//!
//! let store = coffer_store::Store::open(
//!     "/var/lib/app/coffer",
//!     coffer_store::StoreOptions::new(coffer_store::RootKey::from_bytes([7; 32])),
//! )?;
//! let mut keys = AccessKeys::new();
//! keys.insert("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", Caller::Trusted)?;
//! let gateway = Gateway::new(store, keys);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
//! serve(listener, gateway.into_service(), None, std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`Gateway`]: the S3 operations ([`s3s::S3`]) over an [`ObjectApi`]
//!   engine. Each request's access key ([`AccessKeys`]) names the caller its
//!   operations run as: trusted, or a principal whose `oss:*` and `kms:*`
//!   policies the engine and its KMS check. Signatures (SigV4, SigV2,
//!   presigned URLs, clock skew) are verified by `s3s` before anything runs.
//! - The OSS face ([`GatewayService`]): requests signed the OSS way (V1
//!   signatures and presigned URLs, as `oss2` and `ali-oss` send them) are
//!   checked here and answered by the same operations, with OSS's headers
//!   (`x-oss-server-side-encryption`, `-key-id`, `x-oss-meta-*`) and its
//!   `ServerSideEncryptionRule` XML.
//! - Server-side encryption as S3 spells it ([`sse`]): the
//!   `x-amz-server-side-encryption*` headers and the bucket's
//!   `ServerSideEncryptionConfiguration`, mapped onto coffer's rules and
//!   reported from the protection each object actually has.
//! - Bodies stream both ways with bounded memory; every blocking
//!   engine call runs on the runtime's blocking pool.
//! - [`serve`]: the HTTP/1.1 and HTTP/2 server, with TLS (rustls) when
//!   given, draining requests in flight when asked to stop.
//! - [`config`]: the gateway's configuration file (listen address, TLS,
//!   access keys and the principals and policies behind them).
//! - Errors: [`errors`] maps coffer's errors onto S3's codes.

mod body;
mod buckets;
pub mod config;
mod credentials;
pub mod errors;
mod listing;
mod multipart;
mod objects;
mod oss;
mod s3_impl;
mod server;
pub mod sse;

use std::sync::Arc;

use coffer_sse::{Caller, ObjectApi};
use s3s::{S3Request, S3Result};

pub use config::{ConfigError, EngineConfig, GatewayConfig, S3EngineConfig};
pub use credentials::{AccessKeys, DuplicateAccessKey};
pub use oss::GatewayService;
pub use server::{DRAIN_TIMEOUT, serve, tls_acceptor};

/// The largest body a single PUT or part may have unless configured
/// otherwise: 5 GiB, as S3's own limit.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 5 << 30;

/// Bodies up to this size are read into memory and put in one call; larger
/// ones stream through the engine's reader with bounded memory.
pub(crate) const IN_MEMORY_BODY: u64 = 1 << 20;

/// The S3 operations over an object API engine (`coffer_store::Store`,
/// `coffer_remote::RemoteStore`, …). Cheap to clone: clones share the engine.
pub struct Gateway<A> {
    inner: Arc<Inner<A>>,
}

struct Inner<A> {
    api: A,
    keys: AccessKeys,
    region: String,
    max_object_size: u64,
}

impl<A> Clone for Gateway<A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<A: ObjectApi + 'static> Gateway<A> {
    /// `api` behind the access keys `keys`, in region `us-east-1`, with
    /// bodies up to [`DEFAULT_MAX_OBJECT_SIZE`].
    pub fn new(api: A, keys: AccessKeys) -> Self {
        Self::with_settings(api, keys, "us-east-1", DEFAULT_MAX_OBJECT_SIZE)
    }

    /// `api` behind `keys`, answering as `region` (what GetBucketLocation
    /// reports) and refusing bodies over `max_object_size` bytes
    /// (`EntityTooLarge`, nothing stored).
    pub fn with_settings(api: A, keys: AccessKeys, region: &str, max_object_size: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                keys,
                region: region.to_owned(),
                max_object_size,
            }),
        }
    }

    /// The service hyper runs: S3 and OSS signatures checked against the
    /// access keys, then the operations. Requests without a signature are
    /// refused.
    pub fn into_service(self) -> GatewayService<A> {
        GatewayService::new(self)
    }

    /// The engine.
    pub fn api(&self) -> &A {
        &self.inner.api
    }

    /// The caller a signed request runs as: the access key whose S3
    /// signature `s3s` checked, or whose OSS signature [`oss`] checked.
    pub(crate) fn caller_of<T>(&self, req: &S3Request<T>) -> S3Result<Caller> {
        let access_key = match (&req.credentials, req.extensions.get::<oss::VerifiedOss>()) {
            (Some(credentials), _) => &credentials.access_key,
            (None, Some(verified)) => &verified.access_key,
            (None, None) => return Err(s3s::s3_error!(AccessDenied, "Signature is required")),
        };
        self.inner.keys.caller(access_key)
    }
}

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> S3Result<T>
where
    F: FnOnce() -> S3Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(s3s::S3Error::internal_error)?
}

/// `time` as listings and headers report it: in whole seconds, as S3 and
/// OSS do (`2026-12-08T00:31:24.000Z`; OSS's SDKs parse no other form).
pub(crate) fn whole_seconds(time: std::time::SystemTime) -> s3s::dto::Timestamp {
    let seconds = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    s3s::dto::Timestamp::from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}
