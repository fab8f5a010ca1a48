//! The KMS conformance suite, unchanged, against `TransitKms` on a real OpenBao
//! dev server (its clock cannot be moved, so the checks that need that stop
//! where the suite says).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use coffer_keyring::KmsBackend;
use coffer_keyring::conformance::{self, Subject};
use coffer_kms_vault::TransitKms;
use common::BaoServer;

struct Transit {
    backend: Arc<TransitKms>,
}

impl Subject for Transit {
    fn backend(&self) -> Arc<dyn KmsBackend> {
        self.backend.clone()
    }

    fn advance_clock(&self, _: Duration) -> bool {
        false
    }
}

#[test]
fn transit_kms_passes_the_conformance_suite() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let default = common::key_name("default");
    server.client().create_key(&default).expect("default key");
    let backend = TransitKms::from_client(server.client()).with_default_key(&default);
    conformance::run_all(&Transit {
        backend: Arc::new(backend),
    });
}
