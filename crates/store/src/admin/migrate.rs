//! Migrating a store written by an earlier version, on its first open with
//! this one. Each step is idempotent; the settings say the new versions only
//! when every step is done, so an interrupted migration resumes on the next
//! open, and after it an old-format record is an integrity error like any
//! other edit.
//!
//! - Object records version 1 and plain JSON bucket records (before records
//!   were authenticated): rewritten with their tags, in batches.
//! - Plain JSON job records (before jobs were authenticated): sealed.
//! - An unsealed audit log: its events are anchored as unauthenticated when
//!   the log opens (`audit::log`), and sealed events follow them.
//! - No recorded KMS backend: the backend this open uses is recorded, unless
//!   the store's wrapped keys show that its CMKs are in another one
//!   ([`Error::KmsMismatch`]: the backend is not recorded; what the steps
//!   before did stays done, and is done again harmlessly by the next open).

use bytes::Bytes;
use coffer_keyring::{KeyStore, Provider, SealedKeyStore, WrapAlgorithm, WrappedKey};
use rocksdb::{IteratorMode, WriteBatch};

use crate::admin::jobs::{JOB_MAGIC, JobStatus};
use crate::engine::db::storage;
use crate::format::columns::split_object_key;
use crate::format::record::{ObjectRecord, RecordAuth};
use crate::format::settings::{
    AUDIT_LOG, JOB_RECORDS, KmsBinding, OBJECT_RECORDS, SETTINGS_RECORD,
};
use crate::{ColumnFamily, Error, Result, Store};

const BATCH: usize = 1024;

impl Store {
    /// Brings every outdated format up to this version's, then says so in
    /// the settings; `opened` is the KMS backend of this open.
    pub(crate) fn migrate(&self, sealed: &SealedKeyStore, opened: KmsBinding) -> Result<()> {
        let mut settings = self.inner.settings.clone();
        if settings.object_records < OBJECT_RECORDS {
            self.migrate_records()?;
            settings.object_records = OBJECT_RECORDS;
        }
        if settings.kms.is_none() {
            self.check_kms_evidence(&opened)?;
            settings.kms = Some(opened);
        }
        if settings.job_records < JOB_RECORDS {
            self.seal_job_records()?;
            settings.job_records = JOB_RECORDS;
        }
        // The audit log anchored its unsealed events when it opened.
        settings.audit_log = AUDIT_LOG;
        sealed.apply(vec![(SETTINGS_RECORD.to_owned(), Some(settings.encode()))])?;
        tracing::info!("store migrated to this version's record formats");
        Ok(())
    }

    /// Object records version 1 and plain JSON bucket records, with their tags.
    fn migrate_records(&self) -> Result<()> {
        let db = self.db()?;
        let mut batch = WriteBatch::default();
        let mut migrated = 0usize;
        let buckets = db.cf(ColumnFamily::Buckets)?;
        for item in db.iterator_cf(buckets, IteratorMode::Start) {
            let (name, value) = item.map_err(storage)?;
            if let Some(record) = RecordAuth::decode_legacy_bucket(&value)? {
                batch.put_cf(buckets, &name, self.inner.records.seal_bucket(&record)?);
                migrated += 1;
            }
        }
        let objects = db.cf(ColumnFamily::Objects)?;
        for item in db.iterator_cf(objects, IteratorMode::Start) {
            let (raw_key, value) = item.map_err(storage)?;
            if !ObjectRecord::is_legacy(&value) {
                continue;
            }
            let (bucket, key) = split_object_key(&raw_key)
                .ok_or_else(|| Error::CorruptRecord("object key".into()))?;
            let record = ObjectRecord::decode_legacy(Bytes::from(value.into_vec()))?;
            batch.put_cf(
                objects,
                &raw_key,
                self.inner.records.seal(bucket, key, &record)?,
            );
            migrated += 1;
            if batch.len() >= BATCH {
                db.write_opt(std::mem::take(&mut batch), &self.inner.engine.write_options)
                    .map_err(storage)?;
            }
        }
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        db.write_opt(batch, &sync).map_err(storage)?;
        tracing::info!(records = migrated, "records authenticated (version 2)");
        Ok(())
    }

    /// Plain JSON job records, sealed and bound to their ids (a record sealed
    /// already, by an interrupted migration, is left as it is).
    fn seal_job_records(&self) -> Result<()> {
        let db = self.db()?;
        let jobs = db.cf(ColumnFamily::Jobs)?;
        let mut batch = WriteBatch::default();
        for item in db.iterator_cf(jobs, IteratorMode::Start) {
            let (id, value) = item.map_err(storage)?;
            if value.starts_with(JOB_MAGIC) {
                continue;
            }
            let id = String::from_utf8_lossy(&id).into_owned();
            let status: JobStatus = serde_json::from_slice(&value)
                .map_err(|e| Error::CorruptRecord(format!("job {id}: {e}")))?;
            if status.id != id {
                return Err(Error::CorruptRecord(format!(
                    "job {id}: its record names job {}",
                    status.id
                )));
            }
            batch.put_cf(jobs, id.as_bytes(), self.seal_job(&status)?);
        }
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        db.write_opt(batch, &sync).map_err(storage)?;
        Ok(())
    }

    /// [`Error::KmsMismatch`] if a wrapped key of the store (an object's, a
    /// bucket key's; records that authenticate) was made by another KMS
    /// backend than `opened`.
    fn check_kms_evidence(&self, opened: &KmsBinding) -> Result<()> {
        let db = self.db()?;
        let mut wrapped_keys = Vec::new();
        for item in db.iterator_cf(db.cf(ColumnFamily::Objects)?, IteratorMode::Start) {
            let (raw_key, value) = item.map_err(storage)?;
            let record = split_object_key(&raw_key).and_then(|(bucket, key)| {
                self.inner
                    .records
                    .open_scanned(bucket, key, value.into_vec().into())
                    .ok()
            });
            wrapped_keys.extend(record.map(|record| record.wrapped_key));
        }
        for (_, _, record) in self.bucket_keys_of(None)? {
            wrapped_keys.push(record.wrapped.encode());
        }
        for raw in wrapped_keys {
            let Ok(wrapped) = WrappedKey::decode(&raw) else {
                continue;
            };
            let made_by = match (wrapped.provider(), wrapped.algorithm()) {
                (Provider::Kms, WrapAlgorithm::HkdfSha256Aes256Gcm) => "local",
                (Provider::Kms, WrapAlgorithm::TransitCiphertext) => "transit",
                (Provider::Kms, WrapAlgorithm::AwsKmsCiphertext) => "aws-kms",
                _ => continue,
            };
            if made_by != opened.backend {
                return Err(Error::KmsMismatch {
                    store: KmsBinding {
                        backend: made_by.to_owned(),
                        location: None,
                    }
                    .to_string(),
                    opened: opened.to_string(),
                });
            }
        }
        Ok(())
    }
}
