//! Crash consistency: a child process writes, overwrites and deletes objects in
//! a loop and is killed with SIGKILL at random moments, many times. After each
//! kill the store opens, every acknowledged write reads back with the right
//! bytes, nothing is partial, and no orphan segments remain.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use coffer_store::{Error, PutOptions, RootKey, Store, StoreOptions};

const CHILD_ENV: &str = "COFFER_CRASH_CHILD_DIR";
const KEYS: u32 = 6;

fn content(seed: u32, size: usize) -> Bytes {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect::<Vec<_>>()
        .into()
}

fn size_for(seed: u32) -> usize {
    match seed % 4 {
        0 => 100 + seed as usize % 3000,
        1 => 70 * 1024,
        2 => 2 * 1024 * 1024 + seed as usize % 5000,
        _ => 1024 * 1024,
    }
}

fn options() -> StoreOptions {
    StoreOptions::new(RootKey::from_bytes([0x44; 32])).with_threads(2)
}

/// The child: runs until killed, announcing each operation before it starts
/// and acknowledging it once it returned.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let first_seed: u32 = std::env::var("COFFER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let store = Store::open(&dir, options()).expect("child opens");
    match store.create_bucket("crash") {
        Ok(()) | Err(Error::BucketAlreadyExists(_)) => {}
        Err(e) => panic!("{e}"),
    }
    let mut out = std::io::stdout();
    for seed in first_seed.. {
        let key = format!("k{}", seed % KEYS);
        if seed % 7 == 3 {
            writeln!(out, "begin delete {key}").expect("stdout");
            out.flush().expect("flush");
            store.delete_object("crash", &key).expect("delete");
        } else {
            let body = content(seed, size_for(seed));
            writeln!(out, "begin put {key} {seed}").expect("stdout");
            out.flush().expect("flush");
            let options = if seed % 2 == 0 {
                PutOptions::managed()
            } else {
                PutOptions::kms(None)
            };
            if seed % 5 == 0 {
                store
                    .put_object_from_reader("crash", &key, Cursor::new(body.to_vec()), options)
                    .expect("put");
            } else {
                store.put_object("crash", &key, body, options).expect("put");
            }
        }
        writeln!(out, "ack {key}").expect("stdout");
        out.flush().expect("flush");
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Absent,
    Put(u32),
}

#[test]
fn killed_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut expected: BTreeMap<String, State> = (0..KEYS)
        .map(|k| (format!("k{k}"), State::Absent))
        .collect();
    let mut next_seed = 1u32;
    let mut random = 0x9E37_79B9u32;
    let rounds = 12;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("COFFER_CRASH_SEED", next_seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let lines = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        random ^= random << 13;
        random ^= random >> 17;
        random ^= random << 5;
        std::thread::sleep(Duration::from_millis(300 + u64::from(random % 700)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let lines = lines.join().expect("reader");

        // What was acknowledged, and what was in flight when the kill came.
        let mut in_flight: Option<(String, State)> = None;
        let mut acked_ops = 0;
        for line in &lines {
            let words: Vec<&str> = line
                .split_whitespace()
                .skip_while(|w| *w != "begin" && *w != "ack")
                .collect();
            match words.as_slice() {
                ["begin", "put", key, seed] => {
                    let seed: u32 = seed.parse().expect("seed");
                    next_seed = next_seed.max(seed + 1);
                    in_flight = Some((key.to_string(), State::Put(seed)));
                }
                ["begin", "delete", key] => in_flight = Some((key.to_string(), State::Absent)),
                ["ack", key] => {
                    let (flight_key, state) = in_flight.take().expect("ack follows begin");
                    assert_eq!(&flight_key, key);
                    expected.insert(flight_key, state);
                    acked_ops += 1;
                }
                _ => {}
            }
        }
        // Deletes do not carry seeds; move past them too.
        next_seed += 1;

        let store = Store::open(dir.path(), options()).expect("opens after the kill");
        let report = store.check_consistency().expect("check");
        assert!(
            report.orphan_segment_objects.is_empty(),
            "round {round}: orphans {report:?}"
        );
        assert!(
            report.missing_segments.is_empty(),
            "round {round}: partial objects {report:?}"
        );
        for (key, state) in expected.clone() {
            let actual = match store.get_object("crash", &key) {
                Ok(object) => {
                    let seed = match in_flight.as_ref() {
                        Some((k, State::Put(s)))
                            if *k == key && object.body == content(*s, size_for(*s)) =>
                        {
                            *s
                        }
                        _ => match state {
                            State::Put(s) => s,
                            State::Absent => panic!("round {round}: {key} should be absent"),
                        },
                    };
                    assert!(
                        object.body == content(seed, size_for(seed)),
                        "round {round}: {key} has the wrong bytes"
                    );
                    State::Put(seed)
                }
                Err(Error::NoSuchKey { .. }) | Err(Error::NoSuchBucket(_)) => State::Absent,
                Err(other) => panic!("round {round}: {key}: {other}"),
            };
            let in_flight_here = in_flight
                .as_ref()
                .filter(|(k, _)| *k == key)
                .map(|(_, s)| *s);
            assert!(
                actual == state || Some(actual) == in_flight_here,
                "round {round}: {key} is {actual:?}, expected {state:?} or {in_flight_here:?}"
            );
            expected.insert(key, actual);
        }
        eprintln!("round {round}: {acked_ops} acknowledged operations survived the kill");
        drop(store);
    }
}
