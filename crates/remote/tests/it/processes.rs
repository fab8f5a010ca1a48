//! Two OS processes sharing one bucket of an object store (SeaweedFS) with
//! CMKs in a Transit KMS (OpenBao): each writes objects, rotates the master
//! key and the CMK, and reads what the other acknowledged, while the other
//! writes. Every acknowledged write reads back from the other process, and
//! no keyring change is lost: the master key's versions are exactly one
//! plus the rotations both processes were told succeeded.
//!
//! The processes are this test binary run again (`--exact` on the SeaweedFS
//! test) with [`ROLE_ENV`] set, which makes that test play one side.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_kms_vault::{TransitKms, VaultConfig};
use coffer_remote::{KeyringConflict, RemoteStore};
use coffer_sse::{EncryptionRule, PutOptions, Session};

use crate::common;

/// Set in a child process: which side it plays (`a` or `b`).
pub(crate) const ROLE_ENV: &str = "COFFER_REMOTE_ROLE";
const ENDPOINT_ENV: &str = "COFFER_REMOTE_ENDPOINT";
const BUCKET_ENV: &str = "COFFER_REMOTE_BUCKET";
const DIR_ENV: &str = "COFFER_REMOTE_DIR";
const CMK_ENV: &str = "COFFER_REMOTE_CMK";
/// Objects each side writes.
const WRITES: usize = 40;

fn open(endpoint: &str, bucket: &str) -> RemoteStore {
    let transit = TransitKms::new(VaultConfig::from_env().expect("VAULT_ADDR and VAULT_TOKEN"))
        .expect("a Transit client");
    RemoteStore::open(
        common::s3(endpoint, bucket),
        common::options().with_kms(Arc::new(transit)),
    )
    .expect("the shared store opens")
}

/// The body of `key`: anyone can check it from the key alone. Every tenth is
/// larger than a part, and streamed, so it is a multipart write.
fn body_of(key: &str, i: usize) -> Bytes {
    let len = if i % 10 == 9 { 9 << 20 } else { 100 + 997 * i };
    key.bytes().chain(*b"|").cycle().take(len).collect()
}

fn len_of(i: usize) -> usize {
    body_of("", i).len()
}

/// Lines of `file` written whole so far.
fn lines(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let whole = text.rfind('\n').map_or("", |at| &text[..=at]);
    whole.lines().map(str::to_owned).collect()
}

fn append(file: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("the file opens");
    writeln!(f, "{line}").expect("written");
    f.sync_all().expect("synced");
}

/// Reads `other`'s acknowledged object `line` (`key index`).
fn check(session: &Session<RemoteStore>, line: &str) {
    let (key, i) = line.split_once(' ').expect("key index");
    let i: usize = i.parse().expect("index");
    let got = session
        .get_object("shared", key)
        .unwrap_or_else(|e| panic!("{key}, acknowledged by the other process: {e}"));
    assert_eq!(got.body.len(), len_of(i), "{key}");
    assert_eq!(got.body, body_of(key, i), "{key}");
}

/// One side: `WRITES` puts under three rules, master key and CMK rotations
/// along the way, and reads of what the other side acknowledged.
pub(crate) fn play(role: &str) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
    let (endpoint, bucket, cmk) = (var(ENDPOINT_ENV), var(BUCKET_ENV), var(CMK_ENV));
    let dir = PathBuf::from(var(DIR_ENV));
    let other = if role == "a" { "b" } else { "a" };
    let store = open(&endpoint, &bucket);
    let session = Session::trusted(store.clone());
    let (acks, other_acks) = (
        dir.join(format!("{role}.acks")),
        dir.join(format!("{other}.acks")),
    );
    let rotations = dir.join(format!("{role}.rotations"));
    for i in 0..WRITES {
        let key = format!("{role}/{i}");
        let options = match i % 3 {
            0 => PutOptions::managed(),
            1 => PutOptions::kms(Some(&cmk)),
            _ => PutOptions::default()
                .with_encryption(Some(EncryptionRule::kms(Some(&cmk)).with_bucket_key(true))),
        };
        let body = body_of(&key, i);
        if body.len() > 8 << 20 {
            // Streamed: sealed and uploaded as a multipart write.
            session.put_object_from_reader("shared", &key, &body[..], options)
        } else {
            session.put_object("shared", &key, body, options)
        }
        .expect("put");
        append(&acks, &format!("{key} {i}"));
        if i % 8 == 4 {
            // The other side rotates too: a conflict is told, and retried.
            let version = loop {
                match store.rotate_master_key() {
                    Ok(version) => break version,
                    Err(error) if KeyringConflict::caused(&error) => {}
                    Err(error) => panic!("rotation: {error}"),
                }
            };
            append(&rotations, &version.to_string());
        }
        if i % 13 == 6 {
            // Both sides rotate the same Transit key about together; OpenBao
            // may answer one of them 500 ("transaction commit failed"), which
            // changed nothing: retried, as an operator would.
            let mut attempts = 0;
            while let Err(error) = store
                .kms()
                .rotate_key(&cmk, &coffer_keyring::Caller::Trusted)
            {
                attempts += 1;
                let transient = matches!(&error, coffer_keyring::Error::Backend { message, .. }
                    if message.contains("answered 5"));
                assert!(transient && attempts < 5, "CMK rotated in Transit: {error}");
                std::thread::sleep(Duration::from_millis(50 * attempts));
            }
        }
        if let Some(line) = lines(&other_acks).last() {
            check(&session, line);
        }
    }
    append(&dir.join(format!("{role}.done")), "done");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !dir.join(format!("{other}.done")).exists() {
        assert!(Instant::now() < deadline, "{other} did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    for line in lines(&other_acks) {
        check(&session, &line);
    }
}

/// Runs both sides as child processes against `endpoint`'s bucket
/// `bucket` with Transit at `bao`, then checks what they left.
pub(crate) fn two_processes_share_a_bucket(
    test_name: &str,
    endpoint: &str,
    bucket: &str,
    bao: &coffer_kms_vault::dev_server::BaoServer,
) {
    let cmk = coffer_kms_vault::dev_server::key_name("shared");
    bao.client().create_key(&cmk).expect("a Transit key");
    let transit = Arc::new(TransitKms::new(bao.config()).expect("Transit"));
    let store = RemoteStore::create(
        common::s3(endpoint, bucket),
        common::options().with_kms(transit),
    )
    .expect("the shared store");
    Session::trusted(store.clone())
        .create_bucket("shared")
        .expect("bucket");
    let dir = tempfile::tempdir().expect("a directory");
    let spawn = |role: &str| {
        Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
            .env(ROLE_ENV, role)
            .env(ENDPOINT_ENV, endpoint)
            .env(BUCKET_ENV, bucket)
            .env(DIR_ENV, dir.path())
            .env(CMK_ENV, &cmk)
            .env("VAULT_ADDR", bao.address())
            .env("VAULT_TOKEN", bao.root_token())
            .spawn()
            .expect("a child process")
    };
    let mut children = [spawn("a"), spawn("b")];
    for child in &mut children {
        let status = child.wait().expect("the child ends");
        assert!(status.success(), "a child failed: {status}");
    }
    let rotated: Vec<u32> = ["a", "b"]
        .iter()
        .flat_map(|role| lines(&dir.path().join(format!("{role}.rotations"))))
        .map(|line| line.parse().expect("a version"))
        .collect();
    let expected_rotations = 2 * (0..WRITES).filter(|i| i % 8 == 4).count();
    assert_eq!(rotated.len(), expected_rotations);
    let mut versions = rotated.clone();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (2..2 + expected_rotations as u32).collect::<Vec<_>>(),
        "every rotation made a version of its own; none was lost"
    );
    // A third process's view: every acknowledged object, the whole keyring.
    let fresh = RemoteStore::open(common::s3(endpoint, bucket), {
        let transit = Arc::new(TransitKms::new(bao.config()).expect("Transit"));
        common::options().with_kms(transit)
    })
    .expect("reopened");
    assert_eq!(fresh.master_key_version(), 1 + expected_rotations as u32);
    let session = Session::trusted(fresh.clone());
    for role in ["a", "b"] {
        let acked = lines(&dir.path().join(format!("{role}.acks")));
        assert_eq!(acked.len(), WRITES, "{role}");
        for line in acked {
            check(&session, &line);
        }
    }
    let usage = fresh.key_usage(Some("shared")).expect("usage");
    assert!(usage.unreadable.is_empty(), "{usage:?}");
    let objects: u64 = usage.usage.iter().map(|u| u.objects).sum();
    assert_eq!(objects, 2 * WRITES as u64);
}
