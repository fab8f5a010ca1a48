//! Tampering with a sealed payload: every flipped bit, every truncation, swapped
//! and spliced chunks, trailing data, the wrong key and the wrong object all fail
//! to open, and nothing is released.

use std::io::{Cursor, Read};

use bytes::Bytes;
use coffer_cipher::{DataKey, Error, IntegrityError, ObjectIdentity, PayloadCipher};

const CHUNK: usize = 16 * 1024;
const SEALED: usize = CHUNK + 16;
const CHUNKS_AT: usize = 8 + 24 + 32;

fn key(byte: u8) -> DataKey {
    DataKey::from_bytes([byte; 32])
}

fn identity(object: &[u8]) -> ObjectIdentity {
    ObjectIdentity::new(b"store", "bucket", object)
}

fn plaintext(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 7 + 3) as u8)
        .collect::<Vec<_>>()
        .into()
}

fn assert_integrity(result: coffer_cipher::Result<Bytes>, what: &str) {
    match result {
        Err(Error::Integrity(_)) => {}
        Err(other) => panic!("{what}: expected an integrity error, got {other}"),
        Ok(_) => panic!("{what}: tampered payload opened"),
    }
}

#[test]
fn every_flipped_bit_is_detected() {
    let cipher = PayloadCipher::new(1);
    let id = identity(b"obj");
    // Two full chunks and a short final one: header, salt, commitment, three
    // bodies and three tags.
    let payload = cipher
        .seal(&key(1), &id, plaintext(2 * CHUNK + 100))
        .expect("seals");
    let mut bytes = payload.to_vec();
    for bit in 0..bytes.len() * 8 {
        bytes[bit / 8] ^= 1 << (bit % 8);
        // Both ways in: copied as it opens (shared) and opened in place (unique).
        let shared = Bytes::copy_from_slice(&bytes);
        let copied = cipher.open(&key(1), &id, shared.clone());
        let result = cipher.open(&key(1), &id, Bytes::copy_from_slice(&bytes));
        assert_eq!(
            copied.is_ok(),
            result.is_ok(),
            "bit {bit}: the two paths disagree"
        );
        if bit / 8 < 8 {
            // The header: either not understood, or a different context.
            assert!(
                result.is_err(),
                "header bit {bit} flipped and the payload opened"
            );
        } else {
            assert_integrity(result, &format!("bit {bit}"));
        }
        bytes[bit / 8] ^= 1 << (bit % 8);
    }
    assert_eq!(
        cipher
            .open(&key(1), &id, Bytes::from(bytes))
            .expect("intact"),
        plaintext(2 * CHUNK + 100)
    );
}

#[test]
fn truncation_at_and_between_chunk_boundaries_is_detected() {
    let cipher = PayloadCipher::new(2);
    let id = identity(b"obj");
    for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5] {
        let payload = cipher.seal(&key(2), &id, plaintext(len)).expect("seals");
        let mut cuts: Vec<usize> = (0..CHUNKS_AT + 20).collect();
        for k in 0..=len / CHUNK + 1 {
            let boundary = CHUNKS_AT + k * SEALED;
            cuts.extend([
                boundary.saturating_sub(17),
                boundary - 16,
                boundary - 1,
                boundary,
                boundary + 1,
                boundary + 16,
            ]);
        }
        for cut in cuts.into_iter().filter(|&c| c < payload.len()) {
            let result = cipher.open(&key(2), &id, payload.slice(..cut));
            assert!(result.is_err(), "len {len}: cut at {cut} opened");
            if cut >= 8 {
                assert_integrity(result, &format!("len {len}, cut {cut}"));
            }
        }
    }
}

#[test]
fn swapped_and_spliced_chunks_are_detected() {
    let cipher = PayloadCipher::new(1);
    let id = identity(b"obj");
    let payload = cipher
        .seal(&key(3), &id, plaintext(3 * CHUNK + 10))
        .expect("seals")
        .to_vec();
    let chunk = |bytes: &[u8], k: usize| {
        bytes[CHUNKS_AT + k * SEALED..CHUNKS_AT + (k + 1) * SEALED].to_vec()
    };

    let mut swapped = payload.clone();
    let (c0, c1) = (chunk(&payload, 0), chunk(&payload, 1));
    swapped[CHUNKS_AT..CHUNKS_AT + SEALED].copy_from_slice(&c1);
    swapped[CHUNKS_AT + SEALED..CHUNKS_AT + 2 * SEALED].copy_from_slice(&c0);
    assert!(matches!(
        cipher.open(&key(3), &id, swapped.into()),
        Err(Error::Integrity(IntegrityError::Chunk { index: 0 }))
    ));

    let mut duplicated = payload.clone();
    duplicated[CHUNKS_AT + SEALED..CHUNKS_AT + 2 * SEALED].copy_from_slice(&c0);
    assert_integrity(
        cipher.open(&key(3), &id, duplicated.into()),
        "duplicated chunk",
    );

    // A chunk from another object sealed under the same key.
    let other = cipher
        .seal(&key(3), &identity(b"other"), plaintext(3 * CHUNK + 10))
        .expect("seals")
        .to_vec();
    let mut spliced = payload.clone();
    spliced[CHUNKS_AT + SEALED..CHUNKS_AT + 2 * SEALED].copy_from_slice(&chunk(&other, 1));
    assert_integrity(cipher.open(&key(3), &id, spliced.into()), "spliced chunk");

    // A whole payload of another object, with the right key.
    assert!(matches!(
        cipher.open(&key(3), &id, other.into()),
        Err(Error::Integrity(IntegrityError::Commitment))
    ));
}

#[test]
fn trailing_data_is_detected() {
    let cipher = PayloadCipher::new(1);
    let id = identity(b"obj");
    for len in [0, 10, CHUNK] {
        let payload = cipher
            .seal(&key(4), &id, plaintext(len))
            .expect("seals")
            .to_vec();
        for extra in [1, 16, 17, SEALED] {
            let mut longer = payload.clone();
            longer.extend(std::iter::repeat_n(0xA5, extra));
            assert_integrity(
                cipher.open(&key(4), &id, longer.into()),
                &format!("len {len} + {extra}"),
            );
        }
    }
}

#[test]
fn wrong_key_or_wrong_object_fails_at_the_commitment() {
    let cipher = PayloadCipher::default();
    let payload = cipher
        .seal(&key(5), &identity(b"a"), plaintext(100_000))
        .expect("seals");
    for (k, id) in [
        (key(6), identity(b"a")),
        (key(5), identity(b"b")),
        (key(5), ObjectIdentity::new(b"other store", "bucket", b"a")),
    ] {
        assert!(matches!(
            cipher.open(&k, &id, payload.clone()),
            Err(Error::Integrity(IntegrityError::Commitment))
        ));
        assert!(matches!(
            cipher.reader(&k, &id, Cursor::new(payload.clone())).err(),
            Some(Error::Integrity(IntegrityError::Commitment))
        ));
    }
}

#[test]
fn streaming_reader_releases_nothing_from_a_bad_chunk() {
    let cipher = PayloadCipher::new(1);
    let id = identity(b"obj");
    let mut payload = cipher
        .seal(&key(7), &id, plaintext(200 * CHUNK))
        .expect("seals")
        .to_vec();
    // Corrupt chunk 100, in the second 1 MiB window.
    payload[CHUNKS_AT + 100 * SEALED + 5] ^= 1;
    let mut reader = cipher
        .reader(&key(7), &id, Cursor::new(payload))
        .expect("commitment ok");
    let mut out = Vec::new();
    let error = reader.read_to_end(&mut out).expect_err("must fail");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        out.len() <= 100 * CHUNK,
        "released plaintext past the bad chunk"
    );
    assert_eq!(&out[..], &plaintext(200 * CHUNK)[..out.len()]);
    assert!(reader.read(&mut [0; 10]).is_err(), "failure must be sticky");
}

/// In parallel, opening in place sets aside the first chunk of every batch but
/// the first and opens it last; a flipped bit anywhere still fails, naming the
/// first bad chunk in order, and no plaintext comes back.
#[test]
fn opening_in_place_in_parallel_names_the_first_bad_chunk() {
    let cipher = PayloadCipher::new(2);
    let id = identity(b"big");
    // 193 chunks: four batches of 49 on two threads.
    let data = plaintext(192 * CHUNK + 5);
    let payload = cipher.seal(&key(3), &id, data.clone()).expect("seals");
    let body = |chunk: usize| 64 + chunk * (CHUNK + 16);
    let cases: &[(&[usize], u64)] = &[
        (&[body(0)], 0),
        (&[body(48) + CHUNK + 3], 48),
        (&[body(49)], 49),
        (&[body(49) + CHUNK + 15], 49),
        (&[body(50) + 7], 50),
        (&[body(98)], 98),
        (&[body(192) + 2], 192),
        (&[body(100), body(49) + 1], 49),
        (&[body(50), body(49)], 49),
        (&[body(10), body(49)], 10),
        (&[body(150), body(99)], 99),
    ];
    for (flips, first_bad) in cases {
        let mut bytes = payload.to_vec();
        for &at in *flips {
            bytes[at] ^= 0x20;
        }
        let result = cipher.open_in_place(&key(3), &id, bytes::BytesMut::from(&bytes[..]));
        match result {
            Err(Error::Integrity(IntegrityError::Chunk { index })) => {
                assert_eq!(index, *first_bad, "flips at {flips:?}")
            }
            Err(other) => panic!("flips at {flips:?}: {other}"),
            Ok(_) => panic!("flips at {flips:?}: tampered payload opened"),
        }
    }
    let intact = cipher
        .open_in_place(&key(3), &id, bytes::BytesMut::from(&payload[..]))
        .expect("intact");
    assert!(intact == data);
}

/// Keys derived for one payload open only that payload.
#[test]
fn payload_keys_open_only_the_payload_they_were_derived_for() {
    let cipher = PayloadCipher::new(1);
    let id = identity(b"kept");
    let data = plaintext(CHUNK + 10);
    let payload = cipher.seal(&key(4), &id, data.clone()).expect("seals");
    let keys = cipher
        .payload_keys(&key(4), &id, &payload)
        .expect("derives");
    for _ in 0..2 {
        assert_eq!(
            cipher
                .open_with_keys(&keys, payload.clone())
                .expect("shared"),
            data
        );
        assert_eq!(
            cipher
                .open_with_keys(&keys, Bytes::copy_from_slice(&payload))
                .expect("unique"),
            data
        );
    }
    // Same key and object, another salt: the prefix differs.
    let other = cipher.seal(&key(4), &id, data.clone()).expect("seals");
    assert!(matches!(
        cipher.open_with_keys(&keys, other.clone()),
        Err(Error::Integrity(IntegrityError::Commitment))
    ));
    assert!(matches!(
        cipher.open_in_place_with_keys(&keys, bytes::BytesMut::from(&other[..])),
        Err(Error::Integrity(IntegrityError::Commitment))
    ));
    // A flipped bit in a chunk still fails with kept keys.
    let mut bad = payload.to_vec();
    bad[64 + 5] ^= 1;
    assert_integrity(cipher.open_with_keys(&keys, bad.into()), "kept keys");
    // Keys for the wrong object are refused before any are kept.
    assert!(
        cipher
            .payload_keys(&key(4), &identity(b"other"), &payload)
            .is_err()
    );
    assert!(cipher.payload_keys(&key(5), &id, &payload).is_err());
}
