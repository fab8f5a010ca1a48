//! Failing fast while a KMS is unreachable.
//!
//! A backend retries a call a bounded number of times before it reports
//! [`Error::KmsUnavailable`]; with a server that hangs, that takes its timeouts.
//! After such a call, the breaker refuses every call at once for a cool-down,
//! so that callers (puts that need a new data key, say) fail fast instead of
//! each waiting out the timeouts. After the cool-down one call, the probe, goes
//! to the service (half-open); the others keep failing fast until it returns.
//! If it succeeds, service resumes; if it finds the service unavailable, the
//! cool-down starts over. So a hung server costs one caller at a time its
//! timeouts, not every caller.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{Error, Result};

/// See the module documentation.
pub(super) struct Breaker {
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Since when calls fail fast, and why.
    tripped: Option<(Instant, String)>,
    /// A probe is at the service: the others fail fast until it returns.
    probing: bool,
}

/// Ends a probe however its call ends (a panic included), so the breaker
/// never stays half-open with no probe out.
struct Probe<'a>(&'a Breaker);

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        self.0.state.lock().probing = false;
    }
}

impl Breaker {
    pub(super) fn new(cool_down: Duration) -> Self {
        Self {
            cool_down,
            state: Mutex::new(State::default()),
        }
    }

    /// Runs `call` unless the breaker is open (or half-open with a probe
    /// out); opens it when `call` finds the service unavailable and closes it
    /// when a call succeeds.
    pub(super) fn call<T>(
        &self,
        backend: &'static str,
        call: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let probe = {
            let mut state = self.state.lock();
            match &state.tripped {
                None => None,
                Some((since, reason)) => {
                    let waited = since.elapsed();
                    if waited < self.cool_down {
                        return Err(Error::KmsUnavailable {
                            backend,
                            reason: format!(
                                "failing fast for {:.1} s more after: {reason}",
                                (self.cool_down - waited).as_secs_f64()
                            ),
                        });
                    }
                    if state.probing {
                        return Err(Error::KmsUnavailable {
                            backend,
                            reason: format!(
                                "failing fast while one call checks whether the service is back, after: {reason}"
                            ),
                        });
                    }
                    state.probing = true;
                    Some(Probe(self))
                }
            }
        };
        let result = call();
        {
            let mut state = self.state.lock();
            match &result {
                // A call the service never answered (sent once, so an
                // unknown outcome) finds it unavailable too.
                Err(
                    Error::KmsUnavailable { reason, .. } | Error::OutcomeUnknown { reason, .. },
                ) => {
                    state.tripped = Some((Instant::now(), reason.clone()));
                }
                Ok(_) if state.tripped.is_some() => {
                    tracing::info!(backend, "the KMS answers again");
                    state.tripped = None;
                }
                // Another error is an answer: the service is up.
                Err(_) if probe.is_some() => state.tripped = None,
                _ => {}
            }
        }
        drop(probe);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> Result<()> {
        Err(Error::KmsUnavailable {
            backend: "test",
            reason: "connection refused".into(),
        })
    }

    #[test]
    fn fails_fast_for_the_cool_down_then_tries_again() {
        let breaker = Breaker::new(Duration::from_millis(200));
        assert!(breaker.call("test", unavailable).is_err());
        let mut called = false;
        let fast = breaker.call("test", || {
            called = true;
            Ok(())
        });
        assert!(
            !called,
            "the call went to the service while the breaker was open"
        );
        match fast {
            Err(Error::KmsUnavailable { reason, .. }) => {
                assert!(reason.contains("connection refused"), "{reason}");
            }
            other => panic!("expected KmsUnavailable, got {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(250));
        breaker
            .call("test", || Ok(()))
            .expect("tries again after the cool-down");
        breaker.call("test", || Ok(())).expect("and stays closed");
    }

    #[test]
    fn other_errors_do_not_open_it() {
        let breaker = Breaker::new(Duration::from_secs(60));
        let _ = breaker.call("test", || -> Result<()> {
            Err(Error::KeyNotFound("k".into()))
        });
        breaker.call("test", || Ok(())).expect("still closed");
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_through_and_the_others_fail_fast() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, Barrier};

        let breaker = Arc::new(Breaker::new(Duration::from_millis(50)));
        assert!(breaker.call("test", unavailable).is_err());
        std::thread::sleep(Duration::from_millis(80));
        let reached = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(10));
        let callers: Vec<_> = (0..10)
            .map(|_| {
                let (breaker, reached, start) = (breaker.clone(), reached.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let began = Instant::now();
                    let result = breaker.call("test", || {
                        reached.fetch_add(1, Ordering::SeqCst);
                        // A hung service.
                        std::thread::sleep(Duration::from_millis(500));
                        unavailable()
                    });
                    (result.is_err(), began.elapsed())
                })
            })
            .collect();
        let outcomes: Vec<_> = callers
            .into_iter()
            .map(|c| c.join().expect("caller"))
            .collect();
        assert_eq!(
            reached.load(Ordering::SeqCst),
            1,
            "one probe reaches the service"
        );
        assert!(outcomes.iter().all(|(failed, _)| *failed));
        let fast = outcomes
            .iter()
            .filter(|(_, took)| *took < Duration::from_millis(250))
            .count();
        assert_eq!(fast, 9, "the nine others fail fast: {outcomes:?}");
    }

    #[test]
    fn an_answer_other_than_unavailable_closes_it_after_a_probe() {
        let breaker = Breaker::new(Duration::from_millis(20));
        assert!(breaker.call("test", unavailable).is_err());
        std::thread::sleep(Duration::from_millis(40));
        let _ = breaker.call("test", || -> Result<()> {
            Err(Error::KeyNotFound("k".into()))
        });
        breaker
            .call("test", || Ok(()))
            .expect("closed: the service answered");
    }
}
