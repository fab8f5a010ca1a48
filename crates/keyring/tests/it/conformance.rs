//! The KMS conformance suite, run against `LocalKms` with a clock the test moves.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_keyring::conformance::{self, Subject};
use coffer_keyring::{KmsBackend, LocalKms, LocalKmsOptions, ManualClock, MemoryKeyStore, RootKey};

struct Local {
    kms: Arc<LocalKms>,
    clock: ManualClock,
}

impl Subject for Local {
    fn backend(&self) -> Arc<dyn KmsBackend> {
        self.kms.clone()
    }

    fn advance_clock(&self, by: Duration) -> bool {
        self.clock.advance(by);
        true
    }
}

#[test]
fn local_kms_passes_the_conformance_suite() {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let kms = LocalKms::open(
        Arc::new(MemoryKeyStore::new()),
        &RootKey::generate().expect("root key"),
        LocalKmsOptions::default().with_clock(Arc::new(clock.clone())),
    )
    .expect("opens");
    conformance::run_all(&Local {
        kms: Arc::new(kms),
        clock,
    });
}
