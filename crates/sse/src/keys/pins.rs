//! Key versions pinned by writes in flight: the master keyring's and each
//! CMK's.
//!
//! A put wraps its data key long before it commits its record. Retiring key
//! versions looks at committed records, so without pins a streaming upload
//! that spans a rotation, a rewrap and a retirement would commit under a
//! destroyed (or refused) version. A write pins the key and version it wrapped
//! under from the wrap until its commit (or failure); retirement never goes
//! above a pinned version of its key.
//!
//! A wrap under a KMS is a network call, so nothing a write needs is locked
//! while it runs: a wrap registers itself as in flight (a ticket, under a
//! mutex held for a few instructions), wraps, then turns its ticket into a
//! pin. [`VersionPins::floor`] reads the current version, then waits for the
//! wraps of its key that were in flight at that moment to turn into pins (or
//! fail); a wrap that starts later uses the current version or a newer one.
//! So retirement waits for a slow KMS call, and writes never wait for
//! retirement.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// The versions wraps in flight use, and the wraps still running.
#[derive(Default)]
pub struct VersionPins {
    state: Arc<Mutex<PinState>>,
    /// Signalled whenever a wrap in flight ends.
    wrapped: Arc<Condvar>,
}

#[derive(Default)]
struct PinState {
    next_ticket: u64,
    /// Wraps running, by ticket, with the key they wrap under.
    in_flight: BTreeMap<u64, String>,
    pinned: BTreeMap<Pinned, usize>,
}

/// A key (`""` for the master keyring, else a CMK id) and one of its versions.
type Pinned = (String, u32);

/// A pinned version, released when dropped.
pub struct Pin {
    state: Arc<Mutex<PinState>>,
    key: Pinned,
}

/// A wrap in flight; ends (waking a waiting `floor`) when dropped, whether
/// the wrap succeeded, failed or panicked.
struct InFlight<'a> {
    pins: &'a VersionPins,
    ticket: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.pins.state.lock().in_flight.remove(&self.ticket);
        self.pins.wrapped.notify_all();
    }
}

impl VersionPins {
    /// Runs `wrap` under `key` (`""` for the master keyring, else the CMK's
    /// id, not an alias), which returns the key it wrapped under and the
    /// version, and pins that version: one step as [`VersionPins::floor`]
    /// sees it. No lock is held while `wrap` runs.
    pub fn wrap_and_pin<T, E>(
        &self,
        key: &str,
        wrap: impl FnOnce() -> Result<(T, String, u32), E>,
    ) -> Result<(T, Pin), E> {
        let in_flight = {
            let mut state = self.state.lock();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.in_flight.insert(ticket, key.to_owned());
            InFlight { pins: self, ticket }
        };
        let (value, wrapped_under, version) = wrap()?;
        let key = (wrapped_under, version);
        {
            // Pinned before the wrap stops being in flight: a floor waiting
            // for it then sees the pin.
            let mut state = self.state.lock();
            *state.pinned.entry(key.clone()).or_default() += 1;
        }
        drop(in_flight);
        Ok((
            value,
            Pin {
                state: Arc::clone(&self.state),
                key,
            },
        ))
    }

    /// The lowest version of `key` (`""`: the master keyring) retirement may
    /// keep: `current` (read first, so every wrap that starts after this call
    /// uses it or a later version) or the lowest version of it pinned by a
    /// write in flight, once every wrap under `key` that was running when
    /// `current` was read has ended.
    pub fn floor(&self, key: &str, current: impl FnOnce() -> u32) -> u32 {
        let current = current();
        let mut state = self.state.lock();
        let horizon = state.next_ticket;
        while state
            .in_flight
            .range(..horizon)
            .any(|(_, wrapping)| wrapping == key)
        {
            self.wrapped.wait(&mut state);
        }
        state
            .pinned
            .range((key.to_owned(), 0)..=(key.to_owned(), u32::MAX))
            .next()
            .map_or(current, |((_, lowest), _)| (*lowest).min(current))
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut state = self.state.lock();
        if let Some(count) = state.pinned.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                state.pinned.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn pins_hold_the_floor_until_dropped() {
        let pins = VersionPins::default();
        let pin = |key: &str, version| {
            pins.wrap_and_pin(key, || Ok::<_, ()>(((), key.to_owned(), version)))
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
            pins.wrap_and_pin("", || Err::<((), String, u32), _>("refused"))
                .is_err()
        );
        assert_eq!(pins.floor("", || 5), 5);
    }

    #[test]
    fn a_floor_waits_for_a_wrap_of_its_key_in_flight_and_no_wrap_waits() {
        let pins = Arc::new(VersionPins::default());
        let (started, wait_started) = channel();
        let (release, wait_release) = channel::<()>();
        let slow = {
            let pins = Arc::clone(&pins);
            std::thread::spawn(move || {
                let (_, pin) = pins
                    .wrap_and_pin("cmk", || {
                        started.send(()).expect("test listens");
                        wait_release.recv().expect("test releases");
                        Ok::<_, ()>(((), "cmk".to_owned(), 2))
                    })
                    .expect("wraps");
                pin
            })
        };
        wait_started.recv().expect("the slow wrap started");
        // Other keys, and new wraps of the same key, go on meanwhile.
        assert_eq!(pins.floor("", || 7), 7);
        let quick = pins
            .wrap_and_pin("cmk", || Ok::<_, ()>(((), "cmk".to_owned(), 3)))
            .expect("a wrap does not wait for the slow one");
        let floor = {
            let pins = Arc::clone(&pins);
            std::thread::spawn(move || pins.floor("cmk", || 3))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !floor.is_finished(),
            "the floor waits for the wrap in flight"
        );
        release.send(()).expect("releases");
        let pin = slow.join().expect("slow wrap");
        assert_eq!(
            floor.join().expect("floor"),
            2,
            "it sees the slow wrap's pin"
        );
        drop((pin, quick));
        assert_eq!(pins.floor("cmk", || 3), 3);
    }
}
