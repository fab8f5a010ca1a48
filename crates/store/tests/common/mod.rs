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
