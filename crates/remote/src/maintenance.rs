//! Keys after a rotation: rewrap (an object's wrapped data key moved to the
//! current master key version or CMK material, its payload untouched),
//! re-encryption under another rule (a copy over itself, under a fresh data
//! key), both for one object or a prefix, and the key-usage report that
//! shows a rotation complete.
//!
//! Every backend `object_store` reaches replaces an object only whole, so a
//! rewrap writes the object's bytes again: its parts as they are stored,
//! then a new trailer. The rewrite is conditional on the ETag it read
//! (`PutMode::Update`), so it never overwrites a concurrent write: an object
//! replaced meanwhile is counted, and the writer's version stands.

use coffer_keyring::Caller;
use coffer_sse::{
    CopyOptions, EncryptionRule, Error, GetConditions, KeyUsageReport, KeyUsageTally, ObjectApi,
    ProtectionMode, Result,
};
use object_store::{PutMode, UpdateVersion};

use crate::RemoteStore;
use crate::backend::{ObjectWriter, bucket_prefix};
use crate::buckets::bucket_ref;
use crate::layout::plaintext_len;
use crate::object_record::ObjectRecord;
use crate::put::NewObject;

/// Objects whose trailers the key-usage report fetches at a time.
const USAGE_BATCH: usize = 256;

/// What a rewrap of a bucket or prefix did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RewrapReport {
    /// Objects examined.
    pub objects: u64,
    /// Objects whose wrapped data key moved (and whose bytes were rewritten).
    pub rewrapped: u64,
    /// The bucket's bucket keys that moved: one KMS call each, and nothing
    /// to rewrite for the objects derived from them.
    pub bucket_keys: u64,
    /// Objects replaced or deleted while they were rewrapped: the writer's
    /// version stands, under the key it was written with.
    pub replaced_meanwhile: u64,
    /// `key: reason` for objects that could not be rewrapped (not readable
    /// as coffer's, or too large to rewrite conditionally).
    pub failed: Vec<String>,
}

/// What a re-encryption of a bucket or prefix did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReencryptReport {
    /// Objects examined.
    pub objects: u64,
    /// Objects written again under a fresh data key and the rule.
    pub reencrypted: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// Objects replaced or deleted while they were re-encrypted.
    pub replaced_meanwhile: u64,
    /// `key: reason` for objects that could not be re-encrypted.
    pub failed: Vec<String>,
}

/// Whether `error` says the object changed under the operation.
fn replaced(error: &Error) -> bool {
    matches!(
        error,
        Error::PreconditionFailed { .. } | Error::NoSuchKey { .. }
    )
}

/// Whether `error` concerns only the object (the rest of a prefix goes on).
fn object_only(error: &Error) -> bool {
    matches!(error, Error::Integrity(_) | Error::TooLarge(_))
}

impl RemoteStore {
    /// Moves bucket/key's wrapped data key to the current master key version
    /// or CMK material (reading the shared keyring first, for rotations other
    /// processes made), without touching its payload; returns whether it
    /// changed anything. Never for an unencrypted object, nor for one whose
    /// data key comes from a bucket key ([`rewrap_prefix`](Self::rewrap_prefix)
    /// moves bucket keys). An object replaced meanwhile is
    /// [`Error::PreconditionFailed`], and stays as its writer left it.
    pub fn rewrap_object(&self, bucket: &str, key: &str) -> Result<bool> {
        self.bucket_or_missing(bucket)?;
        self.refresh_keyring()?;
        self.rewrap_one(bucket, key)
    }

    /// Rewraps `bucket`'s bucket keys and every object whose key starts with
    /// `prefix` (`""`: the whole bucket), one object at a time.
    pub fn rewrap_prefix(&self, bucket: &str, prefix: &str) -> Result<RewrapReport> {
        let record = self.bucket_or_missing(bucket)?;
        self.refresh_keyring()?;
        let mut report = RewrapReport {
            bucket_keys: self
                .inner
                .keys
                .rewrap_bucket_keys(self, bucket_ref(&record))? as u64,
            ..RewrapReport::default()
        };
        for (key, _) in self.keys_under(bucket, prefix)? {
            report.objects += 1;
            match self.rewrap_one(bucket, &key) {
                Ok(changed) => report.rewrapped += u64::from(changed),
                Err(error) if replaced(&error) => report.replaced_meanwhile += 1,
                Err(error) if object_only(&error) => report.failed.push(format!("{key}: {error}")),
                Err(error) => return Err(error),
            }
        }
        Ok(report)
    }

    fn rewrap_one(&self, bucket: &str, key: &str) -> Result<bool> {
        let object = self.fetch_object(bucket, key, &GetConditions::new(), false)?;
        let stored = &object.record;
        if stored.mode == ProtectionMode::None {
            return Ok(false);
        }
        if stored.mode == ProtectionMode::Aes256
            && stored.key_version > self.inner.keys.master().current_version()
        {
            // Written under a version another process rotated to since.
            self.refresh_keyring()?;
        }
        let Some(rewrapped) =
            self.inner
                .keys
                .rewrap_data_key(bucket, key, &stored.object_id, &stored.wrapped_key)?
        else {
            return Ok(false);
        };
        let Some(e_tag) = object.backend_etag.clone() else {
            return Err(Error::NotImplemented {
                operation: "a rewrap: the backend gives no ETag to make the rewrite conditional"
                    .into(),
                engine: self.inner.backend.store().to_string(),
            });
        };
        let new = NewObject {
            bucket,
            key,
            record: ObjectRecord {
                key_version: rewrapped.key_version(),
                wrapped_key: rewrapped.encode(),
                ..stored.clone()
            },
        };
        let parts_len = object.parts_len();
        let trailer = new.trailer(self, &object.parts, parts_len)?;
        let mode = PutMode::Update(UpdateVersion {
            e_tag: Some(e_tag),
            version: None,
        });
        let mut writer = ObjectWriter::new(
            &self.inner.backend,
            &object.path,
            self.inner.write_limits(),
            mode,
        );
        let window = self.inner.part_size as u64;
        let mut at = 0;
        while at < parts_len {
            let end = (at + window).min(parts_len);
            writer.write(&object.stored_bytes(self, at..end)?)?;
            at = end;
        }
        writer.write(&trailer)?;
        match writer.finish()? {
            Some(_) => Ok(true),
            None => Err(Error::PreconditionFailed {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                condition: "the object was replaced while it was rewrapped".into(),
            }),
        }
    }

    /// Writes bucket/key again under a fresh data key and `rule` (`None`: the
    /// bucket's default), as a copy over itself: conditional on the version
    /// read, so a concurrent write is never overwritten
    /// ([`Error::PreconditionFailed`] then). Backends without a conditional
    /// replace (`LocalFileSystem`) give [`Error::NotImplemented`].
    pub fn reencrypt_object(
        &self,
        bucket: &str,
        key: &str,
        rule: Option<EncryptionRule>,
    ) -> Result<coffer_sse::PutResult> {
        self.copy_object_as(
            (bucket, key),
            (bucket, key),
            CopyOptions::default().with_encryption(rule),
            &Caller::Trusted,
        )
    }

    /// Re-encrypts every object of `bucket` whose key starts with `prefix`
    /// (see [`reencrypt_object`](Self::reencrypt_object)).
    pub fn reencrypt_prefix(
        &self,
        bucket: &str,
        prefix: &str,
        rule: Option<EncryptionRule>,
    ) -> Result<ReencryptReport> {
        self.bucket_or_missing(bucket)?;
        let mut report = ReencryptReport::default();
        for (key, stored) in self.keys_under(bucket, prefix)? {
            report.objects += 1;
            // The size from the listed length: a length no coffer object
            // has fails in the copy, which authenticates the trailer.
            let size = plaintext_len(stored, &key).unwrap_or(0);
            match self.reencrypt_object(bucket, &key, rule.clone()) {
                Ok(_) => {
                    report.reencrypted += 1;
                    report.bytes += size;
                }
                Err(error) if replaced(&error) => report.replaced_meanwhile += 1,
                Err(error) if object_only(&error) => report.failed.push(format!("{key}: {error}")),
                Err(error) => return Err(error),
            }
        }
        Ok(report)
    }

    /// Counts the objects of `bucket` (every bucket if `None`) per protection
    /// mode, key id and key version, from every object's authenticated
    /// trailer (not the payloads). Objects whose trailer does not
    /// authenticate are listed as unreadable.
    pub fn key_usage(&self, bucket: Option<&str>) -> Result<KeyUsageReport> {
        let buckets = match bucket {
            Some(name) => vec![self.bucket_or_missing(name)?.name],
            None => self.list_buckets()?.into_iter().map(|b| b.name).collect(),
        };
        let mut tally = KeyUsageTally::new();
        let mut uploads = 0;
        for bucket in &buckets {
            let listed = self.inner.backend.list(&bucket_prefix(bucket)?)?;
            let cut = bucket.len() + 1;
            // A batch of trailers in memory at a time (8 KiB each).
            for batch in listed.chunks(USAGE_BATCH) {
                let tails = self.fetch_tails(batch.iter().map(|meta| meta.location.clone()))?;
                for fetched in tails {
                    let Some((meta, tail)) = fetched? else {
                        continue; // deleted since it was listed
                    };
                    let Some(key) = meta.location.as_ref().get(cut..).map(str::to_owned) else {
                        continue;
                    };
                    let path = meta.location.clone();
                    match self.authenticate(bucket, &key, path, meta, tail, None) {
                        Ok(object) => tally.count(&object.meta.protection, object.meta.size),
                        Err(Error::Integrity(_)) => tally.unreadable(format!("{bucket}/{key}")),
                        Err(error) => return Err(error),
                    }
                }
            }
            uploads += self.list_uploads(bucket)?.len() as u64;
        }
        Ok(tally.finish(uploads))
    }

    /// Every key of `bucket` that starts with `prefix`, in order, with its
    /// stored length.
    fn keys_under(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>> {
        let cut = bucket.len() + 1;
        Ok(self
            .inner
            .backend
            .list(&bucket_prefix(bucket)?)?
            .into_iter()
            .filter_map(|meta| Some((meta.location.as_ref().get(cut..)?.to_owned(), meta.size)))
            .filter(|(key, _)| key.starts_with(prefix))
            .collect())
    }
}
