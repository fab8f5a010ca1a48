//! RocksDB access below the object operations: the database handle (db),
//! blob relocation, the keys family the keyring persists through, and the
//! audit log.

pub(crate) mod audit;
pub(crate) mod blob_relocation;
pub(crate) mod db;
pub(crate) mod keys_family;
