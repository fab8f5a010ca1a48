//! `compare -- cipher`: the payload format against raw ring AES-256-GCM sealing
//! the same buffer as 16 KiB chunks with one key.

use std::hint::black_box;

use bytes::Bytes;
use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::measure::{Budget, interleaved, report};

const CHUNK: usize = 16 * 1024;

/// The baseline: ring sealing a buffer in place, 16 KiB at a time, nonce from a
/// counter. No copying, no key derivation, no header: the fastest use of ring.
struct RingBaseline {
    key: LessSafeKey,
    buffer: Vec<u8>,
}

impl RingBaseline {
    fn new(data: &[u8]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, &[0x42; 32]).expect("32-byte key");
        Self {
            key: LessSafeKey::new(key),
            buffer: data.to_vec(),
        }
    }

    fn seal(&mut self) {
        for (index, chunk) in self.buffer.chunks_mut(CHUNK).enumerate() {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&(index as u64).to_be_bytes());
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    chunk,
                )
                .expect("seals");
            let _ = black_box(tag);
        }
    }
}

pub(crate) fn run(budget: &Budget) {
    let all_cores = std::thread::available_parallelism().map_or(1, usize::from);
    let key = DataKey::from_bytes([0x42; 32]);
    let id = ObjectIdentity::new(b"bench-store", "bench", b"object");
    for size in [64 * 1024, 1024 * 1024, 16 * 1024 * 1024] {
        let data: Bytes = (0..size).map(|i| (i * 13) as u8).collect::<Vec<_>>().into();
        let mut ring = RingBaseline::new(&data);
        let single = PayloadCipher::new(1);
        let parallel = PayloadCipher::new(all_cores);
        let payload = single.seal(&key, &id, data.clone()).expect("seals");
        let mut ring_seal = || ring.seal();
        let mut seal_1 = || {
            drop(black_box(
                single.seal(&key, &id, data.clone()).expect("seals"),
            ))
        };
        let mut open_1 = || {
            drop(black_box(
                single.open(&key, &id, payload.clone()).expect("opens"),
            ))
        };
        let mut seal_n = || {
            drop(black_box(
                parallel.seal(&key, &id, data.clone()).expect("seals"),
            ))
        };
        let mut open_n = || {
            drop(black_box(
                parallel.open(&key, &id, payload.clone()).expect("opens"),
            ))
        };
        let rates = interleaved(
            budget,
            &mut [
                &mut ring_seal,
                &mut seal_1,
                &mut open_1,
                &mut seal_n,
                &mut open_n,
            ],
        );
        let [ring, seal_1, open_1, seal_n, open_n] = rates[..] else {
            unreachable!("five cases")
        };
        let none = serde_json::json!({});
        report("ring_seal_baseline", size, 1, ring, ring, none.clone());
        report("coffer_seal", size, 1, seal_1, ring, none.clone());
        report("coffer_open", size, 1, open_1, ring, none.clone());
        report(
            "coffer_seal",
            size,
            all_cores,
            seal_n,
            ring,
            serde_json::json!({ "speedup_vs_1_thread": crate::measure::round(seal_n / seal_1) }),
        );
        report(
            "coffer_open",
            size,
            all_cores,
            open_n,
            ring,
            serde_json::json!({ "speedup_vs_1_thread": crate::measure::round(open_n / open_1) }),
        );
    }
}
