//! A bucket of an encrypted coffer store as an `object_store::ObjectStore`:
//! put, stream a multipart upload, list, get a range, print the protection.
//!
//! `cargo run --release --example object_store`

use coffer_object_store::CofferObjectStore;
use coffer_store::{EncryptionRule, Protection, RootKey, Store, StoreOptions};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A store in a fresh directory. A real service keeps its root key in a
    // secret manager; this one is made up for the example.
    let dir = tempfile::tempdir()?;
    let store = Store::open(
        dir.path(),
        StoreOptions::new(RootKey::from_bytes([42; 32])).create_if_missing(true),
    )?;
    store.create_bucket("tables")?;
    store.put_bucket_encryption("tables", EncryptionRule::managed())?;

    // The bucket as an ObjectStore: what DataFusion, Polars or delta-rs take.
    let objects = CofferObjectStore::new(store, "tables");

    let small = Path::from("events/2026/12/01/part-0.json");
    objects.put(&small, r#"{"event":"login"}"#.into()).await?;

    // A 24 MiB object streamed in 8 MiB parts, each sealed as it arrives.
    let large = Path::from("events/2026/12/01/part-1.bin");
    let mut writer = WriteMultipart::new(objects.put_multipart(&large).await?);
    for i in 0..24u8 {
        writer.write(&[i; 1 << 20]);
    }
    writer.finish().await?;

    let listed: Vec<_> = objects
        .list(Some(&Path::from("events")))
        .try_collect()
        .await?;
    for meta in &listed {
        println!("{:>10} bytes  {}", meta.size, meta.location);
    }

    // A range read opens only the chunks it needs.
    let range = objects
        .get_range(&large, 5 * (1 << 20)..5 * (1 << 20) + 4)
        .await?;
    println!("bytes 5 MiB..+4 of {large}: {:?}", range.as_ref());

    // How each object was protected comes back with every get.
    for path in [&small, &large] {
        let got = objects.get(path).await?;
        if let Some(p) = got.extensions.get::<Protection>() {
            println!(
                "{path}: {:?}, key {}, version {:?}",
                p.mode,
                p.kms_key_id.as_deref().unwrap_or("(store-managed)"),
                p.key_version
            );
        }
    }
    Ok(())
}
