//! The baselines coffer's benchmarks run in the same process, on the same
//! bytes: RocksDB as a user would open it instead of coffer, and RocksDB opened
//! with coffer's own options and key layout (which isolates what encryption
//! costs).

pub mod baseline;
