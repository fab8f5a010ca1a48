//! Records that several processes change, kept as numbered generations:
//! `<dir>/<generation, 20 digits>`, each written once with a create-only
//! put (`PutMode::Create`, which every object store here offers, where
//! conditional replacement is not: `LocalFileSystem` has none). The record
//! is its highest generation; a writer that finds the next number taken
//! lost the race, reads again and decides. Generations two behind the
//! newest are removed.

use bytes::Bytes;
use coffer_sse::{Error, Result};
use object_store::path::Path;
use object_store::{GetOptions, PutMode};

use crate::backend::{Backend, Fetched};

/// The newest generation under `dir` and its bytes, if there is one.
pub(crate) fn latest(backend: &Backend, dir: &Path) -> Result<Option<(u64, Bytes)>> {
    // A generation removed between the listing and the read: list again.
    for _ in 0..8 {
        let newest = backend
            .list(dir)?
            .into_iter()
            .filter_map(|meta| meta.location.filename().and_then(|n| n.parse::<u64>().ok()))
            .max();
        let Some(generation) = newest else {
            return Ok(None);
        };
        if let Fetched::Found(_, bytes) =
            backend.get(&path(dir, generation), GetOptions::default())?
        {
            return Ok(Some((generation, bytes)));
        }
    }
    Err(Error::Integrity(format!(
        "{dir}: its generations keep disappearing while read"
    )))
}

/// Writes generation `generation` under `dir`; `false` if another writer
/// took it first. Older generations but the previous one are removed.
pub(crate) fn create(backend: &Backend, dir: &Path, generation: u64, bytes: Bytes) -> Result<bool> {
    if backend
        .put(&path(dir, generation), bytes.into(), PutMode::Create)?
        .is_none()
    {
        return Ok(false);
    }
    for meta in backend.list(dir)? {
        let old = meta.location.filename().and_then(|n| n.parse::<u64>().ok());
        if old.is_some_and(|old| old + 1 < generation) {
            backend.delete(&meta.location)?;
        }
    }
    Ok(true)
}

fn path(dir: &Path, generation: u64) -> Path {
    dir.clone().join(format!("{generation:020}").as_str())
}
