//! The KMS conformance suite, unchanged, against `AwsKms` on a real
//! `moto_server`. moto does not refuse use of disabled keys or keys pending
//! deletion and keeps no rotation period (see the crate's docs); the subject
//! says so, and the suite checks the states it reports instead. The subject
//! names each key also by its key ARN and alias ARN, so the suite checks that
//! a `Deny` holds for those spellings too.

use std::sync::Arc;
use std::time::Duration;

use coffer_keyring::KmsBackend;
use coffer_keyring::conformance::{self, Subject};
use coffer_kms_aws::AwsKms;
use coffer_kms_aws::dev_server::MotoServer;

struct Moto {
    backend: Arc<AwsKms>,
}

impl Subject for Moto {
    fn backend(&self) -> Arc<dyn KmsBackend> {
        self.backend.clone()
    }

    fn advance_clock(&self, _: Duration) -> bool {
        false
    }

    fn enforces_key_state(&self) -> bool {
        false
    }

    fn keeps_rotation_period(&self) -> bool {
        false
    }

    /// The key ARN and the alias ARN, which AWS accepts wherever a key id
    /// goes (moto's account is 123456789012).
    fn spellings(&self, key_id: &str, alias: Option<&str>) -> Vec<String> {
        let arn = "arn:aws:kms:us-east-1:123456789012";
        let mut names = vec![format!("{arn}:key/{key_id}")];
        names.extend(alias.map(|alias| format!("{arn}:{alias}")));
        names
    }
}

#[test]
fn aws_kms_passes_the_conformance_suite_on_moto() {
    let Some(server) = MotoServer::start() else {
        return;
    };
    let setup = server.backend();
    let default = coffer_keyring::KeyAdministration::create_key(
        &setup,
        coffer_keyring::CreateKeyOptions::new().with_description("default"),
    )
    .expect("default key")
    .key_id;
    let backend = AwsKms::new(server.config().with_default_key(default)).expect("backend");
    conformance::run_all(&Moto {
        backend: Arc::new(backend),
    });
}
