//! Gets and heads: conditions and ranges as `object_store` gives them, the
//! body streamed one stored segment at a time.
//!
//! The object is opened (record read, conditions checked, key unwrapped) and
//! its first buffer read in one blocking call, so an object of one segment
//! costs one trip to the blocking pool. Larger objects are read on by one
//! blocking task that stays a segment ahead of the reader, through a channel
//! of two buffers: memory stays bounded whatever the object's size, and
//! decryption overlaps the reader's work.

use std::time::SystemTime;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use coffer_sse::{ByteRange, GetConditions, ObjectApi, PlaintextStream};
use futures_util::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{Extensions, GetOptions, GetRange, GetResult, GetResultPayload, ObjectMeta};

use crate::error::to_object_store;
use crate::{CofferObjectStore, attributes, blocking};

/// Buffers decrypted ahead of the reader.
const READ_AHEAD: usize = 2;

impl<A: ObjectApi + 'static> CofferObjectStore<A> {
    pub(crate) async fn get_with(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.version.is_some() {
            return Err(object_store::Error::NotSupported {
                source: "coffer keeps one version of an object".into(),
            });
        }
        let conditions = conditions(&options);
        let this = self.clone();
        let path = location.to_string();
        if options.head {
            let meta = blocking(move || {
                let inner = &this.inner;
                inner
                    .api
                    .head_object_as(&inner.bucket, &path, &conditions, &inner.caller)
                    .map_err(|e| to_object_store(e, &path))
            })
            .await?;
            return Ok(self.result(location, &meta, 0..meta.size, stream::empty().boxed()));
        }
        let range = options.range.as_ref().map(byte_range);
        let opened = blocking(move || {
            let inner = &this.inner;
            let stream = inner
                .api
                .get_object_stream_range_as(
                    &inner.bucket,
                    &path,
                    range.as_ref(),
                    &conditions,
                    &inner.caller,
                )
                .map_err(|e| to_object_store(e, &path))?;
            Opened::read_first(stream, &path)
        })
        .await?;
        let meta = opened.stream.meta().clone();
        let range = opened.range.clone();
        let body = opened.into_body(location.to_string());
        Ok(self.result(location, &meta, range, body))
    }

    fn result(
        &self,
        location: &Path,
        meta: &coffer_sse::ObjectMeta,
        range: std::ops::Range<u64>,
        body: BoxStream<'static, object_store::Result<Bytes>>,
    ) -> GetResult {
        let mut extensions = Extensions::new();
        extensions.insert(meta.protection.clone());
        GetResult {
            payload: GetResultPayload::Stream(body),
            meta: object_meta(location.clone(), meta.size, &meta.etag, meta.last_modified),
            range,
            attributes: attributes::reported(meta, self.protection_attributes),
            extensions,
        }
    }
}

/// An opened object and its first buffer.
struct Opened<S> {
    stream: S,
    range: std::ops::Range<u64>,
    first: Option<Bytes>,
}

impl<S: PlaintextStream + 'static> Opened<S> {
    fn read_first(mut stream: S, path: &str) -> object_store::Result<Self> {
        let range = stream.range();
        let first = stream
            .next()
            .transpose()
            .map_err(|e| to_object_store(e, path))?;
        Ok(Self {
            stream,
            range,
            first,
        })
    }

    fn into_body(self, path: String) -> BoxStream<'static, object_store::Result<Bytes>> {
        let wanted = self.range.end - self.range.start;
        let done = self.first.as_ref().map_or(0, |first| first.len() as u64) >= wanted;
        let first = stream::iter(self.first.map(Ok));
        // All of it in the first buffer: no task to read the rest.
        if done {
            return first.boxed();
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
        let mut rest = self.stream;
        tokio::task::spawn_blocking(move || {
            for buffer in rest.by_ref() {
                let failed = buffer.is_err();
                let buffer = buffer.map_err(|e| to_object_store(e, &path));
                // The reader went away: stop reading.
                if sender.blocking_send(buffer).is_err() || failed {
                    return;
                }
            }
        });
        let rest = stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|buffer| (buffer, receiver))
        });
        first.chain(rest).boxed()
    }
}

/// `object_store`'s range as coffer spells it (resolved the same way).
fn byte_range(range: &GetRange) -> ByteRange {
    match range {
        GetRange::Bounded(range) => ByteRange::Bounded(range.clone()),
        GetRange::Offset(start) => ByteRange::From(*start),
        GetRange::Suffix(n) => ByteRange::Suffix(*n),
    }
}

fn conditions(options: &GetOptions) -> GetConditions {
    let mut conditions = GetConditions::new();
    conditions.if_match = options.if_match.clone();
    conditions.if_none_match = options.if_none_match.clone();
    conditions.if_modified_since = options.if_modified_since.map(SystemTime::from);
    conditions.if_unmodified_since = options.if_unmodified_since.map(SystemTime::from);
    conditions
}

/// An object's `object_store` metadata.
pub(crate) fn object_meta(
    location: Path,
    size: u64,
    etag: &str,
    modified: SystemTime,
) -> ObjectMeta {
    ObjectMeta {
        location,
        last_modified: DateTime::<Utc>::from(modified),
        size,
        e_tag: Some(etag.to_owned()),
        version: None,
    }
}
