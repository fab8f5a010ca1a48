//! A re-encryption job writes its new segments around the write-ahead log and
//! makes them durable with a flush before it commits their records. A child
//! process runs such a job and is killed with SIGKILL, once in the middle and
//! once right after the job returned (before anything else could flush the
//! memtable): each time the store opens with every object whole, under its old
//! rule or its new one, and nothing orphaned. Without the flush, the second
//! kill loses the segments the committed records name.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_store::{JobKind, JobLimits, ProtectionMode, PutOptions, RootKey, Store, StoreOptions};
use common::{MIB, data};

const CHILD_ENV: &str = "COFFER_JOB_CRASH_CHILD_DIR";
const OBJECTS: u8 = 12;

fn options() -> StoreOptions {
    StoreOptions::new(RootKey::from_bytes([0x45; 32])).create_if_missing(true)
}

/// Object `i`'s bytes: 1 MiB and a little, a few of 3 MiB, one inline.
fn body(i: u8) -> Bytes {
    match i % 4 {
        0 => data(3 * MIB + 17, i),
        1 => data(1000, i),
        _ => data(MIB + usize::from(i), i),
    }
}

/// The child: re-encrypts the bucket to the CMK named in the environment,
/// says when it starts and when the job returned, then waits to be killed.
#[test]
fn job_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let cmk = std::env::var("COFFER_JOB_CRASH_CMK").expect("cmk");
    let store = Store::open(&dir, options()).expect("child opens");
    let id = store
        .create_job(
            "bkt",
            JobKind::Reencrypt {
                sse: "KMS".into(),
                kms_key_id: Some(cmk),
            },
        )
        .expect("job");
    println!("started");
    let status = store.run_job(&id, JobLimits::none(), |_| {}).expect("runs");
    println!("returned {}", status.done);
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Runs the child; kills it `after` its "started" line, or right after the
/// job returned when `after` is `None`. Returns the lines it printed.
fn run_child_and_kill(dir: &std::path::Path, cmk: &str, after: Option<Duration>) -> Vec<String> {
    // This test binary running only `job_crash_child`, named by its path in
    // the binary that holds every integration test of the crate.
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "job_crash::job_crash_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .env("COFFER_JOB_CRASH_CMK", cmk)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the child stopped early: {seen:?}"))
            .expect("line");
        seen.push(line.clone());
        match after {
            // The test harness's own line may lead on the same line.
            Some(delay) if line.ends_with("started") => {
                std::thread::sleep(delay);
                break;
            }
            None if line.contains("returned ") => break,
            _ => {}
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    seen
}

/// Every object reads back whole; returns how many are under `cmk`.
fn check_every_object(dir: &std::path::Path, cmk: &str) -> usize {
    let store = Store::open(dir, options()).expect("opens after the kill");
    let report = store.check_consistency().expect("check");
    assert!(
        report.orphan_segment_objects.is_empty() && report.missing_segments.is_empty(),
        "{report:?}"
    );
    let mut under_cmk = 0;
    for i in 0..OBJECTS {
        let object = store
            .get_object("bkt", &format!("k{i:02}"))
            .unwrap_or_else(|e| panic!("k{i:02} after the kill: {e}"));
        assert_eq!(object.body, body(i), "k{i:02}");
        if object.meta.protection.kms_key_id.as_deref() == Some(cmk) {
            assert_eq!(object.meta.protection.mode, ProtectionMode::Kms);
            under_cmk += 1;
        }
    }
    store.close().expect("close");
    under_cmk
}

#[test]
fn a_reencryption_killed_midway_or_just_after_it_returned_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first_cmk, second_cmk) = {
        let store = Store::open(dir.path(), options()).expect("opens");
        store.create_bucket("bkt").expect("bucket");
        for i in 0..OBJECTS {
            store
                .put_object("bkt", &format!("k{i:02}"), body(i), PutOptions::managed())
                .expect("put");
        }
        let cmk = || {
            store
                .kms()
                .create_key(Default::default(), &Caller::Trusted)
                .expect("cmk")
                .key_id
        };
        let keys = (cmk(), cmk());
        store.close().expect("close");
        keys
    };

    // Killed in the middle: each object is old or new, never half of either.
    run_child_and_kill(dir.path(), &first_cmk, Some(Duration::from_millis(40)));
    check_every_object(dir.path(), &first_cmk);

    // Killed as soon as the job returned: every object is new, and whole.
    let lines = run_child_and_kill(dir.path(), &second_cmk, None);
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("returned {OBJECTS}").as_str()),
        "{lines:?}"
    );
    assert_eq!(
        check_every_object(dir.path(), &second_cmk),
        usize::from(OBJECTS)
    );
}
