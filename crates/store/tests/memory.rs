//! Any size in bounded memory, with the default tuning: a streaming put of
//! 1 GiB, a `put_object` of a large body already in memory, and a streaming
//! get of 1 GiB raise the process's peak resident memory (VmHWM, reset before
//! each step through `/proc/self/clear_refs`) by less than 100 MiB each (the
//! store's own target is 64 MiB for a put and 32 MiB for a get; `compare --
//! store` prints the figures). Alone in its test binary, so nothing else runs
//! in the process while it measures.

// Not a module of `tests/it` with the other integration tests: VmHWM and
// clear_refs are the whole process's, and there the other tests would run in
// it at the same time. It shares their `common` module by path instead.
#[path = "it/common/mod.rs"]
mod common;

use std::io::Read;

use bytes::Bytes;
use coffer_store::{PutOptions, Store, StoreOptions};

const MIB: u64 = 1 << 20;
const BOUND: u64 = 100 * MIB;

/// `len` deterministic bytes, produced as they are read.
struct Pattern {
    at: u64,
    len: u64,
}

fn byte_at(at: u64) -> u8 {
    (at.wrapping_mul(2_654_435_761) >> 13) as u8
}

impl Read for Pattern {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min((self.len - self.at) as usize);
        for (i, byte) in out[..n].iter_mut().enumerate() {
            *byte = byte_at(self.at + i as u64);
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reads /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// How much `step` raises the peak resident memory above where it started.
fn peak_growth(step: impl FnOnce()) -> u64 {
    // Resets VmHWM to the current resident size.
    std::fs::write("/proc/self/clear_refs", "5").expect("resets the peak");
    let start = status_bytes("VmRSS");
    step();
    status_bytes("VmHWM").saturating_sub(start)
}

#[test]
fn large_puts_and_gets_stay_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The default tuning: nothing about memtables or caches is set here.
    let store = Store::create(dir.path(), StoreOptions::new(common::root())).expect("opens");
    store.create_bucket("big").expect("bucket");
    let size = 1024 * MIB;

    let put = peak_growth(|| {
        store
            .put_object_from_reader(
                "big",
                "streamed",
                Pattern { at: 0, len: size },
                PutOptions::managed(),
            )
            .expect("streams 1 GiB in");
    });
    eprintln!("streaming put of 1 GiB: peak +{} MiB", put / MIB);

    let get = peak_growth(|| {
        let mut reader = store.open_object("big", "streamed").expect("opens");
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        loop {
            let n = reader.read(&mut buf).expect("reads");
            if n == 0 {
                break;
            }
            assert!(
                buf[..n]
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == byte_at(at + i as u64)),
                "bytes at {at} differ"
            );
            at += n as u64;
        }
        assert_eq!(at, size);
    });
    eprintln!("streaming get of 1 GiB: peak +{} MiB", get / MIB);

    let body = {
        let mut bytes = vec![0u8; (256 * MIB) as usize];
        Pattern {
            at: 0,
            len: 256 * MIB,
        }
        .read_exact(&mut bytes)
        .expect("fills");
        Bytes::from(bytes)
    };
    let whole = peak_growth(|| {
        store
            .put_object("big", "whole", body.clone(), PutOptions::kms(None))
            .expect("puts 256 MiB held in memory");
    });
    eprintln!("put_object of 256 MiB: peak +{} MiB", whole / MIB);
    drop(body);

    assert!(
        put < BOUND,
        "a 1 GiB streaming put raised the peak by {} MiB",
        put / MIB
    );
    assert!(
        get < BOUND,
        "a 1 GiB streaming get raised the peak by {} MiB",
        get / MIB
    );
    assert!(
        whole < BOUND,
        "a 256 MiB put_object raised the peak by {} MiB",
        whole / MIB
    );
}
