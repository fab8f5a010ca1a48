//! Listing: `object_store`'s path-segment prefixes over coffer's raw key
//! prefixes, page by page (a thousand keys per blocking call), and
//! `PaginatedListStore` over coffer's own pages.

use coffer_sse::{ListOptions, ListResult as StoreList, ObjectApi};
use futures_util::stream::{self, BoxStream, StreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListResult};
use object_store::path::{DELIMITER, Path};
use object_store::{ListResult, ObjectMeta};

use crate::error::to_object_store;
use crate::get::object_meta;
use crate::{CofferObjectStore, blocking};

/// Keys per page when the caller does not say.
const PAGE: usize = 1000;

/// The raw key prefix of a path prefix: `a/b` lists `a/b/…`, not `a/bc`.
pub(crate) fn key_prefix(prefix: Option<&Path>) -> String {
    match prefix.map(Path::as_ref) {
        None | Some("") => String::new(),
        Some(prefix) => format!("{prefix}{DELIMITER}"),
    }
}

impl<A: ObjectApi + 'static> CofferObjectStore<A> {
    /// One page of the bucket's listing, in a blocking call.
    async fn page(&self, options: ListOptions) -> object_store::Result<StoreList> {
        let this = self.clone();
        blocking(move || {
            let inner = &this.inner;
            inner
                .api
                .list_objects_as(&inner.bucket, &options, &inner.caller)
                .map_err(|e| to_object_store(e, &options.prefix))
        })
        .await
    }

    /// Every object under `prefix` (raw), after `start_after`, as a stream
    /// fetched a page at a time.
    pub(crate) fn list_from(
        &self,
        prefix: String,
        start_after: Option<String>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let this = self.clone();
        let pages = stream::unfold(Some(start_after), move |state| {
            let (this, prefix) = (this.clone(), prefix.clone());
            async move {
                let start_after = state?;
                let mut options = ListOptions::new();
                options.prefix = prefix;
                options.start_after = start_after;
                options.max_keys = Some(PAGE);
                match this.page(options).await.and_then(objects_of) {
                    Ok((objects, next)) => Some((Ok(objects), next.map(Some))),
                    Err(error) => Some((Err(error), None)),
                }
            }
        });
        pages
            .flat_map(|page| match page {
                Ok(objects) => stream::iter(objects.into_iter().map(Ok).collect::<Vec<_>>()),
                Err(error) => stream::iter(vec![Err(error)]),
            })
            .boxed()
    }

    /// The objects and common prefixes directly under `prefix`.
    pub(crate) async fn list_directory(
        &self,
        prefix: Option<&Path>,
    ) -> object_store::Result<ListResult> {
        let mut result = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
            extensions: Default::default(),
        };
        let mut start_after = None;
        loop {
            let mut options = ListOptions::new();
            options.prefix = key_prefix(prefix);
            options.start_after = start_after;
            options.max_keys = Some(PAGE);
            options.delimiter = Some(DELIMITER.to_owned());
            let page = self.page(options).await?;
            let next = page.next_start_after.clone();
            let (objects, prefixes) = entries_of(page)?;
            result.objects.extend(objects);
            result.common_prefixes.extend(prefixes);
            match next {
                Some(next) => start_after = Some(next),
                None => return Ok(result),
            }
        }
    }

    pub(crate) async fn list_page(
        &self,
        prefix: Option<&str>,
        options: PaginatedListOptions,
    ) -> object_store::Result<PaginatedListResult> {
        let mut list = ListOptions::new();
        list.prefix = prefix.unwrap_or_default().to_owned();
        // Both exclusive: start after the later of the two.
        list.start_after = match (options.offset, options.page_token) {
            (Some(offset), Some(token)) => Some(offset.max(token)),
            (offset, token) => offset.or(token),
        };
        list.max_keys = Some(options.max_keys.unwrap_or(PAGE).clamp(1, PAGE));
        list.delimiter = options.delimiter.map(|d| d.into_owned());
        let page = self.page(list).await?;
        let page_token = page.next_start_after.clone();
        let (objects, common_prefixes) = entries_of(page)?;
        Ok(PaginatedListResult {
            result: ListResult {
                common_prefixes,
                objects,
                extensions: Default::default(),
            },
            page_token,
        })
    }
}

/// A page's objects, and where the next page starts (`None`: last page).
fn objects_of(page: StoreList) -> object_store::Result<(Vec<ObjectMeta>, Option<String>)> {
    let next = page.next_start_after.clone();
    let (objects, _) = entries_of(page)?;
    Ok((objects, next))
}

fn entries_of(page: StoreList) -> object_store::Result<(Vec<ObjectMeta>, Vec<Path>)> {
    let objects = page
        .objects
        .into_iter()
        .map(|object| {
            Ok(object_meta(
                Path::parse(&object.key)?,
                object.size,
                &object.etag,
                object.last_modified,
            ))
        })
        .collect::<object_store::Result<Vec<_>>>()?;
    let prefixes = page
        .common_prefixes
        .iter()
        .map(|prefix| Ok(Path::parse(prefix.trim_end_matches(DELIMITER))?))
        .collect::<object_store::Result<Vec<_>>>()?;
    Ok((objects, prefixes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefixes_end_at_a_segment() {
        assert_eq!(key_prefix(None), "");
        assert_eq!(key_prefix(Some(&Path::from(""))), "");
        assert_eq!(key_prefix(Some(&Path::from("a/b"))), "a/b/");
    }
}
