//! coffer-keyring's integration tests, in one test binary: each file beside
//! this one is a module. One file's tests run alone with its module's path as
//! the filter, e.g. `cargo test --release -p coffer-keyring --test it byok_import::`.

mod byok_import;
mod conformance;
mod kms_lifecycle;
mod master_keyring;
mod shared_kms;
