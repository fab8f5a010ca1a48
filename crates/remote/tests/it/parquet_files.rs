//! A Parquet file written and read back through coffer-remote with the
//! `parquet` crate's async writer over `object_store`'s `BufWriter` (a
//! multipart write) and the crate's object_store reader (range reads; the
//! crate deprecated it in 60 in favour of readers of one's own, which
//! DataFusion and others have, but it is the crate's): batches identical,
//! and a read of one column of one row group fetched by ranges, far less
//! than the file.

#![allow(deprecated)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use coffer_keyring::Caller;
use coffer_object_store::CofferObjectStore;
use coffer_remote::MeteredStore;
use coffer_sse::{EncryptionRule, ObjectApi};
use futures_util::TryStreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::{ParquetObjectReader, ParquetRecordBatchStreamBuilder};
use parquet::arrow::async_writer::AsyncArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::common;

const ROWS: i64 = 25_000;

fn batch(index: i64) -> RecordBatch {
    let ids: Vec<i64> = (index * ROWS..(index + 1) * ROWS).collect();
    let names: Vec<String> = ids.iter().map(|id| format!("row-{id}")).collect();
    let values: Vec<f64> = ids.iter().map(|&id| id as f64 * 0.5).collect();
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("name", Arc::new(StringArray::from(names)) as ArrayRef),
        ("value", Arc::new(Float64Array::from(values)) as ArrayRef),
    ])
    .expect("a batch")
}

fn same_rows(got: &[RecordBatch], want: &[RecordBatch]) {
    assert_eq!(got.len(), want.len());
    for (got, want) in got.iter().zip(want) {
        assert_eq!(got.num_rows(), want.num_rows());
        assert_eq!(got.columns(), want.columns());
    }
}

/// Eight batches in row groups of two, written through coffer into a
/// bucket of `backend` and read back, whole and by one column of one row
/// group.
pub(crate) fn parquet_round_trip(backend: Arc<dyn ObjectStore>) {
    let metered = Arc::new(MeteredStore::new(backend));
    let (store, _, _) = common::store(Arc::clone(&metered) as Arc<dyn ObjectStore>);
    store
        .create_bucket_as("tables", &Caller::Trusted)
        .expect("bucket");
    store
        .put_bucket_encryption_as("tables", EncryptionRule::managed(), &Caller::Trusted)
        .expect("rule");
    let objects: Arc<dyn ObjectStore> = Arc::new(CofferObjectStore::new(store, "tables"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let batches: Vec<RecordBatch> = (0..8).map(batch).collect();
    let path = Path::from("year=2026/part-0.parquet");
    runtime.block_on(async {
        let writer = BufWriter::new(Arc::clone(&objects), path.clone());
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2 * ROWS as usize))
            .build();
        let mut writer = AsyncArrowWriter::try_new(writer, batches[0].schema(), Some(properties))
            .expect("a writer");
        for batch in &batches {
            writer.write(batch).await.expect("written");
        }
        writer.close().await.expect("closed");
        let size = objects.head(&path).await.expect("head").size;

        let reader = ParquetObjectReader::new(Arc::clone(&objects), path.clone());
        let whole: Vec<RecordBatch> = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .expect("the footer reads")
            .with_batch_size(ROWS as usize)
            .build()
            .expect("a stream")
            .try_collect()
            .await
            .expect("read back");
        same_rows(&whole, &batches);

        metered.take();
        let reader = ParquetObjectReader::new(Arc::clone(&objects), path.clone())
            .with_file_size(size);
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .expect("the footer reads");
        assert_eq!(builder.metadata().num_row_groups(), 4);
        let only_ids = ProjectionMask::leaves(builder.parquet_schema(), [0]);
        let part: Vec<RecordBatch> = builder
            .with_projection(only_ids)
            .with_row_groups(vec![1])
            .with_batch_size(ROWS as usize)
            .build()
            .expect("a stream")
            .try_collect()
            .await
            .expect("read back");
        let want: Vec<RecordBatch> = batches[2..4]
            .iter()
            .map(|b| b.project(&[0]).expect("projected"))
            .collect();
        same_rows(&part, &want);
        let requests = metered.take();
        assert!(requests.gets >= 2, "{requests:?}");
        assert!(
            requests.get_bytes * 4 < size,
            "one column of one row group of four fetched {} of the file's {size} bytes: {requests:?}",
            requests.get_bytes
        );
    });
}

#[test]
fn a_parquet_file_round_trips_through_coffer_in_memory() {
    parquet_round_trip(Arc::new(object_store::memory::InMemory::new()));
}
