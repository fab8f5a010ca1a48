//! Crash consistency: a child process writes, overwrites and deletes objects in
//! a loop (from a few bytes to 30 MiB, whose segments past the first few go
//! around the write-ahead log) and is killed with SIGKILL at random moments,
//! many times. After each
//! kill the store opens, every acknowledged write reads back with the right
//! bytes, nothing is partial, and no orphan segments remain. Every round must
//! acknowledge writes and read objects back. `COFFER_CRASH_ROUNDS` sets the
//! number of rounds (12 by default):
//!
//! ```sh
//! COFFER_CRASH_ROUNDS=200 cargo test --release -p coffer-store --test it crash::killed -- --nocapture
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_store::{Error, PutOptions, RootKey, Store, StoreOptions};

const CHILD_ENV: &str = "COFFER_CRASH_CHILD_DIR";
const KEYS: u32 = 6;
/// Rounds when `COFFER_CRASH_ROUNDS` is not set: short enough for CI.
const DEFAULT_ROUNDS: u32 = 12;
/// How long a child may take to acknowledge its first write (a loaded machine).
const FIRST_ACK_TIMEOUT: Duration = Duration::from_secs(120);

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
    // Large enough to go past the segments a put sends through the log, and
    // past a flush it starts (the rest waits on a flush before it commits).
    if seed % 11 == 6 {
        return 30 * 1024 * 1024 + seed as usize % 5000;
    }
    match seed % 4 {
        0 => 100 + seed as usize % 3000,
        1 => 70 * 1024,
        2 => 2 * 1024 * 1024 + seed as usize % 5000,
        _ => 1024 * 1024,
    }
}

fn options() -> StoreOptions {
    StoreOptions::new(RootKey::from_bytes([0x44; 32]))
        .with_threads(2)
        .create_if_missing(true)
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

/// What the child has said: the state each acknowledged operation left, the
/// operation begun but not acknowledged, and the next seed to hand out.
struct Log {
    expected: BTreeMap<String, State>,
    in_flight: Option<(String, State)>,
    next_seed: u32,
    /// Operations acknowledged in the current round.
    acked: u32,
}

impl Log {
    fn read(&mut self, line: &str) {
        // The harness prints "test crash::crash_child ... " before the child's first line.
        let words: Vec<&str> = line
            .split_whitespace()
            .skip_while(|w| *w != "begin" && *w != "ack")
            .collect();
        match words.as_slice() {
            ["begin", "put", key, seed] => {
                let seed: u32 = seed.parse().expect("seed");
                self.next_seed = self.next_seed.max(seed + 1);
                self.in_flight = Some((key.to_string(), State::Put(seed)));
            }
            ["begin", "delete", key] => self.in_flight = Some((key.to_string(), State::Absent)),
            ["ack", key] => {
                let (flight_key, state) = self.in_flight.take().expect("ack follows begin");
                assert_eq!(&flight_key, key);
                self.expected.insert(flight_key, state);
                self.acked += 1;
            }
            _ => {}
        }
    }

    /// Reads lines until `deadline` or until `done` holds; says whether it holds.
    fn follow(
        &mut self,
        lines: &Receiver<String>,
        deadline: Instant,
        done: impl Fn(&Self) -> bool,
    ) -> bool {
        while !done(self) {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => self.read(&line),
                // The caller finds out whether the child is still running.
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        done(self)
    }
}

/// Rounds of write-kill-verify: `COFFER_CRASH_ROUNDS`, or a few for CI.
fn rounds() -> u32 {
    let rounds = match std::env::var("COFFER_CRASH_ROUNDS") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("COFFER_CRASH_ROUNDS={v:?} is not a number of rounds")),
        Err(_) => DEFAULT_ROUNDS,
    };
    assert!(rounds > 0, "COFFER_CRASH_ROUNDS must be at least 1");
    rounds
}

fn xorshift(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

#[test]
fn killed_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut log = Log {
        expected: (0..KEYS)
            .map(|k| (format!("k{k}"), State::Absent))
            .collect(),
        in_flight: None,
        next_seed: 1,
        acked: 0,
    };
    let mut random = 0x9E37_79B9u32;
    let rounds = rounds();
    let (mut total_acked, mut total_verified, mut postponed) = (0u64, 0u64, 0u32);
    for round in 0..rounds {
        log.in_flight = None;
        log.acked = 0;
        // The child is this test binary running only `crash_child`, named by its
        // path in the binary that holds every integration test of the crate.
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env("COFFER_CRASH_SEED", log.next_seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });

        // Kill at a random moment. A round whose child has acknowledged nothing
        // by then would check nothing new, so the kill waits for the first
        // acknowledgement and lands at a random moment after it instead.
        let planned = Duration::from_millis(300 + u64::from(xorshift(&mut random) % 700));
        log.follow(&lines, Instant::now() + planned, |_| false);
        if log.acked == 0 {
            postponed += 1;
            let acked = log.follow(&lines, Instant::now() + FIRST_ACK_TIMEOUT, |l| l.acked > 0);
            if !acked {
                let _ = child.kill();
                panic!(
                    "round {round}: the child acknowledged nothing in {FIRST_ACK_TIMEOUT:?} \
                     ({:?})",
                    child.wait()
                );
            }
            std::thread::sleep(Duration::from_millis(u64::from(xorshift(&mut random) % 50)));
        }
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("round {round}: the child exited before it was killed: {status}");
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        reader.join().expect("reader");
        for line in lines.try_iter() {
            log.read(&line);
        }
        assert!(log.acked > 0, "round {round}: no write was acknowledged");
        // Deletes do not carry seeds; move past them too.
        log.next_seed += 1;

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
        let in_flight = log.in_flight.clone();
        let mut verified = 0u32;
        for (key, state) in log.expected.clone() {
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
                    verified += 1;
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
            log.expected.insert(key, actual);
        }
        // A delete touches one key and the seeds cycle through all of them, so
        // once a put is acknowledged some object is always there to read back.
        assert!(
            verified > 0,
            "round {round}: no object was read back, so nothing was verified"
        );
        eprintln!(
            "round {round}: {} acknowledged writes survived the kill, {verified} objects verified",
            log.acked
        );
        total_acked += u64::from(log.acked);
        total_verified += u64::from(verified);
        drop(store);
    }
    eprintln!(
        "crash summary: {rounds} rounds, {total_acked} acknowledged writes, \
         {total_verified} verified objects ({postponed} kills waited for a first acknowledgement)"
    );
}
