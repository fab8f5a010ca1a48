//! Fixed-byte vectors of every record coffer-store writes (or still reads)
//! on disk, as `docs/format.md` describes them: object records (version 2,
//! with an inline, a segmented and a multipart body, and version 1, which the
//! migration still reads), bucket records (and their plain JSON version 1),
//! bucket key records and the data keys derived from a bucket key, multipart
//! upload and part records, job records (sealed, and the plain JSON of
//! version 1), the store settings, the audit log's events (sealed, and
//! version 1), its head and its anchor, and the keys of every column family.
//! (The key records of the `keys` family are coffer-keyring's: its own
//! `format_vectors`.)
//!
//! Each vector builds a fixed value (fixed ids, keys and times), encodes it
//! with the crate's own code (with its tag under a fixed record key) and
//! compares the bytes with a constant here, then decodes the constant and
//! compares it with the value. Where the doc gives a layout or a tag's
//! formula, the bytes are also checked against it (the object record is
//! encoded a second time straight from the doc's table). A round trip passes
//! when an encoding changes on both sides at once; these do not. The
//! version-1 records are the bytes of the `store-v1` and `store-v2` fixtures;
//! no code writes them any more, so they are vectors of the decoder only.
//!
//! **A change to any constant in this file is a change to the on-disk
//! format**: stores already written would no longer open. Such a change needs
//! a new record version (the old one still read, and migrated), a bump in the
//! store settings where the doc says so, `docs/format.md` updated, and a new
//! vector beside the old one, never an edited one.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use coffer_keyring::{
    AuditEvent, AuditOutcome, EncryptionContext, MASTER_KEYRING_ID, Provider, WrappedKey,
};
use ring::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::admin::jobs::{JobKind, JobState, JobStatus, open_job_record, seal_job_record};
use crate::engine::audit::chain::{ANCHOR_KEY, Anchor, AuditKey, Entry, HEAD_KEY, Head, Legacy};
use crate::engine::audit::event::{self, LEGACY_FORMAT, SEALED_FORMAT, event_key};
use crate::format::columns::{bucket_key_key, object_key, segment_key};
use crate::format::record::{Attributes, Body, BucketRecord, ObjectRecord, PartRef, RecordAuth};
use crate::format::settings::{KmsBinding, StoreSettings};
use crate::objects::multipart::{
    PartRecord, UploadRecord, open_part_record, open_upload_record, part_key, part_segment_key,
    part_segment_prefix, seal_part_record, seal_upload_record,
};
use crate::{EncryptionRule, ProtectionMode};
use coffer_sse::keys::{BucketKeyRecord, RecordKey, bucket_key_context, derive_object_key};

// ---- the fixed values -------------------------------------------------------

/// The key that authenticates records (in a store, derived from its secret).
const RECORD_KEY: [u8; 32] = [0x11; 32];
/// The key that seals the audit log (likewise).
const AUDIT_KEY: [u8; 32] = [0x12; 32];
const STORE_ID: [u8; 16] = [0x01; 16];
const BUCKET: &str = "photos";
const KEY: &str = "2026/a.jpg";
const OBJECT_ID: [u8; 16] = [0x55; 16];
const BUCKET_KEY_ID: [u8; 16] = [0x99; 16];
const INCARNATION: u64 = 0x0123_4567_89ab_cdef;
const CMK_ID: &str = "5b1e6c0e-2a0f-4d3e-9c61-0d5f3e2a1b7c";
const JOB_ID: &str = "5f0c2a9e8d7b6c5a4f3e2d1c0b0a0908";
/// 2026-12-03 12:00:00 UTC.
const T0_MS: u64 = 1_796_299_200_000;

/// Wrapped data keys, as coffer-keyring's vectors of the same names encode
/// them (its `format_vectors.rs`): version 1 under a CMK (material 2), version
/// 1 under master key version 2, version 2 naming bucket key `[0x99; 16]`.
const WRAPPED_V1_KMS: &str = "4346574b0102010002000000240035623165366330652d326130662d346433652d396336312d30643566336532613162376366666666666666666666666666666666666666666666666666666666666666663000da2f2cc97ba957904beb6e8851a8d89d08729457a98f011a9d8fcb5933b5d289b79155e993993d5ffe23b2e50cfacea8";
const WRAPPED_V1_MASTER: &str = "4346574b01010100020000000d00636f666665722d6d6173746572666666666666666666666666666666666666666666666666666666666666666630003879007a015d58570614988da491d551a4fe6846e04312148be426eea40367522b9122a8b42213d7a39f88df0f58af8c";
const WRAPPED_V2_BUCKET_KEY_KMS: &str = "4346574b0202040002000000240035623165366330652d326130662d346433652d396336312d306435663365326131623763100099999999999999999999999999999999";

// ---- the vectors ------------------------------------------------------------

/// Object record, version 2: inline, KMS under `CMK_ID`, every attribute,
/// two user metadata entries, a 90-byte payload (its first 64 bytes tagged).
const OBJECT_INLINE_KMS: &str = "02555555555555555555555555555555550a000000000000000096c63ba201000002240035623165366330652d326130662d346433652d396336312d3064356633653261316237630200000084004346574b0102010002000000240035623165366330652d326130662d346433652d396336312d30643566336532613162376366666666666666666666666666666666666666666666666666666666666666663000da2f2cc97ba957904beb6e8851a8d89d08729457a98f011a9d8fcb5933b5d289b79155e993993d5ffe23b2e50cfacea805010a00696d6167652f6a706567020600696e6c696e650308006964656e74697479040200656e050a006d61782d6167653d36300200000005006f776e6572030000006f707304007465616d0700000073746f72616765005a0000004346504c01010000a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a3a3a3a3a3a3a3a3a3a3a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a711b84d7825fd5c387a59ebe5260fcdb2de055d27ca93d5897ced1ac84c98c9";
/// Version 2: segmented (two segments), AES256 under master key version 2.
const OBJECT_SEGMENTED_AES256: &str = "02565656565656565656565656565656567b001000000000000196c63ba2010000010000020000006d004346574b01010100020000000d00636f666665722d6d6173746572666666666666666666666666666666666666666666666666666666666666666630003879007a015d58570614988da491d551a4fe6846e04312148be426eea40367522b9122a8b42213d7a39f88df0f58af8c010118006170706c69636174696f6e2f6f637465742d73747265616d000000000140004346504c01010000b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2020000005adf919cacb74f9cabca337f3677969f7673368e3c3281fed89338e3fbaf33a7";
/// Version 2: multipart (two parts), KMS through a bucket key.
const OBJECT_MULTIPART_BUCKET_KEY: &str = "02575757575757575757575757575757577b005000000000000296c63ba201000002240035623165366330652d326130662d346433652d396336312d3064356633653261316237630200000044004346574b0202040002000000240035623165366330652d326130662d346433652d396336312d3064356633653261316237631000999999999999999999999999999999990001000000060063616d6572610400000078313030020200000001000000c1c1c1c1c1c1c1c100005000000000000500000040004346504c01010000c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c302000000d1d1d1d1d1d1d1d17b000000000000000100000040004346504c01010000d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3800d5dffa67ec2cc22c906f49e8030a1293efa9cd8a3725f6c3b1bec486fada9";
/// Version 2: inline and unencrypted (the payload tagged whole).
const OBJECT_INLINE_NONE: &str = "02585858585858585858585858585858580c000000000000000396c63ba201000000000000000000000001010a00746578742f706c61696e00000000000c00000068656c6c6f2c20776f726c64ed54b4a621db65e5ab5395a4f46491c65d79740c1ccf70c4336863b964a041bd";

/// Object record, version 1: `plain/clear.txt` of the store-v1 fixture
/// (unencrypted, inline).
const OBJECT_V1_CLEAR: &str = "01e3ac12b6d09f8df59470344aa3d709350e0000000000000022db6030a2010000000000000000000000000000000000000e000000756e656e63727970746564207631";
/// Version 1: `docs/managed.txt` of the store-v1 fixture (AES256, a content
/// type, one user metadata entry, an encrypted inline payload).
const OBJECT_V1_MANAGED: &str = "01f0806ba8b804e7f9255bc9e10e5c91930a0000000000000010db6030a2010000010000010000006d004346574b01010100010000000d00636f666665722d6d6173746572fc9be0eba7eb73fee9b3111c887de21627cfae99cecd9214296c388c3f0e98fe300022a47c27ac14a66ef633d2c6542884ab2592f0407ffaeaa9b48379671a70db21b8a50376ee771e537f7217b495c55f440a00746578742f706c61696e0100000005006f776e6572030000006f7073005a0000004346504c01010000ceaeee3751873a98424ed04edd31e29404de3d29d09707a24a1a5b501329957cb00a607cfd83492f00f30cfd83ad540fca917a94078ff06c76c63d39ab495af91f3babd4bf6a5dfe5b5e937da8f205194af3";

/// Bucket records: `"CFB2" ‖ JSON ‖ tag`, here the JSON and the tag.
const BUCKET_KMS_JSON: &str = r#"{"name":"photos","created_ms":1796299200000,"rule":{"Kms":{"key_id":"alias/photos"}},"bucket_key":true,"incarnation":81985529216486895}"#;
const BUCKET_KMS_TAG: &str = "c2cf2a2e2d9cae3a99e8c695beec8f5ce53b7be0421738bab095d62f9cbddd8b";
const BUCKET_MANAGED_JSON: &str = r#"{"name":"photos","created_ms":1796299200000,"rule":"Managed","incarnation":81985529216486895}"#;
const BUCKET_MANAGED_TAG: &str = "3762dd7788fc050c521fc6fe5e68c094fd242ec25822233d70630be1b800bfe5";
const BUCKET_NONE_JSON: &str =
    r#"{"name":"photos","created_ms":1796299200000,"rule":null,"incarnation":81985529216486895}"#;
const BUCKET_NONE_TAG: &str = "71635799397d653e38c59565865404d9b7790b93ab7d1d7a530d09f79a04d303";
/// Version 1 (plain JSON): `docs` of the store-v1 fixture.
const BUCKET_V1: &str =
    r#"{"name":"docs","created_ms":1796107983631,"rule":{"Kms":{"key_id":null}}}"#;

/// A bucket key record: KMS, wrapped by `WRAPPED_V1_KMS`.
const BUCKET_KEY_RECORD: &str = "4346424b01efcdab89674523010096c63ba20100000284004346574b0102010002000000240035623165366330652d326130662d346433652d396336312d30643566336532613162376366666666666666666666666666666666666666666666666666666666666666663000da2f2cc97ba957904beb6e8851a8d89d08729457a98f011a9d8fcb5933b5d289b79155e993993d5ffe23b2e50cfacea8cd3f6d68574d1a9fe24695971c08968b2de93438d071ced6bab92eed27b35c38";
/// The context a bucket key is wrapped for, and the data key an object
/// derives from bucket key `[0x9A; 32]`.
const BUCKET_KEY_CONTEXT: &str = "10000000010101010101010101010101010101010600000070686f746f7322000000636f666665722f6275636b65742d6b65792f99999999999999999999999999999999";
const BUCKET_KEY_DERIVED: &str = "2d9019ed0cd25fa45c31b5b11a42563e47137a23888336176eb25fbdd1f69b6b";

/// An upload record: `"CFMU" ‖ JSON ‖ tag`, here the JSON and the tag.
const UPLOAD_JSON: &str = r#"{"bucket":"photos","key":"2026/video.mp4","incarnation":81985529216486895,"created_ms":1796299200000,"mode":2,"key_id":"5b1e6c0e-2a0f-4d3e-9c61-0d5f3e2a1b7c","key_version":2,"wrapped_key":"4346574b0102010002000000240035623165366330652d326130662d346433652d396336312d30643566336532613162376366666666666666666666666666666666666666666666666666666666666666663000da2f2cc97ba957904beb6e8851a8d89d08729457a98f011a9d8fcb5933b5d289b79155e993993d5ffe23b2e50cfacea8","content_type":"video/mp4","content_disposition":null,"content_encoding":null,"content_language":"en","cache_control":"max-age=60","user_metadata":{"camera":"x100"}}"#;
const UPLOAD_TAG: &str = "4a6f498144602afc5b87db2377b03aad6642e5812cc01b5287e596b9c7c219ed";
/// A part record (part 1 of the upload).
const PART_RECORD: &str = "43464d50c1c1c1c1c1c1c1c100005000000000000500000040004346504c01010000c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c362499e84ef1a3ee801bb7b00061b2ce00833dd6c239ed9290c5b2358ea6c1468";

/// Job records: `"CFJ2" ‖ JSON ‖ tag`, here the JSON and the tag.
const JOB_REENCRYPT_JSON: &str = r#"{"id":"5f0c2a9e8d7b6c5a4f3e2d1c0b0a0908","bucket":"photos","kind":{"kind":"reencrypt","sse":"KMS","kms_key_id":"alias/photos"},"state":"running","created_ms":1796299200000,"last_key":"2026/a.jpg","done":1200,"skipped":3,"failed":0,"bytes":125829120}"#;
const JOB_REENCRYPT_TAG: &str = "8d1006e242e282b879d250b076ddcd1afd47656216f3ac5222a125e9b6e72997";
const JOB_REWRAP_JSON: &str = r#"{"id":"5f0c2a9e8d7b6c5a4f3e2d1c0b0a0908","bucket":"photos","kind":{"kind":"rewrap"},"state":"done","created_ms":1796299200000,"last_key":"2026/z.jpg","done":10,"skipped":2,"failed":1,"bytes":4096}"#;
const JOB_REWRAP_TAG: &str = "a496a24429dad1676b5cbd2b5fd74371d3f853c6151af08e1a40575800868587";
const JOB_ENCRYPT_JSON: &str = r#"{"id":"5f0c2a9e8d7b6c5a4f3e2d1c0b0a0908","bucket":"photos","kind":{"kind":"encrypt_unencrypted"},"state":"cancelled","created_ms":1796299200000,"last_key":null,"done":0,"skipped":0,"failed":0,"bytes":0}"#;
const JOB_ENCRYPT_TAG: &str = "f6fe468c932499682f94073450f20a9c4334dc61699d952a637df14da74d8b3a";
/// Version 1 (plain JSON): the paused job of the store-v2 fixture.
const JOB_V1: &str = r#"{"id":"be8862458a91e04e90990e2ee388917b","bucket":"docs","kind":{"kind":"rewrap"},"state":"paused","created_ms":1796290024794,"last_key":null,"done":0,"skipped":0,"failed":0,"bytes":0}"#;

/// `store/settings` (the value inside its seal): the doc's example, and the
/// local KMS's.
const SETTINGS_TRANSIT: &str = r#"{"region":"local","account":"0","object_records":2,"job_records":2,"audit_log":2,"kms":{"backend":"transit","location":"transit"}}"#;
const SETTINGS_LOCAL: &str = r#"{"region":"local","account":"0","object_records":2,"job_records":2,"audit_log":2,"kms":{"backend":"local","location":null}}"#;

/// Audit events (the JSON in a sealed event).
const EVENT_DECRYPT_JSON: &str = r#"{"v":2,"time_ns":1796171603000123456,"caller":"alice","source":"local","action":"kms:Decrypt","resource":"acs:kms:local:0:key/5b1e6c0e-2a0f-4d3e-9c61-0d5f3e2a1b7c","key_id":"5b1e6c0e-2a0f-4d3e-9c61-0d5f3e2a1b7c","key_version":2,"bucket":"photos","object_key":"2026/a.jpg","context":"store=01010101010101010101010101010101 bucket=photos object=55555555555555555555555555555555","outcome":"allowed"}"#;
const EVENT_FAILED_JSON: &str = r#"{"v":2,"time_ns":1796299200000000000,"caller":"trusted","source":"store","action":"coffer:PruneAuditLog","detail":"12 events, 4096 bytes","outcome":"failed","error":"the disk is full"}"#;
/// A sealed event's key, and its tag after the event tagged `[0xD1; 32]`.
const EVENT_KEY: &str = "18ed488e707760400000000000000029";
const EVENT_TAG: &str = "61959c75a22ef47c294b5994e23a053ccd2a0bbff3417c9825f3f205e0d4e60c";
/// The head and the anchor (after a prune, of a log with legacy events).
const HEAD: &str = "43464148290000000000000018ed488e707760400000000000000029d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d49b4ee82c2b9b9452bf1159fa79e6d6cad930d855692da2b90aca0964c8211e79";
const ANCHOR: &str = "4346414e0c00000000000000d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d518ed488e34dab400000000000000000b01090000000000000018ed488df93fea0000000000000000091e1977a6ee4056fe00654b5565b08bfa827f81746275ed9560e8d6093bcb0325";
const ANCHOR_NEW: &str = "4346414e000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e4d827df93b26e44deb5b8f46b52d162b9295ae4a19cc4759f7c3927e5928832";
/// Version 1 (plain JSON): an event of the store-v2 fixture.
const EVENT_V1: &str = r#"{"v":1,"time_ns":1796290024782941664,"caller":"trusted","source":"local","action":"kms:GenerateDataKey","resource":"acs:kms:local:0:key/2a878d9a-2091-49bf-a233-6c08800b6a7a","key_id":"2a878d9a-2091-49bf-a233-6c08800b6a7a","key_version":1,"bucket":"docs","object_key":"default.txt","context":"store=3d4a9e3d28981bb47b828fa22ee28904 bucket=docs object=43565cf5c20dc3413261b829d55b1869","outcome":"allowed"}"#;

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

fn auth() -> RecordAuth {
    RecordAuth::new(&RECORD_KEY, 0)
}

/// The core's record key, which tags bucket key records.
fn record_key() -> RecordKey {
    RecordKey::new(&RECORD_KEY)
}

fn hmac_of(key: &[u8; 32], parts: &[&[u8]]) -> Vec<u8> {
    let mut context = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    for part in parts {
        context.update(part);
    }
    context.sign().as_ref().to_vec()
}

fn le16(len: usize) -> [u8; 2] {
    u16::try_from(len).expect("short").to_le_bytes()
}

fn le32(len: usize) -> [u8; 4] {
    u32::try_from(len).expect("short").to_le_bytes()
}

/// A payload prefix: header "CFPL" v1 suite 1 ‖ salt ‖ commitment.
fn prefix(salt: u8, commitment: u8) -> Vec<u8> {
    [&b"CFPL\x01\x01\x00\x00"[..], &[salt; 24], &[commitment; 32]].concat()
}

// ---- object records -------------------------------------------------------------

fn inline_kms() -> ObjectRecord {
    let mut user_metadata = BTreeMap::new();
    user_metadata.insert("owner".to_owned(), "ops".to_owned());
    user_metadata.insert("team".to_owned(), "storage".to_owned());
    ObjectRecord {
        object_id: OBJECT_ID,
        size: 10,
        modified_ms: T0_MS,
        mode: ProtectionMode::Kms,
        key_id: CMK_ID.into(),
        key_version: 2,
        wrapped_key: unhex(WRAPPED_V1_KMS),
        attributes: Attributes::new()
            .with_content_type("image/jpeg")
            .with_content_disposition("inline")
            .with_content_encoding("identity")
            .with_content_language("en")
            .with_cache_control("max-age=60"),
        user_metadata,
        // A payload of 10 bytes: prefix ‖ 10 bytes of ciphertext ‖ 16 of tag.
        body: Body::Inline(Bytes::from(
            [prefix(0xA1, 0xA2), vec![0xA3; 10], vec![0xA4; 16]].concat(),
        )),
    }
}

fn segmented_aes256() -> ObjectRecord {
    ObjectRecord {
        object_id: [0x56; 16],
        size: (1 << 20) + 123,
        modified_ms: T0_MS + 1,
        mode: ProtectionMode::Aes256,
        key_id: String::new(),
        key_version: 2,
        wrapped_key: unhex(WRAPPED_V1_MASTER),
        attributes: Attributes::new().with_content_type("application/octet-stream"),
        user_metadata: BTreeMap::new(),
        body: Body::Segmented {
            prefix: prefix(0xB1, 0xB2),
            segments: 2,
        },
    }
}

fn multipart_bucket_key() -> ObjectRecord {
    let mut user_metadata = BTreeMap::new();
    user_metadata.insert("camera".to_owned(), "x100".to_owned());
    ObjectRecord {
        object_id: [0x57; 16],
        size: (5 << 20) + 123,
        modified_ms: T0_MS + 2,
        mode: ProtectionMode::Kms,
        key_id: CMK_ID.into(),
        key_version: 2,
        wrapped_key: unhex(WRAPPED_V2_BUCKET_KEY_KMS),
        attributes: Attributes::new(),
        user_metadata,
        body: Body::Multipart {
            parts: vec![
                PartRef {
                    number: 1,
                    attempt: [0xC1; 8],
                    size: 5 << 20,
                    segments: 5,
                    prefix: prefix(0xC2, 0xC3),
                },
                PartRef {
                    number: 2,
                    attempt: [0xD1; 8],
                    size: 123,
                    segments: 1,
                    prefix: prefix(0xD2, 0xD3),
                },
            ],
        },
    }
}

fn inline_none() -> ObjectRecord {
    ObjectRecord {
        object_id: [0x58; 16],
        size: 12,
        modified_ms: T0_MS + 3,
        mode: ProtectionMode::None,
        key_id: String::new(),
        key_version: 0,
        wrapped_key: Vec::new(),
        attributes: Attributes::new().with_content_type("text/plain"),
        user_metadata: BTreeMap::new(),
        body: Body::Inline(Bytes::from_static(b"hello, world")),
    }
}

/// The record docs/format.md's table gives for `record` under bucket/key, with
/// its tag from the doc's formula: written from the doc, not from the code.
fn doc_object_record(record: &ObjectRecord, bucket: &str, key: &str) -> Vec<u8> {
    let str16 = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&le16(bytes.len()));
        out.extend_from_slice(bytes);
    };
    let mut out = vec![2];
    out.extend_from_slice(&record.object_id);
    out.extend_from_slice(&record.size.to_le_bytes());
    out.extend_from_slice(&record.modified_ms.to_le_bytes());
    out.push(match record.mode {
        ProtectionMode::None => 0,
        ProtectionMode::Aes256 => 1,
        ProtectionMode::Kms => 2,
    });
    str16(&mut out, record.key_id.as_bytes());
    out.extend_from_slice(&record.key_version.to_le_bytes());
    str16(&mut out, &record.wrapped_key);
    let a = &record.attributes;
    let attributes: Vec<(u8, &String)> = [
        (1, &a.content_type),
        (2, &a.content_disposition),
        (3, &a.content_encoding),
        (4, &a.content_language),
        (5, &a.cache_control),
    ]
    .into_iter()
    .filter_map(|(id, value)| value.as_ref().map(|v| (id, v)))
    .collect();
    out.push(attributes.len() as u8);
    for (id, value) in attributes {
        out.push(id);
        str16(&mut out, value.as_bytes());
    }
    out.extend_from_slice(&le32(record.user_metadata.len()));
    for (name, value) in &record.user_metadata {
        str16(&mut out, name.as_bytes());
        out.extend_from_slice(&le32(value.len()));
        out.extend_from_slice(value.as_bytes());
    }
    // Where an encrypted inline payload starts, whose first 64 bytes only count.
    let mut uncovered = None;
    match &record.body {
        Body::Inline(payload) => {
            out.push(0);
            out.extend_from_slice(&le32(payload.len()));
            if record.mode != ProtectionMode::None {
                uncovered = Some(out.len() + 64.min(payload.len()));
            }
            out.extend_from_slice(payload);
        }
        Body::Segmented { prefix, segments } => {
            out.push(1);
            str16(&mut out, prefix);
            out.extend_from_slice(&segments.to_le_bytes());
        }
        Body::Multipart { parts } => {
            out.push(2);
            out.extend_from_slice(&le32(parts.len()));
            for part in parts {
                out.extend_from_slice(&part.number.to_le_bytes());
                out.extend_from_slice(&part.attempt);
                out.extend_from_slice(&part.size.to_le_bytes());
                out.extend_from_slice(&part.segments.to_le_bytes());
                str16(&mut out, &part.prefix);
            }
        }
    }
    let covered = &out[..uncovered.unwrap_or(out.len())];
    let tag = hmac_of(
        &RECORD_KEY,
        &[
            b"coffer/object-record/v2",
            &le16(bucket.len()),
            bucket.as_bytes(),
            &le32(key.len()),
            key.as_bytes(),
            covered,
        ],
    );
    out.extend_from_slice(&tag);
    out
}

#[test]
fn object_records_version_2() {
    for (what, record, constant) in [
        (
            "object record (inline, KMS)",
            inline_kms(),
            OBJECT_INLINE_KMS,
        ),
        (
            "object record (segmented, AES256)",
            segmented_aes256(),
            OBJECT_SEGMENTED_AES256,
        ),
        (
            "object record (multipart, bucket key)",
            multipart_bucket_key(),
            OBJECT_MULTIPART_BUCKET_KEY,
        ),
        (
            "object record (inline, unencrypted)",
            inline_none(),
            OBJECT_INLINE_NONE,
        ),
    ] {
        let sealed = auth().seal(BUCKET, KEY, &record).expect("encodes");
        assert_hex(what, &sealed, constant);
        assert_eq!(
            sealed,
            doc_object_record(&record, BUCKET, KEY),
            "{what}: docs/format.md"
        );

        let opened = auth()
            .open(BUCKET, KEY, Bytes::from(unhex(constant)))
            .expect("opens");
        assert_eq!(opened, record, "{what}");
        // Bound to its bucket and key.
        assert!(
            auth()
                .open(BUCKET, "2026/b.jpg", Bytes::from(unhex(constant)))
                .is_err()
        );
        assert!(
            auth()
                .open("videos", KEY, Bytes::from(unhex(constant)))
                .is_err()
        );
    }

    // An encrypted inline payload counts with its first 64 bytes only: a
    // byte after them changes nothing the tag sees, a byte in them does.
    let mut raw = unhex(OBJECT_INLINE_KMS);
    let payload_end = raw.len() - 32;
    let payload_start = payload_end - 90;
    raw[payload_start + 70] ^= 1;
    assert!(auth().open(BUCKET, KEY, Bytes::from(raw.clone())).is_ok());
    raw[payload_start + 63] ^= 1;
    assert!(auth().open(BUCKET, KEY, Bytes::from(raw)).is_err());
    // An unencrypted one counts whole.
    let mut raw = unhex(OBJECT_INLINE_NONE);
    let last_payload_byte = raw.len() - 33;
    raw[last_payload_byte] ^= 1;
    assert!(auth().open(BUCKET, KEY, Bytes::from(raw)).is_err());
}

#[test]
fn object_records_version_1() {
    let raw = unhex(OBJECT_V1_CLEAR);
    assert!(ObjectRecord::is_legacy(&raw));
    let clear = ObjectRecord::decode_legacy(Bytes::from(raw.clone())).expect("decodes");
    assert_eq!(
        clear,
        ObjectRecord {
            object_id: unhex("e3ac12b6d09f8df59470344aa3d70935")
                .try_into()
                .expect("16 bytes"),
            size: 14,
            modified_ms: 1_796_107_983_650,
            mode: ProtectionMode::None,
            key_id: String::new(),
            key_version: 0,
            wrapped_key: Vec::new(),
            attributes: Attributes::new(),
            user_metadata: BTreeMap::new(),
            body: Body::Inline(Bytes::from_static(b"unencrypted v1")),
        }
    );
    // Read only by the migration: as a version-2 record it is refused.
    assert!(matches!(
        auth().open("plain", "clear.txt", Bytes::from(raw)),
        Err(crate::Error::Integrity(_))
    ));

    let managed =
        ObjectRecord::decode_legacy(Bytes::from(unhex(OBJECT_V1_MANAGED))).expect("decodes");
    assert_eq!(
        managed.object_id[..],
        unhex("f0806ba8b804e7f9255bc9e10e5c9193")[..]
    );
    assert_eq!(
        (managed.size, managed.modified_ms, managed.mode),
        (10, 1_796_107_983_632, ProtectionMode::Aes256)
    );
    assert_eq!((&managed.key_id[..], managed.key_version), ("", 1));
    let wrapped = WrappedKey::decode(&managed.wrapped_key).expect("a wrapped key");
    assert_eq!(
        (wrapped.provider(), wrapped.key_id(), wrapped.key_version()),
        (Provider::MasterKeyring, MASTER_KEYRING_ID, 1)
    );
    assert_eq!(
        managed.attributes,
        Attributes::new().with_content_type("text/plain")
    );
    assert_eq!(
        managed.user_metadata.into_iter().collect::<Vec<_>>(),
        [("owner".to_owned(), "ops".to_owned())]
    );
    match managed.body {
        Body::Inline(payload) => {
            assert_eq!(payload.len(), 64 + 10 + 16);
            assert_eq!(&payload[..8], b"CFPL\x01\x01\x00\x00");
        }
        other => panic!("not inline: {other:?}"),
    }
}

// ---- bucket records ----------------------------------------------------------

#[test]
fn bucket_records() {
    let record = |rule| BucketRecord {
        name: BUCKET.into(),
        created_ms: T0_MS,
        rule,
        incarnation: INCARNATION,
    };
    for (what, record, json, tag) in [
        (
            "bucket record (KMS alias, bucket key)",
            record(Some(
                EncryptionRule::kms(Some("alias/photos")).with_bucket_key(true),
            )),
            BUCKET_KMS_JSON,
            BUCKET_KMS_TAG,
        ),
        (
            "bucket record (managed)",
            record(Some(EncryptionRule::managed())),
            BUCKET_MANAGED_JSON,
            BUCKET_MANAGED_TAG,
        ),
        (
            "bucket record (no rule)",
            record(None),
            BUCKET_NONE_JSON,
            BUCKET_NONE_TAG,
        ),
    ] {
        let sealed = auth().seal_bucket(&record).expect("encodes");
        assert_eq!(&sealed[..4], b"CFB2", "{what}");
        assert_text(&format!("{what} JSON"), &sealed[4..sealed.len() - 32], json);
        assert_hex(&format!("{what} tag"), &sealed[sealed.len() - 32..], tag);
        // docs/format.md: HMAC-SHA256(key, "coffer/bucket-record/v2" ‖ u16 len ‖ name ‖ JSON).
        assert_eq!(
            sealed[sealed.len() - 32..],
            hmac_of(
                &RECORD_KEY,
                &[
                    b"coffer/bucket-record/v2",
                    &le16(BUCKET.len()),
                    BUCKET.as_bytes(),
                    json.as_bytes()
                ]
            )[..]
        );

        let raw = [&b"CFB2"[..], json.as_bytes(), &unhex(tag)].concat();
        assert_eq!(
            auth().open_bucket(BUCKET, &raw).expect("opens"),
            record,
            "{what}"
        );
        assert!(auth().open_bucket("videos", &raw).is_err());
    }

    // Version 1, plain JSON: read by the migration (no incarnation: 0).
    assert_eq!(
        RecordAuth::decode_legacy_bucket(BUCKET_V1.as_bytes()).expect("decodes"),
        Some(BucketRecord {
            name: "docs".into(),
            created_ms: 1_796_107_983_631,
            rule: Some(EncryptionRule::kms(None)),
            incarnation: 0,
        })
    );
}

// ---- bucket keys -----------------------------------------------------------------

#[test]
fn bucket_key_records() {
    let record = BucketKeyRecord {
        incarnation: INCARNATION,
        created_ms: T0_MS,
        mode: ProtectionMode::Kms,
        wrapped: WrappedKey::decode(&unhex(WRAPPED_V1_KMS)).expect("decodes"),
    };
    let sealed = record_key()
        .seal_bucket_key(BUCKET, &BUCKET_KEY_ID, &record)
        .expect("encodes");
    assert_hex("bucket key record", &sealed, BUCKET_KEY_RECORD);

    // docs/format.md: "CFBK" ‖ 1 ‖ incarnation ‖ created ‖ mode ‖ bytes16
    // wrapped ‖ HMAC-SHA256(key, "coffer/bucket-key/v1" ‖ u16 len ‖ bucket ‖ id ‖ …).
    let wrapped = unhex(WRAPPED_V1_KMS);
    let body = [
        &b"CFBK\x01"[..],
        &INCARNATION.to_le_bytes(),
        &T0_MS.to_le_bytes(),
        &[2],
        &le16(wrapped.len()),
        &wrapped,
    ]
    .concat();
    let tag = hmac_of(
        &RECORD_KEY,
        &[
            b"coffer/bucket-key/v1",
            &le16(BUCKET.len()),
            BUCKET.as_bytes(),
            &BUCKET_KEY_ID,
            &body,
        ],
    );
    assert_eq!(sealed, [body, tag].concat());

    let opened = record_key()
        .open_bucket_key(BUCKET, &BUCKET_KEY_ID, &unhex(BUCKET_KEY_RECORD))
        .expect("opens");
    assert_eq!(opened, record);
    assert!(
        record_key()
            .open_bucket_key(BUCKET, &[0x98; 16], &unhex(BUCKET_KEY_RECORD))
            .is_err()
    );
}

#[test]
fn bucket_key_derivation() {
    let context = bucket_key_context(&STORE_ID, BUCKET, &BUCKET_KEY_ID);
    assert_hex(
        "bucket key context",
        &context.to_bytes(),
        BUCKET_KEY_CONTEXT,
    );
    // docs/format.md: identity(store id, bucket, "coffer/bucket-key/" ‖ id).
    let id = [&b"coffer/bucket-key/"[..], &BUCKET_KEY_ID].concat();
    assert_eq!(
        context.to_bytes(),
        EncryptionContext::new(&STORE_ID, BUCKET, &id).to_bytes()
    );

    let object = EncryptionContext::new(&STORE_ID, BUCKET, &OBJECT_ID);
    let secret = Zeroizing::new([0x9A; 32]);
    let derived = derive_object_key(&secret, &BUCKET_KEY_ID, &object);
    assert_hex(
        "a data key derived from a bucket key",
        derived.expose_secret(),
        BUCKET_KEY_DERIVED,
    );
    // docs/format.md: HKDF-SHA256(salt = id, ikm = bucket key,
    // info = "coffer/bucket-key-object/v1" ‖ the object's context).
    let mut doc = [0u8; 32];
    hkdf::Salt::new(hkdf::HKDF_SHA256, &BUCKET_KEY_ID)
        .extract(&[0x9A; 32])
        .expand(
            &[b"coffer/bucket-key-object/v1", &object.to_bytes()],
            hkdf::HKDF_SHA256,
        )
        .and_then(|okm| okm.fill(&mut doc))
        .expect("32 bytes");
    assert_eq!(*derived.expose_secret(), doc);
}

// ---- multipart uploads -----------------------------------------------------------

fn upload_record() -> UploadRecord {
    let mut user_metadata = BTreeMap::new();
    user_metadata.insert("camera".to_owned(), "x100".to_owned());
    UploadRecord {
        bucket: BUCKET.into(),
        key: "2026/video.mp4".into(),
        incarnation: INCARNATION,
        created_ms: T0_MS,
        mode: 2,
        key_id: CMK_ID.into(),
        key_version: 2,
        wrapped_key: WRAPPED_V1_KMS.into(),
        content_type: Some("video/mp4".into()),
        content_disposition: None,
        content_encoding: None,
        content_language: Some("en".into()),
        cache_control: Some("max-age=60".into()),
        user_metadata,
    }
}

#[test]
fn multipart_upload_and_part_records() {
    let record = upload_record();
    let sealed = seal_upload_record(&auth(), &OBJECT_ID, &record).expect("encodes");
    assert_eq!(&sealed[..4], b"CFMU");
    assert_text(
        "upload record JSON",
        &sealed[4..sealed.len() - 32],
        UPLOAD_JSON,
    );
    assert_hex(
        "upload record tag",
        &sealed[sealed.len() - 32..],
        UPLOAD_TAG,
    );
    // docs/format.md: HMAC-SHA256(key, "coffer/multipart-upload/v1" ‖ u16 16
    // ‖ upload id ‖ body), the body being "CFMU" ‖ JSON.
    assert_eq!(
        sealed[sealed.len() - 32..],
        hmac_of(
            &RECORD_KEY,
            &[
                b"coffer/multipart-upload/v1",
                &le16(16),
                &OBJECT_ID,
                b"CFMU",
                UPLOAD_JSON.as_bytes()
            ]
        )[..]
    );
    let raw = [&b"CFMU"[..], UPLOAD_JSON.as_bytes(), &unhex(UPLOAD_TAG)].concat();
    assert_eq!(
        open_upload_record(&auth(), &OBJECT_ID, &raw).expect("opens"),
        record
    );
    assert!(open_upload_record(&auth(), &[0x56; 16], &raw).is_err());

    let part = PartRecord {
        attempt: [0xC1; 8],
        size: 5 << 20,
        segments: 5,
        prefix: prefix(0xC2, 0xC3),
    };
    let sealed = seal_part_record(&auth(), &OBJECT_ID, 1, &part).expect("encodes");
    assert_hex("part record", &sealed, PART_RECORD);
    // docs/format.md: "CFMP" ‖ attempt ‖ u64 size ‖ u32 segments ‖ bytes16
    // prefix ‖ HMAC-SHA256(key, "coffer/multipart-part/v1" ‖ u16 16 ‖ upload
    // id ‖ u16 4 ‖ part number (BE) ‖ body).
    let body = [
        &b"CFMP"[..],
        &[0xC1; 8],
        &(5u64 << 20).to_le_bytes(),
        &5u32.to_le_bytes(),
        &le16(64),
        &prefix(0xC2, 0xC3),
    ]
    .concat();
    let tag = hmac_of(
        &RECORD_KEY,
        &[
            b"coffer/multipart-part/v1",
            &le16(16),
            &OBJECT_ID,
            &le16(4),
            &1u32.to_be_bytes(),
            &body,
        ],
    );
    assert_eq!(sealed, [body, tag].concat());
    assert_eq!(
        open_part_record(&auth(), &OBJECT_ID, 1, &unhex(PART_RECORD)).expect("opens"),
        part
    );
    assert!(open_part_record(&auth(), &OBJECT_ID, 2, &unhex(PART_RECORD)).is_err());
}

// ---- jobs --------------------------------------------------------------------------

#[test]
fn job_records() {
    let job = |kind, state, last_key: Option<&str>, counts: [u64; 4]| JobStatus {
        id: JOB_ID.into(),
        bucket: BUCKET.into(),
        kind,
        state,
        created_ms: T0_MS,
        last_key: last_key.map(str::to_owned),
        done: counts[0],
        skipped: counts[1],
        failed: counts[2],
        bytes: counts[3],
    };
    for (what, status, json, tag) in [
        (
            "job record (re-encryption, running)",
            job(
                JobKind::Reencrypt {
                    sse: "KMS".into(),
                    kms_key_id: Some("alias/photos".into()),
                },
                JobState::Running,
                Some(KEY),
                [1200, 3, 0, 125_829_120],
            ),
            JOB_REENCRYPT_JSON,
            JOB_REENCRYPT_TAG,
        ),
        (
            "job record (rewrap, done)",
            job(
                JobKind::Rewrap,
                JobState::Done,
                Some("2026/z.jpg"),
                [10, 2, 1, 4096],
            ),
            JOB_REWRAP_JSON,
            JOB_REWRAP_TAG,
        ),
        (
            "job record (encrypt unencrypted, cancelled)",
            job(
                JobKind::EncryptUnencrypted,
                JobState::Cancelled,
                None,
                [0; 4],
            ),
            JOB_ENCRYPT_JSON,
            JOB_ENCRYPT_TAG,
        ),
    ] {
        let sealed = seal_job_record(&auth(), &status).expect("encodes");
        assert_eq!(&sealed[..4], b"CFJ2", "{what}");
        assert_text(&format!("{what} JSON"), &sealed[4..sealed.len() - 32], json);
        assert_hex(&format!("{what} tag"), &sealed[sealed.len() - 32..], tag);
        // docs/format.md: HMAC-SHA256(key, "coffer/job/v2" ‖ u16 32 ‖ job id ‖ "CFJ2" ‖ JSON).
        assert_eq!(
            sealed[sealed.len() - 32..],
            hmac_of(
                &RECORD_KEY,
                &[
                    b"coffer/job/v2",
                    &le16(32),
                    JOB_ID.as_bytes(),
                    b"CFJ2",
                    json.as_bytes()
                ]
            )[..]
        );
        let raw = [&b"CFJ2"[..], json.as_bytes(), &unhex(tag)].concat();
        assert_eq!(
            open_job_record(&auth(), JOB_ID, &raw).expect("opens"),
            status,
            "{what}"
        );
        assert!(open_job_record(&auth(), "5f0c2a9e8d7b6c5a4f3e2d1c0b0a0909", &raw).is_err());
    }

    // Version 1, plain JSON: read by the migration.
    let old: JobStatus = serde_json::from_str(JOB_V1).expect("decodes");
    assert_eq!(
        old,
        JobStatus {
            id: "be8862458a91e04e90990e2ee388917b".into(),
            bucket: "docs".into(),
            kind: JobKind::Rewrap,
            state: JobState::Paused,
            created_ms: 1_796_290_024_794,
            last_key: None,
            done: 0,
            skipped: 0,
            failed: 0,
            bytes: 0,
        }
    );
}

// ---- store settings ------------------------------------------------------------------

#[test]
fn store_settings() {
    let settings = |kms| StoreSettings {
        region: "local".into(),
        account: "0".into(),
        object_records: 2,
        job_records: 2,
        audit_log: 2,
        kms: Some(kms),
    };
    for (what, value, json) in [
        (
            "store settings (Transit)",
            settings(KmsBinding {
                backend: "transit".into(),
                location: Some("transit".into()),
            }),
            SETTINGS_TRANSIT,
        ),
        (
            "store settings (local KMS)",
            settings(KmsBinding {
                backend: "local".into(),
                location: None,
            }),
            SETTINGS_LOCAL,
        ),
    ] {
        assert_text(what, &value.encode(), json);
        assert_eq!(
            StoreSettings::decode(json.as_bytes()).expect("decodes"),
            value
        );
    }
    // Written before the job and audit versions and the backend were recorded.
    let old = StoreSettings::decode(br#"{"region":"local","account":"0","object_records":1}"#)
        .expect("decodes");
    assert_eq!(
        (old.object_records, old.job_records, old.audit_log, old.kms),
        (1, 1, 1, None)
    );
    // The local KMS's location may be absent.
    let local = StoreSettings::decode(
        br#"{"region":"local","account":"0","object_records":2,"job_records":2,"audit_log":2,"kms":{"backend":"local"}}"#,
    )
    .expect("decodes");
    assert_eq!(
        local.kms,
        Some(KmsBinding {
            backend: "local".into(),
            location: None
        })
    );
}

// ---- the audit log ---------------------------------------------------------------------

fn decrypt_event() -> AuditEvent {
    AuditEvent {
        time: UNIX_EPOCH + Duration::from_nanos(1_796_171_603_000_123_456),
        caller: "alice".into(),
        source: "local".into(),
        action: "kms:Decrypt".into(),
        resource: Some(format!("acs:kms:local:0:key/{CMK_ID}")),
        key_id: Some(CMK_ID.into()),
        key_version: Some(2),
        bucket: Some(BUCKET.into()),
        object_key: Some(KEY.into()),
        context: Some(format!(
            "store={} bucket={BUCKET} object={}",
            hex::encode(STORE_ID),
            hex::encode(OBJECT_ID)
        )),
        detail: None,
        outcome: AuditOutcome::Allowed,
    }
}

fn failed_event() -> AuditEvent {
    AuditEvent {
        time: UNIX_EPOCH + Duration::from_millis(T0_MS),
        caller: "trusted".into(),
        source: "store".into(),
        action: "coffer:PruneAuditLog".into(),
        resource: None,
        key_id: None,
        key_version: None,
        bucket: None,
        object_key: None,
        context: None,
        detail: Some("12 events, 4096 bytes".into()),
        outcome: AuditOutcome::Failed("the disk is full".into()),
    }
}

#[test]
fn audit_events() {
    for (what, value, json) in [
        (
            "audit event (kms:Decrypt)",
            decrypt_event(),
            EVENT_DECRYPT_JSON,
        ),
        (
            "audit event (failed, with detail)",
            failed_event(),
            EVENT_FAILED_JSON,
        ),
    ] {
        assert_text(what, &event::encode(&value), json);
        assert_eq!(
            event::decode(json.as_bytes(), SEALED_FORMAT).expect("decodes"),
            value,
            "{what}"
        );
        assert!(event::decode(json.as_bytes(), LEGACY_FORMAT).is_err());
    }

    // Sealed and chained: "CFA2" ‖ previous ‖ JSON ‖ tag, under its key.
    let key = event_key(1_796_171_603_000_123_456, 41);
    assert_hex("audit event key", &key, EVENT_KEY);
    assert_eq!(
        key[..],
        [
            &1_796_171_603_000_123_456u64.to_be_bytes()[..],
            &41u64.to_be_bytes()
        ]
        .concat()[..]
    );
    let audit = AuditKey::new(&AUDIT_KEY);
    let previous = [0xD1; 32];
    let (value, tag) = audit.seal_event(&key, &previous, EVENT_DECRYPT_JSON.as_bytes());
    assert_hex("audit event tag", &tag, EVENT_TAG);
    assert_eq!(
        value,
        [
            &b"CFA2"[..],
            &previous,
            EVENT_DECRYPT_JSON.as_bytes(),
            &unhex(EVENT_TAG)
        ]
        .concat()
    );
    // docs/format.md: HMAC-SHA256(audit key, "coffer/audit-event/v2" ‖ key ‖
    // "CFA2" ‖ previous ‖ JSON).
    assert_eq!(
        tag[..],
        hmac_of(
            &AUDIT_KEY,
            &[
                b"coffer/audit-event/v2",
                &key,
                b"CFA2",
                &previous,
                EVENT_DECRYPT_JSON.as_bytes()
            ]
        )[..]
    );
    match audit.entry(&key, &value) {
        Entry::Sealed {
            json,
            authentic,
            previous: read_previous,
            tag: read_tag,
        } => {
            assert_eq!(json, EVENT_DECRYPT_JSON.as_bytes());
            assert!(authentic);
            assert_eq!((read_previous, read_tag), (previous, tag));
        }
        _ => panic!("not read as a sealed event"),
    }
    let mut moved = key;
    moved[15] ^= 1;
    assert!(matches!(
        audit.entry(&moved, &value),
        Entry::Sealed {
            authentic: false,
            ..
        }
    ));

    // Version 1, plain JSON.
    assert!(matches!(
        audit.entry(&key, EVENT_V1.as_bytes()),
        Entry::Legacy(_)
    ));
    let old = event::decode(EVENT_V1.as_bytes(), LEGACY_FORMAT).expect("decodes");
    assert_eq!(
        old,
        AuditEvent {
            time: UNIX_EPOCH + Duration::from_nanos(1_796_290_024_782_941_664),
            caller: "trusted".into(),
            source: "local".into(),
            action: "kms:GenerateDataKey".into(),
            resource: Some("acs:kms:local:0:key/2a878d9a-2091-49bf-a233-6c08800b6a7a".into()),
            key_id: Some("2a878d9a-2091-49bf-a233-6c08800b6a7a".into()),
            key_version: Some(1),
            bucket: Some("docs".into()),
            object_key: Some("default.txt".into()),
            context: Some("store=3d4a9e3d28981bb47b828fa22ee28904 bucket=docs object=43565cf5c20dc3413261b829d55b1869".into()),
            detail: None,
            outcome: AuditOutcome::Allowed,
        }
    );
}

#[test]
fn audit_head_and_anchor() {
    let audit = AuditKey::new(&AUDIT_KEY);
    let head = Head {
        sequence: 41,
        key: event_key(1_796_171_603_000_123_456, 41),
        tag: [0xD4; 32],
    };
    let raw = audit.seal_head(&head);
    assert_hex("audit head", &raw, HEAD);
    // docs/format.md: "CFAH" ‖ u64 sequence ‖ key ‖ tag ‖ mac.
    let body = [&b"CFAH"[..], &41u64.to_le_bytes(), &head.key, &head.tag].concat();
    let mac = hmac_of(&AUDIT_KEY, &[b"coffer/audit-head/v2", &body]);
    assert_eq!(raw, [body, mac].concat());
    assert_eq!(audit.open_head(&unhex(HEAD)), Some(head));
    assert_eq!(AuditKey::new(&[0x13; 32]).open_head(&unhex(HEAD)), None);

    let anchor = Anchor {
        chained_from: 12,
        link: [0xD5; 32],
        pruned_through: event_key(1_796_171_602_000_000_000, 11),
        legacy: Some(Legacy {
            through: 9,
            last_key: event_key(1_796_171_601_000_000_000, 9),
        }),
    };
    let raw = audit.seal_anchor(&anchor);
    assert_hex("audit anchor", &raw, ANCHOR);
    // docs/format.md: "CFAN" ‖ u64 chained from ‖ link ‖ pruned through ‖ u8
    // has legacy ‖ u64 legacy through ‖ legacy last key ‖ mac.
    let body = [
        &b"CFAN"[..],
        &12u64.to_le_bytes(),
        &anchor.link,
        &anchor.pruned_through,
        &[1],
        &9u64.to_le_bytes(),
        &event_key(1_796_171_601_000_000_000, 9),
    ]
    .concat();
    let mac = hmac_of(&AUDIT_KEY, &[b"coffer/audit-anchor/v2", &body]);
    assert_eq!(raw, [body, mac].concat());
    assert_eq!(audit.open_anchor(&unhex(ANCHOR)), Some(anchor));

    let raw = audit.seal_anchor(&Anchor::NEW);
    assert_hex("a new log's audit anchor", &raw, ANCHOR_NEW);
    assert_eq!(audit.open_anchor(&unhex(ANCHOR_NEW)), Some(Anchor::NEW));
}

// ---- keys -------------------------------------------------------------------------------

#[test]
fn column_family_keys() {
    assert_eq!(object_key(BUCKET, KEY), b"photos\x002026/a.jpg");
    assert_eq!(
        segment_key(&OBJECT_ID, 258)[..],
        [&OBJECT_ID[..], &[0, 0, 1, 2]].concat()[..]
    );
    assert_eq!(
        bucket_key_key(BUCKET, &BUCKET_KEY_ID),
        [&b"photos\x00"[..], &BUCKET_KEY_ID].concat()
    );
    assert_eq!(
        part_key(&OBJECT_ID, 3),
        [&OBJECT_ID[..], &[0, 0, 0, 3]].concat()
    );
    let prefix = part_segment_prefix(&OBJECT_ID, 3, &[0xC1; 8]);
    assert_eq!(
        part_segment_key(&prefix, 258),
        [&OBJECT_ID[..], &[0, 0, 0, 3], &[0xC1; 8], &[0, 0, 1, 2]].concat()
    );
    assert_eq!(crate::store::STORE_ID, b"store_id");
    assert_eq!(
        (HEAD_KEY, ANCHOR_KEY),
        (&b"audit/head"[..], &b"audit/anchor"[..])
    );
}
