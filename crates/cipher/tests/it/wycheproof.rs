//! Independent test vectors: Wycheproof's AES-256-GCM vectors through ring as we
//! call it, and its C2SP chunked-encryption (Cobblestone-256) vectors through the
//! bare message codec. `cargo test -p coffer-cipher wycheproof` runs them all.

use std::io::{Cursor, Read};

use coffer_cipher::{DataKey, cobblestone, danger};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::digest::{SHA512, digest};
use wycheproof::{TestResult, aead, chunked_encryption};

#[test]
fn wycheproof_aes_256_gcm_96_bit_iv_through_ring() {
    let set = aead::TestSet::load(aead::TestName::AesGcm).expect("vectors load");
    let mut checked = 0;
    for group in set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for test in group.tests {
            let key =
                LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &test.key).expect("32-byte key"));
            let nonce = || Nonce::try_assume_unique_for_key(&test.nonce).expect("96-bit nonce");
            let mut sealed = [&test.ct[..], &test.tag[..]].concat();
            let opened = key.open_in_place(nonce(), Aad::from(&test.aad[..]), &mut sealed);
            match test.result {
                TestResult::Valid => {
                    assert_eq!(
                        opened.expect("valid vector opens"),
                        &test.pt[..],
                        "tc {}",
                        test.tc_id
                    );
                    let mut in_out = test.pt.to_vec();
                    let tag = key
                        .seal_in_place_separate_tag(nonce(), Aad::from(&test.aad[..]), &mut in_out)
                        .expect("seals");
                    assert_eq!(in_out, &test.ct[..], "tc {}", test.tc_id);
                    assert_eq!(tag.as_ref(), &test.tag[..], "tc {}", test.tc_id);
                }
                TestResult::Invalid => assert!(opened.is_err(), "tc {} must fail", test.tc_id),
                TestResult::Acceptable => {}
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} AES-256-GCM vectors ran");
}

fn inflate(compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .read_to_end(&mut out)
        .expect("vector ciphertext is zlib");
    out
}

#[test]
fn wycheproof_c2sp_chunked_encryption_aes_256_gcm() {
    use chunked_encryption::TestFlag;
    let set = chunked_encryption::TestSet::load(chunked_encryption::TestName::Cobblestone256)
        .expect("vectors load");
    let (mut valid, mut invalid) = (0, 0);
    for group in set.test_groups {
        for test in group.tests {
            let id = test.tc_id;
            let message = inflate(&test.ct);
            let key = DataKey::try_from_slice(&test.key);
            match test.result {
                TestResult::Valid => {
                    let key = key.expect("valid vectors have 32-byte keys");
                    let plaintext = cobblestone::open(&key, &test.ctx, &message)
                        .unwrap_or_else(|e| panic!("tc {id}: {e}"));
                    assert_eq!(Some(plaintext.len()), test.msg_length, "tc {id}");
                    let hash = digest(&SHA512, &plaintext);
                    assert_eq!(
                        Some(hash.as_ref()),
                        test.msg_sha512.as_ref().map(|h| &h[..]),
                        "tc {id}"
                    );
                    // Sealing with the vector's salt reproduces it byte for byte.
                    let salt: [u8; 24] = message[..24].try_into().expect("salt");
                    let resealed =
                        cobblestone::seal(&key, &test.ctx, &danger::fixed_salt(salt), &plaintext)
                            .expect("seals");
                    assert!(resealed == message, "tc {id}: reseal differs");
                    // The streaming reader agrees and authenticates the length.
                    let mut reader = cobblestone::reader(&key, &test.ctx, Cursor::new(&message))
                        .expect("reader opens");
                    assert_eq!(
                        reader.verified_len().expect("length"),
                        plaintext.len() as u64
                    );
                    let mut streamed = Vec::new();
                    reader.read_to_end(&mut streamed).expect("streams");
                    assert!(streamed == plaintext, "tc {id}: streamed plaintext differs");
                    valid += 1;
                }
                TestResult::Invalid => {
                    invalid += 1;
                    let Ok(key) = key else {
                        assert!(test.flags.contains(&TestFlag::InvalidKeySize), "tc {id}");
                        continue;
                    };
                    assert!(
                        cobblestone::open(&key, &test.ctx, &message).is_err(),
                        "tc {id} ({}) must fail",
                        test.comment
                    );
                    let Ok(mut reader) =
                        cobblestone::reader(&key, &test.ctx, Cursor::new(&message))
                    else {
                        continue;
                    };
                    assert!(
                        !test.flags.contains(&TestFlag::HeaderFailure),
                        "tc {id}: header accepted"
                    );
                    if !test.flags.contains(&TestFlag::ValidFinalChunk) {
                        assert!(
                            reader.verified_len().is_err(),
                            "tc {id}: final chunk accepted"
                        );
                    }
                    let mut reader = cobblestone::reader(&key, &test.ctx, Cursor::new(&message))
                        .expect("header was accepted above");
                    let mut streamed = Vec::new();
                    assert!(
                        reader.read_to_end(&mut streamed).is_err(),
                        "tc {id}: stream completed"
                    );
                    assert!(
                        reader.read(&mut [0; 16]).is_err(),
                        "tc {id}: failure is not sticky"
                    );
                    // Whatever was released is an authenticated prefix.
                    let prefix_len = test.msg_length.unwrap_or(0);
                    assert!(streamed.len() <= prefix_len, "tc {id}: released too much");
                    if streamed.len() == prefix_len && prefix_len > 0 {
                        let hash = digest(&SHA512, &streamed);
                        assert_eq!(
                            Some(hash.as_ref()),
                            test.msg_sha512.as_ref().map(|h| &h[..]),
                            "tc {id}"
                        );
                    }
                }
                TestResult::Acceptable => {}
            }
        }
    }
    assert_eq!((valid, invalid), (10, 25));
}
