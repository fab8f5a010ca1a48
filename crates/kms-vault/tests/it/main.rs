//! coffer-kms-vault's integration tests, in one test binary so that RocksDB
//! (for the store over Transit) is linked once: each file beside this one is
//! a module, `common` is the OpenBao dev server fixture. Every test starts its
//! own server, so the tests that stop one with SIGSTOP stop only their own.

mod common;

mod conformance;
mod store_over_transit;
mod transit;
mod unavailable;
