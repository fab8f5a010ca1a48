//! RocksDB access below the object operations: the database handle (db),
//! the engine's state (state: write options, locks, the bucket gate and
//! map), blob relocation, the keys family the keyring persists through, and
//! the audit log.

pub(crate) mod audit;
pub(crate) mod blob_relocation;
pub(crate) mod db;
pub(crate) mod keys_family;
pub(crate) mod state;
