//! Nothing under the store directory (SST, WAL, blob files, MANIFEST, logs)
//! contains a plaintext byte run of an encrypted object, a data key, a master
//! key, a CMK's material, a bucket key or the root key — after flush and
//! compaction too, including objects that were unencrypted until a copy over
//! themselves or an `encrypt-unencrypted` job encrypted them. An unencrypted
//! object's pattern *is* found, which proves the scan sees the data.

use crate::common;

use std::io::Cursor;
use std::path::Path;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_store::{CopyOptions, EncryptionRule, PutOptions, Store, test_util};
use common::{MIB, fixture};

/// A distinctive pattern, 40 bytes so that it straddles every alignment.
const PATTERN: &[u8; 40] = b"COFFER-PLAINTEXT-CANARY-7f3a9c2e5b8d1046";

fn canary(len: usize, variant: u8) -> Bytes {
    let mut pattern = *PATTERN;
    pattern[39] = b'a' + variant;
    pattern
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect::<Vec<_>>()
        .into()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn found_in(files: &[(std::path::PathBuf, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(path, _)| path.display().to_string())
        .collect()
}

#[test]
fn no_plaintext_or_key_reaches_the_disk() {
    let f = fixture();
    let s: &Store = &f.store;
    s.create_bucket("secrets").expect("bucket");
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    let mut objects = Vec::new();
    let mut keys: Vec<[u8; 32]> = Vec::new();
    let with_bucket_key = |rule: EncryptionRule| {
        PutOptions::default().with_encryption(Some(rule.with_bucket_key(true)))
    };
    for (i, options) in [
        PutOptions::managed(),
        PutOptions::kms(None),
        PutOptions::kms(Some(&cmk)),
        with_bucket_key(EncryptionRule::managed()),
        with_bucket_key(EncryptionRule::kms(Some(&cmk))),
    ]
    .into_iter()
    .enumerate()
    {
        for (j, size) in [300, 60 * 1024, 3 * MIB].into_iter().enumerate() {
            let key = format!("o-{i}-{j}");
            s.put_object("secrets", &key, canary(size, 0), options.clone())
                .expect("put");
            objects.push(key);
        }
        let key = format!("streamed-{i}");
        s.put_object_from_reader(
            "secrets",
            &key,
            Cursor::new(canary(2 * MIB + 5, 0).to_vec()),
            options.clone(),
        )
        .expect("put");
        objects.push(key);
    }
    // Historical objects encrypted by copying over themselves: their old
    // plaintext versions must be gone after compaction.
    for (key, size) in [("was-plain-small", 500), ("was-plain-large", 2 * MIB)] {
        s.put_object("secrets", key, canary(size, 2), PutOptions::default())
            .expect("put");
        s.copy_object(("secrets", key), ("secrets", key), CopyOptions::kms(None))
            .expect("encrypt in place");
        objects.push(key.to_owned());
    }
    // Historical objects encrypted by a job, after they settled in the
    // bottommost level (where a compaction that does not force that level
    // would leave them, and the blob files they reference).
    s.create_bucket("history").expect("bucket");
    for (i, size) in [700, 3 * MIB, 2 * MIB + 11].into_iter().enumerate() {
        s.put_object(
            "history",
            &format!("h{i}"),
            canary(size, 3),
            PutOptions::default(),
        )
        .expect("put");
    }
    s.flush_and_compact().expect("settles");
    s.put_bucket_encryption("history", EncryptionRule::kms(None))
        .expect("rule");
    let job = s
        .create_job("history", coffer_store::JobKind::EncryptUnencrypted)
        .expect("job");
    let done = s
        .run_job(&job, coffer_store::JobLimits::none(), |_| {})
        .expect("runs");
    assert_eq!(done.done, 3);
    for i in 0..3 {
        keys.push(
            test_util::data_key_bytes(s, "history", &format!("h{i}"))
                .expect("key")
                .expect("encrypted"),
        );
    }
    // The positive control: an unencrypted object with its own variant.
    s.put_object("secrets", "control", canary(4096, 1), PutOptions::default())
        .expect("put");

    for key in &objects {
        keys.push(
            test_util::data_key_bytes(s, "secrets", key)
                .expect("key")
                .expect("encrypted"),
        );
    }
    keys.extend(test_util::key_material(s));
    keys.push([0x33; 32]); // the root key
    assert!(
        keys.len() >= objects.len() + 5,
        "bucket keys are among them"
    );

    s.rotate_master_key().expect("rotate");
    s.flush_and_compact().expect("compact");
    drop(f.store);

    let files: Vec<_> = files_under(f.dir.path())
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read");
            (path, bytes)
        })
        .collect();
    assert!(
        files
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains(".sst")),
        "scanned no SST file"
    );
    assert!(
        !found_in(&files, &canary(40, 1)).is_empty(),
        "the control pattern must be visible on disk"
    );
    for variant in [0, 2, 3] {
        let needle = canary(64, variant);
        // Every window covers byte 39, where the variants differ.
        for offset in [16, 22, 30] {
            let hits = found_in(&files, &needle[offset..offset + 24]);
            assert!(
                hits.is_empty(),
                "plaintext (variant {variant}) found in {hits:?}"
            );
        }
    }
    for key in &keys {
        let hits = found_in(&files, key);
        assert!(hits.is_empty(), "key material found in {hits:?}");
        let hits = found_in(&files, hex::encode(key).as_bytes());
        assert!(hits.is_empty(), "hex key material found in {hits:?}");
    }
}
