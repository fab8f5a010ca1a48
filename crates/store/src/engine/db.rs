//! The RocksDB database under the store: opened with every column family,
//! shared so that `Store::close` can take it, borrowed for one operation; the
//! engine's error for RocksDB's, and the ids and times records carry.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
use rocksdb::{ColumnFamilyDescriptor, DB};

use crate::{ColumnFamily, Error, Result};

/// The database, until [`Store::close`] takes it.
pub(crate) type SharedDb = Arc<RwLock<Option<DB>>>;

/// The open database, borrowed for one operation; [`Error::Closed`] once the
/// store is closed.
pub(crate) struct DbRef<'a>(MappedRwLockReadGuard<'a, DB>);

impl Deref for DbRef<'_> {
    type Target = DB;
    fn deref(&self) -> &DB {
        &self.0
    }
}

impl DbRef<'_> {
    pub(crate) fn cf(&self, family: ColumnFamily) -> Result<&rocksdb::ColumnFamily> {
        cf(&self.0, family)
    }
}

/// Borrows the database behind `shared`, unless the store was closed.
pub(crate) fn borrow_db(shared: &SharedDb) -> Option<DbRef<'_>> {
    // Recursive: an operation may borrow again while `close` waits.
    RwLockReadGuard::try_map(shared.read_recursive(), Option::as_ref)
        .ok()
        .map(DbRef)
}

/// Opens the RocksDB database in `dir` with every column family, shared so
/// that [`Store::close`] can take it.
pub(crate) fn open_db(dir: &Path, tuning: &crate::Tuning, create: bool) -> Result<SharedDb> {
    let cache = tuning.block_cache();
    let families = ColumnFamily::ALL.iter().map(|&family| {
        ColumnFamilyDescriptor::new(family.name(), tuning.column_family_options(family, &cache))
    });
    let mut db_options = tuning.db_options();
    db_options.create_if_missing(create);
    let db = DB::open_cf_descriptors(&db_options, dir, families).map_err(storage)?;
    Ok(Arc::new(RwLock::new(Some(db))))
}

/// The handle of `family` ([`Error::CorruptRecord`] if the database lacks it).
pub(crate) fn cf(db: &DB, family: ColumnFamily) -> Result<&rocksdb::ColumnFamily> {
    db.cf_handle(family.name())
        .ok_or_else(|| Error::CorruptRecord(format!("column family {} is missing", family.name())))
}

/// RocksDB's error as the engine's [`Error::Storage`].
pub(crate) fn storage(error: rocksdb::Error) -> Error {
    Error::Storage(crate::StorageError::new(error))
}

/// Ids and times: the core's.
pub(crate) use coffer_sse::ids::{millis, random_id};
