//! The key-usage report: how many objects (and bytes) each key version
//! protects, counted from the objects' authenticated records, so that "no
//! object is left under the old version" is shown, not assumed, before a
//! version is retired. Every engine counts with a [`KeyUsageTally`].

use std::collections::BTreeMap;

use crate::{Protection, ProtectionMode};

/// The objects protected by one key version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyUsage {
    /// How: `None` (unencrypted), `Aes256` (the master keyring), `Kms`.
    pub mode: ProtectionMode,
    /// The CMK, for `Kms`.
    pub key_id: Option<String>,
    /// The master key or CMK version wrapping the data keys (of the bucket
    /// key, for objects under one); `None` for unencrypted objects.
    pub key_version: Option<u32>,
    /// Objects under this version.
    pub objects: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// How many of them derive their data key from a bucket key.
    pub bucket_key_objects: u64,
}

/// What an engine's `key_usage` counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyUsageReport {
    /// One entry per (mode, key id, version), in that order.
    pub usage: Vec<KeyUsage>,
    /// `bucket/key` of records that fail to authenticate: their key is not
    /// known, so while any is listed the report proves nothing about old
    /// versions.
    pub unreadable: Vec<String>,
    /// Multipart uploads in progress in scope: their data keys are wrapped
    /// too (by the version current when they were created).
    pub uploads_in_progress: u64,
}

impl KeyUsageReport {
    /// Objects under a version below `version` of the master keyring
    /// (`key_id` `None`) or of the CMK `key_id`.
    pub fn objects_below(&self, key_id: Option<&str>, version: u32) -> u64 {
        self.usage
            .iter()
            .filter(|u| u.mode != ProtectionMode::None && u.key_id.as_deref() == key_id)
            .filter(|u| u.key_version.is_some_and(|v| v < version))
            .map(|u| u.objects)
            .sum()
    }
}

/// A report being counted: objects added one at a time by their protection.
#[derive(Debug, Default)]
pub struct KeyUsageTally {
    counted: BTreeMap<(u8, Option<String>, Option<u32>), KeyUsage>,
    unreadable: Vec<String>,
}

impl KeyUsageTally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts an object of `size` bytes protected as `protection`.
    pub fn count(&mut self, protection: &Protection, size: u64) {
        let rank = match protection.mode {
            ProtectionMode::None => 0,
            ProtectionMode::Aes256 => 1,
            ProtectionMode::Kms => 2,
        };
        let version = protection.key_version.filter(|_| rank > 0);
        let entry = self
            .counted
            .entry((rank, protection.kms_key_id.clone(), version))
            .or_insert_with(|| KeyUsage {
                mode: protection.mode,
                key_id: protection.kms_key_id.clone(),
                key_version: version,
                objects: 0,
                bytes: 0,
                bucket_key_objects: 0,
            });
        entry.objects += 1;
        entry.bytes += size;
        entry.bucket_key_objects += u64::from(protection.bucket_key);
    }

    /// Notes an object whose record does not authenticate.
    pub fn unreadable(&mut self, what: String) {
        self.unreadable.push(what);
    }

    /// The report, with the uploads in progress in scope.
    pub fn finish(self, uploads_in_progress: u64) -> KeyUsageReport {
        KeyUsageReport {
            usage: self.counted.into_values().collect(),
            unreadable: self.unreadable,
            uploads_in_progress,
        }
    }
}
