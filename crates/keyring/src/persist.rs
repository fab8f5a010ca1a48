//! Where the keyring and the local KMS keep their records. The store implements
//! [`KeyStore`] over RocksDB; [`MemoryKeyStore`] serves tests.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use crate::Result;

/// A durable map from record names to bytes. Every value written through it is
/// already sealed under the root key or holds no secret.
pub trait KeyStore: Send + Sync {
    /// The record called `name`, if any.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>>;

    /// Every record whose name starts with `prefix`, in name order.
    fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;

    /// Writes (`Some`) and deletes (`None`) records atomically and durably.
    fn apply(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> Result<()>;

    /// Writes records whose loss in a crash is harmless (the record keeps its
    /// previous value, which its reader allows for), without waiting for them
    /// to be durable: wrap counters. By default, the same as [`KeyStore::apply`].
    fn apply_lazily(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        self.apply(changes)
    }

    /// Makes deleted and overwritten values unrecoverable from the storage's
    /// files (logs and tables), for destroyed key material. By default nothing:
    /// an in-memory store keeps no old values.
    fn compact(&self) -> Result<()> {
        Ok(())
    }
}

/// An in-memory [`KeyStore`].
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    records: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.records.lock().get(name).cloned())
    }

    fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(self
            .records
            .lock()
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect())
    }

    fn apply(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        let mut records = self.records.lock();
        for (name, value) in changes {
            match value {
                Some(value) => records.insert(name, value),
                None => records.remove(&name),
            };
        }
        Ok(())
    }
}
