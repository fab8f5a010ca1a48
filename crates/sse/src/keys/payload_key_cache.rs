//! A bounded, in-memory cache of the payload keys derived for recently read
//! objects, so that reading a small object again skips unwrapping its data key
//! and the HKDF-SHA512 derivation (most of the cost of a small read).
//!
//! Only objects under the store's own master keys ("AES256") read by the
//! trusted path are cached. A KMS-protected object is decrypted by its KMS on
//! every read, so that a disabled or deleted CMK, a session's policies and the
//! KMS's audit apply to each read, as they do in a cloud object store. An entry
//! remembers the master key version that wrapped its data key and is not used
//! once that version is retired.
//!
//! Entries are found by object id (random, fresh for every write) and used only
//! if everything else their keys were derived from matches too: bucket, wrapped
//! data key and the payload's prefix (header, salt, commitment). Entries are
//! kept in a [`Recent`] map (dropped entries' keys are zeroized).

use std::sync::Arc;

use coffer_cipher::PayloadKeys;
use parking_lot::Mutex;

use crate::keys::OBJECT_ID_LEN;
use crate::recent::Recent;

/// Keys derived for one payload, and the master key version behind them.
pub struct CachedKeys {
    /// The payload's keys.
    pub keys: PayloadKeys,
    /// The master key version (or CMK version) the data key was wrapped under.
    pub master_version: u32,
}

/// What, besides the object id, a payload's keys were derived from.
#[derive(PartialEq, Eq)]
pub(crate) struct KeySource {
    pub(crate) bucket: String,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) prefix: Vec<u8>,
}

impl KeySource {
    fn matches(&self, bucket: &str, wrapped_key: &[u8], prefix: &[u8]) -> bool {
        self.bucket == bucket && self.wrapped_key == wrapped_key && self.prefix == prefix
    }
}

type ObjectId = [u8; OBJECT_ID_LEN];

/// See the module documentation.
pub(crate) struct PayloadKeyCache {
    entries: Mutex<Recent<ObjectId, Entry>>,
}

/// An entry: what its keys were derived from, and the keys.
type Entry = (KeySource, Arc<CachedKeys>);

impl PayloadKeyCache {
    /// A cache of at most `entries` entries (`0` keeps none).
    pub(crate) fn new(entries: usize) -> Self {
        Self {
            entries: Mutex::new(Recent::new(entries)),
        }
    }

    /// The keys kept for the object `object_id` if they were derived from the
    /// same bucket, wrapped key and payload prefix; made most recently used.
    pub(crate) fn get(
        &self,
        object_id: &ObjectId,
        bucket: &str,
        wrapped_key: &[u8],
        prefix: &[u8],
    ) -> Option<Arc<CachedKeys>> {
        let mut entries = self.entries.lock();
        let (source, keys) = entries.get(object_id)?;
        source
            .matches(bucket, wrapped_key, prefix)
            .then(|| Arc::clone(keys))
    }

    /// Keeps `keys`, derived from `source`, for the object `object_id`.
    pub(crate) fn insert(&self, object_id: ObjectId, source: KeySource, keys: Arc<CachedKeys>) {
        self.entries.lock().insert(object_id, (source, keys));
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        self.entries.lock().clear();
    }

    /// Entries held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher};

    use super::*;

    fn id(n: u8) -> ObjectId {
        [n; OBJECT_ID_LEN]
    }

    fn keys(n: u8) -> Arc<CachedKeys> {
        let cipher = PayloadCipher::new(1);
        let key = DataKey::from_bytes([n; 32]);
        let identity = ObjectIdentity::new(b"s", "b", &id(n));
        let payload = cipher.seal(&key, &identity, Bytes::new()).expect("seals");
        Arc::new(CachedKeys {
            keys: cipher
                .payload_keys(&key, &identity, &payload)
                .expect("derives"),
            master_version: 1,
        })
    }

    fn insert(cache: &PayloadKeyCache, n: u8) {
        let source = KeySource {
            bucket: "b".into(),
            wrapped_key: vec![n],
            prefix: vec![n; 3],
        };
        cache.insert(id(n), source, keys(n));
    }

    fn get(cache: &PayloadKeyCache, n: u8) -> Option<Arc<CachedKeys>> {
        cache.get(&id(n), "b", &[n], &[n; 3])
    }

    #[test]
    fn holds_at_most_its_size_and_keeps_what_is_used() {
        let cache = PayloadKeyCache::new(8);
        for n in 0..4u8 {
            insert(&cache, n);
        }
        for n in 4..8u8 {
            insert(&cache, n);
            assert!(cache.len() <= 8);
        }
        // 0..4 are now the previous generation; reading 0 brings it back.
        assert!(get(&cache, 0).is_some());
        for n in 8..11u8 {
            insert(&cache, n);
        }
        assert!(get(&cache, 0).is_some(), "a recently read entry survives");
        assert!(get(&cache, 1).is_none(), "an unread old entry is gone");
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn an_entry_serves_only_what_it_was_derived_from() {
        let cache = PayloadKeyCache::new(8);
        insert(&cache, 1);
        assert!(get(&cache, 1).is_some());
        assert!(cache.get(&id(1), "other", &[1], &[1; 3]).is_none());
        assert!(cache.get(&id(1), "b", &[2], &[1; 3]).is_none());
        assert!(cache.get(&id(1), "b", &[1], &[1; 4]).is_none());
        assert!(cache.get(&id(2), "b", &[1], &[1; 3]).is_none());
    }

    #[test]
    fn size_zero_caches_nothing() {
        let cache = PayloadKeyCache::new(0);
        insert(&cache, 1);
        assert!(get(&cache, 1).is_none());
    }
}
