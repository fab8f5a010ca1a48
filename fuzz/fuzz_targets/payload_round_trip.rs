//! Arbitrary plaintext and range: sealed, then opened whole and by range, always
//! giving back exactly the bytes (or a typed range error past the end); sealed
//! and opened in place too, with the same bytes as the borrowed path.
#![no_main]

use std::io::Cursor;

use arbitrary::Arbitrary;
use bytes::Bytes;
use coffer_cipher::{DataKey, Error, ObjectIdentity, PayloadBuffer, PayloadCipher, danger};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    plaintext: Vec<u8>,
    /// Repeats the plaintext to reach multi-chunk sizes (up to 256 times, so
    /// that runs long enough for several batches in place occur).
    repeat: u8,
    salt: [u8; 24],
    start: u32,
    end: u32,
    threads: u8,
}

fuzz_target!(|input: Input| {
    let cipher = PayloadCipher::new(usize::from(input.threads % 4) + 1);
    let key = DataKey::from_bytes([1; 32]);
    let id = ObjectIdentity::new(b"fuzz", "bucket", b"object");
    let plaintext: Bytes = input.plaintext.repeat(usize::from(input.repeat) + 1).into();
    let payload = cipher
        .seal_with_salt(&key, &id, danger::fixed_salt(input.salt), plaintext.clone())
        .expect("seals");
    assert_eq!(cipher.open(&key, &id, payload.clone()).expect("opens"), plaintext);
    let mut buffer = PayloadBuffer::new();
    buffer.extend_from_slice(&plaintext);
    let in_place = cipher
        .seal_in_place_with_salt(&key, &id, danger::fixed_salt(input.salt), buffer)
        .expect("seals in place");
    assert_eq!(in_place, payload);
    let opened = cipher
        .open_in_place(&key, &id, bytes::BytesMut::from(&payload[..]))
        .expect("opens in place");
    assert_eq!(opened, plaintext);
    let range = u64::from(input.start)..u64::from(input.end);
    match cipher.open_range(&key, &id, Cursor::new(&payload), range.clone()) {
        Ok(bytes) => assert_eq!(bytes, plaintext[range.start as usize..range.end as usize]),
        Err(Error::InvalidRange { .. }) => {
            assert!(range.start > range.end || range.end > plaintext.len() as u64)
        }
        Err(other) => panic!("range read failed: {other}"),
    }
});
