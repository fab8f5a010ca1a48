//! Helpers shared by the store's scenario tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use coffer_keyring::ManualClock;
use coffer_store::{RootKey, Store, StoreOptions};
use tempfile::TempDir;

pub(crate) const ACCOUNT: &str = "1416614965931234";

pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) clock: ManualClock,
    pub(crate) store: Store,
}

pub(crate) fn root() -> RootKey {
    RootKey::from_bytes([0x33; 32])
}

pub(crate) fn options(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new(root())
        .with_clock(Arc::new(clock.clone()))
        .with_account("cn-hangzhou", ACCOUNT)
        .with_threads(2)
        .create_if_missing(true)
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000));
    let store = Store::open(dir.path(), options(&clock)).expect("opens");
    Fixture { dir, clock, store }
}

/// Deterministic bytes: `len` bytes derived from `seed`.
pub(crate) fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(167)
                .wrapping_add(seed)
                .rotate_left((i % 7) as u32)
        })
        .collect::<Vec<_>>()
        .into()
}

pub(crate) const MIB: usize = 1 << 20;

/// Every file under `dir`, with its bytes.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("reads dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}

/// The files under `dir` that contain `needle`.
pub(crate) fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(path, _)| path)
        .collect()
}

/// A local KMS under another name (as another backend would be), whose
/// `GenerateDataKey` can be made slow (a slow or hung service).
pub(crate) struct WrappedKms {
    inner: Arc<coffer_keyring::LocalKms>,
    name: &'static str,
    delay: std::sync::Mutex<Duration>,
}

impl WrappedKms {
    pub(crate) fn new(inner: Arc<coffer_keyring::LocalKms>, name: &'static str) -> Self {
        Self {
            inner,
            name,
            delay: std::sync::Mutex::new(Duration::ZERO),
        }
    }

    /// A fresh local KMS in memory, under `name`.
    pub(crate) fn in_memory(name: &'static str) -> Self {
        let kms = coffer_keyring::LocalKms::open(
            Arc::new(coffer_keyring::MemoryKeyStore::new()),
            &root(),
            coffer_keyring::LocalKmsOptions::default(),
        )
        .expect("a local KMS");
        Self::new(Arc::new(kms), name)
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        *self.delay.lock().expect("lock") = delay;
    }
}

impl coffer_keyring::KeyAdministration for WrappedKms {
    fn backend_name(&self) -> &'static str {
        self.name
    }

    fn supports(&self, operation: coffer_keyring::AdminOperation) -> bool {
        self.inner.supports(operation)
    }

    fn create_key(
        &self,
        options: coffer_keyring::CreateKeyOptions,
    ) -> coffer_keyring::Result<coffer_keyring::KeyMetadata> {
        self.inner.create_key(options)
    }

    fn set_min_decryption_version(&self, key_id: &str, version: u32) -> coffer_keyring::Result<()> {
        self.inner.set_min_decryption_version(key_id, version)
    }
}

impl coffer_keyring::KmsBackend for WrappedKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        context: &coffer_keyring::EncryptionContext,
    ) -> coffer_keyring::Result<(coffer_keyring::DataKey, coffer_keyring::WrappedKey)> {
        let delay = *self.delay.lock().expect("lock");
        std::thread::sleep(delay);
        self.inner.generate_data_key(key_id, context)
    }

    fn decrypt_data_key(
        &self,
        wrapped: &coffer_keyring::WrappedKey,
        context: &coffer_keyring::EncryptionContext,
    ) -> coffer_keyring::Result<coffer_keyring::DataKey> {
        self.inner.decrypt_data_key(wrapped, context)
    }

    fn rewrap_data_key(
        &self,
        wrapped: &coffer_keyring::WrappedKey,
        context: &coffer_keyring::EncryptionContext,
    ) -> coffer_keyring::Result<Option<coffer_keyring::WrappedKey>> {
        self.inner.rewrap_data_key(wrapped, context)
    }

    fn describe_key(&self, key_id: &str) -> coffer_keyring::Result<coffer_keyring::KeyMetadata> {
        self.inner.describe_key(key_id)
    }

    fn is_key_id(&self, key_id: &str) -> bool {
        self.inner.is_key_id(key_id)
    }

    fn resolve_key_id(&self, key_id_or_alias: &str) -> coffer_keyring::Result<String> {
        self.inner.resolve_key_id(key_id_or_alias)
    }

    fn default_key(&self) -> coffer_keyring::Result<coffer_keyring::DefaultKey> {
        self.inner.default_key()
    }

    fn requests(&self) -> u64 {
        self.inner.requests()
    }
}
