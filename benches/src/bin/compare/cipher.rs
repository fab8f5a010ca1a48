//! `compare -- cipher`: the payload format against raw ring AES-256-GCM sealing
//! the same buffer as 16 KiB chunks with one key.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use coffer_cipher::{DataKey, ObjectIdentity, PayloadBuffer, PayloadCipher};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::measure::{Budget, interleaved_rounds, ops_per_s, ops_per_s_prepared, report};

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
        seal_chunks(&self.key, 0, &mut self.buffer);
    }

    /// The same work split over `threads` scoped threads, each sealing its own
    /// part of the buffer: what this machine gives ring on several cores.
    fn seal_parallel(&mut self, threads: usize) {
        let part = self.buffer.len().div_ceil(threads).div_ceil(CHUNK) * CHUNK;
        let key = &self.key;
        std::thread::scope(|scope| {
            for (n, piece) in self.buffer.chunks_mut(part.max(CHUNK)).enumerate() {
                scope.spawn(move || seal_chunks(key, n * part / CHUNK, piece));
            }
        });
    }
}

/// Seals `buffer` in place as 16 KiB chunks numbered from `first`.
fn seal_chunks(key: &LessSafeKey, first: usize, buffer: &mut [u8]) {
    {
        for (index, chunk) in buffer.chunks_mut(CHUNK).enumerate() {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&((first + index) as u64).to_be_bytes());
            let tag = key
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
        let mut ring_n = RingBaseline::new(&data);
        let single = PayloadCipher::new(1);
        let parallel = PayloadCipher::new(all_cores);
        let payload = single.seal(&key, &id, data.clone()).expect("seals");
        // Borrowed input (a shared `Bytes`): each chunk is copied as it is sealed
        // or opened. Owned input: a `PayloadBuffer` sealed where it lies, and an
        // owned payload opened where it lies; the untimed preparation fills them.
        let fill = || {
            let mut buffer = PayloadBuffer::with_capacity(size);
            buffer.extend_from_slice(&data);
            buffer
        };
        let owned = || BytesMut::from(&payload[..]);
        let rates = interleaved_rounds(
            budget,
            &mut [
                Box::new(|d| ops_per_s(d, || ring.seal())),
                Box::new(|d| ops_per_s(d, || ring_n.seal_parallel(all_cores))),
                Box::new(|d| {
                    ops_per_s(d, || {
                        drop(black_box(
                            single.seal(&key, &id, data.clone()).expect("seals"),
                        ))
                    })
                }),
                Box::new(|d| {
                    ops_per_s(d, || {
                        drop(black_box(
                            single.open(&key, &id, payload.clone()).expect("opens"),
                        ))
                    })
                }),
                Box::new(|d| {
                    ops_per_s(d, || {
                        drop(black_box(
                            parallel.seal(&key, &id, data.clone()).expect("seals"),
                        ))
                    })
                }),
                Box::new(|d| {
                    ops_per_s(d, || {
                        drop(black_box(
                            parallel.open(&key, &id, payload.clone()).expect("opens"),
                        ))
                    })
                }),
                Box::new(|d| {
                    ops_per_s_prepared(d, fill, |b| {
                        single.seal_in_place(&key, &id, b).expect("seals")
                    })
                }),
                Box::new(|d| {
                    ops_per_s_prepared(d, owned, |p| {
                        single.open_in_place(&key, &id, p).expect("opens")
                    })
                }),
                Box::new(|d| {
                    ops_per_s_prepared(d, fill, |b| {
                        parallel.seal_in_place(&key, &id, b).expect("seals")
                    })
                }),
                Box::new(|d| {
                    ops_per_s_prepared(d, owned, |p| {
                        parallel.open_in_place(&key, &id, p).expect("opens")
                    })
                }),
            ],
        );
        let [
            ring,
            ring_all,
            seal_1,
            open_1,
            seal_n,
            open_n,
            seal_in_1,
            open_in_1,
            seal_in_n,
            open_in_n,
        ] = rates[..]
        else {
            unreachable!("ten cases")
        };
        let none = serde_json::json!({});
        report("ring_seal_baseline", size, 1, ring, ring, none.clone());
        report(
            "ring_seal_baseline",
            size,
            all_cores,
            ring_all,
            ring,
            serde_json::json!({ "speedup_vs_1_thread": crate::measure::round(ring_all / ring) }),
        );
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
        for (case, one, all) in [
            ("coffer_seal_in_place", seal_in_1, seal_in_n),
            ("coffer_open_in_place", open_in_1, open_in_n),
        ] {
            report(case, size, 1, one, ring, none.clone());
            report(
                case,
                size,
                all_cores,
                all,
                ring,
                serde_json::json!({ "speedup_vs_1_thread": crate::measure::round(all / one) }),
            );
        }
    }
}
