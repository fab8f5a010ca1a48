//! Listing a bucket: the backend's listing under `bucket/`, sizes from the
//! stored lengths, and each listed object's trailer fetched (several at
//! once) for the protection it reports. Objects that are not coffer's are
//! left out with a warning.

use std::sync::Arc;

use coffer_sse::{Error, ListOptions, ListResult, ObjectSummary, Result};
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};

use crate::RemoteStore;
use crate::backend::{bucket_prefix, storage};

/// Trailers fetched at once while listing.
const LISTING_FETCHES: usize = 16;
/// A page holds at most this many keys unless asked for fewer.
const DEFAULT_MAX_KEYS: usize = 1000;
/// What a listing reads of each object's end.
const LISTING_TAIL: u64 = 8 << 10;

/// An object's metadata and last bytes.
pub(crate) type Tail = (object_store::ObjectMeta, bytes::Bytes);

impl RemoteStore {
    pub(crate) fn list_objects(&self, bucket: &str, options: &ListOptions) -> Result<ListResult> {
        self.bucket_or_missing(bucket)?;
        let root = bucket_prefix(bucket)?;
        // The backend lists whole path segments: from the prefix's last
        // whole one, filtered by the rest.
        let directory = match options.prefix.rfind('/') {
            Some(at) => Path::parse(format!("{bucket}/{}", &options.prefix[..at]))
                .unwrap_or_else(|_| root.clone()),
            None => root.clone(),
        };
        // No offset for the backend: SeaweedFS's S3 skips the keys under
        // `a/` after `a` (object_store's put_get_delete_list shows it with
        // its plain client); keys up to `start_after` are skipped here.
        let listed = self.inner.backend.list(&directory)?;
        let max_keys = options.max_keys.unwrap_or(DEFAULT_MAX_KEYS).max(1);
        let cut = bucket.len() + 1;
        let mut result = ListResult::default();
        let mut chosen = Vec::new();
        let mut last_key = None;
        for meta in listed {
            let Some(key) = meta.location.as_ref().get(cut..).map(str::to_owned) else {
                continue;
            };
            if !key.starts_with(&options.prefix)
                || options
                    .start_after
                    .as_ref()
                    .is_some_and(|after| key <= *after)
            {
                continue;
            }
            if let Some(delimiter) = options.delimiter.as_deref().filter(|d| !d.is_empty())
                && let Some(at) = key[options.prefix.len()..].find(delimiter)
            {
                let common = key[..options.prefix.len() + at + delimiter.len()].to_owned();
                if result.common_prefixes.last() != Some(&common) {
                    if chosen.len() + result.common_prefixes.len() >= max_keys {
                        result.is_truncated = true;
                        break;
                    }
                    last_key = Some(common.clone());
                    result.common_prefixes.push(common);
                }
                continue;
            }
            if chosen.len() + result.common_prefixes.len() >= max_keys {
                result.is_truncated = true;
                break;
            }
            last_key = Some(key.clone());
            chosen.push((key, meta));
        }
        if result.is_truncated {
            result.next_start_after = last_key;
        }
        let tails = self.fetch_tails(chosen.iter().map(|(_, meta)| meta.location.clone()))?;
        for ((key, _), fetched) in chosen.into_iter().zip(tails) {
            let Some((meta, tail)) = fetched? else {
                continue; // deleted since it was listed
            };
            let path = meta.location.clone();
            match self.authenticate(bucket, &key, path, meta, tail, None) {
                Ok(object) => result.objects.push(ObjectSummary {
                    key,
                    size: object.meta.size,
                    etag: object.meta.etag,
                    last_modified: object.meta.last_modified,
                    protection: object.meta.protection,
                }),
                Err(Error::Integrity(reason)) => {
                    tracing::warn!(bucket, key, %reason, "left out of a listing: not a readable coffer object");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(result)
    }

    /// The last bytes of each object at `paths`, several fetched at once
    /// (`None` for one that is gone).
    pub(crate) fn fetch_tails(
        &self,
        paths: impl Iterator<Item = Path>,
    ) -> Result<Vec<Result<Option<Tail>>>> {
        let store: Arc<dyn ObjectStore> = Arc::clone(self.inner.backend.store());
        let paths: Vec<Path> = paths.collect();
        let fetched = self.inner.backend.block(async move {
            futures_util::stream::iter(paths)
                .map(|path| {
                    let store = Arc::clone(&store);
                    async move {
                        let options = GetOptions {
                            range: Some(GetRange::Suffix(LISTING_TAIL)),
                            ..GetOptions::default()
                        };
                        match store.get_opts(&path, options).await {
                            Ok(result) => {
                                let meta = result.meta.clone();
                                result.bytes().await.map(|bytes| Some((meta, bytes)))
                            }
                            Err(object_store::Error::NotFound { .. }) => Ok(None),
                            Err(error) => Err(error),
                        }
                    }
                })
                .buffered(LISTING_FETCHES)
                .collect::<Vec<_>>()
                .await
        })?;
        Ok(fetched
            .into_iter()
            .map(|result| result.map_err(storage))
            .collect())
    }
}
