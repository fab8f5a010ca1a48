//! Key administration calls are sent once: with a proxy in front of a real
//! `moto_server` that forwards a `CreateKey` and then drops its answer, the
//! call is an unknown outcome (recorded so), and the service holds one new
//! key, not two as a retry would have made.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use coffer_keyring::{
    AuditOutcome, Caller, CreateKeyOptions, Error, KeyAdministration, Kms, KmsOptions,
    MemoryAuditSink,
};
use coffer_kms_aws::AwsKms;
use coffer_kms_aws::dev_server::MotoServer;

/// A loopback proxy that forwards every connection to `upstream`, except
/// that the answer to the first `drops` requests whose bytes contain `marker`
/// is swallowed and the client's connection closed: the request reached the
/// service, its answer never reached the client. Its threads end with the
/// test process.
struct DroppingProxy {
    port: u16,
}

impl DroppingProxy {
    fn start(upstream: &str, marker: &'static str, drops: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = listener.local_addr().expect("address").port();
        let upstream = upstream
            .strip_prefix("http://")
            .expect("an http endpoint")
            .to_owned();
        let budget = Arc::new(AtomicUsize::new(drops));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let budget = Arc::clone(&budget);
                std::thread::spawn(move || relay(client, server, marker, &budget));
            }
        });
        Self { port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Pumps bytes both ways until either side closes; once a request with
/// `marker` has gone up (while `budget` lasts), what comes back is dropped
/// and both connections are closed.
fn relay(mut client: TcpStream, mut server: TcpStream, marker: &str, budget: &AtomicUsize) {
    let (mut client_up, mut server_down) = (
        client.try_clone().expect("clones"),
        server.try_clone().expect("clones"),
    );
    let marked = Arc::new(AtomicBool::new(false));
    let up = {
        let (marked, marker) = (Arc::clone(&marked), marker.as_bytes().to_vec());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n @ 1..) = client_up.read(&mut buf) {
                if buf[..n].windows(marker.len()).any(|w| w == marker) {
                    marked.store(true, Ordering::SeqCst);
                }
                if server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = server.shutdown(Shutdown::Write);
        })
    };
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = server_down.read(&mut buf) {
        let dropped = marked.load(Ordering::SeqCst)
            && budget
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                .is_ok();
        if dropped || client.write_all(&buf[..n]).is_err() {
            // The service answered; the client never hears it.
            let _ = server_down.shutdown(Shutdown::Both);
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = up.join();
}

#[test]
fn a_create_key_whose_answer_is_lost_is_sent_once_and_reported_unknown() {
    let Some(server) = MotoServer::start() else {
        return;
    };
    let direct = server.backend();
    let before = direct.list_keys().expect("lists keys").len();
    let proxy = DroppingProxy::start(server.endpoint(), "TrentService.CreateKey", 1);
    let mut config = server.config().with_endpoint(proxy.endpoint());
    config.max_attempts = 3;
    let audit = MemoryAuditSink::new();
    let mut options = KmsOptions::default().with_audit(Arc::new(audit.clone()));
    options.fail_fast_for = Duration::from_millis(300);
    let kms = Kms::new(Arc::new(AwsKms::new(config).expect("backend")), options);
    let lost = kms.create_key(CreateKeyOptions::new(), &Caller::Trusted);
    assert!(
        matches!(lost, Err(Error::OutcomeUnknown { .. })),
        "a lost answer is an unknown outcome: {lost:?}"
    );
    assert_eq!(
        direct.list_keys().expect("lists keys").len(),
        before + 1,
        "the request reached the service once: one key, not a retry's second"
    );
    let event = audit.events().pop().expect("recorded");
    assert_eq!(event.action, "kms:CreateKey");
    assert!(
        matches!(event.outcome, AuditOutcome::Unknown(_)),
        "{:?}",
        event.outcome
    );
    // An unknown outcome says the service may be in trouble: the next call
    // fails fast and sends nothing.
    let fast = kms.create_key(CreateKeyOptions::new(), &Caller::Trusted);
    assert!(
        matches!(fast, Err(Error::KmsUnavailable { .. })),
        "fails fast after an unknown outcome: {fast:?}"
    );
    assert_eq!(direct.list_keys().expect("lists keys").len(), before + 1);
    // After the cool-down the proxy drops no more: the call goes through.
    std::thread::sleep(Duration::from_millis(400));
    kms.create_key(CreateKeyOptions::new(), &Caller::Trusted)
        .expect("answered");
    assert_eq!(direct.list_keys().expect("lists keys").len(), before + 2);
}
