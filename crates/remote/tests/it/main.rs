//! coffer-remote's integration tests, one binary: the object API's
//! conformance suite over `InMemory` and `LocalFileSystem`, tampering done
//! behind coffer's back, and stores shared by several handles.

mod common;
mod conformance;
mod integration;
mod moto;
mod sharing;
mod tampering;
