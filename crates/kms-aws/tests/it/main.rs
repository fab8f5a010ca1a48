//! coffer-kms-aws's integration tests, in one test binary so that RocksDB (for
//! the store over AWS KMS) is linked once: each file beside this one is a
//! module. Every test starts its own moto server, so the tests that stop one
//! with SIGSTOP stop only their own.

mod admin_calls;
mod conformance;
mod store_over_aws_kms;
