//! Bodies both ways, with bounded memory: a request body as the engine's
//! payload, and an object's plaintext stream as a response body.
//!
//! A request body up to [`crate::IN_MEMORY_BODY`] is read into one buffer
//! (one blocking call for a small put); a larger one is handed to the engine
//! as a blocking `Read` over the async body, so the engine seals it chunk by
//! chunk as it arrives. Either way a body over the gateway's limit is
//! `EntityTooLarge` and a body that ends before its `Content-Length` (or
//! fails its signature) fails the put: the engine stores nothing it did not
//! read to the end.
//!
//! A response body is the engine's plaintext stream: the object is opened
//! and its first buffer read in one blocking call, and one blocking task
//! stays a buffer ahead of the client through a channel of two. A buffer
//! that fails authentication ends the body with an error (the connection is
//! cut), never with unauthenticated bytes.

use std::io::{self, Read};

use bytes::{Bytes, BytesMut};
use coffer_sse::{Error, PlaintextStream, PutPayload};
use futures_util::{StreamExt, TryStreamExt};
use s3s::S3Result;
use s3s::dto::StreamingBlob;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::errors::{RequestBodyError, to_s3};

/// Buffers decrypted ahead of the client.
const READ_AHEAD: usize = 2;

/// A request body on its way to the engine.
pub(crate) enum Incoming {
    /// Read whole (small).
    Buffered(Bytes),
    /// Read as the engine asks for it.
    Streamed(Box<dyn Read + Send>),
}

impl Incoming {
    /// The engine's payload.
    pub(crate) fn payload(self) -> PutPayload<'static> {
        match self {
            Self::Buffered(bytes) => PutPayload::Bytes(bytes),
            Self::Streamed(reader) => PutPayload::Reader(reader),
        }
    }
}

/// `body` (of `declared` bytes, if the request said) as the engine will read
/// it, refusing more than `limit` bytes. Call on the runtime: a streamed
/// body is read on the blocking pool through the runtime's handle.
pub(crate) async fn incoming(
    body: Option<StreamingBlob>,
    declared: Option<i64>,
    limit: u64,
) -> S3Result<Incoming> {
    let Some(body) = body else {
        return Ok(Incoming::Buffered(Bytes::new()));
    };
    let declared = declared.and_then(|n| u64::try_from(n).ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let stream = body
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, RequestBodyError(e.to_string())));
    if declared.is_some_and(|n| n <= crate::IN_MEMORY_BODY) {
        let mut stream = stream;
        let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| to_s3(Error::from(e)))?;
            if (buffer.len() + piece.len()) as u64 > limit {
                return Err(too_large(limit));
            }
            buffer.extend_from_slice(&piece);
        }
        return Ok(Incoming::Buffered(buffer.freeze()));
    }
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    Ok(Incoming::Streamed(Box::new(Bounded {
        inner: reader,
        left: limit,
        limit,
    })))
}

fn too_large(limit: u64) -> s3s::S3Error {
    to_s3(Error::TooLarge(format!(
        "the body is over the gateway's limit of {limit} bytes"
    )))
}

/// A reader that fails once more than `limit` bytes have come through.
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            let limit = self.limit;
            return Err(Error::TooLarge(format!(
                "the body is over the gateway's limit of {limit} bytes"
            ))
            .into());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// An opened object's plaintext and its first buffer, read on the blocking
/// pool.
pub(crate) struct Outgoing<S> {
    pub(crate) stream: S,
    /// The plaintext range the body holds (taken before the first read:
    /// an engine's stream may narrow its own as it yields).
    pub(crate) range: std::ops::Range<u64>,
    first: Option<Bytes>,
}

impl<S: PlaintextStream + 'static> Outgoing<S> {
    /// `stream` with its first buffer read (blocking).
    pub(crate) fn read_first(mut stream: S) -> S3Result<Self> {
        let range = stream.range();
        let first = stream.next().transpose().map_err(to_s3)?;
        Ok(Self {
            stream,
            range,
            first,
        })
    }

    /// The response body: the first buffer, then the rest read by one
    /// blocking task a buffer ahead.
    pub(crate) fn into_body(self) -> StreamingBlob {
        let wanted = self.range.end - self.range.start;
        let first_len = self.first.as_ref().map_or(0, |b| b.len() as u64);
        let first = futures_util::stream::iter(self.first.map(Ok::<_, io::Error>));
        if first_len >= wanted {
            return StreamingBlob::wrap(first);
        }
        let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(READ_AHEAD);
        let mut stream = self.stream;
        tokio::task::spawn_blocking(move || {
            for item in stream.by_ref() {
                let failed = item.is_err();
                if sender.blocking_send(item.map_err(io::Error::from)).is_err() || failed {
                    return;
                }
            }
        });
        let rest = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        StreamingBlob::wrap(first.chain(rest))
    }
}
