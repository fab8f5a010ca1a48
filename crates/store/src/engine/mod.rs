//! RocksDB access below the object operations: recently written keys, blob
//! relocation, the keys family the keyring persists through, staged (WAL-less)
//! segment writes, and the audit log.

pub(crate) mod audit;
pub(crate) mod blob_relocation;
pub(crate) mod keys_family;
pub(crate) mod recent;
pub(crate) mod staged_put;
