//! Migrating a store written before records were authenticated (object
//! records version 1, bucket records as plain JSON): on the first open with
//! this version, every record is rewritten with its tag, in batches; the
//! settings say version 2 only when all are done, so an interrupted migration
//! resumes on the next open. After that, an unauthenticated record is an
//! integrity error like any other edit.

use bytes::Bytes;
use coffer_keyring::{KeyStore, SealedKeyStore};
use rocksdb::{IteratorMode, WriteBatch};

use crate::columns::split_object_key;
use crate::record::{ObjectRecord, RecordAuth};
use crate::settings::{OBJECT_RECORDS, SETTINGS_RECORD, StoreSettings};
use crate::{ColumnFamily, Error, Result, Store};

const BATCH: usize = 1024;

impl Store {
    pub(crate) fn migrate_records(&self, sealed: &SealedKeyStore) -> Result<()> {
        let db = self.db()?;
        let mut batch = WriteBatch::default();
        let mut migrated = 0usize;
        let buckets = db.cf(ColumnFamily::Buckets)?;
        for item in db.iterator_cf(buckets, IteratorMode::Start) {
            let (name, value) = item?;
            if let Some(record) = RecordAuth::decode_legacy_bucket(&value)? {
                batch.put_cf(buckets, &name, self.inner.records.seal_bucket(&record)?);
                migrated += 1;
            }
        }
        let objects = db.cf(ColumnFamily::Objects)?;
        for item in db.iterator_cf(objects, IteratorMode::Start) {
            let (raw_key, value) = item?;
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
                db.write_opt(std::mem::take(&mut batch), &self.inner.write_options)?;
            }
        }
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        db.write_opt(batch, &sync)?;
        let settings = StoreSettings {
            object_records: OBJECT_RECORDS,
            ..self.inner.settings.clone()
        };
        sealed.apply(vec![(SETTINGS_RECORD.to_owned(), Some(settings.encode()))])?;
        tracing::info!(records = migrated, "records authenticated (version 2)");
        Ok(())
    }
}
