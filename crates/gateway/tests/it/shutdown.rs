//! Stopping the gateway: a PUT whose body is half sent when the stop is
//! asked for runs to its end and is stored; afterwards nothing listens.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::common;

#[test]
fn a_stop_drains_the_request_in_flight_and_closes_the_listener() {
    let Some((python, _)) = coffer_test_servers::python_and_aws_cli(&["botocore"]) else {
        return;
    };
    let mut g = common::start(Vec::new());
    g.store.create_bucket("drain").expect("bucket");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/slow_put.py");
    let size = 8 << 20;
    let mut child = Command::new(&python)
        .arg(script)
        .args([
            &g.endpoint(),
            common::TRUSTED_ID,
            common::TRUSTED_SECRET,
            "drain",
            "in-flight.bin",
            &size.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the script runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("reads");
    assert_eq!(first, "half-sent");

    // Stop while half the body is still to come, from another thread: the
    // stop waits for the request to finish.
    let address = g.address;
    let stopping = std::thread::spawn(move || {
        g.stop();
        g
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "the listener closes at once"
    );
    assert!(
        !stopping.is_finished(),
        "the stop waits for the request in flight"
    );
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin).expect("go on");
    let status = lines.next().expect("a status").expect("reads");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(child.wait().expect("exits").success());
    let g = stopping.join().expect("stopped");
    let meta = g
        .store
        .head_object("drain", "in-flight.bin")
        .expect("stored");
    assert_eq!(meta.size, size);
}
