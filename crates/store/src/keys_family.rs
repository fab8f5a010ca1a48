//! The keyring's and local KMS's persistence over the `keys` column family.

use std::sync::Arc;

use coffer_keyring::KeyStore;
use rocksdb::{DB, IteratorMode, WriteBatch, WriteOptions};

use crate::ColumnFamily;

/// [`KeyStore`] over the `keys` column family. Writes are synced, since losing a
/// new key version would make objects wrapped under it unreadable; only wrap
/// counters are written lazily (still in order with every other write).
pub(crate) struct KeysFamily {
    pub(crate) db: Arc<DB>,
}

fn storage(error: rocksdb::Error) -> coffer_keyring::Error {
    coffer_keyring::Error::Storage(Box::new(error))
}

impl KeysFamily {
    fn cf(&self) -> coffer_keyring::Result<&rocksdb::ColumnFamily> {
        self.db.cf_handle(ColumnFamily::Keys.name()).ok_or_else(|| {
            coffer_keyring::Error::Storage("the keys column family is missing".into())
        })
    }
}

impl KeyStore for KeysFamily {
    fn get(&self, name: &str) -> coffer_keyring::Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf()?, name.as_bytes()).map_err(storage)
    }

    fn scan(&self, prefix: &str) -> coffer_keyring::Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf()?,
            IteratorMode::From(prefix.as_bytes(), rocksdb::Direction::Forward),
        );
        for item in iter {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(prefix.as_bytes()) {
                break;
            }
            let name = String::from_utf8(key.to_vec())
                .map_err(|e| coffer_keyring::Error::Storage(e.into()))?;
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
}

impl KeysFamily {
    fn write(
        &self,
        changes: Vec<(String, Option<Vec<u8>>)>,
        sync: bool,
    ) -> coffer_keyring::Result<()> {
        let cf = self.cf()?;
        let mut batch = WriteBatch::default();
        for (name, value) in changes {
            match value {
                Some(value) => batch.put_cf(cf, name.as_bytes(), value),
                None => batch.delete_cf(cf, name.as_bytes()),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db.write_opt(batch, &options).map_err(storage)
    }
}
