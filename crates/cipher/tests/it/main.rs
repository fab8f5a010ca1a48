//! coffer-cipher's integration tests, in one test binary: each file beside
//! this one is a module. One file's tests run alone with its module's path as
//! the filter, e.g. `cargo test --release -p coffer-cipher --test it wycheproof::`.
//! proptest keeps the failures it finds here in `tests/proptest-regressions/`
//! (its place for sources under a `main.rs`).

mod properties;
mod tamper;
mod wycheproof;
