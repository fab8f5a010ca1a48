//! Every function of `object_store::integration` (the trait's own public test
//! suite, kept by the object_store maintainers) against a fresh store, with
//! the most demanding arguments: updates supported, last writer wins. Once
//! with the bucket's default rule `AES256`, once with `KMS`.

use crate::common;

use object_store::integration::*;
use object_store::path::Path;

use common::{Default, fixture};

macro_rules! suite {
    ($default:ident) => {
        #[allow(non_snake_case)]
        mod $default {
            use super::*;

            fn store() -> common::Fixture {
                fixture(Default::$default)
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_delete_list() {
                let f = store();
                super::put_get_delete_list(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_get_attributes() {
                let f = store();
                super::put_get_attributes(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_opts() {
                let f = store();
                super::get_opts(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn put_opts_with_updates() {
                let f = store();
                super::put_opts(&f.objects, true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stream_get() {
                let f = store();
                super::stream_get(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_uses_directories_correctly() {
                let f = store();
                super::list_uses_directories_correctly(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_delimiter() {
                let f = store();
                super::list_with_delimiter(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn get_nonexistent_object() {
                let f = store();
                let error = super::get_nonexistent_object(&f.objects, None)
                    .await
                    .unwrap_err();
                assert!(
                    matches!(error, object_store::Error::NotFound { .. }),
                    "{error}"
                );
                let error = super::get_nonexistent_object(&f.objects, Some(Path::from("a/b")))
                    .await
                    .unwrap_err();
                assert!(
                    matches!(error, object_store::Error::NotFound { .. }),
                    "{error}"
                );
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rename_and_copy() {
                let f = store();
                super::rename_and_copy(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_if_not_exists() {
                let f = store();
                super::copy_if_not_exists(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn copy_rename_nonexistent_object() {
                let f = store();
                super::copy_rename_nonexistent_object(&f.objects).await;
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
                let f = store();
                super::multipart_race_condition(&f.objects, true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multipart_out_of_order() {
                let f = store();
                super::multipart_out_of_order(&f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_paginated() {
                let f = store();
                super::list_paginated(&f.objects, &f.objects).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_with_offset_exclusivity() {
                let f = store();
                super::list_with_offset_exclusivity(&f.objects).await;
            }
        }
    };
}

suite!(Aes256);
suite!(Kms);
