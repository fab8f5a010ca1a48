//! Buckets: their records in generations under `.coffer/buckets/<name>/`
//! ([`crate::generations`]: creation time, incarnation, default rule,
//! tagged with the generation), each change a new generation, a
//! cache of them with a short lifetime, and the bucket key records under
//! `.coffer/bucket-keys/<bucket>/<id>` that the core keeps through
//! [`KeyRecords`].
//!
//! ```text
//! bucket record = u8 version (1) ‖ u64 created (ms) ‖ u64 incarnation
//!                 ‖ u8 rule (0 none, 1 AES256, 2 KMS) ‖ str16 CMK (empty: default)
//!                 ‖ u8 bucket key (0 or 1) ‖ tag
//! tag = HMAC-SHA256(record key, "coffer/remote-bucket/v1" ‖ u16 len ‖ name
//!                   ‖ u16 len ‖ generation (u64) ‖ record)
//! tombstone     = tag (of an empty record): the bucket was deleted
//! ```
//!
//! Deleting a bucket writes a tombstone as its next generation rather than
//! removing the generations: a process that read generation n before the
//! delete and then writes n + 1 (a rule change) finds it taken, reads the
//! tombstone and answers `NoSuchBucket`, where it would otherwise bring the
//! deleted bucket back (or, over a bucket created again at generation 1,
//! its old incarnation). Creating a bucket over a tombstone writes the
//! generation after it.

use std::collections::HashMap;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_sse::codec::{Reader, put_len16};
use coffer_sse::ids::{millis, random_id};
use coffer_sse::keys::{BucketKeyId, BucketRef, KeyRecords};
use coffer_sse::{BucketInfo, EncryptionRule, Error, Result, validate_bucket};
use object_store::{GetOptions, PutMode};
use parking_lot::Mutex;

use crate::RemoteStore;
use crate::backend::{Fetched, reserved};
use crate::generations;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"coffer/remote-bucket/v1";

/// A bucket as its record has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketRecord {
    pub(crate) name: String,
    pub(crate) created_ms: u64,
    pub(crate) incarnation: u64,
    pub(crate) rule: Option<EncryptionRule>,
}

impl BucketRecord {
    fn encode(&self) -> Result<Vec<u8>> {
        let mut out = vec![VERSION];
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.incarnation.to_le_bytes());
        let (kind, key_id, bucket_key) = match &self.rule {
            None => (0, "", false),
            Some(EncryptionRule::Managed { bucket_key }) => (1, "", *bucket_key),
            Some(EncryptionRule::Kms { key_id, bucket_key }) => {
                (2, key_id.as_deref().unwrap_or(""), *bucket_key)
            }
        };
        out.push(kind);
        put_len16(&mut out, key_id.as_bytes())?;
        out.push(u8::from(bucket_key));
        Ok(out)
    }

    fn decode(name: &str, raw: &[u8]) -> Result<Self> {
        let corrupt = |what: &str| Error::CorruptRecord(format!("bucket record {name}: {what}"));
        let mut r = Reader::new(raw);
        if r.u8()? != VERSION {
            return Err(corrupt("unknown version"));
        }
        let created_ms = r.u64()?;
        let incarnation = r.u64()?;
        let kind = r.u8()?;
        let key_id = r.str16()?;
        let bucket_key = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(corrupt("bucket key flag")),
        };
        let rule = match kind {
            0 => None,
            1 => Some(EncryptionRule::managed().with_bucket_key(bucket_key)),
            2 => Some(
                EncryptionRule::kms((!key_id.is_empty()).then_some(key_id.as_str()))
                    .with_bucket_key(bucket_key),
            ),
            _ => return Err(corrupt("unknown rule")),
        };
        if !r.at_end() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Self {
            name: name.to_owned(),
            created_ms,
            incarnation,
            rule,
        })
    }

    fn info(&self) -> BucketInfo {
        BucketInfo {
            name: self.name.clone(),
            created_at: UNIX_EPOCH + Duration::from_millis(self.created_ms),
            encryption: self.rule.clone(),
        }
    }
}

/// Bucket records read recently, each trusted for the cache's lifetime.
pub(crate) struct BucketCache {
    ttl: Duration,
    records: Mutex<HashMap<String, (BucketRecord, Instant)>>,
}

impl BucketCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            records: Mutex::new(HashMap::new()),
        }
    }
}

impl RemoteStore {
    /// Bucket `name`'s record, from the cache while it is fresh.
    pub(crate) fn bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        let cache = &self.inner.buckets;
        if let Some((record, at)) = cache.records.lock().get(name)
            && at.elapsed() < cache.ttl
        {
            return Ok(Some(record.clone()));
        }
        Ok(self.read_bucket(name)?.map(|(record, _)| record))
    }

    /// Bucket `name`'s record as stored now, with its generation (`None`
    /// if it was never created, or deleted).
    fn read_bucket(&self, name: &str) -> Result<Option<(BucketRecord, u64)>> {
        Ok(match self.read_generation(name)? {
            Some((generation, Some(record))) => Some((record, generation)),
            _ => None,
        })
    }

    /// Bucket `name`'s newest generation: its number and the record, or
    /// `None` for a tombstone; `None` if there is no generation at all.
    fn read_generation(&self, name: &str) -> Result<Option<(u64, Option<BucketRecord>)>> {
        let dir = reserved(&["buckets", name]);
        let latest = generations::latest(&self.inner.backend, &dir)?;
        let Some((generation, raw)) = latest else {
            self.inner.buckets.records.lock().remove(name);
            return Ok(None);
        };
        let body = self.inner.keys.record_key().open_tagged(
            DOMAIN,
            &[name.as_bytes(), &generation.to_le_bytes()],
            &raw,
            || format!("bucket {name}"),
        )?;
        if body.is_empty() {
            self.inner.buckets.records.lock().remove(name);
            return Ok(Some((generation, None)));
        }
        let record = BucketRecord::decode(name, body)?;
        self.remember(&record);
        Ok(Some((generation, Some(record))))
    }

    /// Writes `record` as generation `generation`; `false` if another
    /// writer took it.
    fn write_bucket(&self, record: &BucketRecord, generation: u64) -> Result<bool> {
        let written = self.write_generation(&record.name, generation, record.encode()?)?;
        if written {
            self.remember(record);
        }
        Ok(written)
    }

    /// Writes generation `generation` of bucket `name`'s record, `body` (a
    /// record, or empty for a tombstone), tagged; `false` if another writer
    /// took it.
    fn write_generation(&self, name: &str, generation: u64, body: Vec<u8>) -> Result<bool> {
        let sealed = self.inner.keys.record_key().seal_tagged(
            DOMAIN,
            &[name.as_bytes(), &generation.to_le_bytes()],
            body,
        )?;
        let dir = reserved(&["buckets", name]);
        generations::create(&self.inner.backend, &dir, generation, sealed.into())
    }

    fn remember(&self, record: &BucketRecord) {
        self.inner
            .buckets
            .records
            .lock()
            .insert(record.name.clone(), (record.clone(), Instant::now()));
    }

    pub(crate) fn create_bucket(&self, name: &str) -> Result<()> {
        validate_bucket(name)?;
        let id = random_id()?;
        let record = BucketRecord {
            name: name.to_owned(),
            created_ms: millis(self.inner.keys.clock().now()),
            incarnation: u64::from_le_bytes([
                id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7],
            ]),
            rule: None,
        };
        // After a tombstone, the generation after it; a writer that took
        // that one first created the bucket (only a creation follows one).
        let generation = match self.read_generation(name)? {
            Some((_, Some(_))) => return Err(Error::BucketAlreadyExists(name.to_owned())),
            Some((tombstone, None)) => tombstone + 1,
            None => 1,
        };
        if self.write_bucket(&record, generation)? {
            Ok(())
        } else {
            Err(Error::BucketAlreadyExists(name.to_owned()))
        }
    }

    pub(crate) fn delete_bucket(&self, name: &str) -> Result<()> {
        let Some((_, generation)) = self.read_bucket(name)? else {
            return Err(Error::NoSuchBucket(name.to_owned()));
        };
        if !self
            .inner
            .backend
            .list(&crate::backend::bucket_prefix(name)?)?
            .is_empty()
        {
            return Err(Error::BucketNotEmpty(name.to_owned()));
        }
        // The tombstone first: a rule changed meanwhile took the generation
        // (delete again, from it); a delete meanwhile took it with its own.
        let mut generation = generation;
        while !self.write_generation(name, generation + 1, Vec::new())? {
            match self.read_bucket(name)? {
                Some((_, newer)) => generation = newer,
                None => return Err(Error::NoSuchBucket(name.to_owned())),
            }
        }
        self.inner.buckets.records.lock().remove(name);
        for upload in self.inner.backend.list(&reserved(&["uploads", name]))? {
            self.inner.backend.delete(&upload.location)?;
        }
        for record in self.inner.backend.list(&reserved(&["bucket-keys", name]))? {
            self.inner.backend.delete(&record.location)?;
        }
        self.inner.keys.forget_bucket(name);
        Ok(())
    }

    pub(crate) fn head_bucket(&self, name: &str) -> Result<BucketInfo> {
        self.read_bucket(name)?
            .map(|(record, _)| record.info())
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))
    }

    pub(crate) fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let mut out = Vec::new();
        let mut names: Vec<String> = self
            .inner
            .backend
            .list(&reserved(&["buckets"]))?
            .iter()
            .filter_map(|meta| meta.location.parts().nth(2).map(|p| p.as_ref().to_owned()))
            .collect();
        names.dedup();
        for name in names {
            if let Some((record, _)) = self.read_bucket(&name)? {
                out.push(record.info());
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(crate) fn set_bucket_encryption(
        &self,
        bucket: &str,
        rule: Option<EncryptionRule>,
        caller: &Caller,
    ) -> Result<()> {
        if let Some(key_id) = rule.as_ref().and_then(EncryptionRule::kms_key_id) {
            self.inner.keys.check_key_usable(key_id, caller)?;
        }
        // The generation after the one read: a change another process made
        // in between is read again and this one applied on top.
        loop {
            let (mut record, generation) = self
                .read_bucket(bucket)?
                .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
            record.rule = rule.clone();
            if self.write_bucket(&record, generation + 1)? {
                return Ok(());
            }
        }
    }

    /// The rule as stored now (what a put applies may be up to the cache's
    /// lifetime older where another process changed it).
    pub(crate) fn get_bucket_encryption(&self, bucket: &str) -> Result<EncryptionRule> {
        self.read_bucket(bucket)?
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?
            .0
            .rule
            .ok_or_else(|| Error::NoSuchEncryptionRule(bucket.to_owned()))
    }

    /// The bucket `name` exactly: [`Error::NoSuchBucket`] if it is not there.
    pub(crate) fn bucket_or_missing(&self, name: &str) -> Result<BucketRecord> {
        self.bucket(name)?
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))
    }
}

/// The reference the core binds a bucket's keys to.
pub(crate) fn bucket_ref(record: &BucketRecord) -> BucketRef<'_> {
    BucketRef {
        name: &record.name,
        incarnation: record.incarnation,
    }
}

fn bucket_key_path(bucket: &str, id: &BucketKeyId) -> object_store::path::Path {
    reserved(&["bucket-keys", bucket, &hex::encode(id)])
}

fn parse_hex_id(text: &str) -> Option<BucketKeyId> {
    hex::decode(text).ok()?.try_into().ok()
}

impl KeyRecords for RemoteStore {
    fn bucket_key(&self, bucket: &str, id: &BucketKeyId) -> Result<Option<Vec<u8>>> {
        match self
            .inner
            .backend
            .get(&bucket_key_path(bucket, id), GetOptions::default())?
        {
            Fetched::Found(_, raw) => Ok(Some(raw.to_vec())),
            _ => Ok(None),
        }
    }

    fn bucket_keys(&self, bucket: &str) -> Result<Vec<(BucketKeyId, Vec<u8>)>> {
        let mut out = Vec::new();
        for meta in self
            .inner
            .backend
            .list(&reserved(&["bucket-keys", bucket]))?
        {
            let Some(id) = meta.location.filename().and_then(parse_hex_id) else {
                continue;
            };
            if let Some(raw) = self.bucket_key(bucket, &id)? {
                out.push((id, raw));
            }
        }
        Ok(out)
    }

    fn put_bucket_key(
        &self,
        bucket: BucketRef<'_>,
        id: &BucketKeyId,
        sealed: Vec<u8>,
    ) -> Result<()> {
        let current = |store: &Self| -> Result<bool> {
            Ok(store
                .read_bucket(bucket.name)?
                .is_some_and(|(record, _)| record.incarnation == bucket.incarnation))
        };
        if !current(self)? {
            return Err(Error::NoSuchBucket(bucket.name.to_owned()));
        }
        let path = bucket_key_path(bucket.name, id);
        self.inner
            .backend
            .put(&path, Bytes::from(sealed).into(), PutMode::Overwrite)?;
        // A bucket deleted meanwhile must not keep it.
        if !current(self)? {
            self.inner.backend.delete(&path)?;
            return Err(Error::NoSuchBucket(bucket.name.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use coffer_keyring::RootKey;
    use object_store::memory::InMemory;

    use super::*;
    use crate::RemoteOptions;

    fn open(backend: &Arc<InMemory>) -> RemoteStore {
        let options = RemoteOptions::new(RootKey::from_bytes([9; 32]))
            .create_if_missing(true)
            .with_threads(1);
        RemoteStore::open(
            Arc::clone(backend) as Arc<dyn object_store::ObjectStore>,
            options,
        )
        .expect("a store")
    }

    /// What a rule change that read generation 1 before another process
    /// deleted the bucket (and perhaps created it again) then writes.
    #[test]
    fn a_write_from_before_a_delete_does_not_bring_the_bucket_back() {
        let backend = Arc::new(InMemory::new());
        let (first, second) = (open(&backend), open(&backend));
        first.create_bucket("gone").expect("created");
        let (mut stale, generation) = first.read_bucket("gone").expect("read").expect("there");
        second.delete_bucket("gone").expect("deleted");
        stale.rule = Some(EncryptionRule::managed());
        assert!(
            !first.write_bucket(&stale, generation + 1).expect("a write"),
            "the tombstone took the generation"
        );
        assert!(first.read_bucket("gone").expect("read").is_none());
        assert!(matches!(
            first.set_bucket_encryption("gone", Some(EncryptionRule::managed()), &Caller::Trusted),
            Err(Error::NoSuchBucket(_))
        ));

        second.create_bucket("gone").expect("created again");
        let (again, _) = second.read_bucket("gone").expect("read").expect("there");
        assert!(!first.write_bucket(&stale, generation + 1).expect("a write"));
        let (now, _) = first.read_bucket("gone").expect("read").expect("there");
        assert_eq!(now.incarnation, again.incarnation, "the new bucket stays");
        assert_ne!(now.incarnation, stale.incarnation);
        assert!(matches!(
            first.create_bucket("gone"),
            Err(Error::BucketAlreadyExists(_))
        ));
        assert_eq!(
            first.list_buckets().expect("listed").len(),
            1,
            "one bucket, listed once"
        );
    }
}
