//! List a bucket's objects: by prefix, from a marker, grouped by delimiter.

use bytes::Bytes;
use rocksdb::IteratorMode;

use crate::engine::db::storage;
use crate::format::columns::{object_key, split_object_key};
use crate::{ColumnFamily, Error, Result, Store};
use crate::{ListOptions, ListResult, ObjectSummary};

impl Store {
    /// Lists a bucket's objects in key order.
    pub fn list_objects(&self, bucket: &str, options: &ListOptions) -> Result<ListResult> {
        self.bucket_record(bucket)?;
        let max_keys = options.max_keys.unwrap_or(1000).min(1000);
        let mut result = ListResult::default();
        if max_keys == 0 {
            return Ok(result);
        }
        let full_prefix = object_key(bucket, &options.prefix);
        let start = match &options.start_after {
            Some(after) if after.as_str() >= options.prefix.as_str() => {
                let mut k = object_key(bucket, after);
                k.push(0);
                k
            }
            _ => full_prefix.clone(),
        };
        let db = self.db()?;
        let objects = db.cf(ColumnFamily::Objects)?;
        // A page that ended on a common prefix continues after every key in it.
        let mut last_prefix: Option<String> = options.start_after.clone().filter(|after| {
            let delimiter = options.delimiter.as_deref().unwrap_or_default();
            !delimiter.is_empty()
                && after.starts_with(options.prefix.as_str())
                && after[options.prefix.len()..]
                    .find(delimiter)
                    .is_some_and(|at| options.prefix.len() + at + delimiter.len() == after.len())
        });
        for item in db.iterator_cf(
            objects,
            IteratorMode::From(&start, rocksdb::Direction::Forward),
        ) {
            let (raw_key, value) = item.map_err(storage)?;
            if !raw_key.starts_with(&full_prefix) {
                break;
            }
            let (_, key) = split_object_key(&raw_key)
                .ok_or_else(|| Error::CorruptRecord("object key".into()))?;
            let rest = &key[options.prefix.len()..];
            let grouped = options
                .delimiter
                .as_deref()
                .filter(|d| !d.is_empty())
                .and_then(|d| {
                    rest.find(d)
                        .map(|at| format!("{}{}", options.prefix, &rest[..at + d.len()]))
                });
            if result.objects.len() + result.common_prefixes.len() == max_keys {
                if grouped.is_none() || grouped != last_prefix {
                    result.is_truncated = true;
                    break;
                }
                continue;
            }
            match grouped {
                Some(common) => {
                    if last_prefix.as_ref() != Some(&common) {
                        result.common_prefixes.push(common.clone());
                        result.next_start_after = Some(common.clone());
                        last_prefix = Some(common);
                    }
                }
                None => {
                    let record =
                        self.inner
                            .records
                            .open(bucket, key, Bytes::from(value.into_vec()))?;
                    let meta = self.meta_of(bucket, key, &record)?;
                    result.next_start_after = Some(key.to_owned());
                    result.objects.push(ObjectSummary {
                        key: key.to_owned(),
                        size: meta.size,
                        etag: meta.etag,
                        last_modified: meta.last_modified,
                        protection: meta.protection,
                    });
                }
            }
        }
        if !result.is_truncated {
            result.next_start_after = None;
        }
        Ok(result)
    }
}
