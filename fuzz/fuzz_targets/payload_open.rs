//! Arbitrary bytes opened as a payload, whole, streamed and by range: an error
//! every time (forging a payload is infeasible), never a panic.
#![no_main]

use std::io::{Cursor, Read};

use bytes::Bytes;
use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cipher = PayloadCipher::new(1);
    let key = DataKey::from_bytes([3; 32]);
    let id = ObjectIdentity::new(b"fuzz", "bucket", b"object");
    assert!(cipher.open(&key, &id, Bytes::copy_from_slice(data)).is_err());
    if let Ok(mut reader) = cipher.reader(&key, &id, Cursor::new(data)) {
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err());
        assert!(out.is_empty());
    }
    let _ = cipher.open_range(&key, &id, Cursor::new(data), 0..1);
});
