//! The key-usage report: how many objects (and bytes) each key version
//! protects, counted from the records themselves, so that "no object is left
//! under the old version" is shown, not assumed, before a version is retired.

use std::collections::BTreeMap;

use rocksdb::{Direction, IteratorMode};

use crate::ProtectionMode;
use crate::engine::db::storage;
use crate::format::columns::{object_key, split_object_key};
use crate::{ColumnFamily, Result, Store};

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

/// What [`Store::key_usage`] counted.
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

impl Store {
    /// Counts the objects of `bucket` (every bucket if `None`) per protection
    /// mode, key id and key version, by reading and authenticating every
    /// object record (not the payloads: see [`Store::verify`] for those).
    pub fn key_usage(&self, bucket: Option<&str>) -> Result<KeyUsageReport> {
        if let Some(bucket) = bucket {
            self.bucket_record(bucket)?;
        }
        let in_scope = |name: &str| bucket.is_none_or(|wanted| wanted == name);
        let db = self.db()?;
        let mut report = KeyUsageReport::default();
        let mut counted: BTreeMap<(u8, Option<String>, Option<u32>), KeyUsage> = BTreeMap::new();
        let prefix = bucket.map(|b| object_key(b, "")).unwrap_or_default();
        for item in db.iterator_cf(
            db.cf(ColumnFamily::Objects)?,
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (raw_key, value) = item.map_err(storage)?;
            if !raw_key.starts_with(&prefix) {
                break;
            }
            let Some((b, k)) = split_object_key(&raw_key) else {
                if bucket.is_none() {
                    report.unreadable.push(hex::encode(&raw_key));
                }
                continue;
            };
            let protection = self
                .inner
                .records
                .open_scanned(b, k, value.into_vec().into())
                .and_then(|record| Ok((self.protection_of(b, &record)?, record.size)));
            let (protection, size) = match protection {
                Ok(found) => found,
                Err(_) => {
                    report.unreadable.push(format!("{b}/{k}"));
                    continue;
                }
            };
            let rank = match protection.mode {
                ProtectionMode::None => 0,
                ProtectionMode::Aes256 => 1,
                ProtectionMode::Kms => 2,
            };
            let version = protection.key_version.filter(|_| rank > 0);
            let entry = counted
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
        report.uploads_in_progress = self
            .uploads()?
            .iter()
            .filter(|(_, upload)| in_scope(&upload.bucket))
            .count() as u64;
        report.usage = counted.into_values().collect();
        Ok(report)
    }
}
