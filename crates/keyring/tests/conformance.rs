//! The KMS conformance suite, run against `LocalKms`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_keyring::conformance::{self, Subject};
use coffer_keyring::{Kms, LocalKms, LocalKmsOptions, ManualClock, MemoryKeyStore, RootKey};

struct Local {
    kms: LocalKms,
    clock: ManualClock,
}

impl Subject for Local {
    fn kms(&self) -> &dyn Kms {
        &self.kms
    }
    fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
    }
}

#[test]
fn local_kms_passes_the_conformance_suite() {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let options = LocalKmsOptions {
        clock: Arc::new(clock.clone()),
        ..LocalKmsOptions::default()
    };
    let kms = LocalKms::open(
        Arc::new(MemoryKeyStore::new()),
        &RootKey::from_bytes([1; 32]),
        options,
    )
    .expect("opens");
    conformance::run_all(&Local { kms, clock });
}
