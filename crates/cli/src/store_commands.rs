//! `init`, buckets and their encryption rules, and objects: put, get, head,
//! ls, rm, cp.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use coffer_store::{
    CopyOptions, EncryptionRule, ListOptions, ObjectAttributes, PutOptions, RootKey, Store,
    StoreOptions,
};
use serde_json::json;

use crate::args::{AttributeArgs, BucketCommand, EncryptionCommand, Sse, SseArgs};
use crate::exit::Failure;
use crate::output::{Output, Progress, meta_json, protection_json, protection_text, seconds};

pub(crate) fn init(
    dir: &Path,
    keys: &crate::KeyLocation,
    kms: &crate::KmsChoice,
    out: &Output,
) -> Result<(), Failure> {
    let key_path = keys.path(dir)?;
    if dir.join("CURRENT").exists() {
        return Err(Failure::Io(
            dir.display().to_string(),
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already holds a store"),
        ));
    }
    if key_path.exists() {
        return Err(Failure::Io(
            key_path.display().to_string(),
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the root key file exists",
            ),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Failure::Io(dir.display().to_string(), e))?;
    let root = RootKey::create_key_file(&key_path)?;
    let store = Store::create(dir, kms.apply(StoreOptions::new(root))?)?;
    store.close()?;
    out.print(
        || {
            format!(
                "created a store in {} with its root key in {} (mode 0600)",
                dir.display(),
                key_path.display()
            )
        },
        || json!({"dir": dir, "root_key_file": key_path}),
    );
    Ok(())
}

fn rule_of(sse: &SseArgs) -> Option<EncryptionRule> {
    sse.sse.map(|mode| {
        match mode {
            Sse::Aes256 => EncryptionRule::managed(),
            Sse::Kms => EncryptionRule::kms(sse.sse_kms_key_id.as_deref()),
        }
        .with_bucket_key(sse.bucket_key)
    })
}

fn check_sse(sse: &SseArgs) -> Result<(), Failure> {
    if sse.sse == Some(Sse::Aes256) && sse.sse_kms_key_id.is_some() {
        return Err(Failure::Usage(
            "--sse-kms-key-id goes with --sse KMS, not AES256".into(),
        ));
    }
    Ok(())
}

fn attributes_of(
    args: &AttributeArgs,
) -> Result<(ObjectAttributes, Vec<(String, String)>), Failure> {
    let mut attributes = ObjectAttributes::new();
    attributes.content_type = args.content_type.clone();
    let meta = args
        .meta
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Failure::Usage(format!("--meta takes NAME=VALUE, not {pair:?}")))
        })
        .collect::<Result<_, _>>()?;
    Ok((attributes, meta))
}

/// BUCKET/KEY, both non-empty.
fn object_path(text: &str) -> Result<(&str, &str), Failure> {
    match text.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket, key)),
        _ => Err(Failure::Usage(format!("expected BUCKET/KEY, got {text:?}"))),
    }
}

pub(crate) fn bucket(store: &Store, command: BucketCommand, out: &Output) -> Result<(), Failure> {
    match command {
        BucketCommand::Create { name } => {
            store.create_bucket(&name)?;
            out.print(
                || format!("created bucket {name}"),
                || json!({"bucket": name}),
            );
        }
        BucketCommand::Rm { name } => {
            store.delete_bucket(&name)?;
            out.print(
                || format!("deleted bucket {name}"),
                || json!({"bucket": name}),
            );
        }
        BucketCommand::Ls => {
            let buckets = store.list_buckets()?;
            out.print(
                || {
                    buckets
                        .iter()
                        .map(|b| b.name.clone())
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                || json!(buckets.iter().map(|b| b.name.clone()).collect::<Vec<_>>()),
            );
        }
        BucketCommand::Info { name } => {
            let info = store
                .list_buckets()?
                .into_iter()
                .find(|b| b.name == name)
                .ok_or_else(|| coffer_store::Error::NoSuchBucket(name.clone()))?;
            let rule = info.encryption.as_ref();
            out.print(
                || {
                    format!(
                        "bucket {}\ncreated {}\nencryption {}",
                        info.name,
                        seconds(info.created_at),
                        rule.map_or("none".into(), rule_text)
                    )
                },
                || {
                    json!({
                        "bucket": info.name,
                        "created": seconds(info.created_at),
                        "encryption": rule.map(rule_json),
                    })
                },
            );
        }
        BucketCommand::Encryption(command) => match command {
            EncryptionCommand::Put { bucket, sse } => {
                check_sse(&sse)?;
                let rule = rule_of(&sse).ok_or_else(|| {
                    Failure::Usage("encryption put needs --sse AES256|KMS".into())
                })?;
                store.put_bucket_encryption(&bucket, rule.clone())?;
                out.print(
                    || format!("{bucket}: {}", rule_text(&rule)),
                    || json!({"bucket": bucket, "encryption": rule_json(&rule)}),
                );
            }
            EncryptionCommand::Get { bucket } => {
                let rule = store.get_bucket_encryption(&bucket)?;
                out.print(
                    || rule_text(&rule),
                    || json!({"bucket": bucket, "encryption": rule_json(&rule)}),
                );
            }
            EncryptionCommand::Rm { bucket } => {
                store.delete_bucket_encryption(&bucket)?;
                out.print(
                    || format!("{bucket}: no default encryption"),
                    || json!({"bucket": bucket, "encryption": null}),
                );
            }
        },
    }
    Ok(())
}

fn rule_text(rule: &EncryptionRule) -> String {
    let mut text = rule.algorithm().to_owned();
    if let Some(key) = rule.kms_key_id() {
        text.push_str(&format!(" key {key}"));
    }
    if rule.bucket_key() {
        text.push_str(" (bucket key)");
    }
    text
}

fn rule_json(rule: &EncryptionRule) -> serde_json::Value {
    json!({
        "sse": rule.algorithm(),
        "kms_key_id": rule.kms_key_id(),
        "bucket_key": rule.bucket_key(),
    })
}

/// Counts what passes through into a progress bar.
struct Counted<'a, R> {
    inner: R,
    done: u64,
    progress: &'a mut Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.progress.set(self.done);
        Ok(n)
    }
}

pub(crate) fn put(
    store: &Store,
    file: &Path,
    target: &str,
    sse: &SseArgs,
    attributes: &AttributeArgs,
    out: &Output,
) -> Result<(), Failure> {
    check_sse(sse)?;
    let (bucket, key) = object_path(target)?;
    let (object_attributes, meta) = attributes_of(attributes)?;
    let mut options = PutOptions::default()
        .with_encryption(rule_of(sse))
        .with_attributes(object_attributes);
    for (name, value) in &meta {
        options = options.with_metadata(name, value);
    }
    let name = file.display().to_string();
    let result = if file == Path::new("-") {
        store.put_object_from_reader(bucket, key, std::io::stdin().lock(), options)?
    } else {
        let source = File::open(file).map_err(|e| Failure::Io(name.clone(), e))?;
        let size = source
            .metadata()
            .map_err(|e| Failure::Io(name.clone(), e))?
            .len();
        let mut progress = Progress::new(out, "bytes", size);
        let counted = Counted {
            inner: source,
            done: 0,
            progress: &mut progress,
        };
        let result = store.put_object_from_reader(bucket, key, counted, options);
        progress.finish();
        result?
    };
    out.print(
        || {
            format!(
                "{bucket}/{key}: etag {} {}",
                result.etag,
                protection_text(&result.protection)
            )
        },
        || {
            json!({
                "bucket": bucket,
                "key": key,
                "etag": result.etag,
                "protection": protection_json(&result.protection),
            })
        },
    );
    Ok(())
}

pub(crate) fn get(
    store: &Store,
    source: &str,
    file: Option<&Path>,
    out: &Output,
) -> Result<(), Failure> {
    let (bucket, key) = object_path(source)?;
    let reader = store.open_object(bucket, key)?;
    let size = reader.meta().size;
    match file.filter(|f| *f != Path::new("-")) {
        None => {
            let mut stdout = std::io::stdout().lock();
            copy(reader, &mut stdout, &mut Progress::new(out, "bytes", size))
                .map_err(|e| into_failure(e, "standard output"))?;
        }
        Some(path) => {
            // Written to a fresh file beside the target (a new name, created
            // exclusively, mode 0600: no symlink followed, nothing of another
            // get's) and renamed over it when complete: a failed read (a
            // damaged object) leaves no partial file.
            let name = path.display().to_string();
            let directory = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            let mut partial = tempfile::Builder::new()
                .prefix(".coffer-get-")
                .suffix(".partial")
                .tempfile_in(directory)
                .map_err(|e| Failure::Io(directory.display().to_string(), e))?;
            let mut progress = Progress::new(out, "bytes", size);
            let copied = copy(reader, partial.as_file_mut(), &mut progress)
                .and_then(|()| partial.as_file().sync_all());
            progress.finish();
            if let Err(error) = copied {
                // Dropping it removes the partial file.
                return Err(into_failure(error, &name));
            }
            partial
                .persist(path)
                .map_err(|e| Failure::Io(name.clone(), e.error))?;
            out.print(
                || format!("{bucket}/{key} -> {name} ({size} bytes)"),
                || json!({"bucket": bucket, "key": key, "file": name, "size": size}),
            );
        }
    }
    Ok(())
}

/// An I/O error from reading an object carries the store's error (an
/// integrity failure) when it has one.
fn into_failure(error: std::io::Error, name: &str) -> Failure {
    match error.downcast::<coffer_store::Error>() {
        Ok(store_error) => Failure::Store(store_error),
        Err(error) => Failure::Io(name.to_owned(), error),
    }
}

fn copy(mut from: impl Read, to: &mut impl Write, progress: &mut Progress) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            return to.flush();
        }
        to.write_all(&buffer[..n])?;
        done += n as u64;
        progress.set(done);
    }
}

pub(crate) fn head(store: &Store, object: &str, out: &Output) -> Result<(), Failure> {
    let (bucket, key) = object_path(object)?;
    let meta = store.head_object(bucket, key)?;
    out.print(
        || {
            let mut lines = vec![
                format!("{bucket}/{key}"),
                format!("size {}", meta.size),
                format!("etag {}", meta.etag),
                format!("last modified {}", seconds(meta.last_modified)),
                format!("protection {}", protection_text(&meta.protection)),
            ];
            if let Some(content_type) = &meta.attributes.content_type {
                lines.push(format!("content type {content_type}"));
            }
            for (name, value) in &meta.user_metadata {
                lines.push(format!("meta {name}={value}"));
            }
            lines.join("\n")
        },
        || meta_json(&meta),
    );
    Ok(())
}

pub(crate) fn ls(store: &Store, location: &str, out: &Output) -> Result<(), Failure> {
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    let mut options = ListOptions::new();
    options.prefix = prefix.to_owned();
    let mut all = Vec::new();
    loop {
        let page = store.list_objects(bucket, &options)?;
        let next = page.next_start_after.clone();
        all.extend(page.objects);
        match next {
            Some(next) => options.start_after = Some(next),
            None => break,
        }
    }
    out.print(
        || {
            all.iter()
                .map(|o| {
                    format!(
                        "{:>12}  {}  {}  {}",
                        o.size,
                        seconds(o.last_modified),
                        o.protection.mode.algorithm().unwrap_or("none"),
                        o.key
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
        || {
            json!(
                all.iter()
                    .map(|o| json!({
                        "key": o.key,
                        "size": o.size,
                        "etag": o.etag,
                        "last_modified": seconds(o.last_modified),
                        "protection": protection_json(&o.protection),
                    }))
                    .collect::<Vec<_>>()
            )
        },
    );
    Ok(())
}

pub(crate) fn rm(store: &Store, object: &str, out: &Output) -> Result<(), Failure> {
    let (bucket, key) = object_path(object)?;
    // As `aws s3 rm`: removing what is not there is an error worth knowing.
    store
        .head_object(bucket, key)
        .map(drop)
        .or_else(|e| match e {
            coffer_store::Error::Integrity(_) => Ok(()), // a damaged object can be removed
            e => Err(e),
        })?;
    store.delete_object(bucket, key)?;
    out.print(
        || format!("deleted {bucket}/{key}"),
        || json!({"bucket": bucket, "key": key}),
    );
    Ok(())
}

pub(crate) fn cp(
    store: &Store,
    source: &str,
    destination: &str,
    sse: &SseArgs,
    attributes: &AttributeArgs,
    out: &Output,
) -> Result<(), Failure> {
    check_sse(sse)?;
    let from = object_path(source)?;
    let to = object_path(destination)?;
    let mut options = CopyOptions::default().with_encryption(rule_of(sse));
    if attributes.content_type.is_some() || !attributes.meta.is_empty() {
        let (object_attributes, meta) = attributes_of(attributes)?;
        options = options.with_metadata_replaced(object_attributes, meta.into_iter().collect());
    }
    let result = store.copy_object(from, to, options)?;
    out.print(
        || {
            format!(
                "{source} -> {destination}: etag {} {}",
                result.etag,
                protection_text(&result.protection)
            )
        },
        || {
            json!({
                "source": source,
                "destination": destination,
                "etag": result.etag,
                "protection": protection_json(&result.protection),
            })
        },
    );
    Ok(())
}
