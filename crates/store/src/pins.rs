//! Key versions pinned by writes in flight: the master keyring's and each
//! CMK's.
//!
//! A put wraps its data key long before it commits its record. Retiring key
//! versions looks at committed records, so without pins a streaming upload
//! that spans a rotation, a rewrap and a retirement would commit under a
//! destroyed (or refused) version. A write pins the key and version it wrapped
//! under from the wrap until its commit (or failure); retirement never goes
//! above a pinned version of its key.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

/// The versions wraps in flight use, with a gate that makes "wrap and pin" one
/// step as seen by [`VersionPins::floor`].
#[derive(Default)]
pub(crate) struct VersionPins {
    /// Held shared while a write wraps and pins; exclusively while retirement
    /// reads the pins and the current version.
    gate: RwLock<()>,
    pinned: Arc<Mutex<BTreeMap<Pinned, usize>>>,
}

/// A key (`""` for the master keyring, else a CMK id) and one of its versions.
type Pinned = (String, u32);

/// A pinned version, released when dropped.
pub(crate) struct Pin {
    pinned: Arc<Mutex<BTreeMap<Pinned, usize>>>,
    key: Pinned,
}

impl VersionPins {
    /// Runs `wrap` (which returns the key, `""` for the master keyring, and
    /// the version it wrapped under) and pins that version, as one step with
    /// respect to [`VersionPins::floor`].
    pub(crate) fn wrap_and_pin<T, E>(
        &self,
        wrap: impl FnOnce() -> Result<(T, String, u32), E>,
    ) -> Result<(T, Pin), E> {
        let _gate = self.gate.read();
        let (value, key, version) = wrap()?;
        let key = (key, version);
        *self.pinned.lock().entry(key.clone()).or_default() += 1;
        Ok((
            value,
            Pin {
                pinned: Arc::clone(&self.pinned),
                key,
            },
        ))
    }

    /// The lowest version of `key` (`""`: the master keyring) retirement may
    /// keep: `current` (read under the gate, so every wrap after this call
    /// uses it or a later version) or the lowest version of it pinned by a
    /// write in flight.
    pub(crate) fn floor(&self, key: &str, current: impl FnOnce() -> u32) -> u32 {
        let _gate = self.gate.write();
        let current = current();
        let pinned = self.pinned.lock();
        pinned
            .range((key.to_owned(), 0)..=(key.to_owned(), u32::MAX))
            .next()
            .map_or(current, |((_, lowest), _)| (*lowest).min(current))
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut pinned = self.pinned.lock();
        if let Some(count) = pinned.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                pinned.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_hold_the_floor_until_dropped() {
        let pins = VersionPins::default();
        let pin = |key: &str, version| {
            pins.wrap_and_pin(|| Ok::<_, ()>(((), key.to_owned(), version)))
                .expect("pins")
                .1
        };
        assert_eq!(pins.floor("", || 5), 5);
        let first = pin("", 3);
        let second = pin("", 3);
        let other_key = pin("cmk", 1);
        assert_eq!(pins.floor("", || 5), 3);
        assert_eq!(pins.floor("cmk", || 5), 1);
        assert_eq!(pins.floor("cmk-2", || 5), 5, "keys are apart");
        drop(first);
        assert_eq!(pins.floor("", || 5), 3);
        drop(second);
        assert_eq!(pins.floor("", || 5), 5);
        drop(other_key);
        assert_eq!(pins.floor("cmk", || 5), 5);
        assert!(
            pins.wrap_and_pin(|| Err::<((), String, u32), _>("refused"))
                .is_err()
        );
        assert_eq!(pins.floor("", || 5), 5);
    }
}
