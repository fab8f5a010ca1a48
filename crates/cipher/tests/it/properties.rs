//! Properties of the payload codec: round trips at every size around chunk
//! boundaries, random ranges equal the same slice of the plaintext, and the
//! one-shot, parallel and streaming paths write identical bytes.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use bytes::Bytes;
use coffer_cipher::{DataKey, ObjectIdentity, PayloadBuffer, PayloadCipher, danger};
use proptest::prelude::*;

const CHUNK: usize = 16 * 1024;

fn plaintext(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<_>>()
        .into()
}

/// Sizes from empty to several chunks, weighted towards chunk boundaries.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0..6 * CHUNK,
        (0..6usize).prop_map(|k| k * CHUNK),
        (1..6usize, 0..3usize).prop_map(|(k, d)| k * CHUNK + d - 1),
    ]
}

fn seal_streaming(
    cipher: &PayloadCipher,
    key: &DataKey,
    id: &ObjectIdentity,
    salt: [u8; 24],
    data: &[u8],
    writes: usize,
) -> Vec<u8> {
    let mut writer = cipher
        .writer_with_salt(key, id, danger::fixed_salt(salt), Vec::new())
        .expect("starts");
    let step = data.len().div_ceil(writes.max(1)).max(1);
    for piece in data.chunks(step) {
        writer.write_all(piece).expect("writes");
    }
    writer.finish().expect("finishes")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(len in size(), seed: u8, threads in 1..4usize) {
        let cipher = PayloadCipher::new(threads);
        let key = DataKey::generate().expect("rng");
        let id = ObjectIdentity::new(b"s", "b", &[seed]);
        let data = plaintext(len, seed);
        let payload = cipher.seal(&key, &id, data.clone()).expect("seals");
        prop_assert_eq!(payload.len() as u64, PayloadCipher::payload_len(len as u64).expect("fits"));
        prop_assert_eq!(cipher.open(&key, &id, payload.clone()).expect("opens"), data.clone());
        let mut streamed = Vec::new();
        cipher.reader(&key, &id, Cursor::new(payload)).expect("reader").read_to_end(&mut streamed).expect("streams");
        prop_assert!(streamed == data);
    }

    #[test]
    fn random_ranges_equal_the_slice(len in 1..6 * CHUNK, a: prop::sample::Index, b: prop::sample::Index, threads in 1..3usize) {
        let cipher = PayloadCipher::new(threads);
        let key = DataKey::generate().expect("rng");
        let id = ObjectIdentity::new(b"s", "b", b"o");
        let data = plaintext(len, 9);
        let payload = cipher.seal(&key, &id, data.clone()).expect("seals");
        let (x, y) = (a.index(len + 1) as u64, b.index(len + 1) as u64);
        let range = x.min(y)..x.max(y);
        let got = cipher.open_range(&key, &id, Cursor::new(&payload), range.clone()).expect("range opens");
        prop_assert!(got[..] == data[range.start as usize..range.end as usize]);
        // The same through Seek, from the start and from the end.
        let mut reader = cipher.reader(&key, &id, Cursor::new(&payload)).expect("reader");
        reader.seek(SeekFrom::End(range.start as i64 - len as i64)).expect("seeks");
        let mut buf = vec![0; (range.end - range.start) as usize];
        reader.read_exact(&mut buf).expect("reads");
        prop_assert!(buf[..] == data[range.start as usize..range.end as usize]);
    }

    #[test]
    fn every_path_writes_identical_bytes(len in size(), writes in 1..7usize, salt: [u8; 24]) {
        let key = DataKey::from_bytes([7; 32]);
        let id = ObjectIdentity::new(b"s", "b", b"o");
        let data = plaintext(len, 1);
        let single = PayloadCipher::new(1);
        let parallel = PayloadCipher::new(3);
        let one_shot = single.seal_with_salt(&key, &id, danger::fixed_salt(salt), data.clone()).expect("seals");
        let in_parallel = parallel.seal_with_salt(&key, &id, danger::fixed_salt(salt), data.clone()).expect("seals");
        prop_assert!(one_shot == in_parallel);
        prop_assert!(seal_streaming(&single, &key, &id, salt, &data, writes) == one_shot);
        prop_assert!(seal_streaming(&parallel, &key, &id, salt, &data, writes) == one_shot);
    }

    /// Sealing a [`PayloadBuffer`] in place writes the same bytes as every other
    /// path, however the buffer was filled, and opening in place gives back the
    /// plaintext.
    #[test]
    fn in_place_paths_match_the_others(len in size(), writes in 1..7usize, salt: [u8; 24], threads in 1..4usize) {
        let key = DataKey::from_bytes([7; 32]);
        let id = ObjectIdentity::new(b"s", "b", b"o");
        let data = plaintext(len, 2);
        let cipher = PayloadCipher::new(threads);
        let reference = cipher.seal_with_salt(&key, &id, danger::fixed_salt(salt), data.clone()).expect("seals");
        let step = len.div_ceil(writes).max(1);
        let mut written = PayloadBuffer::with_capacity(len / 2);
        let mut read = PayloadBuffer::new();
        let mut source = Cursor::new(&data[..]);
        for piece in data.chunks(step) {
            written.write_all(piece).expect("writes");
            prop_assert_eq!(read.read_from(&mut source, step as u64).expect("reads"), piece.len() as u64);
        }
        prop_assert_eq!(read.read_from(&mut source, 1).expect("reads"), 0);
        prop_assert_eq!(written.plaintext_len(), len as u64);
        for buffer in [written, read] {
            let sealed = cipher.seal_in_place_with_salt(&key, &id, danger::fixed_salt(salt), buffer).expect("seals");
            prop_assert!(sealed == reference);
            let owned = bytes::BytesMut::from(&sealed[..]);
            prop_assert!(cipher.open_in_place(&key, &id, owned).expect("opens") == data);
        }
    }
}

#[test]
fn large_payloads_open_in_place_on_every_thread_count() {
    let key = DataKey::from_bytes([9; 32]);
    let id = ObjectIdentity::new(b"s", "b", b"big");
    let data = plaintext(5 * 1024 * 1024 + 123, 3);
    let salt = [4; 24];
    let reference = PayloadCipher::new(1)
        .seal_with_salt(&key, &id, danger::fixed_salt(salt), data.clone())
        .expect("seals");
    for threads in [1, 2, 3, 4] {
        let cipher = PayloadCipher::new(threads);
        let mut buffer = PayloadBuffer::new();
        buffer.extend_from_slice(&data);
        let sealed = cipher
            .seal_in_place_with_salt(&key, &id, danger::fixed_salt(salt), buffer)
            .expect("seals");
        assert!(sealed == reference, "{threads} threads seal differently");
        let opened = cipher
            .open_in_place(&key, &id, bytes::BytesMut::from(&sealed[..]))
            .expect("opens");
        assert!(opened == data, "{threads} threads open differently");
        // A unique `Bytes` opens in place too.
        assert!(
            cipher
                .open(&key, &id, Bytes::from(sealed.to_vec()))
                .expect("opens")
                == data
        );
    }
}

#[test]
fn large_payloads_are_identical_across_thread_counts() {
    let key = DataKey::from_bytes([9; 32]);
    let id = ObjectIdentity::new(b"s", "b", b"big");
    let data = plaintext(5 * 1024 * 1024 + 123, 3);
    let salt = [4; 24];
    let reference = PayloadCipher::new(1)
        .seal_with_salt(&key, &id, danger::fixed_salt(salt), data.clone())
        .expect("seals");
    for threads in [2, 3, 4] {
        let cipher = PayloadCipher::new(threads);
        let sealed = cipher
            .seal_with_salt(&key, &id, danger::fixed_salt(salt), data.clone())
            .expect("seals");
        assert!(sealed == reference, "{threads} threads differ");
        assert!(cipher.open(&key, &id, sealed).expect("opens") == data);
        // Streaming with a window of several MiB.
        assert!(seal_streaming(&cipher, &key, &id, salt, &data, 13) == reference);
    }
}

#[test]
fn range_errors_are_typed() {
    let cipher = PayloadCipher::new(1);
    let key = DataKey::from_bytes([1; 32]);
    let id = ObjectIdentity::new(b"s", "b", b"o");
    let payload = cipher.seal(&key, &id, plaintext(100, 0)).expect("seals");
    assert!(matches!(
        cipher.open_range(&key, &id, Cursor::new(&payload), 50..101),
        Err(coffer_cipher::Error::InvalidRange {
            start: 50,
            end: 101,
            len: 100
        })
    ));
    assert_eq!(
        cipher
            .open_range(&key, &id, Cursor::new(&payload), 100..100)
            .expect("empty"),
        Vec::<u8>::new()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A payload sealed run by run (as the store writes segments) is a normal
    /// payload, and opens run by run too.
    #[test]
    fn segmented_payloads_match_whole_ones(len in 0..9 * CHUNK, chunks_per_run in 1..4usize) {
        let cipher = PayloadCipher::new(2);
        let key = DataKey::generate().expect("rng");
        let id = ObjectIdentity::new(b"s", "b", b"seg");
        let data = plaintext(len, 5);
        let sealer = cipher.sealer(&key, &id).expect("sealer");
        let run = chunks_per_run * CHUNK;
        let runs = len.div_ceil(run).max(1);
        let mut sealed_runs = Vec::new();
        for r in 0..runs {
            let piece = data.slice(r * run..((r + 1) * run).min(len));
            let mut out = bytes::BytesMut::new();
            sealer.seal_chunks((r * chunks_per_run) as u64, piece, r + 1 == runs, &mut out).expect("seals");
            sealed_runs.push(out.freeze());
        }
        let mut whole = sealer.prefix().to_vec();
        for sealed in &sealed_runs {
            whole.extend_from_slice(sealed);
        }
        prop_assert!(cipher.open(&key, &id, whole.clone().into()).expect("opens") == data);
        let opener = cipher.opener(&key, &id, sealer.prefix(), whole.len() as u64).expect("opener");
        let mut out = bytes::BytesMut::new();
        for (r, sealed) in sealed_runs.into_iter().enumerate() {
            opener.open_chunks((r * chunks_per_run) as u64, sealed, &mut out).expect("opens run");
        }
        prop_assert!(out.freeze() == data);
        let mut in_place = Vec::new();
        let mut at = sealer.prefix().len();
        for r in 0..runs {
            let run_sealed = if r + 1 == runs { whole.len() - at } else { chunks_per_run * (CHUNK + 16) };
            let sealed = bytes::BytesMut::from(&whole[at..at + run_sealed]);
            at += run_sealed;
            in_place.extend_from_slice(&opener.open_chunks_in_place((r * chunks_per_run) as u64, sealed).expect("opens run in place"));
        }
        prop_assert!(in_place == data);
        let misaligned = sealer.seal_chunks(0, data.slice(..len.min(CHUNK - 1)), false, &mut bytes::BytesMut::new());
        prop_assert!(len == 0 || misaligned.is_err());
    }
}
