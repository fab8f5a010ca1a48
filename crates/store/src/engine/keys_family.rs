//! The keyring's and local KMS's persistence over the `keys` column family.

use coffer_keyring::KeyStore;
use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use crate::ColumnFamily;
use crate::engine::db::{DbRef, SharedDb, borrow_db};

/// [`KeyStore`] over the `keys` column family. Writes are synced, since losing a
/// new key version would make objects wrapped under it unreadable; only wrap
/// counters are written lazily (still in order with every other write).
pub(crate) struct KeysFamily {
    pub(crate) db: SharedDb,
}

fn storage(error: impl std::error::Error + Send + Sync + 'static) -> coffer_keyring::Error {
    coffer_keyring::Error::Storage(Box::new(error))
}

impl KeysFamily {
    fn db(&self) -> coffer_keyring::Result<DbRef<'_>> {
        borrow_db(&self.db).ok_or_else(|| storage(crate::Error::Closed))
    }
}

fn keys_cf<'a>(db: &'a DbRef<'_>) -> coffer_keyring::Result<&'a rocksdb::ColumnFamily> {
    db.cf(ColumnFamily::Keys).map_err(storage)
}

impl KeyStore for KeysFamily {
    fn get(&self, name: &str) -> coffer_keyring::Result<Option<Vec<u8>>> {
        let db = self.db()?;
        db.get_cf(keys_cf(&db)?, name.as_bytes()).map_err(storage)
    }

    fn scan(&self, prefix: &str) -> coffer_keyring::Result<Vec<(String, Vec<u8>)>> {
        let db = self.db()?;
        let mut out = Vec::new();
        let iter = db.iterator_cf(
            keys_cf(&db)?,
            IteratorMode::From(prefix.as_bytes(), rocksdb::Direction::Forward),
        );
        for item in iter {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(prefix.as_bytes()) {
                break;
            }
            let name = String::from_utf8(key.to_vec()).map_err(storage)?;
            out.push((name, value.to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> coffer_keyring::Result<()> {
        self.write(changes, true)
    }

    fn apply_lazily(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> coffer_keyring::Result<()> {
        self.write(changes, false)
    }

    /// Flushes every column family, so that the write-ahead log files holding
    /// the keys family's old values are dropped, then compacts the keys family,
    /// so that no table file holds them: destroyed key material leaves the
    /// directory (RocksDB deletes obsolete files when nothing reads them).
    fn compact(&self) -> coffer_keyring::Result<()> {
        let db = self.db()?;
        for family in ColumnFamily::ALL {
            db.flush_cf(db.cf(family).map_err(storage)?)
                .map_err(storage)?;
        }
        let keys = keys_cf(&db)?;
        let mut options = rocksdb::CompactOptions::default();
        options.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        db.compact_range_cf_opt(keys, None::<&[u8]>, None::<&[u8]>, &options);
        Ok(())
    }
}

impl KeysFamily {
    fn write(
        &self,
        changes: Vec<(String, Option<Vec<u8>>)>,
        sync: bool,
    ) -> coffer_keyring::Result<()> {
        let db = self.db()?;
        let cf = keys_cf(&db)?;
        let mut batch = WriteBatch::default();
        for (name, value) in changes {
            match value {
                Some(value) => batch.put_cf(cf, name.as_bytes(), value),
                None => batch.delete_cf(cf, name.as_bytes()),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        db.write_opt(batch, &options).map_err(storage)
    }
}
