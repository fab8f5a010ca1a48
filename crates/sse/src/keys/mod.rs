//! Keys as every engine uses them: the data key of each write (from the
//! master keyring, a KMS CMK, or derived from a bucket key), the data key or
//! payload keys of a stored object, the version pins that keep a key in use
//! from retirement, and the record key that authenticates what an engine
//! stores. [`Keys`] owns it all; an engine keeps its records through
//! [`KeyRecords`].
//!
//! - `data_keys`: [`Keys`], [`ResolvedRule`] (a rule with its CMK resolved),
//!   [`NewKey`].
//! - `bucket_keys`: [`BucketKeyOptions`] and the bucket keys' bounds and cache.
//! - `bucket_key_record`: [`BucketKeyRecord`], as stored.
//! - `payload_key_cache`: [`CachedKeys`], the payload keys of recent reads.
//! - `pins`: [`VersionPins`].
//! - `record_key`: [`RecordKey`] and the tags it computes.

mod bucket_key_record;
mod bucket_keys;
mod data_keys;
mod payload_key_cache;
mod pins;
mod record_key;

pub use bucket_key_record::BucketKeyRecord;
pub use bucket_keys::{BucketKeyOptions, bucket_key_context, derive_object_key};
pub use data_keys::{
    Keys, KeysConfig, MASTER_KEY_ID, NewKey, ResolvedRule, StoredKey, UNPROTECTED,
};
pub use payload_key_cache::CachedKeys;
pub use pins::{Pin, VersionPins};
pub use record_key::{RECORD_KEY_PURPOSE, RecordKey, TAG_LEN, Tag, split_tag, tags_equal};

use crate::Result;

/// How long an object id is (and an upload's, whose data key is bound to it).
pub const OBJECT_ID_LEN: usize = crate::ids::ID_LEN;

/// The id of a bucket key: 16 random bytes.
pub type BucketKeyId = [u8; OBJECT_ID_LEN];

/// The bucket a write goes to, as its keys are bound to it: its name and the
/// incarnation (a bucket deleted and created again is another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketRef<'a> {
    /// The bucket's name.
    pub name: &'a str,
    /// Which bucket of that name.
    pub incarnation: u64,
}

/// Where an engine keeps bucket key records, as [`Keys`] reads and writes
/// them: sealed bytes (tagged by the [`RecordKey`]), found by bucket and id.
pub trait KeyRecords {
    /// The sealed record of bucket key `id` of `bucket`, if there is one.
    fn bucket_key(&self, bucket: &str, id: &BucketKeyId) -> Result<Option<Vec<u8>>>;

    /// Every sealed bucket key record of `bucket`, with its id.
    fn bucket_keys(&self, bucket: &str) -> Result<Vec<(BucketKeyId, Vec<u8>)>>;

    /// Stores the sealed record of bucket key `id` of `bucket`, unless that
    /// bucket is gone (deleted, or deleted and created again: then
    /// [`Error::NoSuchBucket`](crate::Error::NoSuchBucket)). A record written
    /// while the bucket is deleted must never outlive it.
    fn put_bucket_key(
        &self,
        bucket: BucketRef<'_>,
        id: &BucketKeyId,
        sealed: Vec<u8>,
    ) -> Result<()>;
}
