//! The remote engine over S3, as moto's S3 API serves it (a `moto_server`
//! started on loopback, stopped by its PID), through `object_store`'s own
//! `AmazonS3` client with conditional puts: the conformance suite, the
//! `object_store::integration` functions, and CMKs in the same server's
//! KMS (the AWS KMS backend), shared by two handles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use coffer_kms_aws::dev_server::MotoServer;
use coffer_object_store::CofferObjectStore;
use coffer_remote::RemoteStore;
use coffer_sse::{EncryptionRule, ObjectApi, PutOptions, Session};
use object_store::ObjectStore;
use object_store::integration::*;

use crate::common;

/// One moto test at a time: moto checks `If-Match` without a lock, and
/// under the load of several servers on two cores a concurrent
/// read-modify-write (`put_opts`) once lost an update.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start() -> Option<(std::sync::MutexGuard<'static, ()>, MotoServer)> {
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    MotoServer::start().map(|server| (guard, server))
}

/// A fresh S3 bucket on `server`, as `object_store` reaches it.
pub(crate) fn bucket(server: &MotoServer) -> Arc<dyn ObjectStore> {
    bucket_named(server).1
}

/// A fresh S3 bucket on `server`: its name, and the bucket as `object_store`
/// reaches it.
pub(crate) fn bucket_named(server: &MotoServer) -> (String, Arc<dyn ObjectStore>) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "coffer-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // moto checks no signatures: a plain PUT creates the bucket.
    ureq::put(&format!("{}/{name}", server.endpoint()))
        .send_empty()
        .expect("the bucket is created");
    let s3 = common::s3(server.endpoint(), &name);
    (name, s3)
}

#[test]
fn the_conformance_suite_passes_over_s3() {
    let Some((_one, server)) = start() else {
        return;
    };
    common::conformance_runs(|| bucket(&server), "moto");
}

#[test]
fn direct_uploads_pass_over_s3() {
    let Some((_one, server)) = start() else {
        return;
    };
    let client = || {
        let (name, _) = bucket_named(&server);
        common::s3_client(server.endpoint(), &name)
    };
    crate::direct_uploads::over_s3(client, "moto");
}

#[test]
fn rotations_complete_by_rewrap_over_s3() {
    let Some((_one, server)) = start() else {
        return;
    };
    crate::maintenance::rotations_complete_by_rewrap(bucket(&server));
}

#[test]
fn boto3_and_the_aws_cli_see_no_plaintext_and_their_tampering_is_caught() {
    let Some((_one, server)) = start() else {
        return;
    };
    let (name, backend) = bucket_named(&server);
    crate::outside::seen_from_outside(server.endpoint(), &name, backend);
}

#[test]
fn cmks_in_an_external_kms_serve_two_handles() {
    let Some((_one, server)) = start() else {
        return;
    };
    let backend = bucket(&server);
    let kms = Arc::new(server.backend());
    let options =
        || common::options().with_kms(Arc::clone(&kms) as Arc<dyn coffer_keyring::KmsBackend>);
    let first = RemoteStore::create(Arc::clone(&backend), options()).expect("a store");
    let second = RemoteStore::open(Arc::clone(&backend), options()).expect("opened again");
    let cmk = first
        .kms()
        .create_key(Default::default(), &coffer_keyring::Caller::Trusted)
        .expect("a CMK at the KMS")
        .key_id;
    let (a, b) = (Session::trusted(first), Session::trusted(second));
    a.create_bucket("shared").expect("bucket");
    a.put_bucket_encryption(
        "shared",
        EncryptionRule::kms(Some(&cmk)).with_bucket_key(true),
    )
    .expect("rule");
    for i in 0..20 {
        let key = format!("o{i}");
        let writer = if i % 2 == 0 { &a } else { &b };
        let put = writer
            .put_object(
                "shared",
                &key,
                Bytes::from(vec![i as u8; 1000]),
                PutOptions::default(),
            )
            .expect("put");
        assert_eq!(put.protection.kms_key_id.as_deref(), Some(cmk.as_str()));
    }
    for i in 0..20 {
        let reader = if i % 2 == 0 { &b } else { &a };
        let got = reader.get_object("shared", &format!("o{i}")).expect("get");
        assert_eq!(got.body, vec![i as u8; 1000]);
        assert!(got.meta.protection.bucket_key);
    }
}

macro_rules! integration {
    ($($function:ident),* $(,)?) => {
        /// Every `object_store::integration` function the embedded adapter
        /// runs, through `CofferObjectStore` over the remote engine over S3.
        #[test]
        fn object_store_integration_over_s3() {
            let Some((_one, server)) = start() else {
                return;
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            $(
                let (store, _, _) = common::store(bucket(&server));
                let caller = coffer_keyring::Caller::Trusted;
                store.create_bucket_as("objects", &caller).expect("bucket");
                store
                    .put_bucket_encryption_as("objects", EncryptionRule::managed(), &caller)
                    .expect("rule");
                let objects = CofferObjectStore::new(store, "objects");
                runtime.block_on(integration!(@call $function, &objects));
                drop(objects);
            )*
        }
    };
    (@call get_nonexistent_object, $s:expr) => {
        async {
            let error = get_nonexistent_object($s, None).await.unwrap_err();
            assert!(matches!(error, object_store::Error::NotFound { .. }), "{error}");
        }
    };
    (@call put_opts, $s:expr) => { put_opts($s, true) };
    (@call multipart_race_condition, $s:expr) => { multipart_race_condition($s, true) };
    (@call multipart, $s:expr) => { multipart($s, $s) };
    (@call multipart_with_opts, $s:expr) => { multipart_with_opts($s, $s) };
    (@call multipart_put_part_out_of_order, $s:expr) => { multipart_put_part_out_of_order($s, $s) };
    (@call list_paginated, $s:expr) => { list_paginated($s, $s) };
    (@call $function:ident, $s:expr) => { $function($s) };
}

integration!(
    put_get_delete_list,
    put_get_attributes,
    get_opts,
    put_opts,
    stream_get,
    list_uses_directories_correctly,
    list_with_delimiter,
    get_nonexistent_object,
    rename_and_copy,
    copy_if_not_exists,
    copy_rename_nonexistent_object,
    multipart,
    multipart_with_opts,
    multipart_put_part_out_of_order,
    multipart_race_condition,
    multipart_out_of_order,
    list_paginated,
    list_with_offset_exclusivity,
);
