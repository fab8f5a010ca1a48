//! coffer-object-store's integration tests, in one test binary so that
//! RocksDB is linked once: each file beside this one is a module, `common` is
//! the fixture they share.

mod common;

mod adapter;
mod integration;
