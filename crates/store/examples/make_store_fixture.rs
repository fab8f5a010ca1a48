//! Writes the store that `crates/store/tests/fixtures/store-v3` holds: a
//! store of this version's formats (sealed job records, the chained audit
//! log), for `tests/upgrade.rs` to open with later versions.
//!
//! ```text
//! cargo run --release -p coffer-store --example make_store_fixture -- DIR
//! ```
//!
//! `DIR` must not exist or be empty. The root key is 0x33 × 32 and the clock
//! is stopped at 2026-12-03 12:00:00 UTC (moved one second per step), so every
//! time in the store is fixed; ids, keys and salts are random, so the program
//! prints the ids the tests name (paste them into `tests/upgrade.rs`). The
//! store is closed (every column family flushed: one table file each, the
//! segments in one blob file) and RocksDB's info logs and lock file are
//! removed, so the directory holds only what a reopen needs. The store uses
//! its default tuning, as any application's would.
//!
//! What it writes:
//!
//! - bucket `docs`, default KMS (the default managed CMK): `default.txt` (the
//!   bucket default), `managed.txt` (AES256, master key version 1, every
//!   attribute and two user metadata entries), `big.bin` (1 MiB + 123 bytes,
//!   AES256: two segments), `cmk.txt` (under `alias/v3`, material version 1);
//! - bucket `bkeys`, KMS under `alias/v3` with bucket keys: `one.txt` and
//!   `two.txt`, from one bucket key;
//! - bucket `plain`, no rule: `clear.txt`, unencrypted;
//! - then the master key and the CMK rotate: `docs/managed-v2.txt` (master
//!   key version 2), `docs/cmk-v2.txt` (`alias/v3`, material version 2);
//! - a multipart upload of `docs/parts.bin` (under the bucket default) with
//!   part 1, 100 000 bytes of 7, not completed;
//! - a rewrap job of `bkeys`, run until done (its bucket key moves to the
//!   CMK's material version 2), and a re-encryption of `plain` to AES256,
//!   paused before it ran;
//! - the audit events all of that made.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use coffer_keyring::{Caller, CreateKeyOptions, DEFAULT_MANAGED_ALIAS, ManualClock};
use coffer_store::{
    EncryptionRule, JobKind, JobLimits, ListOptions, ObjectAttributes, PutOptions, RootKey, Store,
    StoreOptions,
};

/// 2026-12-03 12:00:00 UTC, in ms since the Unix epoch.
const START_MS: u64 = 1_796_299_200_000;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: make_store_fixture DIR")?;
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        return Err(format!("{} is not empty", dir.display()).into());
    }
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_millis(START_MS));
    let tick = || clock.advance(Duration::from_secs(1));
    let store = Store::create(
        &dir,
        StoreOptions::new(RootKey::from_bytes([0x33; 32])).with_clock(Arc::new(clock.clone())),
    )?;
    let kms = store.kms();

    store.create_bucket("docs")?;
    store.put_bucket_encryption("docs", EncryptionRule::kms(None))?;
    let cmk = kms
        .create_key(
            CreateKeyOptions::new().with_description("store-v3 fixture CMK"),
            &Caller::Trusted,
        )?
        .key_id;
    kms.create_alias("alias/v3", &cmk, &Caller::Trusted)?;
    tick();
    store.put_object(
        "docs",
        "default.txt",
        Bytes::from_static(b"kms default v3"),
        PutOptions::default(),
    )?;
    tick();
    let attributes = ObjectAttributes::new()
        .with_content_type("text/plain")
        .with_content_disposition("attachment; filename=\"managed.txt\"")
        .with_content_encoding("identity")
        .with_content_language("en")
        .with_cache_control("no-cache");
    store.put_object(
        "docs",
        "managed.txt",
        Bytes::from_static(b"managed v3"),
        PutOptions::managed()
            .with_attributes(attributes)
            .with_metadata("owner", "ops")
            .with_metadata("team", "storage"),
    )?;
    tick();
    let big: Vec<u8> = (0..(1024 * 1024 + 123)).map(|i| (i % 251) as u8).collect();
    store.put_object("docs", "big.bin", Bytes::from(big), PutOptions::managed())?;
    tick();
    store.put_object(
        "docs",
        "cmk.txt",
        Bytes::from_static(b"named cmk v3"),
        PutOptions::kms(Some("alias/v3")),
    )?;
    tick();

    store.create_bucket("bkeys")?;
    store.put_bucket_encryption(
        "bkeys",
        EncryptionRule::kms(Some("alias/v3")).with_bucket_key(true),
    )?;
    for (key, body) in [
        ("one.txt", "bucket key v3"),
        ("two.txt", "bucket key v3 again"),
    ] {
        store.put_object("bkeys", key, Bytes::from(body), PutOptions::default())?;
    }
    tick();
    store.create_bucket("plain")?;
    store.put_object(
        "plain",
        "clear.txt",
        Bytes::from_static(b"unencrypted v3"),
        PutOptions::default(),
    )?;
    tick();
    let master = store.rotate_master_key()?;
    let material = kms.rotate_key(&cmk, &Caller::Trusted)?;
    tick();
    store.put_object(
        "docs",
        "managed-v2.txt",
        Bytes::from_static(b"managed after rotation"),
        PutOptions::managed(),
    )?;
    store.put_object(
        "docs",
        "cmk-v2.txt",
        Bytes::from_static(b"named cmk after rotation"),
        PutOptions::kms(Some("alias/v3")),
    )?;
    tick();

    let upload = store.create_multipart_upload("docs", "parts.bin", PutOptions::default())?;
    let part = store.upload_part(
        "docs",
        "parts.bin",
        &upload,
        1,
        Bytes::from(vec![7u8; 100_000]),
    )?;
    tick();
    let done = store.create_job("bkeys", JobKind::Rewrap)?;
    let ran = store.run_job(&done, JobLimits::none(), |_| {})?;
    tick();
    let paused = store.create_job(
        "plain",
        JobKind::Reencrypt {
            sse: "AES256".into(),
            kms_key_id: None,
        },
    )?;
    store.pause_job(&paused)?;
    tick();

    let default_cmk = kms
        .describe_key(DEFAULT_MANAGED_ALIAS, &Caller::Trusted)?
        .key_id;
    println!("store id        {}", hex::encode(store.id()));
    println!("default CMK     {default_cmk}");
    println!("alias/v3 CMK    {cmk} (material version {material})");
    println!("master key      version {master}");
    println!(
        "upload          {upload} (docs/parts.bin), part 1 ETag {}",
        part.etag
    );
    println!(
        "done job        {done} (done {}, skipped {}, failed {})",
        ran.done, ran.skipped, ran.failed
    );
    println!("paused job      {paused}");
    for bucket in ["docs", "bkeys", "plain"] {
        for object in store.list_objects(bucket, &ListOptions::default())?.objects {
            let meta = store.head_object(bucket, &object.key)?;
            let p = &meta.protection;
            println!(
                "  {bucket}/{:<16} {:>8} bytes  {:<6} cmk={:<36} version={:?} bucket key={}",
                object.key,
                meta.size,
                p.mode.algorithm().unwrap_or("none"),
                p.kms_key_id.as_deref().unwrap_or("-"),
                p.key_version,
                p.bucket_key,
            );
        }
    }
    // Counted last, so that every event is counted.
    let audit = store.verify_audit_log()?;
    if !audit.problems.is_empty() {
        return Err(format!("the audit log does not verify: {:?}", audit.problems).into());
    }
    println!("audit events    {} (sealed and chained)", audit.events);
    store.close()?;
    // RocksDB's info logs and its lock file: not part of the store (a reopen
    // makes a new lock file).
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("LOG") || name == "LOCK" {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
