//! Arbitrary plaintext and range: sealed, then opened whole and by range, always
//! giving back exactly the bytes (or a typed range error past the end).
#![no_main]

use std::io::Cursor;

use arbitrary::Arbitrary;
use bytes::Bytes;
use coffer_cipher::{DataKey, Error, ObjectIdentity, PayloadCipher};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    plaintext: Vec<u8>,
    /// Repeats the plaintext to reach multi-chunk sizes.
    repeat: u8,
    start: u32,
    end: u32,
    threads: u8,
}

fuzz_target!(|input: Input| {
    let cipher = PayloadCipher::new(usize::from(input.threads % 4) + 1);
    let key = DataKey::from_bytes([1; 32]);
    let id = ObjectIdentity::new(b"fuzz", "bucket", b"object");
    let plaintext: Bytes = input.plaintext.repeat(usize::from(input.repeat % 64) + 1).into();
    let payload = cipher.seal(&key, &id, plaintext.clone()).expect("seals");
    assert_eq!(cipher.open(&key, &id, payload.clone()).expect("opens"), plaintext);
    let range = u64::from(input.start)..u64::from(input.end);
    match cipher.open_range(&key, &id, Cursor::new(&payload), range.clone()) {
        Ok(bytes) => assert_eq!(bytes, plaintext[range.start as usize..range.end as usize]),
        Err(Error::InvalidRange { .. }) => {
            assert!(range.start > range.end || range.end > plaintext.len() as u64)
        }
        Err(other) => panic!("range read failed: {other}"),
    }
});
