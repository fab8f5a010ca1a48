//! [`RemoteReader`] (`Read + Seek`, 1 MiB windows) and [`RemoteStream`]
//! (buffers, 8 MiB windows) over an opened remote object: each fetches a
//! window of chunks at a time, pinned to the ETag the object was opened at,
//! so memory stays bounded and a replaced object is an error, never a mix of
//! two.
//!
//! A stream is opened by one request that fits what it will yield: the last
//! window of the body for a whole object (all of it, for an object of up to
//! a window: one request), the trailer for a range. It fetches the windows
//! before the cached end while it yields, [`STREAMS_AHEAD`] at once, so a
//! large object's requests overlap each other and the caller's work.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use coffer_cipher::{CHUNK_LEN, SEALED_CHUNK_LEN};
use coffer_keyring::Caller;
use coffer_sse::{
    ByteRange, Error, GetConditions, ObjectMeta, ObjectRead, PlaintextStream, Result,
};

use crate::RemoteStore;
use crate::backend::{Fetched, Pending};
use crate::layout::stored_len;
use crate::read::{First, Front, Opened, Piece, Sealed, TAIL_LEN, pinned_bytes};

/// Plaintext a reader fetches per window: a whole number of chunks.
const WINDOW: u64 = 1 << 20;
/// Plaintext a stream fetches (and yields) per window: one request per part
/// of a put's default size, so a whole get makes few requests in a row.
pub(crate) const STREAM_WINDOW: u64 = crate::DEFAULT_PART_SIZE as u64;
/// Windows a stream has in flight while it yields.
pub(crate) const STREAMS_AHEAD: usize = 2;

/// What a stream of `range` (all of the object for `None`) fetches first.
/// A revalidation (`If-None-Match`, `If-Modified-Since`), which is often
/// answered with no body at all, fetches only the trailer.
pub(crate) fn stream_first(range: Option<&ByteRange>, conditions: &GetConditions) -> First {
    if conditions.if_none_match.is_some() || conditions.if_modified_since.is_some() {
        return First::Last(TAIL_LEN);
    }
    match range {
        // All of an object of up to a window.
        None => First::Last(stored_len(STREAM_WINDOW).unwrap_or(STREAM_WINDOW + TAIL_LEN)),
        Some(ByteRange::Suffix(n)) => {
            // The chunks under the plaintext's last n bytes, tags included.
            let sealed = n + n / CHUNK_LEN as u64 * 16 + 2 * SEALED_CHUNK_LEN as u64;
            First::Last(TAIL_LEN + sealed.min(STREAM_WINDOW))
        }
        Some(_) => First::Last(TAIL_LEN),
    }
}

/// A remote object opened for reading.
pub struct RemoteReader {
    opened: Arc<Opened>,
    position: u64,
    window: Bytes,
    window_start: u64,
}

impl RemoteReader {
    pub(crate) fn new(opened: Arc<Opened>) -> Self {
        Self {
            opened,
            position: 0,
            window: Bytes::new(),
            window_start: 0,
        }
    }

    fn size(&self) -> u64 {
        self.opened.object.meta.size
    }
}

impl Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.size();
        if self.position >= size || buf.is_empty() {
            return Ok(0);
        }
        let window_end = self.window_start + self.window.len() as u64;
        if self.position < self.window_start || self.position >= window_end {
            let start = self.position / WINDOW * WINDOW;
            let end = (start + WINDOW).min(size);
            self.window = self.opened.read(start..end).map_err(std::io::Error::from)?;
            self.window_start = start;
        }
        let at = (self.position - self.window_start) as usize;
        let n = buf.len().min(self.window.len() - at);
        buf[..n].copy_from_slice(&self.window[at..at + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.size().checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        self.position = target;
        Ok(target)
    }
}

impl ObjectRead for RemoteReader {
    fn meta(&self) -> &ObjectMeta {
        &self.opened.object.meta
    }

    fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>> {
        let size = self.size();
        if range.start > range.end || range.end > size {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        Ok(self.opened.read(range)?.to_vec())
    }
}

/// A remote object's plaintext, a window at a time.
pub struct RemoteStream {
    opened: Arc<Opened>,
    range: Range<u64>,
    /// Where the next window to yield starts.
    next: u64,
    /// Where the next window to fetch starts.
    planned: u64,
    /// Windows fetched ahead, in order.
    ahead: VecDeque<Window>,
    /// Where the plaintext the open cached starts (within the range): the
    /// bytes before it are fetched in windows of `window_len`, those after
    /// it yielded as one window.
    cut: u64,
    window_len: u64,
    /// For a whole read, the windows before the cached bytes as the open
    /// planned them (some fetched already).
    front: Option<Front>,
    /// Buffers of the last window opened, not yielded yet.
    ready: VecDeque<Bytes>,
    started: bool,
}

/// A window of a stream: its pieces, and the fetch of those the open did
/// not cache.
struct Window {
    end: u64,
    pieces: Vec<Piece>,
    fetch: Option<(u64, Pending<Result<Fetched>>)>,
}

impl RemoteStream {
    pub(crate) fn new(opened: Arc<Opened>) -> Self {
        let size = opened.object.meta.size;
        let mut stream = Self {
            opened,
            range: 0..size,
            next: 0,
            planned: 0,
            ahead: VecDeque::new(),
            cut: 0,
            window_len: STREAM_WINDOW,
            front: None,
            ready: VecDeque::new(),
            started: false,
        };
        stream.set_range(0..size);
        stream
    }

    /// The object at bucket/key opened for `range` (all of it for `None`;
    /// still to be narrowed to it), by the first request
    /// [`stream_first`] gives. A whole read fetches the windows before its
    /// last one from the moment the body's length is known.
    pub(crate) fn open(
        store: &RemoteStore,
        (bucket, key): (&str, &str),
        range: Option<&ByteRange>,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Self> {
        match (range, stream_first(range, conditions)) {
            (None, First::Last(first_len)) if first_len > TAIL_LEN => {
                let (opened, front) =
                    Opened::open_whole(store, bucket, key, first_len, conditions, caller)?;
                let mut stream = Self::new(opened);
                stream.front = front;
                Ok(stream)
            }
            (_, first) => Ok(Self::new(Opened::open(
                store, bucket, key, first, conditions, caller,
            )?)),
        }
    }

    /// Yields `range`: the windows before the cached bytes split evenly, in
    /// whole chunks, none much longer than [`STREAM_WINDOW`] (no short
    /// window costs a request of its own).
    fn set_range(&mut self, range: Range<u64>) {
        // The open's windows were for the whole object.
        self.front = None;
        let cut = self
            .opened
            .object
            .cached_plain_from()
            .clamp(range.start, range.end);
        let before = cut - range.start;
        let windows = ((before + STREAM_WINDOW / 2) / STREAM_WINDOW).max(1);
        let chunk = CHUNK_LEN as u64;
        self.window_len = before.div_ceil(windows).div_ceil(chunk).max(1) * chunk;
        self.cut = cut;
        self.next = range.start;
        self.planned = range.start;
        self.range = range;
    }

    /// Starts fetching the window at `self.planned`.
    fn plan(&mut self) {
        let front_left = self
            .front
            .as_ref()
            .is_some_and(|front| front.next + 1 < front.bounds.len());
        if front_left && self.planned < self.cut {
            return self.plan_front();
        }
        let start = self.planned;
        let end = if start < self.cut {
            (start + self.window_len).min(self.cut)
        } else {
            self.range.end
        };
        let object = &self.opened.object;
        let pieces = object.pieces(start..end);
        let missing = pieces
            .iter()
            .filter(|piece| object.cached_bytes(&piece.stored).is_none())
            .map(|piece| piece.stored.clone())
            .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end));
        let fetch = missing.map(|span| {
            let at = span.start;
            (at, self.opened.store.start_fetch_pinned(object, span))
        });
        self.ahead.push_back(Window { end, pieces, fetch });
        self.planned = end;
    }

    /// Plans the next of the open's windows: the chunks that start in its
    /// stored bytes, all of them whole in what it fetches.
    fn plan_front(&mut self) {
        let Some(front) = self.front.as_mut() else {
            return;
        };
        let object = &self.opened.object;
        let index = front.next;
        let span = front.span(index);
        let fetch = front
            .started
            .pop_front()
            .unwrap_or_else(|| self.opened.store.start_fetch_pinned(object, span.clone()));
        let start = self.planned;
        let end = object.plain_at(front.bounds[index + 1]).min(self.cut);
        let pieces = object.pieces(start..end);
        self.ahead.push_back(Window {
            end,
            pieces,
            fetch: Some((span.start, fetch)),
        });
        front.next += 1;
        self.planned = end;
    }

    /// The plaintext of `window`, once its fetch is in: a buffer for each
    /// of its pieces opened in place in the bytes fetched for this read
    /// alone, one for those opened from bytes shared (cached, or held by the
    /// backend's client too).
    fn open_window(&mut self, window: Window) -> Result<Vec<Bytes>> {
        // The window that ends the range is the last to read the bytes the
        // open cached (the body's end): it takes them, to open them in place
        // too when no one else holds them.
        let taken = match (&window.fetch, Arc::get_mut(&mut self.opened)) {
            (None, Some(opened)) if window.end == self.range.end => opened.object.take_cached(),
            _ => None,
        };
        let object = &self.opened.object;
        let fetched = match window.fetch {
            Some((at, mut fetch)) => Some((at, pinned_bytes(object, fetch.wait()?)?)),
            None => taken,
        };
        let short = || {
            Error::Integrity(format!(
                "object {}/{}: the backend returned fewer bytes than asked for",
                object.meta.bucket, object.meta.key
            ))
        };
        // Bytes no one else holds are split between the pieces, in order,
        // each opened where it lies.
        let (mut owned, mut shared) = (None, None);
        if let Some((at, bytes)) = fetched {
            match bytes.try_into_mut() {
                Ok(bytes) => owned = Some((at, bytes)),
                Err(bytes) => shared = Some((at, bytes)),
            }
        }
        object.open_pieces(
            &self.opened.store,
            self.opened.data_key.as_ref(),
            &window.pieces,
            |piece| {
                if let Some(bytes) = object.cached_bytes(&piece.stored) {
                    return Ok(Sealed::Shared(bytes));
                }
                if let Some((at, bytes)) = owned.as_mut() {
                    let (from, to) = within(&piece.stored, *at, bytes.len()).ok_or_else(short)?;
                    bytes.advance(from);
                    *at += from as u64;
                    let piece_bytes = bytes.split_to(to - from);
                    *at += (to - from) as u64;
                    return Ok(Sealed::Owned(piece_bytes));
                }
                let (at, bytes) = shared.as_ref().ok_or_else(short)?;
                let (from, to) = within(&piece.stored, *at, bytes.len()).ok_or_else(short)?;
                Ok(Sealed::Shared(bytes.slice(from..to)))
            },
        )
    }
}

/// Where `span` of the body lies in `len` bytes fetched from `at`.
fn within(span: &Range<u64>, at: u64, len: usize) -> Option<(usize, usize)> {
    let from = usize::try_from(span.start.checked_sub(at)?).ok()?;
    let to = usize::try_from(span.end.checked_sub(at)?).ok()?;
    (to <= len).then_some((from, to))
}

impl Iterator for RemoteStream {
    type Item = Result<Bytes>;

    fn next(&mut self) -> Option<Result<Bytes>> {
        self.started = true;
        if let Some(ready) = self.ready.pop_front() {
            return Some(Ok(ready));
        }
        if self.next >= self.range.end {
            return None;
        }
        while self.ahead.len() < STREAMS_AHEAD && self.planned < self.range.end {
            self.plan();
        }
        let window = self.ahead.pop_front()?;
        let end = window.end;
        match self.open_window(window) {
            Ok(buffers) => {
                self.next = end;
                self.ready.extend(buffers);
                self.ready.pop_front().map(Ok)
            }
            Err(error) => {
                // An error ends the stream; what was in flight is cancelled.
                self.next = self.range.end;
                self.ahead.clear();
                Some(Err(error))
            }
        }
    }
}

impl PlaintextStream for RemoteStream {
    fn meta(&self) -> &ObjectMeta {
        &self.opened.object.meta
    }

    fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    fn with_range(mut self, range: Range<u64>) -> Result<Self> {
        let size = self.opened.object.meta.size;
        if range.start > range.end || range.end > size {
            return Err(Error::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        if self.started {
            return Err(Error::InvalidArgument(
                "the stream has yielded already; set its range first".into(),
            ));
        }
        self.set_range(range);
        Ok(self)
    }
}
