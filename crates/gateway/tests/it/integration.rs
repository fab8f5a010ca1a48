//! `object_store`'s own integration suite through the gateway: its
//! `AmazonS3` client, signing with SigV4, against a bucket whose default
//! rule is AES256 (then KMS). The same functions, with the same arguments,
//! as the embedded adapter (`coffer-object-store`) runs.

use coffer_keyring::Caller;
use coffer_store::EncryptionRule;
use object_store::integration::*;
use object_store::path::Path;

use crate::common::{self, Running};

const BUCKET: &str = "objects";

fn gateway(kms: bool) -> Running {
    let running = common::start(Vec::new());
    running.store.create_bucket(BUCKET).expect("bucket");
    let rule = if kms {
        let cmk = running.new_cmk();
        EncryptionRule::kms(Some(&cmk))
    } else {
        EncryptionRule::managed()
    };
    running
        .store
        .put_bucket_encryption(BUCKET, rule)
        .expect("rule");
    running
}

macro_rules! suite {
    ($name:ident, $kms:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_delete_list() {
                let g = gateway($kms);
                super::put_get_delete_list(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_attributes() {
                let g = gateway($kms);
                super::put_get_attributes(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_opts() {
                let g = gateway($kms);
                super::get_opts(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_opts_with_updates() {
                let g = gateway($kms);
                super::put_opts(&g.s3(BUCKET), true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stream_get() {
                let g = gateway($kms);
                super::stream_get(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_uses_directories_correctly() {
                let g = gateway($kms);
                super::list_uses_directories_correctly(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_delimiter() {
                let g = gateway($kms);
                super::list_with_delimiter(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_nonexistent_object() {
                let g = gateway($kms);
                let s3 = g.s3(BUCKET);
                for location in [None, Some(Path::from("a/b"))] {
                    let error = super::get_nonexistent_object(&s3, location)
                        .await
                        .expect_err("not found");
                    assert!(
                        matches!(error, object_store::Error::NotFound { .. }),
                        "{error}"
                    );
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rename_and_copy() {
                let g = gateway($kms);
                super::rename_and_copy(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_if_not_exists() {
                let g = gateway($kms);
                super::copy_if_not_exists(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_rename_nonexistent_object() {
                let g = gateway($kms);
                super::copy_rename_nonexistent_object(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart() {
                let g = gateway($kms);
                let s3 = g.s3(BUCKET);
                super::multipart(&*s3, &*s3).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_with_opts() {
                let g = gateway($kms);
                let s3 = g.s3(BUCKET);
                super::multipart_with_opts(&*s3, &*s3).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_put_part_out_of_order() {
                let g = gateway($kms);
                let s3 = g.s3(BUCKET);
                super::multipart_put_part_out_of_order(&*s3, &*s3).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_race_condition_last_writer_wins() {
                let g = gateway($kms);
                super::multipart_race_condition(&g.s3(BUCKET), true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_out_of_order() {
                let g = gateway($kms);
                super::multipart_out_of_order(&g.s3(BUCKET)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_paginated() {
                let g = gateway($kms);
                let s3 = g.s3(BUCKET);
                super::list_paginated(&*s3, &*s3).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_offset_exclusivity() {
                let g = gateway($kms);
                super::list_with_offset_exclusivity(&g.s3(BUCKET)).await;
            }
        }
    };
}

suite!(aes256, false);
suite!(kms, true);

/// The same gateway over the remote engine (`coffer-remote` over an
/// in-memory object store): the face is the engine's choice.
mod remote {
    use std::sync::Arc;

    use coffer_remote::{RemoteOptions, RemoteStore};
    use coffer_sse::ObjectApi;
    use object_store::memory::InMemory;

    use super::*;

    fn gateway() -> common::Server {
        let options = RemoteOptions::new(coffer_keyring::RootKey::from_bytes([0x21; 32]))
            .with_account(common::REGION, common::ACCOUNT)
            .with_threads(2);
        let store = RemoteStore::create(Arc::new(InMemory::new()), options).expect("a store");
        store
            .create_bucket_as(BUCKET, &Caller::Trusted)
            .expect("bucket");
        store
            .put_bucket_encryption_as(BUCKET, EncryptionRule::kms(None), &Caller::Trusted)
            .expect("rule");
        common::serve_api(store, Vec::new(), u64::MAX)
    }

    fn s3(server: &common::Server) -> Arc<object_store::aws::AmazonS3> {
        common::s3_client(
            server.address,
            BUCKET,
            common::TRUSTED_ID,
            common::TRUSTED_SECRET,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_get_delete_list() {
        let server = gateway();
        super::put_get_delete_list(&s3(&server)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn get_opts() {
        let server = gateway();
        super::get_opts(&s3(&server)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn multipart() {
        let server = gateway();
        let client = s3(&server);
        super::multipart(&*client, &*client).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rename_and_copy() {
        let server = gateway();
        super::rename_and_copy(&s3(&server)).await;
    }
}
