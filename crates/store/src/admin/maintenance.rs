//! Maintenance: rewrapping data keys after rotation, checking the store's
//! consistency, flushing and compacting, and rotating the root key.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use coffer_keyring::{KeyStore, RootKey, SealedKeyStore};
use rocksdb::{IteratorMode, WriteBatch};

use crate::ProtectionMode;
use crate::engine::db::open_db;
use crate::engine::db::storage;
use crate::engine::keys_family::KeysFamily;
use crate::format::columns::{OBJECT_ID_LEN, object_key, split_object_key};
use crate::format::record::Body;
use crate::objects::get::no_such_key;
use crate::{ColumnFamily, Error, Result, Store, Tuning};

/// What [`Store::check_consistency`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsistencyReport {
    /// Object records.
    pub objects: usize,
    /// Objects whose payload is in segments.
    pub segmented_objects: usize,
    /// Object ids with segments but no record (should be empty after open).
    pub orphan_segment_objects: Vec<String>,
    /// `bucket/key` of objects missing a segment.
    pub missing_segments: Vec<String>,
    /// `bucket/key` of objects whose record fails to authenticate (edited,
    /// moved from another key, or planted).
    pub damaged_records: Vec<String>,
}

impl Store {
    /// Moves an object's wrapped data key to the current master key version
    /// (AES256) or current CMK material (KMS), without touching its data.
    /// Returns whether it changed anything: never for an object whose data key
    /// comes from a bucket key (its bucket key is what `rewrap_bucket` moves).
    pub fn rewrap_object(&self, bucket: &str, key: &str) -> Result<bool> {
        self.rewrap_object_sized(bucket, key)
            .map(|(changed, _)| changed)
    }

    /// [`Store::rewrap_object`], also returning the object's size.
    pub(crate) fn rewrap_object_sized(&self, bucket: &str, key: &str) -> Result<(bool, u64)> {
        let raw_key = object_key(bucket, key);
        let _guard = self.stripe(&raw_key).lock();
        let (sealed, size) = self.rewrapped_record(bucket, key)?;
        let Some(sealed) = sealed else {
            return Ok((false, size));
        };
        let db = self.db()?;
        db.put_cf_opt(
            db.cf(ColumnFamily::Objects)?,
            raw_key,
            sealed,
            &self.inner.engine.write_options,
        )
        .map_err(storage)?;
        Ok((true, size))
    }

    /// [`Store::rewrap_object_sized`] for many keys of `bucket`, in order:
    /// the changed records are written together, up to [`REWRAP_BATCH`] per
    /// RocksDB write (or what [`REWRAP_HOLD`] allows), with their keys' locks
    /// held from the read to the write, so a concurrent writer of one of
    /// them waits and is never overwritten. A lock held elsewhere is waited
    /// for only after the batch so far is written and its locks released, so
    /// two batch writers never wait on each other. An object `under_kms` says
    /// is under a KMS (a hint, read unauthenticated; a wrong one costs only
    /// time) is rewrapped on its own, so that its network call holds no lock
    /// but its own.
    pub(crate) fn rewrap_objects_sized(
        &self,
        bucket: &str,
        keys: &[String],
        under_kms: &[bool],
    ) -> Vec<Result<(bool, u64)>> {
        let mut out: Vec<Result<(bool, u64)>> = Vec::with_capacity(keys.len());
        let mut batch = RewrapBatch::default();
        for (at, key) in keys.iter().enumerate() {
            if under_kms.get(at).copied().unwrap_or(false) {
                self.write_rewraps(&mut batch, &mut out);
                out.push(self.rewrap_object_sized(bucket, key));
                continue;
            }
            let raw_key = object_key(bucket, key);
            let stripe = self.stripe(&raw_key);
            // Keys share stripes: one already held covers this key too.
            if !batch.stripes.iter().any(|held| std::ptr::eq(*held, stripe)) {
                let guard = match stripe.try_lock() {
                    Some(guard) => guard,
                    None => {
                        self.write_rewraps(&mut batch, &mut out);
                        stripe.lock()
                    }
                };
                if batch.held.is_empty() {
                    batch.since = Some(Instant::now());
                }
                batch.held.push(guard);
                batch.stripes.push(stripe);
            }
            match self.rewrapped_record(bucket, key) {
                Ok((Some(sealed), size)) => {
                    batch.records.push((raw_key, sealed));
                    batch.pending.push(out.len());
                    out.push(Ok((true, size)));
                }
                Ok((None, size)) => out.push(Ok((false, size))),
                Err(error) => out.push(Err(error)),
            }
            let held_long = batch
                .since
                .is_some_and(|since| since.elapsed() >= REWRAP_HOLD);
            if batch.records.len() >= REWRAP_BATCH || held_long {
                self.write_rewraps(&mut batch, &mut out);
            }
        }
        self.write_rewraps(&mut batch, &mut out);
        out
    }

    /// Writes a batch's records in one write, then releases its locks; a
    /// failed write fails each of its objects.
    fn write_rewraps<'a>(&'a self, batch: &mut RewrapBatch<'a>, out: &mut [Result<(bool, u64)>]) {
        if !batch.records.is_empty() {
            let written = self.db().and_then(|db| {
                let family = db.cf(ColumnFamily::Objects)?;
                let mut write = WriteBatch::default();
                for (raw_key, sealed) in &batch.records {
                    write.put_cf(family, raw_key, sealed);
                }
                db.write_opt(write, &self.inner.engine.write_options)
                    .map_err(storage)?;
                Ok(())
            });
            if let Err(error) = written {
                for &at in &batch.pending {
                    out[at] = Err(match &error {
                        Error::Storage(e) => Error::Storage(e.clone()),
                        _ => Error::Closed,
                    });
                }
            }
        }
        batch.records.clear();
        batch.pending.clear();
        batch.held.clear();
        batch.stripes.clear();
    }

    /// The object's record sealed anew with its data key rewrapped (`None`
    /// if nothing changes), and its size. The caller holds the key's lock.
    fn rewrapped_record(&self, bucket: &str, key: &str) -> Result<(Option<Vec<u8>>, u64)> {
        let mut record = self
            .read_record_scanned(bucket, key)?
            .ok_or_else(|| no_such_key(bucket, key))?;
        let size = record.size;
        if record.mode == ProtectionMode::None {
            return Ok((None, size));
        }
        let rewrapped =
            self.inner
                .keys
                .rewrap_data_key(bucket, key, &record.object_id, &record.wrapped_key)?;
        let Some(rewrapped) = rewrapped else {
            return Ok((None, size));
        };
        record.key_version = rewrapped.key_version();
        record.wrapped_key = rewrapped.encode();
        let sealed = self.inner.records.seal(bucket, key, &record)?;
        Ok((Some(sealed), size))
    }

    /// Rewraps every bucket key of a bucket (one KMS call each, whatever the
    /// number of objects derived from it) and every object's own wrapped data
    /// key; returns how many wrapped keys changed (bucket keys and objects).
    pub fn rewrap_bucket(&self, bucket: &str) -> Result<usize> {
        self.bucket_record(bucket)?;
        let mut changed = self.rewrap_bucket_keys(bucket)?;
        for key in self.keys_in(Some(bucket))? {
            changed += usize::from(self.rewrap_object(bucket, &key.1)?);
        }
        Ok(changed)
    }

    /// Checks that every record authenticates, every segment belongs to an
    /// object and every object has its segments.
    pub fn check_consistency(&self) -> Result<ConsistencyReport> {
        let mut report = ConsistencyReport::default();
        let mut referenced = HashSet::new();
        let db = self.db()?;
        let chunks = db.cf(ColumnFamily::Chunks)?;
        for item in db.iterator_cf(db.cf(ColumnFamily::Objects)?, IteratorMode::Start) {
            let (raw_key, value) = item.map_err(storage)?;
            report.objects += 1;
            let (bucket, key) = split_object_key(&raw_key).unwrap_or(("?", "?"));
            let record = match self
                .inner
                .records
                .open_scanned(bucket, key, value.into_vec().into())
            {
                Ok(record) => record,
                Err(_) => {
                    report.damaged_records.push(format!("{bucket}/{key}"));
                    continue;
                }
            };
            let expected: Vec<Vec<u8>> = match &record.body {
                Body::Inline(_) => Vec::new(),
                Body::Segmented { segments, .. } => (0..*segments)
                    .map(|index| {
                        crate::format::columns::segment_key(&record.object_id, index).to_vec()
                    })
                    .collect(),
                Body::Multipart { parts } => parts
                    .iter()
                    .flat_map(|part| {
                        let prefix = crate::objects::multipart::part_segment_prefix(
                            &record.object_id,
                            part.number,
                            &part.attempt,
                        );
                        (0..part.segments).map(move |index| {
                            crate::objects::multipart::part_segment_key(&prefix, index)
                        })
                    })
                    .collect(),
            };
            if !matches!(record.body, Body::Inline(_)) {
                report.segmented_objects += 1;
                referenced.insert(record.object_id);
            }
            for segment in expected {
                if db
                    .get_pinned_cf(chunks, segment)
                    .map_err(storage)?
                    .is_none()
                {
                    report.missing_segments.push(format!("{bucket}/{key}"));
                    break;
                }
            }
        }
        // The parts of multipart uploads in progress belong to them, and the
        // segments of writes in progress (streamed puts, a job's staged
        // copies) to theirs.
        for (upload, _) in self.uploads()? {
            referenced.insert(upload);
        }
        for item in db.iterator_cf(db.cf(ColumnFamily::Uploads)?, IteratorMode::Start) {
            let (id, _) = item.map_err(storage)?;
            if let Ok(id) = <[u8; OBJECT_ID_LEN]>::try_from(id.as_ref()) {
                referenced.insert(id);
            }
        }
        let mut seen = HashSet::new();
        for item in db.iterator_cf(chunks, IteratorMode::Start) {
            let (key, _) = item.map_err(storage)?;
            let id: [u8; OBJECT_ID_LEN] = key
                .get(..OBJECT_ID_LEN)
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| Error::CorruptRecord("segment key".into()))?;
            if !referenced.contains(&id) && seen.insert(id) {
                report.orphan_segment_objects.push(hex::encode(id));
            }
        }
        Ok(report)
    }

    /// Writes every column family's memtable to disk and waits for it, so that
    /// the write-ahead log can be dropped (before a backup of the directory, or
    /// to settle a benchmark round).
    pub fn flush(&self) -> Result<()> {
        let db = self.db()?;
        for family in ColumnFamily::ALL {
            db.flush_cf(db.cf(family)?).map_err(storage)?;
        }
        Ok(())
    }

    /// Flushes memtables and compacts every column family, collecting every blob
    /// file: afterwards no replaced or deleted object's bytes remain on disk
    /// (for maintenance windows, and after encrypting historical objects).
    pub fn flush_and_compact(&self) -> Result<()> {
        self.flush()?;
        let db = self.db()?;
        for family in ColumnFamily::ALL {
            if family == ColumnFamily::Chunks {
                self.inner
                    .engine
                    .blob_relocation
                    .compact_relocating_everything(&db)?;
            } else {
                crate::engine::blob_relocation::compact_everything(&db, family)?;
            }
        }
        Ok(())
    }

    /// Reseals every key record of the store in `dir` from `old` to `new`, in
    /// one atomic write: afterwards only `new` opens the store, and the records
    /// sealed under `old` are compacted out of the store's files. The store
    /// must not be open ([`Error::Storage`] otherwise: RocksDB's lock), and must
    /// have been opened once by this version. Returns how many records were
    /// resealed. Object data is untouched: data keys are wrapped by master keys
    /// and CMKs, which the root key only seals.
    ///
    /// Backups of the directory taken before the rotation still open with the
    /// old root key: destroy them, or the old key, as the rotation requires.
    pub fn rotate_root_key(dir: impl AsRef<Path>, old: &RootKey, new: &RootKey) -> Result<usize> {
        let dir = dir.as_ref();
        if !dir.join("CURRENT").exists() {
            return Err(Error::StoreNotFound(dir.to_owned()));
        }
        let keys: Arc<dyn KeyStore> = Arc::new(KeysFamily {
            db: open_db(dir, &Tuning::default(), false)?,
        });
        let count = SealedKeyStore::rotate_root_key(Arc::clone(&keys), old, new)?;
        keys.compact()?;
        Ok(count)
    }

    /// (bucket, key) of every object, or of one bucket's.
    /// How many objects `bucket` (every bucket if `None`) holds, from the
    /// keys alone (no record is read): for progress totals.
    pub fn object_count(&self, bucket: Option<&str>) -> Result<u64> {
        let prefix = bucket.map(|b| object_key(b, "")).unwrap_or_default();
        let db = self.db()?;
        let mut count = 0;
        for item in db.iterator_cf(
            db.cf(ColumnFamily::Objects)?,
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        ) {
            let (raw_key, _) = item.map_err(storage)?;
            if !raw_key.starts_with(&prefix) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    fn keys_in(&self, bucket: Option<&str>) -> Result<Vec<(String, String)>> {
        let prefix = bucket.map(|b| object_key(b, "")).unwrap_or_default();
        let mut out = Vec::new();
        let db = self.db()?;
        for item in db.iterator_cf(
            db.cf(ColumnFamily::Objects)?,
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        ) {
            let (raw_key, _) = item.map_err(storage)?;
            if !raw_key.starts_with(&prefix) {
                break;
            }
            if let Some((b, k)) = split_object_key(&raw_key) {
                out.push((b.to_owned(), k.to_owned()));
            }
        }
        Ok(out)
    }
}

/// At most this many objects per rewrap write.
const REWRAP_BATCH: usize = 64;
/// At most this long holding a rewrap batch's locks (a KMS rewrap is a
/// network call).
const REWRAP_HOLD: std::time::Duration = std::time::Duration::from_millis(2);

/// Rewrapped records waiting to be written, and the locks of their keys.
#[derive(Default)]
struct RewrapBatch<'a> {
    held: Vec<parking_lot::MutexGuard<'a, ()>>,
    /// The stripes `held` locks.
    stripes: Vec<&'a parking_lot::Mutex<()>>,
    records: Vec<(Vec<u8>, Vec<u8>)>,
    /// Where in the results each record's object is.
    pending: Vec<usize>,
    since: Option<Instant>,
}
