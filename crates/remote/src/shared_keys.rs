//! The keyring's records (the root key's check, the store's settings and
//! secret, the master keyring's sealed versions, the local KMS's keys) as
//! one record that several processes share, in generations under
//! `.coffer/keyring/` ([`crate::generations`]): every change writes the
//! generation after the one this process read, so two writers never lose
//! each other's change.
//!
//! A write that finds the next generation taken reads the newest again and applies its
//! changes on top, unless another process changed one of the same records
//! (two rotations to the same version, say): then the change fails with a
//! conflict, this process's keyring is left as the other process wrote it,
//! and reopening the store shows it. Changes to records no other writer
//! touched (a new CMK, a wrap counter) merge. Lazily written records (wrap
//! counters) that conflict are dropped, as their reader allows.
//!
//! ```text
//! .coffer/keyring/<generation> = u8 version (1) ‖ u32 count ‖ count × (str16 name ‖ bytes32 value)
//! ```
//! in name order; the values are the keyring's own sealed records.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use coffer_keyring::KeyStore;
use coffer_sse::codec::{Reader, put_len16, put_len32};
use object_store::path::Path;
use parking_lot::Mutex;

use crate::backend::{Backend, reserved};
use crate::generations;

const VERSION: u8 = 1;

/// The records as last read or written, and the version they were.
#[derive(Clone, Default)]
struct Snapshot {
    records: BTreeMap<String, Vec<u8>>,
    /// `None`: there was no keyring yet.
    generation: Option<u64>,
}

/// The keyring's records in one shared object.
pub(crate) struct SharedKeys {
    backend: Arc<Backend>,
    dir: Path,
    snapshot: Mutex<Snapshot>,
}

/// Another process changed the same keyring records first.
#[derive(Debug)]
pub struct KeyringConflict(String);

impl std::fmt::Display for KeyringConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another process changed keyring record {} first; nothing was changed here: reopen the store and retry",
            self.0
        )
    }
}

impl std::error::Error for KeyringConflict {}

impl KeyringConflict {
    /// Whether `error` is a keyring change another process made first
    /// (then nothing was changed here, and a retry starts from theirs).
    pub fn caused(error: &coffer_sse::Error) -> bool {
        is_conflict(error)
    }
}

/// Whether `error` is a [`KeyringConflict`].
pub(crate) fn is_conflict(error: &coffer_sse::Error) -> bool {
    matches!(
        error,
        coffer_sse::Error::Key(coffer_keyring::Error::Storage(inner))
            if inner.downcast_ref::<KeyringConflict>().is_some()
    )
}

fn storage(error: impl std::error::Error + Send + Sync + 'static) -> coffer_keyring::Error {
    coffer_keyring::Error::Storage(Box::new(error))
}

fn corrupt(what: &str) -> coffer_keyring::Error {
    storage(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the shared keyring object is damaged: {what}"),
    ))
}

impl SharedKeys {
    /// The keyring of the bucket set in `backend`, read now.
    pub(crate) fn open(backend: Arc<Backend>) -> coffer_keyring::Result<Self> {
        let keys = Self {
            backend,
            dir: reserved(&["keyring"]),
            snapshot: Mutex::new(Snapshot::default()),
        };
        let snapshot = keys.read()?;
        *keys.snapshot.lock() = snapshot;
        Ok(keys)
    }

    /// Whether the keyring object existed when last read.
    pub(crate) fn exists(&self) -> bool {
        self.snapshot.lock().generation.is_some()
    }

    fn read(&self) -> coffer_keyring::Result<Snapshot> {
        match generations::latest(&self.backend, &self.dir).map_err(storage)? {
            Some((generation, bytes)) => Ok(Snapshot {
                records: decode(&bytes)?,
                generation: Some(generation),
            }),
            None => Ok(Snapshot::default()),
        }
    }

    /// Reads the keyring again: what other processes changed since.
    pub(crate) fn refresh(&self) -> coffer_keyring::Result<()> {
        let snapshot = self.read()?;
        *self.snapshot.lock() = snapshot;
        Ok(())
    }

    fn write(
        &self,
        changes: Vec<(String, Option<Vec<u8>>)>,
        lazily: bool,
    ) -> coffer_keyring::Result<()> {
        let mut snapshot = self.snapshot.lock();
        let base = snapshot.clone();
        let mut current = base.clone();
        loop {
            let mut next = current.records.clone();
            for (name, value) in &changes {
                match value {
                    Some(value) => next.insert(name.clone(), value.clone()),
                    None => next.remove(name),
                };
            }
            let generation = current.generation.map_or(1, |g| g + 1);
            let bytes = Bytes::from(encode(&next)?);
            if generations::create(&self.backend, &self.dir, generation, bytes).map_err(storage)? {
                *snapshot = Snapshot {
                    records: next,
                    generation: Some(generation),
                };
                return Ok(());
            }
            // Another writer took that generation: merge, unless it
            // changed one of these records.
            current = self.read()?;
            if let Some((name, _)) = changes
                .iter()
                .find(|(name, _)| current.records.get(name) != base.records.get(name))
            {
                let conflict = KeyringConflict(name.clone());
                *snapshot = current;
                if lazily {
                    tracing::debug!(%conflict, "dropped a lazily written keyring record");
                    return Ok(());
                }
                return Err(storage(conflict));
            }
        }
    }
}

impl KeyStore for SharedKeys {
    fn get(&self, name: &str) -> coffer_keyring::Result<Option<Vec<u8>>> {
        Ok(self.snapshot.lock().records.get(name).cloned())
    }

    fn scan(&self, prefix: &str) -> coffer_keyring::Result<Vec<(String, Vec<u8>)>> {
        Ok(self
            .snapshot
            .lock()
            .records
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect())
    }

    fn apply(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> coffer_keyring::Result<()> {
        self.write(changes, false)
    }

    fn apply_lazily(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> coffer_keyring::Result<()> {
        self.write(changes, true)
    }
}

fn encode(records: &BTreeMap<String, Vec<u8>>) -> coffer_keyring::Result<Vec<u8>> {
    let size = records
        .iter()
        .map(|(n, v)| n.len() + v.len() + 6)
        .sum::<usize>();
    let mut out = Vec::with_capacity(5 + size);
    out.push(VERSION);
    let count = u32::try_from(records.len()).map_err(|_| corrupt("too many records"))?;
    out.extend_from_slice(&count.to_le_bytes());
    for (name, value) in records {
        put_len16(&mut out, name.as_bytes()).map_err(storage)?;
        put_len32(&mut out, value).map_err(storage)?;
    }
    Ok(out)
}

fn decode(raw: &[u8]) -> coffer_keyring::Result<BTreeMap<String, Vec<u8>>> {
    let mut r = Reader::new(raw);
    let read = |r: &mut Reader<'_>| -> coffer_sse::Result<BTreeMap<String, Vec<u8>>> {
        if r.u8()? != VERSION {
            return Err(coffer_sse::Error::CorruptRecord(
                "keyring object version".into(),
            ));
        }
        let mut records = BTreeMap::new();
        for _ in 0..r.u32()? {
            let name = r.str16()?;
            let len = r.u32()? as usize;
            records.insert(name, r.take(len)?.to_vec());
        }
        Ok(records)
    };
    let records = read(&mut r).map_err(|e| corrupt(&e.to_string()))?;
    if !r.at_end() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(records)
}
