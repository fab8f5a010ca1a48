//! coffer's main job in one run: open (or reopen) a store, make a bucket whose
//! default encryption is KMS, write objects under each protection mode, read them
//! back, print how each is protected, and rotate the master key.
//!
//! ```text
//! cargo run --release --example quickstart [DIR]    # DIR defaults to ./coffer-quickstart
//! ```

use std::error::Error;
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use coffer_keyring::{Caller, CreateKeyOptions};
use coffer_store::{EncryptionRule, PutOptions, RootKey, Store, StoreOptions};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("coffer-quickstart"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    // The root key seals every master key and CMK. A real service keeps it away
    // from the data (a secrets manager, another disk); here it sits beside it.
    let key_file = dir.join("root.key");
    let root = if key_file.exists() {
        println!("reusing root key {}", key_file.display());
        RootKey::from_file(&key_file)?
    } else {
        println!("creating root key {} (mode 600)", key_file.display());
        RootKey::create_key_file(&key_file)?
    };
    // Created on the first run, reopened after. Region and account go into
    // every resource name that policies match; they are fixed at creation.
    let store = Store::create(
        dir.join("store"),
        StoreOptions::new(root).with_account("cn-hangzhou", "1416614965931234"),
    )?;
    println!(
        "store {} opened in {} (region {}, account {})",
        hex(store.id()),
        dir.join("store").display(),
        store.region(),
        store.account()
    );

    for bucket in ["photos", "scratch"] {
        if store.head_bucket(bucket).is_err() {
            store.create_bucket(bucket)?;
        }
    }
    store.put_bucket_encryption("photos", EncryptionRule::kms(None))?;
    println!(
        "bucket photos: default encryption {:?}",
        store.get_bucket_encryption("photos")?
    );

    // A customer master key with an alias, created once.
    let kms = store.kms();
    let cmk = match kms.describe_key("alias/quickstart", &Caller::Trusted) {
        Ok(key) => key.key_id,
        Err(_) => {
            let options = CreateKeyOptions::new().with_description("quickstart CMK");
            let key = kms.create_key(options, &Caller::Trusted)?;
            kms.create_alias("alias/quickstart", &key.key_id, &Caller::Trusted)?;
            key.key_id
        }
    };

    let big: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let writes: [(&str, &str, PutOptions, Bytes); 4] = [
        (
            "photos",
            "bucket-default.txt",
            PutOptions::default(),
            Bytes::from_static(b"encrypted by the bucket's KMS default"),
        ),
        (
            "photos",
            "managed.txt",
            PutOptions::managed(),
            Bytes::from_static(b"encrypted with store-managed keys"),
        ),
        (
            "photos",
            "own-cmk.txt",
            PutOptions::kms(Some("alias/quickstart")),
            Bytes::from_static(b"encrypted under my CMK"),
        ),
        (
            "scratch",
            "plain.txt",
            PutOptions::default(),
            Bytes::from_static(b"no rule anywhere: stored unencrypted"),
        ),
    ];
    for (bucket, key, options, body) in writes {
        store.put_object(
            bucket,
            key,
            body.clone(),
            options.with_content_type("text/plain"),
        )?;
        let object = store.get_object(bucket, key)?;
        assert_eq!(object.body, body, "read back what was written");
        report(&object.meta);
    }

    let started = Instant::now();
    store.put_object_from_reader(
        "photos",
        "big.bin",
        Cursor::new(&big),
        PutOptions::kms(Some(&cmk)),
    )?;
    let mut read_back = Vec::new();
    store
        .open_object("photos", "big.bin")?
        .read_to_end(&mut read_back)?;
    assert!(read_back == big, "streamed object reads back");
    println!(
        "streamed 8 MiB in and out in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    report(&store.head_object("photos", "big.bin")?);
    let range = store.get_object_range("photos", "big.bin", 5_000_000..5_000_010)?;
    println!("range 5000000..5000010 of big.bin: {:?}", &range.body[..]);

    let before = store.master_keys().current_version();
    let after = store.rotate_master_key()?;
    println!("master key rotated: version {before} -> {after}");
    let object = store.get_object("photos", "managed.txt")?;
    println!(
        "managed.txt still reads under version {:?}",
        object.meta.protection.key_version
    );
    let moved = store.rewrap_bucket("photos")?;
    println!("rewrapped {moved} objects of photos to the current keys (data untouched)");
    report(&store.head_object("photos", "managed.txt")?);
    Ok(())
}

fn report(meta: &coffer_store::ObjectMeta) {
    let p = &meta.protection;
    println!(
        "  {}/{:<20} {:>8} bytes  {:<6} cmk={:<36} key version={}",
        meta.bucket,
        meta.key,
        meta.size,
        p.mode.algorithm().unwrap_or("none"),
        p.kms_key_id.as_deref().unwrap_or("-"),
        p.key_version.map_or("-".into(), |v| v.to_string()),
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
