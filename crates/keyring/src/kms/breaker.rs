//! Failing fast while a KMS is unreachable.
//!
//! A backend retries a call a bounded number of times before it reports
//! [`Error::KmsUnavailable`]; with a server that hangs, that takes its timeouts.
//! After such a call, the breaker refuses every call at once for a cool-down,
//! so that callers (puts that need a new data key, say) fail fast instead of
//! each waiting out the timeouts. The first call after the cool-down goes to
//! the service again; if it succeeds, service resumes, otherwise the cool-down
//! starts over.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{Error, Result};

/// See the module documentation.
pub(super) struct Breaker {
    cool_down: Duration,
    /// Since when calls fail fast, and why.
    tripped: Mutex<Option<(Instant, String)>>,
}

impl Breaker {
    pub(super) fn new(cool_down: Duration) -> Self {
        Self {
            cool_down,
            tripped: Mutex::new(None),
        }
    }

    /// Runs `call` unless the breaker is open; opens it when `call` finds the
    /// service unavailable and closes it when a call succeeds.
    pub(super) fn call<T>(
        &self,
        backend: &'static str,
        call: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if let Some((since, reason)) = &*self.tripped.lock() {
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
        }
        let result = call();
        match &result {
            Err(Error::KmsUnavailable { reason, .. }) => {
                *self.tripped.lock() = Some((Instant::now(), reason.clone()));
            }
            Ok(_) => {
                let mut tripped = self.tripped.lock();
                if tripped.is_some() {
                    tracing::info!(backend, "the KMS answers again");
                    *tripped = None;
                }
            }
            Err(_) => {}
        }
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
}
