//! A bounded map that keeps what was used recently, in two generations:
//! lookups promote entries into the current one, and when it is full the
//! previous generation is dropped and the current one takes its place. That
//! approximates least recently used at the cost of one map insert.

use std::collections::HashMap;
use std::hash::Hash;

/// See the module documentation.
pub struct Recent<K, V> {
    /// Entries per generation; `0` keeps nothing.
    generation_len: usize,
    current: HashMap<K, V>,
    previous: HashMap<K, V>,
}

impl<K: Hash + Eq + Copy, V> Recent<K, V> {
    /// A map of at most `entries` entries.
    pub fn new(entries: usize) -> Self {
        Self {
            generation_len: entries / 2,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    /// The entry for `key`, made most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        if self.generation_len == 0 {
            return None;
        }
        if !self.current.contains_key(key) {
            let entry = self.previous.remove(key)?;
            self.insert(*key, entry);
        }
        self.current.get(key)
    }

    /// Keeps `value` for `key`.
    pub fn insert(&mut self, key: K, value: V) {
        if self.generation_len == 0 {
            return;
        }
        if self.current.len() >= self.generation_len {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }

    /// Keeps only the entries for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.current.retain(|key, value| keep(key, value));
        self.previous.retain(|key, value| keep(key, value));
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.current.clear();
        self.previous.clear();
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
