//! A server that is not there, or stops answering: `Unavailable` within the
//! timeouts and retries, never a hang, and the next call works once the server
//! is back. The stopped server is a real OpenBao under SIGSTOP.

use crate::common;

use std::time::{Duration, Instant};

use coffer_keyring::DataKey;
use coffer_kms_vault::{Error, RetryPolicy, TokenSource, VaultConfig, VaultToken, VaultTransit};
use common::{BaoServer, free_port, key_name};

const AD: &[u8] = b"store/bucket/object";

#[test]
fn refused_connections_are_unavailable_quickly() {
    // Nothing listens on a port that was just free.
    let address = format!("http://127.0.0.1:{}", free_port());
    let token = VaultToken::new("s.unused").expect("token");
    let mut config = VaultConfig::new(address, TokenSource::Value(token));
    config.retry = RetryPolicy::attempts(3);
    let transit = VaultTransit::new(config).expect("client");

    let started = Instant::now();
    let error = transit.key_exists("k").expect_err("nothing listens");
    let elapsed = started.elapsed();
    assert!(
        matches!(error, Error::Unavailable { attempts: 3, .. }),
        "{error:?}"
    );
    // Two backoff delays of at most 100 ms and 200 ms, and no timeout.
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");

    // A refused request never left, so even a rotation is retried.
    let error = transit.rotate("k").expect_err("nothing listens");
    assert!(
        matches!(error, Error::Unavailable { attempts: 3, .. }),
        "{error:?}"
    );
}

#[test]
fn a_stopped_server_is_unavailable_within_the_timeout_then_recovers() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let mut config = server.config();
    config.request_timeout = Duration::from_secs(1);
    config.retry = RetryPolicy::attempts(2);
    let transit = VaultTransit::new(config).expect("client");
    let name = key_name("stopped");
    transit.create_key(&name).expect("create");
    let key = DataKey::generate().expect("randomness");
    let sealed = transit.encrypt(&name, &key, AD).expect("encrypt");

    // The kernel still accepts connections; nobody answers them.
    server.signal("STOP");
    let started = Instant::now();
    let Err(error) = transit.decrypt(&name, &sealed, AD) else {
        panic!("a stopped server answered");
    };
    let elapsed = started.elapsed();
    assert!(
        matches!(error, Error::Unavailable { attempts: 2, .. }),
        "{error:?}"
    );
    // Two 1 s attempts and one backoff of at most 100 ms (and slack for a
    // loaded machine).
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(5),
        "took {elapsed:?}"
    );

    // A rotation that may have reached the server is not sent again.
    let started = Instant::now();
    let error = transit.rotate(&name).expect_err("no answer");
    assert!(
        matches!(error, Error::Unavailable { attempts: 1, .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    server.signal("CONT");
    let opened = transit
        .decrypt(&name, &sealed, AD)
        .expect("the next call works once the server runs again");
    assert_eq!(opened.expose_secret(), key.expose_secret());
}
