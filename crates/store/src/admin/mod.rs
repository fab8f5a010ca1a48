//! Administration: bulk key jobs, maintenance on open, verify, key usage and
//! migration of stores written by earlier versions.

pub(crate) mod jobs;
pub(crate) mod key_usage;
pub(crate) mod maintenance;
pub(crate) mod migrate;
pub(crate) mod verify;
