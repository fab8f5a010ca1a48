//! The bound of `compare -- store`'s 4 KiB put: what it could reach if the
//! store did nothing but RocksDB's own operation (the same-layout baseline,
//! measured in the same run) plus the work every object needs, measured here
//! on one core: a data key generated and wrapped by the master keyring, the
//! payload sealed (its keys derived, one AES-256-GCM chunk), and the record's
//! tag (HMAC-SHA256 over the record, which holds the inline payload). The put
//! is judged against that bound, not against RocksDB alone.
//!
//! Only for objects of one chunk (≤ 16 KiB): a larger payload is sealed on
//! every core, which one core's measurement does not bound. The get has no
//! bound printed yet: a get of a recently read object skips the unwrap and
//! the key derivation (the payload key cache), which this measurement would
//! have to follow.

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use coffer_cipher::{ObjectIdentity, PayloadCipher};
use coffer_keyring::{EncryptionContext, MasterKeyring, MemoryKeyStore, RootKey, RotationPolicy};
use ring::hmac;

use crate::measure::{Budget, interleaved, round};

/// Bytes of an object record around its inline payload.
const RECORD_LEN: usize = 200;
/// Payloads up to this size are inline in the record (the store's default).
const INLINE: usize = 64 << 10;

/// Objects up to this size have a bound printed.
pub(crate) const ONE_CHUNK: usize = 16 << 10;

/// Seconds of per-object work for a put of `size` bytes.
pub(crate) fn work(budget: &Budget, size: usize) -> f64 {
    let master = MasterKeyring::open(
        Arc::new(MemoryKeyStore::new()),
        &RootKey::from_bytes([0x21; 32]),
        RotationPolicy::default(),
        Arc::new(coffer_keyring::SystemClock),
    )
    .expect("keyring opens");
    let context = EncryptionContext::new(b"bench-store-0016", "bench", b"object-id-16byte");
    let identity = ObjectIdentity::new(b"bench-store-0016", "bench", b"object-id-16byte");
    let cipher = PayloadCipher::new(1);
    let body: Bytes = vec![7u8; size].into();
    let (key, wrapped) = master.generate_data_key(&context).expect("wraps");
    let sealed = cipher.seal(&key, &identity, body.clone()).expect("seals");
    let tag_key = hmac::Key::new(hmac::HMAC_SHA256, &[9u8; 32]);
    let record = vec![3u8; RECORD_LEN + if size <= INLINE { sealed.len() } else { 0 }];
    let mut put = || {
        let (key, wrapped) = master.generate_data_key(&context).expect("wraps");
        black_box(cipher.seal(&key, &identity, body.clone()).expect("seals"));
        black_box(hmac::sign(&tag_key, &record));
        drop(wrapped);
    };
    let rates = interleaved(budget, &mut [&mut put]);
    drop((key, wrapped));
    1.0 / rates[0]
}

/// Prints the bound of a put of `size` beside the rates measured:
/// `[default RocksDB, same-layout RocksDB, coffer]` operations per second.
pub(crate) fn report(size: usize, work: f64, put: [f64; 3]) {
    let [default, same, coffer] = put;
    let bound = 1.0 / (1.0 / same + work);
    println!(
        "{}",
        serde_json::json!({
            "case": "bound_put",
            "bytes": size,
            "work_us_per_op": round(work * 1e6),
            "rocksdb_us_per_op": round(1e6 / same),
            "bound_ops_per_s": round(bound),
            "bound_ratio_vs_rocksdb_default": round(bound / default),
            "coffer_ratio_vs_rocksdb_default": round(coffer / default),
            "coffer_vs_bound": round(coffer / bound),
        })
    );
}
