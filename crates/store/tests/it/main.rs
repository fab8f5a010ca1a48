//! coffer-store's integration tests, in one test binary so that RocksDB is
//! linked once rather than once per file: each file beside this one is a
//! module, `common` is what they share. One file's tests run alone with its
//! module's path as the filter, e.g.
//! `cargo test --release -p coffer-store --test it verify::`.
//!
//! `tests/memory.rs` is a binary of its own: it measures the peak resident
//! memory of its whole process, which other tests running beside it would
//! raise.
//!
//! `crash` and `job_crash` run this binary again as the process they kill,
//! with their child test's path here (`crash::crash_child`) as an exact
//! filter: renaming either module means changing that name too.
//!
//! proptest keeps the failures it found in these modules in
//! `tests/proptest-regressions/` (`model.txt` for `model`): its place for
//! sources under a `main.rs`.

mod common;

mod audit_log;
mod authorization_matrix;
mod bucket_keys;
mod concurrency;
mod conditional;
mod conformance;
mod crash;
mod destroyed_keys;
mod job_crash;
mod jobs;
mod key_races;
mod key_usage;
mod keys_end_to_end;
mod model;
mod multipart;
mod no_plaintext_on_disk;
mod object_stream;
mod objects;
mod permissions;
mod store_lifecycle;
mod tampered_records;
mod upgrade;
mod verify;
