//! `compare -- store`, first part: what a 2 GiB streaming put and get and a
//! 1 GiB `put_object` of a body in memory cost in resident memory.

use std::io::{Read, Write as _};
use std::time::Instant;

use bytes::Bytes;
use coffer_store::{PutOptions, Store};

use crate::measure::{MIB, round};

/// Runs both memory cases on `store` (bucket `bench` must exist).
pub(crate) fn run(store: &Store, quick: bool) {
    streaming(store, if quick { 256 << 20 } else { 2 << 30 });
    put_in_memory(store, if quick { 256 << 20 } else { 1 << 30 });
}

/// A reader that makes `len` bytes on the fly, so the source holds no memory.
struct Generated {
    left: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = (self.left as usize + i) as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Starts the peak-RSS counter from the current footprint; returns it (KiB).
fn reset_peak_rss() -> u64 {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/clear_refs")
    {
        let _ = f.write_all(b"5");
    }
    status_kib("VmRSS:")
}

/// `put_object` of a body already in memory: the memory it takes above the
/// body itself (large bodies are sealed and written a segment at a time).
fn put_in_memory(store: &Store, len: usize) {
    let body: Bytes = (0..len)
        .map(|i| (i * 13 + 5) as u8)
        .collect::<Vec<_>>()
        .into();
    let before = reset_peak_rss();
    let started = Instant::now();
    store
        .put_object("bench", "in-memory", body.clone(), PutOptions::managed())
        .expect("put_object");
    let put_s = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    drop(body);
    store.delete_object("bench", "in-memory").expect("delete");
    println!(
        "{}",
        serde_json::json!({
            "case": "coffer_put_object_in_memory",
            "bytes": len,
            "put_mib_per_s": round(len as f64 / MIB / put_s),
            "peak_above_body_mib": round(peak.saturating_sub(before) as f64 / 1024.0),
        })
    );
}

fn streaming(store: &Store, len: u64) {
    let before = reset_peak_rss();
    let started = Instant::now();
    store
        .put_object_from_reader(
            "bench",
            "stream",
            Generated { left: len },
            PutOptions::managed(),
        )
        .expect("streaming put");
    let put_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut reader = store.open_object("bench", "stream").expect("open");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    assert_eq!(total, len);
    let get_s = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    println!(
        "{}",
        serde_json::json!({
            "case": "coffer_streaming_put_get",
            "bytes": len,
            "put_mib_per_s": round(len as f64 / MIB / put_s),
            "get_mib_per_s": round(len as f64 / MIB / get_s),
            "rss_before_mib": round(before as f64 / 1024.0),
            "peak_rss_mib": round(peak as f64 / 1024.0),
            "peak_above_baseline_mib": round(peak.saturating_sub(before) as f64 / 1024.0),
        })
    );
}
