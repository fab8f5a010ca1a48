//! A real payload, edited by the fuzzer (bytes overwritten, cut, extended): it
//! opens only if the edits changed nothing, and then to the right plaintext.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher, danger};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Edit {
    Overwrite { at: u32, byte: u8 },
    Truncate { len: u32 },
    Append { bytes: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    plaintext_len: u16,
    extra_chunks: u8,
    edits: Vec<Edit>,
}

fuzz_target!(|input: Input| {
    let cipher = PayloadCipher::new(2);
    let key = DataKey::from_bytes([5; 32]);
    let id = ObjectIdentity::new(b"fuzz", "bucket", b"object");
    let len = usize::from(input.plaintext_len) + usize::from(input.extra_chunks % 4) * 16 * 1024;
    let plaintext: Bytes = (0..len).map(|i| i as u8).collect::<Vec<_>>().into();
    let sealed = cipher
        .seal_with_salt(&key, &id, danger::fixed_salt([9; 24]), plaintext.clone())
        .expect("seals");
    let mut edited = sealed.to_vec();
    for edit in input.edits {
        match edit {
            Edit::Overwrite { at, byte } => {
                if let Some(slot) = edited.get_mut(at as usize) {
                    *slot = byte;
                }
            }
            Edit::Truncate { len } => edited.truncate(len as usize),
            Edit::Append { bytes } => edited.extend(bytes),
        }
    }
    match cipher.open(&key, &id, Bytes::from(edited.clone())) {
        Ok(opened) => {
            assert_eq!(edited, sealed.to_vec(), "an edited payload opened");
            assert_eq!(opened, plaintext);
        }
        Err(_) => assert_ne!(edited, sealed.to_vec(), "an intact payload failed"),
    }
});
