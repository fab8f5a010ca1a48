//! Keys as the engine uses them: data keys for a write and for a read, bucket
//! keys and their cache, the payload-key cache, version pins, and the
//! retirement of unused key versions.

pub(crate) mod bucket_keys;
pub(crate) mod data_keys;
pub(crate) mod key_cache;
pub(crate) mod pins;
pub(crate) mod retirement;
