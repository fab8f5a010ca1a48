//! coffer-remote's integration tests, one binary: the object API's
//! conformance suite and the `object_store::integration` functions over
//! `InMemory`, `LocalFileSystem`, moto's S3 and SeaweedFS; tampering done
//! behind coffer's back (through `object_store`, and with boto3); stores
//! shared by several handles and by two processes; rewrap, re-encryption
//! and key usage; a Parquet file through the `parquet` crate's reader.

mod common;
mod conformance;
mod direct_uploads;
mod integration;
mod maintenance;
mod moto;
mod outside;
mod parquet_files;
mod processes;
mod requests;
mod seaweed;
mod sharing;
mod tampering;
