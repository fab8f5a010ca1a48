//! The key state machine: which states allow data-key use, and the transitions
//! that callers (enable, disable, schedule and cancel deletion, rotate) and time
//! (the end of a deletion window, a due automatic rotation) make.
//!
//! ```text
//! Enabled ⇄ Disabled        (enable_key / disable_key)
//! Enabled, Disabled, PendingImport → PendingDeletion → Destroyed (window passed)
//! PendingDeletion → Disabled (or PendingImport without material)  (cancel)
//! PendingImport → Enabled   (import)
//! Enabled, Disabled → PendingImport   (delete imported material)
//! ```
//! The managed default key refuses every caller-made transition.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::persist::KeyRecord;
use super::{BACKEND, Entry, LocalKms};
use crate::clock::{from_millis, to_millis};
use crate::kms::unsupported;
use crate::{Error, KeyState, Result};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A key's lifecycle state as persisted (the `state` field of a key record).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredState {
    Enabled,
    Disabled,
    PendingDeletion { delete_at_ms: u64 },
    PendingImport,
    Destroyed,
}

pub(super) fn public_state(state: StoredState) -> KeyState {
    match state {
        StoredState::Enabled => KeyState::Enabled,
        StoredState::Disabled => KeyState::Disabled,
        StoredState::PendingDeletion { delete_at_ms } => KeyState::PendingDeletion {
            delete_at: from_millis(delete_at_ms),
        },
        StoredState::PendingImport => KeyState::PendingImport,
        StoredState::Destroyed => KeyState::Destroyed,
    }
}

/// Refuses data-key use unless the key is enabled, with the error that says why.
pub(super) fn usable(record: &KeyRecord) -> Result<()> {
    let id = record.id.clone();
    match record.state {
        StoredState::Enabled => Ok(()),
        StoredState::Disabled => Err(Error::KeyDisabled(id)),
        StoredState::PendingDeletion { delete_at_ms } => Err(Error::KeyPendingDeletion {
            key_id: id,
            delete_at: from_millis(delete_at_ms),
        }),
        StoredState::PendingImport => Err(Error::KeyPendingImport(id)),
        StoredState::Destroyed => Err(Error::KeyDestroyed(id)),
    }
}

fn rotation_due(record: &KeyRecord, now: SystemTime) -> bool {
    match (record.rotation_period_s, record.last_rotated_ms) {
        (Some(period), Some(last)) if !record.external => now
            .duration_since(from_millis(last))
            .is_ok_and(|age| age >= Duration::from_secs(period)),
        _ => false,
    }
}

impl LocalKms {
    /// Applies what time has made due for one key: destruction after the
    /// deletion window, automatic rotation. Returns whether it changed anything.
    pub(super) fn settle(&self, id: &str) -> Result<bool> {
        let now = self.now();
        let due = |entry: &Entry| match entry.record.state {
            StoredState::PendingDeletion { delete_at_ms } => from_millis(delete_at_ms) <= now,
            StoredState::Enabled => rotation_due(&entry.record, now),
            _ => false,
        };
        if !self.keys.read().entries.get(id).is_some_and(due) {
            return Ok(false);
        }
        let mut destroyed = false;
        let changed = self.mutate(id, |entry, kms| {
            if !due(entry) {
                return Ok(false);
            }
            match entry.record.state {
                StoredState::PendingDeletion { .. } => {
                    entry.materials.clear();
                    entry.record.materials.clear();
                    entry.record.state = StoredState::Destroyed;
                    destroyed = true;
                    tracing::info!(
                        key_id = id,
                        "key material destroyed after its deletion window"
                    );
                }
                _ => kms.add_material(entry, None)?,
            }
            Ok(true)
        })?;
        if destroyed {
            // The record's earlier versions, which held the material, stay in
            // the storage's files until compacted away.
            self.store.compact()?;
        }
        Ok(changed)
    }

    /// A caller-made change of a key's record, persisted; refused on the
    /// managed key ([`Error::ManagedKey`]).
    pub(super) fn set_state(
        &self,
        key_id: &str,
        change: impl FnOnce(&mut KeyRecord) -> Result<()>,
    ) -> Result<()> {
        let id = self.resolve(key_id)?;
        self.settle(&id)?;
        self.mutate(&id, |entry, _| {
            if entry.record.managed {
                return Err(Error::ManagedKey(id.clone()));
            }
            change(&mut entry.record)
        })
    }

    /// Enables or disables a key; a key in any other state keeps it and the
    /// caller gets the error that state means.
    pub(super) fn set_enabled(&self, key_id: &str, to: StoredState) -> Result<()> {
        self.set_state(key_id, |record| match record.state {
            StoredState::Enabled | StoredState::Disabled => {
                record.state = to;
                Ok(())
            }
            _ => usable(record),
        })
    }

    /// Schedules the destruction of the material `pending_days` from now.
    pub(super) fn schedule_deletion(&self, key_id: &str, pending_days: u32) -> Result<SystemTime> {
        let delete_at = self.now() + DAY * pending_days;
        self.set_state(key_id, |record| match record.state {
            StoredState::Destroyed => Err(Error::KeyDestroyed(record.id.clone())),
            StoredState::PendingDeletion { .. } => Err(Error::InvalidArgument(
                "the key is already pending deletion".into(),
            )),
            _ => {
                record.state = StoredState::PendingDeletion {
                    delete_at_ms: to_millis(delete_at),
                };
                Ok(())
            }
        })?;
        Ok(delete_at)
    }

    /// Cancels a deletion: to disabled, as AWS KMS does (enabling it is
    /// `kms:EnableKey`'s, so a schedule and a cancel never enable a key the
    /// caller may not enable), or to pending import for an external key
    /// without material.
    pub(super) fn cancel_deletion(&self, key_id: &str) -> Result<()> {
        self.set_state(key_id, |record| match record.state {
            StoredState::PendingDeletion { .. } => {
                record.state = if record.current_version == 0 {
                    StoredState::PendingImport
                } else {
                    StoredState::Disabled
                };
                Ok(())
            }
            _ => Err(Error::InvalidArgument(
                "the key is not pending deletion".into(),
            )),
        })
    }

    /// A new material version now (generated keys only).
    pub(super) fn rotate(&self, key_id: &str) -> Result<u32> {
        let id = self.resolve(key_id)?;
        self.settle(&id)?;
        self.mutate(&id, |entry, kms| {
            if entry.record.external {
                return Err(unsupported(BACKEND, "rotating imported key material"));
            }
            usable(&entry.record)?;
            kms.add_material(entry, None)?;
            Ok(entry.record.current_version)
        })
    }

    /// Sets the oldest material version that still decrypts (1 to the current
    /// version; lowering it again restores the versions in between, whose
    /// material is kept). Allowed on the managed key too: retiring its old
    /// versions after a rewrap is how a rotation completes.
    pub(super) fn set_min_decryption(&self, key_id: &str, version: u32) -> Result<()> {
        let id = self.resolve(key_id)?;
        self.settle(&id)?;
        self.mutate(&id, |entry, _| {
            usable(&entry.record)?;
            if !(1..=entry.record.current_version).contains(&version) {
                return Err(Error::InvalidArgument(format!(
                    "the minimum decryption version must be 1 to {}, got {version}",
                    entry.record.current_version
                )));
            }
            entry.record.min_decryption_version = (version > 1).then_some(version);
            Ok(())
        })
    }

    /// Sets or clears the automatic rotation period.
    pub(super) fn set_rotation(&self, key_id: &str, period: Option<Duration>) -> Result<()> {
        self.set_state(key_id, |record| {
            if record.external && period.is_some() {
                return Err(unsupported(
                    BACKEND,
                    "automatic rotation of imported key material",
                ));
            }
            record.rotation_period_s = period.map(|p| p.as_secs());
            Ok(())
        })
    }
}
