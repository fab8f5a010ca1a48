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
//! Entries are keyed by everything their keys were derived from: bucket, object
//! id, wrapped data key and the payload's prefix (header, salt, commitment). The
//! cache keeps two generations: lookups promote entries into the current one,
//! and when it is full the previous generation is dropped (its keys zeroized)
//! and the current one takes its place, which approximates least recently used
//! at the cost of one map insert.

use std::collections::HashMap;
use std::sync::Arc;

use coffer_cipher::PayloadKeys;
use parking_lot::Mutex;

/// Keys derived for one payload, and the master key version behind them.
pub(crate) struct CachedKeys {
    pub(crate) keys: PayloadKeys,
    pub(crate) master_version: u32,
}

/// See the module documentation.
pub(crate) struct PayloadKeyCache {
    /// Entries per generation; `0` disables the cache.
    generation_len: usize,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<Vec<u8>, Arc<CachedKeys>>,
    previous: HashMap<Vec<u8>, Arc<CachedKeys>>,
}

impl PayloadKeyCache {
    /// A cache of at most `entries` entries.
    pub(crate) fn new(entries: usize) -> Self {
        Self {
            generation_len: entries / 2,
            generations: Mutex::new(Generations::default()),
        }
    }

    /// The cache key of a payload: every input of its key derivation that is
    /// not the store's own.
    pub(crate) fn key(
        bucket: &str,
        object_id: &[u8],
        wrapped_key: &[u8],
        prefix: &[u8],
    ) -> Vec<u8> {
        let mut key = Vec::with_capacity(
            2 + bucket.len() + object_id.len() + wrapped_key.len() + prefix.len(),
        );
        for part in [bucket.as_bytes(), object_id, wrapped_key] {
            // Lengths keep the parts apart; none exceeds u16 (bucket names are
            // short, wrapped keys and ids fixed-size).
            key.extend_from_slice(&(part.len() as u16).to_le_bytes());
            key.extend_from_slice(part);
        }
        key.extend_from_slice(prefix);
        key
    }

    /// The keys cached under `key`, if any, made most recently used.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Arc<CachedKeys>> {
        if self.generation_len == 0 {
            return None;
        }
        let mut generations = self.generations.lock();
        if let Some(found) = generations.current.get(key) {
            return Some(Arc::clone(found));
        }
        let (key, found) = generations.previous.remove_entry(key)?;
        generations.insert(key, Arc::clone(&found), self.generation_len);
        Some(found)
    }

    /// Caches `keys` under `key`.
    pub(crate) fn insert(&self, key: Vec<u8>, keys: Arc<CachedKeys>) {
        if self.generation_len > 0 {
            self.generations
                .lock()
                .insert(key, keys, self.generation_len);
        }
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        let mut generations = self.generations.lock();
        generations.current.clear();
        generations.previous.clear();
    }

    /// Entries held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.generations.lock();
        generations.current.len() + generations.previous.len()
    }
}

impl Generations {
    fn insert(&mut self, key: Vec<u8>, keys: Arc<CachedKeys>, generation_len: usize) {
        if self.current.len() >= generation_len {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, keys);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher};

    use super::*;

    fn keys(n: u8) -> Arc<CachedKeys> {
        let cipher = PayloadCipher::new(1);
        let key = DataKey::from_bytes([n; 32]);
        let id = ObjectIdentity::new(b"s", "b", &[n]);
        let payload = cipher.seal(&key, &id, Bytes::new()).expect("seals");
        Arc::new(CachedKeys {
            keys: cipher.payload_keys(&key, &id, &payload).expect("derives"),
            master_version: 1,
        })
    }

    #[test]
    fn holds_at_most_its_size_and_keeps_what_is_used() {
        let cache = PayloadKeyCache::new(8);
        for n in 0..4u8 {
            cache.insert(vec![n], keys(n));
        }
        // Reading entry 0 keeps it through the next turnover.
        assert!(cache.get(&[0]).is_some());
        for n in 4..8u8 {
            cache.insert(vec![n], keys(n));
            assert!(cache.len() <= 8);
        }
        assert!(cache.get(&[0]).is_some(), "a recently read entry survives");
        assert!(cache.get(&[1]).is_none(), "an unread old entry is gone");
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn size_zero_caches_nothing() {
        let cache = PayloadKeyCache::new(0);
        cache.insert(vec![1], keys(1));
        assert!(cache.get(&[1]).is_none());
    }

    #[test]
    fn keys_keep_their_parts_apart() {
        assert_ne!(
            PayloadKeyCache::key("ab", b"c", b"", b""),
            PayloadKeyCache::key("a", b"bc", b"", b"")
        );
    }
}
