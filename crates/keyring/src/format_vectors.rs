//! Fixed-byte vectors of every record coffer-keyring writes (or still reads)
//! on disk, as `docs/format.md` describes them: the wrapped data key
//! (versions 1 and 2), the sealed key record (`CFSR`, layout 2) and the
//! values sealed in it (`root/check` and the keys the store secret derives,
//! `master/state`, `master/kek/<version>`, `kms/key/<id>`,
//! `kms/alias/<alias>`, `kms/import/<token>`), and the layout-1 records a
//! store written before sealing still holds until its first open.
//!
//! Each vector builds a fixed value (fixed ids, keys, salts, nonces and
//! times), encodes it with the crate's own code and compares the bytes with a
//! constant here, then decodes the constant and compares it with the value;
//! where the doc gives the cryptography (a wrap, a seal, a derivation), the
//! bytes are also computed from the doc's formula with `ring` directly. A
//! round trip passes when an encoding changes on both sides at once; these
//! do not.
//!
//! **A change to any constant in this file is a change to the on-disk
//! format**: stores already written would no longer open. Such a change needs
//! a new record version (the old one still read), `docs/format.md` updated,
//! and a new vector beside the old one, never an edited one.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::kms::local::import::{PendingImportRecord, import_name};
use crate::kms::local::persist::{self, KeyRecord, MaterialRecord, alias_name, key_name};
use crate::kms::local::state::StoredState;
use crate::master::{KekRecord, STATE, StateRecord, kek_name, state_record};
use crate::sealed_store::CHECK_NAME;
use crate::{
    Caller, DataKey, EncryptionContext, KeyStore, KeysLayout, Kms, KmsOptions, LocalKms,
    LocalKmsOptions, MASTER_KEYRING_ID, ManualClock, MasterKeyring, MemoryKeyStore, Provider,
    RootKey, RotationPolicy, SealedKeyStore, WrapAlgorithm, WrappedKey,
};

// ---- the fixed values -------------------------------------------------------

const ROOT: [u8; 32] = [0x11; 32];
/// The store secret `root/check` holds.
const SECRET: [u8; 32] = [0x77; 32];
const NONCE: [u8; 12] = [0x88; 12];
const SALT: [u8; 32] = [0x66; 32];
const DATA_KEY: [u8; 32] = [0x44; 32];
const STORE_ID: [u8; 16] = [0x01; 16];
const BUCKET: &str = "photos";
const OBJECT_ID: [u8; 16] = [0x02; 16];
const CMK_ID: &str = "5b1e6c0e-2a0f-4d3e-9c61-0d5f3e2a1b7c";
const IMPORTED_ID: &str = "0c8f7a52-61d4-4b1e-8f3a-7d29e6b5c401";
const CMK_MATERIAL_1: [u8; 32] = [0x21; 32];
const CMK_MATERIAL_2: [u8; 32] = [0x22; 32];
const IMPORTED_MATERIAL: [u8; 32] = [0x23; 32];
const MASTER_KEK_1: [u8; 32] = [0x31; 32];
const MASTER_KEK_2: [u8; 32] = [0x32; 32];
/// 2026-12-03 12:00:00 UTC.
const T0_MS: u64 = 1_796_299_200_000;

// ---- the vectors ------------------------------------------------------------

/// Version 1, provider KMS: `CMK_ID` material version 2 wraps `DATA_KEY` for
/// (`STORE_ID`, `BUCKET`, `OBJECT_ID`) with salt `SALT`.
const WRAPPED_V1_KMS: &str = "4346574b0102010002000000240035623165366330652d326130662d346433652d396336312d30643566336532613162376366666666666666666666666666666666666666666666666666666666666666663000da2f2cc97ba957904beb6e8851a8d89d08729457a98f011a9d8fcb5933b5d289b79155e993993d5ffe23b2e50cfacea8";
/// Version 1, provider master keyring: master key version 2.
const WRAPPED_V1_MASTER: &str = "4346574b01010100020000000d00636f666665722d6d6173746572666666666666666666666666666666666666666666666666666666666666666630003879007a015d58570614988da491d551a4fe6846e04312148be426eea40367522b9122a8b42213d7a39f88df0f58af8c";
/// Version 2, algorithm 2 (Transit), key `coffer-photos` version 7.
const WRAPPED_V2_TRANSIT: &str = "4346574b02020200070000000d00636f666665722d70686f746f731d007661756c743a76373a633256686247566b494752686447456761325635";
/// Version 2, algorithm 3 (AWS KMS), a 24-byte blob, key version 3.
const WRAPPED_V2_AWS: &str = "4346574b02020300030000004b0061726e3a6177733a6b6d733a65752d776573742d313a3131313132323232333333333a6b65792f30663165326433632d346235612d363937382d383739362d6135623463336432653166301800000102030405060708090a0b0c0d0e0f1011121314151617";
/// Version 2, algorithm 4 (bucket key), provider KMS: the bucket key `[0x99; 16]`.
const WRAPPED_V2_BUCKET_KEY_KMS: &str = "4346574b0202040002000000240035623165366330652d326130662d346433652d396336312d306435663365326131623763100099999999999999999999999999999999";
/// Version 2, algorithm 4 (bucket key), provider master keyring.
const WRAPPED_V2_BUCKET_KEY_MASTER: &str =
    "4346574b02010400010000000d00636f666665722d6d6173746572100099999999999999999999999999999999";
/// The identity encoding of (`STORE_ID`, `BUCKET`, `OBJECT_ID`).
const CONTEXT: &str = "10000000010101010101010101010101010101010600000070686f746f731000000002020202020202020202020202020202";

/// `kms/alias/alias/photos` → `CMK_ID`, sealed under `ROOT` with `NONCE`.
const SEALED_ALIAS: &str = "4346535201888888888888888888888888347be96a4a88fa368f76627d6ad488b395963458b08154cde90d65991a48351a9434727854aa0cc8dd01aa4068ff1469f4798c31";
/// `root/check` → `"coffer keys v2" ‖ SECRET`, sealed under `ROOT` with `NONCE`.
const SEALED_ROOT_CHECK: &str = "43465352018888888888888888888888886276be691999ea38c73d706d7acbcba0d1846e16a4c01297ae1e27885e5a700cd221326c17f41ee65268266ac49268547f955830d3a107473d6a153a1ff1";
/// What the store secret derives: the object-record key, the audit key, the
/// BYOK fingerprint key.
const RECORD_KEY: &str = "42578bd227f7f14dc6900e79b401d4423a240b8e5a1eed863c6f0c47f9668ebd";
const AUDIT_KEY: &str = "0b1728c3772bc940b472b3b2659bd4a26af5d6a989755ddef09a192581c34141";
const FINGERPRINT_KEY: &str = "04628e61cb1178cf8e3e19b32fe318d9fad255db9e60730f6f61920e98705e37";

/// Layout 1 (before records were sealed whole): `root/check` of the store-v1
/// fixture (root key 0x11 × 32), `nonce ‖ AES-256-GCM(0x5A × 32) ‖ tag`.
const LEGACY_ROOT_CHECK: &str = "de023b2859809bebbadf6b69ff1c630b82618e62bbf7aa1857872dc9c1e5d77a04ca593ef523adbe46867ab7aa133098c0f4953ed81b23bc1fc5ea8d";
/// Layout 1: `master/kek/0000000001` of the store-v1 fixture, material sealed
/// on its own.
const LEGACY_KEK: &str = r#"{"version":1,"created_at_ms":1796107983630,"wraps":2,"sealed":"b489ab32b472c1f397ee5d11422cc5cb7e0d13f5b9d2c1db5210978fb11ac54645e2c9fd9f5fe9f3555a676a42c1f3549d720a46c23df6d34126aae7"}"#;
/// The material inside it.
const LEGACY_KEK_MATERIAL: &str =
    "40375b1e99eb9f716816916d37424783c03903f8af3d9a6ca6aeb6df60e9ddd1";

const STATE_JSON: &str = r#"{"current":2,"min_decryption_version":1}"#;
const KEK_1_JSON: &str = r#"{"version":1,"created_at_ms":1796299200000,"wraps":4096,"material":"3131313131313131313131313131313131313131313131313131313131313131"}"#;
const KEK_2_JSON: &str = r#"{"version":2,"created_at_ms":1796299260000,"wraps":7,"material":"3232323232323232323232323232323232323232323232323232323232323232"}"#;
const CMK_JSON: &str = r#"{"id":"5b1e6c0e-2a0f-4d3e-9c61-0d5f3e2a1b7c","description":"photos","external":false,"managed":false,"state":"Enabled","created_at_ms":1796299200000,"rotation_period_s":31536000,"last_rotated_ms":1796299260000,"current_version":2,"materials":[{"version":1,"created_at_ms":1796299200000,"material":"2121212121212121212121212121212121212121212121212121212121212121"},{"version":2,"created_at_ms":1796299260000,"material":"2222222222222222222222222222222222222222222222222222222222222222"}],"fingerprint":null}"#;
const IMPORTED_JSON: &str = r#"{"id":"0c8f7a52-61d4-4b1e-8f3a-7d29e6b5c401","description":"imported","external":true,"managed":false,"state":{"PendingDeletion":{"delete_at_ms":1796904000000}},"created_at_ms":1796299200000,"rotation_period_s":null,"last_rotated_ms":1796299201000,"current_version":1,"materials":[{"version":1,"created_at_ms":1796299201000,"material":"2323232323232323232323232323232323232323232323232323232323232323"}],"fingerprint":"v2:a3630ee16683542cde52a9239fe2e7041bc7dfaeb4b1a14a737587b46a8d0523","min_decryption_version":1}"#;
const IMPORT_JSON: &str = r#"{"key_id":"0c8f7a52-61d4-4b1e-8f3a-7d29e6b5c401","expires_at_ms":1796385600000,"private_key":"308204bd020100300d06092a864886f70d0101010500"}"#;
/// The fingerprint of `IMPORTED_MATERIAL` under `FINGERPRINT_KEY`.
const FINGERPRINT: &str = "v2:a3630ee16683542cde52a9239fe2e7041bc7dfaeb4b1a14a737587b46a8d0523";

// ---- helpers ------------------------------------------------------------------

/// Asserts `actual` is the constant `expected` (hex), printing what it is if not.
fn assert_hex(what: &str, actual: &[u8], expected: &str) {
    assert!(
        hex::encode(actual) == expected,
        "{what} changed: it is now\n{}\n(a change to this vector is a change to the on-disk format)",
        hex::encode(actual)
    );
}

/// Asserts `actual` is the constant `expected` (text), printing what it is if not.
fn assert_text(what: &str, actual: &[u8], expected: &str) {
    assert!(
        actual == expected.as_bytes(),
        "{what} changed: it is now\n{}\n(a change to this vector is a change to the on-disk format)",
        String::from_utf8_lossy(actual)
    );
}

fn unhex(constant: &str) -> Vec<u8> {
    hex::decode(constant).expect("the constant is hex")
}

fn context() -> EncryptionContext {
    EncryptionContext::new(&STORE_ID, BUCKET, &OBJECT_ID)
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// HKDF-SHA256-Expand (no extract) of 32 bytes, as the doc's derivations
/// from the root key and the store secret are.
fn expand(prk: &[u8; 32], info: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, prk)
        .expand(&[info], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut out))
        .expect("32 bytes");
    out
}

fn aes_gcm(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key"));
    let mut out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut out,
    )
    .expect("seals");
    out
}

/// A key store holding `records`, each sealed under `ROOT` with `NONCE`, and
/// `root/check` with `SECRET`: what a store of this version has on disk.
fn sealed_records(records: &[(&str, &[u8])]) -> Arc<MemoryKeyStore> {
    let inner = Arc::new(MemoryKeyStore::new());
    let sealer = SealedKeyStore::with_secret(
        Arc::clone(&inner) as Arc<dyn KeyStore>,
        &RootKey::from_bytes(ROOT),
        SECRET,
    );
    let mut changes = vec![(CHECK_NAME.to_owned(), Some(unhex(SEALED_ROOT_CHECK)))];
    for (name, value) in records {
        let sealed = sealer
            .seal_value_with_nonce(name, value, NONCE)
            .expect("seals");
        changes.push(((*name).to_owned(), Some(sealed)));
    }
    inner.apply(changes).expect("writes");
    inner
}

// ---- wrapped data keys --------------------------------------------------------

#[test]
fn the_encryption_context_is_the_identity_encoding() {
    let bytes = context().to_bytes();
    assert_hex("the encryption context", &bytes, CONTEXT);
    // docs/format.md: u32 len ‖ store id ‖ u32 len ‖ bucket ‖ u32 len ‖ object id.
    let doc = [
        &16u32.to_le_bytes()[..],
        &STORE_ID,
        &6u32.to_le_bytes(),
        BUCKET.as_bytes(),
        &16u32.to_le_bytes(),
        &OBJECT_ID,
    ]
    .concat();
    assert_eq!(bytes, doc);
}

/// The body docs/format.md gives for a version-1 record `record` wrapping
/// `data_key` under `kek`: AES-256-GCM under HKDF-SHA256(salt, kek,
/// "coffer/wrap/v1" ‖ bytes 0..14+n), nonce zero, aad bytes 0..48+n ‖ context.
fn doc_wrap_body(record: &[u8], kek: &[u8; 32], data_key: &[u8; 32]) -> Vec<u8> {
    let n = usize::from(u16::from_le_bytes([record[12], record[13]]));
    let salt = &record[14 + n..46 + n];
    let mut wrap_key = [0; 32];
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(kek)
        .expand(&[b"coffer/wrap/v1", &record[..14 + n]], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut wrap_key))
        .expect("32 bytes");
    let aad = [&record[..48 + n], &context().to_bytes()].concat();
    aes_gcm(&wrap_key, [0; 12], &aad, data_key)
}

/// Checks a version-1 vector both ways and against the doc's layout.
fn check_version_1(
    what: &str,
    constant: &str,
    kek: &[u8; 32],
    provider: Provider,
    key_id: &str,
    key_version: u32,
) {
    let wrapped = WrappedKey::seal_with_salt(
        kek,
        provider,
        key_id,
        key_version,
        &DataKey::from_bytes(DATA_KEY),
        &context(),
        SALT,
    )
    .expect("wraps");
    let bytes = wrapped.encode();
    assert_hex(what, &bytes, constant);

    let decoded = WrappedKey::decode(&unhex(constant)).expect("decodes");
    assert_eq!(decoded, wrapped);
    assert_eq!(decoded.provider(), provider);
    assert_eq!(decoded.algorithm(), WrapAlgorithm::HkdfSha256Aes256Gcm);
    assert_eq!(decoded.key_id(), key_id);
    assert_eq!(decoded.key_version(), key_version);
    let opened = decoded.open(kek, &context()).expect("opens");
    assert_eq!(*opened.expose_secret(), DATA_KEY);

    // docs/format.md, "Version 1: wrapped by coffer".
    let n = key_id.len();
    assert_eq!(&bytes[..4], b"CFWK");
    assert_eq!(bytes[4], 1, "record version");
    let provider_byte = match provider {
        Provider::MasterKeyring => 1,
        _ => 2,
    };
    assert_eq!(bytes[5], provider_byte, "provider");
    assert_eq!((bytes[6], bytes[7]), (1, 0), "algorithm, reserved");
    assert_eq!(bytes[8..12], key_version.to_le_bytes());
    assert_eq!(bytes[12..14], (n as u16).to_le_bytes());
    assert_eq!(&bytes[14..14 + n], key_id.as_bytes());
    assert_eq!(bytes[14 + n..46 + n], SALT);
    assert_eq!(bytes[46 + n..48 + n], 48u16.to_le_bytes());
    assert_eq!(bytes.len(), 48 + n + 48);
    assert_eq!(bytes[48 + n..], doc_wrap_body(&bytes, kek, &DATA_KEY)[..]);
}

#[test]
fn wrapped_key_version_1_kms() {
    check_version_1(
        "wrapped key v1 (KMS)",
        WRAPPED_V1_KMS,
        &CMK_MATERIAL_2,
        Provider::Kms,
        CMK_ID,
        2,
    );
}

#[test]
fn wrapped_key_version_1_master_keyring() {
    check_version_1(
        "wrapped key v1 (master keyring)",
        WRAPPED_V1_MASTER,
        &MASTER_KEK_2,
        Provider::MasterKeyring,
        MASTER_KEYRING_ID,
        2,
    );
}

#[test]
fn wrapped_key_version_2() {
    let cases = [
        (
            "wrapped key v2 (Transit)",
            WRAPPED_V2_TRANSIT,
            Provider::Kms,
            WrapAlgorithm::TransitCiphertext,
            "coffer-photos",
            7,
            b"vault:v7:c2VhbGVkIGRhdGEga2V5".to_vec(),
        ),
        (
            "wrapped key v2 (AWS KMS)",
            WRAPPED_V2_AWS,
            Provider::Kms,
            WrapAlgorithm::AwsKmsCiphertext,
            "arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            3,
            (0u8..24).collect(),
        ),
        (
            "wrapped key v2 (bucket key, KMS)",
            WRAPPED_V2_BUCKET_KEY_KMS,
            Provider::Kms,
            WrapAlgorithm::BucketKey,
            CMK_ID,
            2,
            vec![0x99; 16],
        ),
        (
            "wrapped key v2 (bucket key, master keyring)",
            WRAPPED_V2_BUCKET_KEY_MASTER,
            Provider::MasterKeyring,
            WrapAlgorithm::BucketKey,
            MASTER_KEYRING_ID,
            1,
            vec![0x99; 16],
        ),
    ];
    for (what, constant, provider, algorithm, key_id, key_version, body) in cases {
        let wrapped = WrappedKey::opaque(provider, algorithm, key_id, key_version, body.clone())
            .expect("builds");
        let bytes = wrapped.encode();
        assert_hex(what, &bytes, constant);

        let decoded = WrappedKey::decode(&unhex(constant)).expect("decodes");
        assert_eq!(decoded, wrapped, "{what}");
        assert_eq!(
            (
                decoded.provider(),
                decoded.algorithm(),
                decoded.key_id(),
                decoded.key_version(),
                decoded.body()
            ),
            (provider, algorithm, key_id, key_version, &body[..]),
            "{what}"
        );

        // docs/format.md, "Version 2: an opaque body".
        let n = key_id.len();
        let algorithm_byte = match algorithm {
            WrapAlgorithm::TransitCiphertext => 2,
            WrapAlgorithm::AwsKmsCiphertext => 3,
            _ => 4,
        };
        let provider_byte = match provider {
            Provider::MasterKeyring => 1,
            _ => 2,
        };
        assert_eq!(&bytes[..4], b"CFWK");
        assert_eq!(
            bytes[4..8],
            [2, provider_byte, algorithm_byte, 0],
            "{what}: version, provider, algorithm, reserved"
        );
        assert_eq!(bytes[8..12], key_version.to_le_bytes());
        assert_eq!(bytes[12..14], (n as u16).to_le_bytes());
        assert_eq!(&bytes[14..14 + n], key_id.as_bytes());
        assert_eq!(bytes[14 + n..16 + n], (body.len() as u16).to_le_bytes());
        assert_eq!(bytes[16 + n..], body[..]);
    }
}

// ---- sealed key records ---------------------------------------------------------

fn vector_store() -> SealedKeyStore {
    SealedKeyStore::with_secret(
        Arc::new(MemoryKeyStore::new()),
        &RootKey::from_bytes(ROOT),
        SECRET,
    )
}

/// The sealed record docs/format.md gives: "CFSR" ‖ 1 ‖ nonce ‖
/// AES-256-GCM(HKDF-SHA256-Expand(root, "coffer/sealed-record/v1"), nonce,
/// "CFSR" ‖ 0x01 ‖ name, value) ‖ tag.
fn doc_sealed(name: &str, value: &[u8]) -> Vec<u8> {
    let key = expand(&ROOT, b"coffer/sealed-record/v1");
    let aad = [&b"CFSR\x01"[..], name.as_bytes()].concat();
    [&b"CFSR\x01"[..], &NONCE, &aes_gcm(&key, NONCE, &aad, value)].concat()
}

#[test]
fn sealed_key_record() {
    let name = alias_name("alias/photos");
    assert_eq!(name, "kms/alias/alias/photos");
    let store = vector_store();
    let sealed = store
        .seal_value_with_nonce(&name, CMK_ID.as_bytes(), NONCE)
        .expect("seals");
    assert_hex("a sealed key record", &sealed, SEALED_ALIAS);
    assert_eq!(sealed, doc_sealed(&name, CMK_ID.as_bytes()));

    let opened = store
        .open_value(&name, &unhex(SEALED_ALIAS))
        .expect("opens");
    assert_eq!(&opened[..], CMK_ID.as_bytes());
    // Bound to its name and its root key.
    assert!(
        store
            .open_value("kms/alias/alias/other", &unhex(SEALED_ALIAS))
            .is_err()
    );
    let other_root = SealedKeyStore::with_secret(
        Arc::new(MemoryKeyStore::new()),
        &RootKey::from_bytes([0x12; 32]),
        SECRET,
    );
    assert!(other_root.open_value(&name, &unhex(SEALED_ALIAS)).is_err());
}

#[test]
fn root_check_and_what_the_store_secret_derives() {
    let store = vector_store();
    let check = store.check_value();
    assert_eq!(check, [&b"coffer keys v2"[..], &SECRET].concat());
    let sealed = store
        .seal_value_with_nonce(CHECK_NAME, &check, NONCE)
        .expect("seals");
    assert_hex("root/check", &sealed, SEALED_ROOT_CHECK);
    assert_eq!(sealed, doc_sealed(CHECK_NAME, &check));

    // The fixed record opens a store, and gives the secret's keys.
    let inner = Arc::new(MemoryKeyStore::new());
    inner
        .apply(vec![(CHECK_NAME.into(), Some(unhex(SEALED_ROOT_CHECK)))])
        .expect("writes");
    let (opened, layout) = SealedKeyStore::open(inner, &RootKey::from_bytes(ROOT)).expect("opens");
    assert_eq!(layout, KeysLayout::Sealed);
    for (purpose, constant) in [
        (&b"coffer/object-records/v2"[..], RECORD_KEY),
        (b"coffer/audit-log/v2", AUDIT_KEY),
        (b"coffer/byok-fingerprint/v2", FINGERPRINT_KEY),
    ] {
        let key = opened.derive_key(purpose);
        assert_hex(&String::from_utf8_lossy(purpose), &key[..], constant);
        // docs/format.md: HKDF-SHA256-Expand(store secret, purpose).
        assert_eq!(*key, expand(&SECRET, purpose));
    }
}

#[test]
fn layout_1_root_check_still_opens() {
    let raw = unhex(LEGACY_ROOT_CHECK);
    let opened = RootKey::from_bytes(ROOT)
        .sealer()
        .open_key(CHECK_NAME, &raw)
        .expect("opens");
    assert_eq!(*opened, [0x5A; 32]);
    // docs/format.md, layout 1: nonce ‖ AES-256-GCM(HKDF-SHA256-Expand(root,
    // "coffer/root-seal/v1"), nonce, aad = record name, 0x5A × 32) ‖ tag.
    let key = expand(&ROOT, b"coffer/root-seal/v1");
    let nonce: [u8; 12] = raw[..12].try_into().expect("12 bytes");
    assert_eq!(
        raw[12..],
        aes_gcm(&key, nonce, CHECK_NAME.as_bytes(), &[0x5A; 32])[..]
    );
    // A store holding it is migrated to layout 2 on open.
    let inner = Arc::new(MemoryKeyStore::new());
    inner
        .apply(vec![(CHECK_NAME.into(), Some(raw))])
        .expect("writes");
    let (_, layout) = SealedKeyStore::open(inner, &RootKey::from_bytes(ROOT)).expect("opens");
    assert_eq!(layout, KeysLayout::MigratedFromLegacy);
}

// ---- the master keyring's records ----------------------------------------------

fn kek_record(version: u32, created_at_ms: u64, wraps: u64, material: &[u8; 32]) -> KekRecord {
    KekRecord {
        version,
        created_at_ms,
        wraps,
        material: Some(Zeroizing::new(hex::encode(material))),
        sealed: None,
    }
}

#[test]
fn master_keyring_records() {
    assert_eq!(STATE, "master/state");
    let state = state_record(2, 1).expect("encodes");
    assert_text("master/state", &state, STATE_JSON);
    let decoded: StateRecord = serde_json::from_str(STATE_JSON).expect("decodes");
    assert_eq!((decoded.current, decoded.min_decryption_version), (2, 1));

    assert_eq!(kek_name(1), "master/kek/0000000001");
    assert_eq!(kek_name(2), "master/kek/0000000002");
    for (constant, version, created, wraps, material) in [
        (KEK_1_JSON, 1, T0_MS, 4096, MASTER_KEK_1),
        (KEK_2_JSON, 2, T0_MS + 60_000, 7, MASTER_KEK_2),
    ] {
        let record = kek_record(version, created, wraps, &material);
        let json = serde_json::to_vec(&record).expect("encodes");
        assert_text(&kek_name(version), &json, constant);
        let decoded: KekRecord = serde_json::from_str(constant).expect("decodes");
        assert_eq!(
            (decoded.version, decoded.created_at_ms, decoded.wraps),
            (version, created, wraps)
        );
        assert_eq!(
            decoded.material.as_deref().map(String::as_str),
            Some(&hex::encode(material)[..])
        );
        assert!(decoded.sealed.is_none());
    }

    // Layout 1: the material sealed on its own inside the JSON.
    let legacy: KekRecord = serde_json::from_str(LEGACY_KEK).expect("decodes");
    assert_eq!(
        (legacy.version, legacy.created_at_ms, legacy.wraps),
        (1, 1_796_107_983_630, 2)
    );
    assert!(legacy.material.is_none());
    let sealed = hex::decode(legacy.sealed.as_deref().expect("sealed")).expect("hex");
    let material = RootKey::from_bytes(ROOT)
        .sealer()
        .open_key(&kek_name(1), &sealed)
        .expect("opens");
    assert_hex(
        "the layout-1 KEK's material",
        &material[..],
        LEGACY_KEK_MATERIAL,
    );

    // The records, sealed, open the keyring: its versions, and the wrapped
    // key of the vector above.
    let inner = sealed_records(&[
        (STATE, STATE_JSON.as_bytes()),
        (&kek_name(1), KEK_1_JSON.as_bytes()),
        (&kek_name(2), KEK_2_JSON.as_bytes()),
    ]);
    let keyring = MasterKeyring::open(
        inner,
        &RootKey::from_bytes(ROOT),
        RotationPolicy {
            max_age: None,
            max_wraps: None,
        },
        Arc::new(ManualClock::new(at(T0_MS + 120_000))),
    )
    .expect("opens");
    assert_eq!(
        (keyring.current_version(), keyring.min_decryption_version()),
        (2, 1)
    );
    let versions: Vec<_> = keyring
        .versions()
        .into_iter()
        .map(|v| (v.version, v.created_at, v.wraps))
        .collect();
    // Wrap counts are read with twice the flush interval added.
    assert_eq!(
        versions,
        [
            (1, at(T0_MS), 4096 + 8192),
            (2, at(T0_MS + 60_000), 7 + 8192)
        ]
    );
    let wrapped = WrappedKey::decode(&unhex(WRAPPED_V1_MASTER)).expect("decodes");
    let data_key = keyring.unwrap(&wrapped, &context()).expect("unwraps");
    assert_eq!(*data_key.expose_secret(), DATA_KEY);
}

// ---- the local KMS's records ----------------------------------------------------

fn material(version: u32, created_at_ms: u64, material: &[u8; 32]) -> MaterialRecord {
    MaterialRecord {
        version,
        created_at_ms,
        material: Some(Zeroizing::new(hex::encode(material))),
        sealed: None,
    }
}

fn cmk_record() -> KeyRecord {
    KeyRecord {
        id: CMK_ID.into(),
        description: "photos".into(),
        external: false,
        managed: false,
        state: StoredState::Enabled,
        created_at_ms: T0_MS,
        rotation_period_s: Some(365 * 24 * 3600),
        last_rotated_ms: Some(T0_MS + 60_000),
        current_version: 2,
        materials: vec![
            material(1, T0_MS, &CMK_MATERIAL_1),
            material(2, T0_MS + 60_000, &CMK_MATERIAL_2),
        ],
        fingerprint: None,
        min_decryption_version: None,
    }
}

fn imported_record() -> KeyRecord {
    KeyRecord {
        id: IMPORTED_ID.into(),
        description: "imported".into(),
        external: true,
        managed: false,
        state: StoredState::PendingDeletion {
            delete_at_ms: T0_MS + 7 * 24 * 3600 * 1000,
        },
        created_at_ms: T0_MS,
        rotation_period_s: None,
        last_rotated_ms: Some(T0_MS + 1_000),
        current_version: 1,
        materials: vec![material(1, T0_MS + 1_000, &IMPORTED_MATERIAL)],
        fingerprint: Some(FINGERPRINT.into()),
        min_decryption_version: Some(1),
    }
}

/// The fields of a key record, for comparison (the type has no `PartialEq`).
#[allow(clippy::type_complexity)]
fn key_fields(
    record: &KeyRecord,
) -> (
    (&str, &str, bool, bool, bool, u64),
    (Option<u64>, Option<u64>, u32, Option<&str>, Option<u32>),
    Vec<(u32, u64, Option<String>, Option<String>)>,
) {
    (
        (
            &record.id,
            &record.description,
            record.external,
            record.managed,
            record.state == StoredState::Enabled,
            record.created_at_ms,
        ),
        (
            record.rotation_period_s,
            record.last_rotated_ms,
            record.current_version,
            record.fingerprint.as_deref(),
            record.min_decryption_version,
        ),
        record
            .materials
            .iter()
            .map(|m| {
                (
                    m.version,
                    m.created_at_ms,
                    m.material.as_deref().cloned(),
                    m.sealed.clone(),
                )
            })
            .collect(),
    )
}

#[test]
fn local_kms_records() {
    assert_eq!(key_name(CMK_ID), format!("kms/key/{CMK_ID}"));
    for (what, record, constant) in [
        ("an enabled, rotated CMK", cmk_record(), CMK_JSON),
        (
            "an imported CMK pending deletion",
            imported_record(),
            IMPORTED_JSON,
        ),
    ] {
        let json = persist::encode(&record).expect("encodes");
        assert_text(what, &json, constant);
        let decoded: KeyRecord = serde_json::from_str(constant).expect("decodes");
        assert_eq!(key_fields(&decoded), key_fields(&record), "{what}");
        assert!(decoded.state == record.state, "{what}");
    }

    let token = "00112233445566778899aabbccddeeff";
    assert_eq!(import_name(token), format!("kms/import/{token}"));
    let import = PendingImportRecord {
        key_id: IMPORTED_ID.into(),
        expires_at_ms: T0_MS + 24 * 3600 * 1000,
        // Stands for the PKCS#8 DER of the RSA wrapping key.
        private_key: Zeroizing::new("308204bd020100300d06092a864886f70d0101010500".into()),
    };
    let json = serde_json::to_vec(&import).expect("encodes");
    assert_text("kms/import/<token>", &json, IMPORT_JSON);
    let decoded: PendingImportRecord = serde_json::from_str(IMPORT_JSON).expect("decodes");
    assert_eq!(
        (
            &decoded.key_id[..],
            decoded.expires_at_ms,
            &decoded.private_key[..]
        ),
        (
            IMPORTED_ID,
            import.expires_at_ms,
            "308204bd020100300d06092a864886f70d0101010500"
        )
    );

    // The records, sealed, open the KMS: the alias, the versions, the wrapped
    // key of the vector above, the imported key's fingerprint.
    let inner = sealed_records(&[
        (&key_name(CMK_ID), CMK_JSON.as_bytes()),
        (&key_name(IMPORTED_ID), IMPORTED_JSON.as_bytes()),
        (&alias_name("alias/photos"), CMK_ID.as_bytes()),
    ]);
    let local = Arc::new(
        LocalKms::open(
            inner,
            &RootKey::from_bytes(ROOT),
            LocalKmsOptions::default().with_clock(Arc::new(ManualClock::new(at(T0_MS + 120_000)))),
        )
        .expect("opens"),
    );
    let fingerprint = local.fingerprint(&IMPORTED_MATERIAL);
    assert_eq!(fingerprint, FINGERPRINT);
    let key = hex::decode(FINGERPRINT_KEY).expect("hex");
    assert_eq!(
        fingerprint,
        format!(
            "v2:{}",
            hex::encode(hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, &key),
                &IMPORTED_MATERIAL
            ))
        )
    );
    let kms = Kms::new(local, KmsOptions::default());
    let described = kms
        .describe_key("alias/photos", &Caller::Trusted)
        .expect("the alias resolves");
    assert_eq!(
        (
            &described.key_id[..],
            &described.description[..],
            described.current_version,
            described.created_at,
            described.rotation_period,
            described.last_rotated_at,
            described.managed,
        ),
        (
            CMK_ID,
            "photos",
            2,
            at(T0_MS),
            Some(Duration::from_secs(365 * 24 * 3600)),
            Some(at(T0_MS + 60_000)),
            false
        )
    );
    let imported = kms
        .describe_key(IMPORTED_ID, &Caller::Trusted)
        .expect("describes");
    assert_eq!(
        imported.state,
        crate::KeyState::PendingDeletion {
            delete_at: at(T0_MS + 7 * 24 * 3600 * 1000)
        }
    );
    assert_eq!(imported.origin, crate::KeyOrigin::External);
    let wrapped = WrappedKey::decode(&unhex(WRAPPED_V1_KMS)).expect("decodes");
    let data_key = kms
        .decrypt(&wrapped, &context(), &Caller::Trusted)
        .expect("decrypts");
    assert_eq!(*data_key.expose_secret(), DATA_KEY);
}
