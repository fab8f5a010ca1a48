//! Every function of `object_store::integration` that `coffer-object-store`
//! runs over the embedded store, here over the remote engine (one bucket
//! of it as an `ObjectStore`, through `CofferObjectStore`), with the same
//! arguments, on `InMemory` (updates supported: last writer wins) and on
//! `LocalFileSystem` (which has no conditional update, so `put_opts` runs
//! without updates, as object_store runs it on `LocalFileSystem` itself).

use std::sync::Arc;

use coffer_object_store::CofferObjectStore;
use coffer_remote::RemoteStore;
use coffer_sse::{EncryptionRule, ObjectApi};
use object_store::ObjectStore;
use object_store::integration::*;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::common;

const BUCKET: &str = "objects";

struct Fixture {
    _dir: Option<tempfile::TempDir>,
    objects: CofferObjectStore<RemoteStore>,
}

fn fixture(local: bool, kms: bool) -> Fixture {
    let (backend, dir): (Arc<dyn ObjectStore>, _) = if local {
        let dir = tempfile::tempdir().expect("a directory");
        let store = LocalFileSystem::new_with_prefix(dir.path()).expect("a local store");
        (Arc::new(store), Some(dir))
    } else {
        (Arc::new(InMemory::new()), None)
    };
    let (store, cmk, _) = common::store(backend);
    let trusted = coffer_keyring::Caller::Trusted;
    store.create_bucket_as(BUCKET, &trusted).expect("bucket");
    let rule = if kms {
        EncryptionRule::kms(Some(&cmk))
    } else {
        EncryptionRule::managed()
    };
    store
        .put_bucket_encryption_as(BUCKET, rule, &trusted)
        .expect("rule");
    Fixture {
        _dir: dir,
        objects: CofferObjectStore::new(store, BUCKET),
    }
}

macro_rules! suite {
    ($name:ident, $local:expr, $kms:expr) => {
        mod $name {
            use super::*;

            fn store() -> Fixture {
                fixture($local, $kms)
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_delete_list() {
                super::put_get_delete_list(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_attributes() {
                super::put_get_attributes(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_opts() {
                super::get_opts(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_opts() {
                super::put_opts(&store().objects, !$local).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stream_get() {
                super::stream_get(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_uses_directories_correctly() {
                super::list_uses_directories_correctly(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_delimiter() {
                super::list_with_delimiter(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_nonexistent_object() {
                let f = store();
                for path in [None, Some(Path::from("a/b"))] {
                    let error = super::get_nonexistent_object(&f.objects, path)
                        .await
                        .unwrap_err();
                    assert!(
                        matches!(error, object_store::Error::NotFound { .. }),
                        "{error}"
                    );
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rename_and_copy() {
                super::rename_and_copy(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_if_not_exists() {
                super::copy_if_not_exists(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_rename_nonexistent_object() {
                super::copy_rename_nonexistent_object(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart() {
                let f = store();
                super::multipart(&f.objects, &f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_with_opts() {
                let f = store();
                super::multipart_with_opts(&f.objects, &f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_put_part_out_of_order() {
                let f = store();
                super::multipart_put_part_out_of_order(&f.objects, &f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_race_condition_last_writer_wins() {
                super::multipart_race_condition(&store().objects, true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_out_of_order() {
                super::multipart_out_of_order(&store().objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_paginated() {
                let f = store();
                super::list_paginated(&f.objects, &f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_offset_exclusivity() {
                super::list_with_offset_exclusivity(&store().objects).await;
            }
        }
    };
}

suite!(in_memory_aes256, false, false);
suite!(in_memory_kms, false, true);
suite!(local_aes256, true, false);
