//! When compactions relocate live segments out of old blob files.
//!
//! The chunks family keeps segments in RocksDB blob files; compactions move
//! the live segments out of the oldest files (the configured age cutoff) so
//! that the space of replaced and deleted ones comes back. A job that rewrites
//! payloads (re-encryption, encrypting the unencrypted) replaces exactly those
//! segments: relocating one it is about to replace copies a megabyte for
//! nothing, and on a large bucket that competes with the job for the disk and
//! both cores. So while such a job runs, relocation pauses (age cutoff 0); a
//! blob file whose segments the job has all replaced goes once compaction drops
//! their keys, without relocation. A full compaction
//! (`Store::flush_and_compact`) collects every file (cutoff 1) whatever runs.
//! The cutoff is an in-memory option: a reopened store starts from its tuning.

use std::sync::Arc;

use parking_lot::Mutex;
use rocksdb::DB;

use crate::engine::db::{SharedDb, borrow_db, cf, storage};
use crate::{ColumnFamily, Error, Result};

/// The chunks family's blob relocation cutoff and who is changing it.
pub(crate) struct BlobRelocation {
    /// The cutoff the store's tuning asks for.
    configured: f64,
    state: Mutex<RelocationState>,
}

#[derive(Default)]
struct RelocationState {
    /// Jobs running that rewrite payloads.
    pauses: usize,
    /// Full compactions collecting every blob file.
    collecting_all: usize,
}

impl RelocationState {
    fn cutoff(&self, configured: f64) -> f64 {
        if self.collecting_all > 0 {
            1.0
        } else if self.pauses > 0 {
            0.0
        } else {
            configured
        }
    }
}

impl BlobRelocation {
    pub(crate) fn new(configured: f64) -> Self {
        Self {
            configured,
            state: Mutex::new(RelocationState::default()),
        }
    }
}

/// Relocation paused for as long as this lives ([`BlobRelocation::pause`]).
pub(crate) struct RelocationPause {
    relocation: Arc<BlobRelocation>,
    db: SharedDb,
}

impl Drop for RelocationPause {
    fn drop(&mut self) {
        let relocation = &self.relocation;
        let mut state = relocation.state.lock();
        state.pauses = state.pauses.saturating_sub(1);
        // A closed store has no database left to set: it reopens with its
        // tuning's cutoff.
        let resumed = match borrow_db(&self.db) {
            Some(db) => apply_cutoff(&db, state.cutoff(relocation.configured)),
            None => Ok(()),
        };
        if let Err(error) = resumed {
            tracing::warn!(%error, "could not resume blob relocation; it resumes at the next open");
        }
    }
}

impl BlobRelocation {
    /// Pauses blob relocation in the database behind `db` until the
    /// returned guard drops ([`Error::Closed`] if the store is closed).
    pub(crate) fn pause(relocation: &Arc<Self>, db: &SharedDb) -> Result<RelocationPause> {
        let mut state = relocation.state.lock();
        state.pauses += 1;
        let paused = borrow_db(db)
            .ok_or(Error::Closed)
            .and_then(|db| apply_cutoff(&db, state.cutoff(relocation.configured)));
        if let Err(error) = paused {
            state.pauses -= 1;
            return Err(error);
        }
        Ok(RelocationPause {
            relocation: Arc::clone(relocation),
            db: Arc::clone(db),
        })
    }

    /// Compacts the chunks family with every blob file eligible for
    /// relocation, then restores the cutoff (paused, if a job still runs).
    pub(crate) fn compact_relocating_everything(&self, db: &DB) -> Result<()> {
        let begun = {
            let mut state = self.state.lock();
            state.collecting_all += 1;
            apply_cutoff(db, state.cutoff(self.configured))
        };
        // Not under the lock: a job starting or ending meanwhile need not wait
        // for the compaction.
        let outcome = begun.and_then(|()| compact_everything(db, ColumnFamily::Chunks));
        let mut state = self.state.lock();
        state.collecting_all -= 1;
        let restored = apply_cutoff(db, state.cutoff(self.configured));
        outcome.and(restored)
    }
}

/// Compacts all of `family`, the bottommost level included: without
/// `Force`, RocksDB leaves bottommost table files that overlap nothing newer
/// as they are (no compaction filter is set), and with them the bytes of
/// replaced or deleted values (and blob files those tables still reference).
pub(crate) fn compact_everything(db: &DB, family: ColumnFamily) -> Result<()> {
    let mut options = rocksdb::CompactOptions::default();
    options.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
    db.compact_range_cf_opt(cf(db, family)?, None::<&[u8]>, None::<&[u8]>, &options);
    Ok(())
}

fn apply_cutoff(db: &DB, cutoff: f64) -> Result<()> {
    db.set_options_cf(
        cf(db, ColumnFamily::Chunks)?,
        &[("blob_garbage_collection_age_cutoff", &cutoff.to_string())],
    )
    .map_err(storage)?;
    Ok(())
}
