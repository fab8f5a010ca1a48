//! A gateway over a fresh store, served on a free loopback port by a runtime
//! of its own, stopped (and its requests drained) when dropped.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use coffer_gateway::{AccessKeys, Gateway};
use coffer_keyring::Caller;
use coffer_sse::ObjectApi;
use coffer_store::{RootKey, Store, StoreOptions};
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut, S3CopyIfNotExists};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The account the guide's policy fixtures name.
pub(crate) const ACCOUNT: &str = "1416614965931234";
pub(crate) const REGION: &str = "cn-hangzhou";
/// The trusted access key every test has.
pub(crate) const TRUSTED_ID: &str = "AKIDTRUSTED";
pub(crate) const TRUSTED_SECRET: &str = "trusted/secret+key";

pub(crate) struct Running {
    pub(crate) dir: TempDir,
    pub(crate) store: Store,
    pub(crate) address: SocketAddr,
    server: Server,
}

/// A gateway served by a thread of its own.
pub(crate) struct Server {
    pub(crate) address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Stops the server: the listener closes and requests in flight finish.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server thread ends");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Running {
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `object_store`'s S3 client for `bucket`, signing as `id`/`secret`.
    pub(crate) fn s3_as(&self, bucket: &str, id: &str, secret: &str) -> Arc<AmazonS3> {
        s3_client(self.address, bucket, id, secret)
    }

    /// [`Running::s3_as`] with the trusted key.
    pub(crate) fn s3(&self, bucket: &str) -> Arc<AmazonS3> {
        self.s3_as(bucket, TRUSTED_ID, TRUSTED_SECRET)
    }

    /// Stops the server: the listener closes and requests in flight finish.
    pub(crate) fn stop(&mut self) {
        self.server.stop();
    }

    /// A new CMK in the store's KMS; its id.
    pub(crate) fn new_cmk(&self) -> String {
        self.store
            .kms()
            .create_key(Default::default(), &Caller::Trusted)
            .expect("cmk")
            .key_id
    }
}

pub(crate) fn store_options() -> StoreOptions {
    StoreOptions::new(RootKey::from_bytes([0x6b; 32]))
        .with_threads(2)
        .with_account(REGION, ACCOUNT)
        .create_if_missing(true)
}

/// A gateway with the trusted key and `more` keys (id, secret, caller).
pub(crate) fn start(more: Vec<(&str, &str, Caller)>) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), store_options()).expect("opens");
    start_over(dir, store, more, u64::MAX)
}

/// A gateway over `store` refusing bodies over `max_object_size`.
pub(crate) fn start_over(
    dir: TempDir,
    store: Store,
    more: Vec<(&str, &str, Caller)>,
    max_object_size: u64,
) -> Running {
    let server = serve_api(store.clone(), more, max_object_size);
    Running {
        dir,
        store,
        address: server.address,
        server,
    }
}

/// A gateway over any engine, with the trusted key and `more`.
pub(crate) fn serve_api<A: ObjectApi + 'static>(
    api: A,
    more: Vec<(&str, &str, Caller)>,
    max_object_size: u64,
) -> Server {
    let mut keys = AccessKeys::new();
    keys.insert(TRUSTED_ID, TRUSTED_SECRET, Caller::Trusted)
        .expect("a key");
    for (id, secret, caller) in more {
        keys.insert(id, secret, caller).expect("a key");
    }
    let gateway = Gateway::with_settings(api, keys, "us-east-1", max_object_size);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let address = std_listener.local_addr().expect("its address");
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("a listener");
            let stopped = async move {
                let _ = stopped.await;
            };
            let service = gateway
                .into_service()
                .with_virtual_hosts(&["oss-cn-hangzhou.aliyuncs.com".to_owned()]);
            coffer_gateway::serve(listener, service, None, stopped)
                .await
                .expect("serves");
        });
    });
    Server {
        address,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// `object_store`'s S3 client for `bucket` at `address`, signing as
/// `id`/`secret`.
pub(crate) fn s3_client(
    address: SocketAddr,
    bucket: &str,
    id: &str,
    secret: &str,
) -> Arc<AmazonS3> {
    let s3 = AmazonS3Builder::new()
        .with_endpoint(format!("http://{address}"))
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(bucket)
        .with_access_key_id(id)
        .with_secret_access_key(secret)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
        .build()
        .expect("an S3 client");
    Arc::new(s3)
}
