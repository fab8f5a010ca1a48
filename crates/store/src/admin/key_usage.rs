//! The key-usage report over the objects family: every object record read
//! and authenticated, and counted by the core's
//! [`KeyUsageTally`](coffer_sse::KeyUsageTally).

use coffer_sse::{KeyUsageReport, KeyUsageTally};
use rocksdb::{Direction, IteratorMode};

use crate::engine::db::storage;
use crate::format::columns::{object_key, split_object_key};
use crate::{ColumnFamily, Result, Store};

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
        let mut tally = KeyUsageTally::new();
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
                    tally.unreadable(hex::encode(&raw_key));
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
                    tally.unreadable(format!("{b}/{k}"));
                    continue;
                }
            };
            tally.count(&protection, size);
        }
        let uploads = self
            .uploads()?
            .iter()
            .filter(|(_, upload)| in_scope(&upload.bucket))
            .count() as u64;
        Ok(tally.finish(uploads))
    }
}
