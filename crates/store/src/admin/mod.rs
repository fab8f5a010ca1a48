//! Administration: the audit log's queries, bucket keys' records, bulk key
//! jobs, maintenance on open, verify, key usage, the retirement of unused key
//! versions and migration of stores written by earlier versions.

pub(crate) mod audit;
pub(crate) mod bucket_keys;
pub(crate) mod jobs;
pub(crate) mod key_usage;
pub(crate) mod maintenance;
pub(crate) mod migrate;
pub(crate) mod retirement;
pub(crate) mod verify;
