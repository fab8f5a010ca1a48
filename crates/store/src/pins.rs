//! Master key versions pinned by writes in flight.
//!
//! A put wraps its data key long before it commits its record. Retiring master
//! key versions looks at committed records, so without pins a streaming upload
//! that spans a rotation, a rewrap and a retirement would commit under a
//! destroyed version. A write pins the version it wrapped under from the wrap
//! until its commit (or failure); retirement never goes above a pinned version.

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
    pinned: Arc<Mutex<BTreeMap<u32, usize>>>,
}

/// A pinned version, released when dropped.
pub(crate) struct Pin {
    pinned: Arc<Mutex<BTreeMap<u32, usize>>>,
    version: u32,
}

impl VersionPins {
    /// Runs `wrap` (which returns the version it wrapped under) and pins that
    /// version, as one step with respect to [`VersionPins::floor`].
    pub(crate) fn wrap_and_pin<T, E>(
        &self,
        wrap: impl FnOnce() -> Result<(T, u32), E>,
    ) -> Result<(T, Pin), E> {
        let _gate = self.gate.read();
        let (value, version) = wrap()?;
        *self.pinned.lock().entry(version).or_default() += 1;
        Ok((
            value,
            Pin {
                pinned: Arc::clone(&self.pinned),
                version,
            },
        ))
    }

    /// The lowest version retirement may keep: `current` (read under the gate,
    /// so every wrap after this call uses it or a later version) or the lowest
    /// version pinned by a write in flight.
    pub(crate) fn floor(&self, current: impl FnOnce() -> u32) -> u32 {
        let _gate = self.gate.write();
        let current = current();
        self.pinned
            .lock()
            .keys()
            .next()
            .map_or(current, |&lowest| lowest.min(current))
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut pinned = self.pinned.lock();
        if let Some(count) = pinned.get_mut(&self.version) {
            *count -= 1;
            if *count == 0 {
                pinned.remove(&self.version);
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
        assert_eq!(pins.floor(|| 5), 5);
        let ((), first) = pins.wrap_and_pin(|| Ok::<_, ()>(((), 3))).expect("pins");
        let ((), second) = pins.wrap_and_pin(|| Ok::<_, ()>(((), 3))).expect("pins");
        assert_eq!(pins.floor(|| 5), 3);
        drop(first);
        assert_eq!(pins.floor(|| 5), 3);
        drop(second);
        assert_eq!(pins.floor(|| 5), 5);
        assert!(
            pins.wrap_and_pin(|| Err::<((), u32), _>("refused"))
                .is_err()
        );
        assert_eq!(pins.floor(|| 5), 5);
    }
}
