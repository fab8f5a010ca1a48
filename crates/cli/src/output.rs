//! Output: a human line or a JSON document per result, and progress bars
//! (bytes, rate, ETA on a terminal; a plain line now and then otherwise).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use coffer_store::{ObjectMeta, Protection};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// Prints `human` as it is, or `document` as JSON.
    pub(crate) fn print(&self, human: impl FnOnce() -> String, document: impl FnOnce() -> Value) {
        if self.json {
            println!("{}", document());
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
}

pub(crate) fn protection_json(protection: &Protection) -> Value {
    json!({
        "mode": protection.mode.algorithm().unwrap_or("none"),
        "key_id": protection.kms_key_id,
        "key_version": protection.key_version,
        "bucket_key": protection.bucket_key,
    })
}

pub(crate) fn protection_text(protection: &Protection) -> String {
    match protection.mode.algorithm() {
        None => "unencrypted".into(),
        Some(mode) => {
            let mut text = mode.to_owned();
            if let Some(key) = &protection.kms_key_id {
                text.push_str(&format!(" key {key}"));
            }
            if let Some(version) = protection.key_version {
                text.push_str(&format!(" version {version}"));
            }
            if protection.bucket_key {
                text.push_str(" (bucket key)");
            }
            text
        }
    }
}

pub(crate) fn meta_json(meta: &ObjectMeta) -> Value {
    json!({
        "bucket": meta.bucket,
        "key": meta.key,
        "size": meta.size,
        "etag": meta.etag,
        "last_modified": seconds(meta.last_modified),
        "content_type": meta.attributes.content_type,
        "content_disposition": meta.attributes.content_disposition,
        "content_encoding": meta.attributes.content_encoding,
        "content_language": meta.attributes.content_language,
        "cache_control": meta.attributes.cache_control,
        "metadata": meta.user_metadata,
        "protection": protection_json(&meta.protection),
    })
}

pub(crate) fn seconds(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Progress of one long task, in bytes or in items.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: u64,
    done: u64,
    last_line: Instant,
}

impl Progress {
    /// Progress over `total` units of `what` (`"bytes"` shows bytes and a
    /// rate). Nothing is shown under `--json`.
    pub(crate) fn new(out: &Output, what: &'static str, total: u64) -> Self {
        let bar = (!out.json() && std::io::stderr().is_terminal()).then(|| {
            let template = if what == "bytes" {
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            } else {
                "{bar:40} {pos}/{len} objects, eta {eta}"
            };
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        Self {
            bar,
            what,
            total,
            done: 0,
            last_line: Instant::now(),
        }
    }

    /// `done` units are done so far.
    pub(crate) fn set(&mut self, done: u64) {
        self.done = done;
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if self.last_line.elapsed() >= Duration::from_secs(2) => {
                self.last_line = Instant::now();
                eprintln!("{} of {} {}", self.done, self.total, self.what);
            }
            None => {}
        }
    }

    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
