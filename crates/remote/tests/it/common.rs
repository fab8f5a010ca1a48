//! A remote store over a backend, with a CMK and an alias.

use std::sync::Arc;

use coffer_keyring::{Caller, CreateKeyOptions, RootKey};
use coffer_remote::{RemoteOptions, RemoteStore};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut, S3CopyIfNotExists};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

pub(crate) const ACCOUNT: &str = "1416614965931234";

/// The backends every test runs over: one in memory, one in a directory.
pub(crate) fn backends() -> Vec<(
    &'static str,
    Arc<dyn ObjectStore>,
    Option<tempfile::TempDir>,
)> {
    let dir = tempfile::tempdir().expect("a directory");
    let local = LocalFileSystem::new_with_prefix(dir.path()).expect("a local store");
    vec![
        ("in-memory", Arc::new(InMemory::new()), None),
        ("local", Arc::new(local), Some(dir)),
    ]
}

/// The root key tests open their stores with.
pub(crate) fn root_key() -> RootKey {
    RootKey::from_bytes([0x44; 32])
}

pub(crate) fn options() -> RemoteOptions {
    RemoteOptions::new(root_key())
        .with_account("cn-hangzhou", ACCOUNT)
        .with_threads(2)
}

/// A new store over `backend`, a CMK and its alias.
pub(crate) fn store(backend: Arc<dyn ObjectStore>) -> (RemoteStore, String, String) {
    store_with(backend, options())
}

/// [`store`], opened with `options`.
pub(crate) fn store_with(
    backend: Arc<dyn ObjectStore>,
    options: RemoteOptions,
) -> (RemoteStore, String, String) {
    let store = RemoteStore::create(backend, options).expect("a store");
    let kms = store.kms();
    let cmk = kms
        .create_key(CreateKeyOptions::default(), &Caller::Trusted)
        .expect("a CMK")
        .key_id;
    let alias = "alias/conformance".to_owned();
    kms.create_alias(&alias, &cmk, &Caller::Trusted)
        .expect("an alias");
    (store, cmk, alias)
}

/// Bucket `bucket` of the S3 server at `endpoint` (moto, SeaweedFS: neither
/// checks the credentials here) through `object_store`'s `AmazonS3`, with
/// conditional puts by ETag and copy-if-not-exists by multipart upload.
pub(crate) fn s3(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    s3_client(endpoint, bucket)
}

/// [`s3`], as the `AmazonS3` client itself (an `ObjectStore` and a
/// `MultipartStore`).
pub(crate) fn s3_client(endpoint: &str, bucket: &str) -> Arc<AmazonS3> {
    let s3 = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(bucket)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
        .build()
        .expect("an S3 client");
    Arc::new(s3)
}

/// The conformance suite three times over fresh stores in `backend()`:
/// trusted, as a principal allowed everything, and as one with partial
/// rights; objects under `prefix`.
pub(crate) fn conformance_runs(backend: impl Fn() -> Arc<dyn ObjectStore>, prefix: &str) {
    conformance_runs_of(|| store(backend()), prefix);
}

/// [`conformance_runs`] over the stores `stores()` makes.
pub(crate) fn conformance_runs_of(
    stores: impl Fn() -> (RemoteStore, String, String),
    prefix: &str,
) {
    use coffer_sse::Session;
    use coffer_sse::conformance::{self, Harness, PARTIAL_RIGHTS_POLICY};
    let principal = |name: &str, policy: &str| {
        coffer_sse::Principal::new(name, ACCOUNT)
            .with_policy(coffer_policy::PolicyDocument::parse(policy).expect("the policy parses"))
    };
    let everything = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:*","kms:*"],"Resource":"*"}]}"#;
    for run in ["trusted", "full", "partial"] {
        let (store, cmk, cmk_alias) = stores();
        let session = match run {
            "trusted" => Session::trusted(store.clone()),
            "full" => Session::new(store.clone(), principal("admin", everything)),
            _ => Session::new(store.clone(), principal("reader", PARTIAL_RIGHTS_POLICY)),
        };
        let trusted = Session::trusted(store.clone());
        let harness = Harness {
            session: &session,
            trusted: &trusted,
            cmk,
            cmk_alias,
            prefix: format!("{prefix}-{run}"),
        };
        if run == "partial" {
            conformance::partial_rights_are_enforced(&harness);
        } else {
            conformance::run_full_rights(&harness);
        }
    }
}
