//! The object store underneath, called from the blocking object API: each
//! call runs on the calling thread in the context of a small runtime of the
//! engine's own (whose workers drive its I/O and the fetches a reader starts
//! ahead), so it works from any thread (a plain one, tokio's blocking pool,
//! even an async task, which it blocks but never panics), and the backend's
//! errors become coffer's.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use coffer_sse::{Error, Result, StorageError};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, GetResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMode, PutOptions, PutPayload, PutResult,
};

/// Where coffer keeps its own records in the backend: the keyring, bucket
/// records, bucket keys, uploads in progress. No object key starts with it.
pub const RESERVED_PREFIX: &str = ".coffer";

/// The backend and the runtime its calls run on.
pub(crate) struct Backend {
    store: Arc<dyn ObjectStore>,
    /// The same store's own multipart uploads, where the options gave them:
    /// a multipart upload's parts then go straight into one.
    multipart: Option<Arc<dyn MultipartStore>>,
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Backend {
    /// Without waiting: the last handle may be dropped on an async task,
    /// where a runtime must not block to shut down.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The object at `path` in `store`, as [`Backend::get`] reports it.
async fn get(store: Arc<dyn ObjectStore>, path: Path, options: GetOptions) -> Result<Fetched> {
    get_then(store, path, options, |_| ()).await.0
}

/// [`get`], calling `then` with the object's metadata as soon as the
/// response's headers are in, before its body (`None` if it failed).
async fn get_then<X>(
    store: Arc<dyn ObjectStore>,
    path: Path,
    options: GetOptions,
    then: impl FnOnce(&ObjectMeta) -> X,
) -> (Result<Fetched>, Option<X>) {
    let mut called = None;
    let result = async {
        let result: GetResult = store.get_opts(&path, options).await?;
        let meta = result.meta.clone();
        called = Some(then(&meta));
        let bytes = result.bytes().await?;
        Ok::<_, object_store::Error>((meta, bytes))
    }
    .await;
    let fetched = match result {
        Ok((meta, bytes)) => Ok(Fetched::Found(meta, bytes)),
        Err(object_store::Error::NotFound { .. }) => Ok(Fetched::Missing),
        Err(object_store::Error::Precondition { .. }) => Ok(Fetched::PreconditionFailed),
        Err(object_store::Error::NotModified { .. }) => Ok(Fetched::NotModified),
        Err(error) => Err(storage(error)),
    };
    (fetched, called)
}

/// Starts gets on a backend's runtime, from any thread.
pub(crate) struct GetStarter {
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Handle,
}

impl GetStarter {
    /// [`Backend::get`], started.
    pub(crate) fn start(&self, path: &Path, options: GetOptions) -> Pending<Result<Fetched>> {
        Pending {
            task: self
                .runtime
                .spawn(get(Arc::clone(&self.store), path.clone(), options)),
        }
    }
}

/// A call running on the engine's runtime: [`Pending::wait`] for its result.
/// Dropped unwaited (a reader that stopped early), the call is cancelled.
pub(crate) struct Pending<T> {
    task: tokio::task::JoinHandle<T>,
}

impl<T> Pending<T> {
    /// Its result, once the call has finished.
    pub(crate) fn wait(&mut self) -> Result<T> {
        futures_executor::block_on(&mut self.task).map_err(|_| Error::WorkerLost)
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the backend's error means for coffer.
pub(crate) fn storage(error: object_store::Error) -> Error {
    Error::Storage(StorageError::new(error))
}

impl Backend {
    /// `store` (with its own multipart uploads, if given), with a runtime of
    /// `threads` workers for its calls.
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        multipart: Option<Arc<dyn MultipartStore>>,
        threads: usize,
    ) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("coffer-remote")
            .enable_all()
            .build()
            .map_err(Error::Io)?;
        Ok(Self {
            store,
            multipart,
            runtime: Some(runtime),
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the backend")
    }

    /// The object store itself.
    pub(crate) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Whether the options gave the store's own multipart uploads.
    pub(crate) fn has_multipart(&self) -> bool {
        self.multipart.is_some()
    }

    /// Runs `call` on the store's own multipart uploads, on the calling
    /// thread like every call ([`Error::NotImplemented`] without them).
    pub(crate) fn on_multipart<T, F>(
        &self,
        call: impl FnOnce(Arc<dyn MultipartStore>) -> F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = object_store::Result<T>> + Send + 'static,
    {
        let multipart = self
            .multipart
            .clone()
            .ok_or_else(|| Error::NotImplemented {
                operation:
                    "the backend's own multipart uploads (RemoteOptions::with_multipart_store)"
                        .into(),
                engine: self.store.to_string(),
            })?;
        self.block(call(multipart))?.map_err(storage)
    }

    /// Runs `future` to its end on the calling thread, in the engine
    /// runtime's context (its I/O is driven by the runtime's workers, which
    /// wake this thread): no hop to a worker and back for each call.
    pub(crate) fn block<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let _context = self.runtime().enter();
        Ok(futures_executor::block_on(future))
    }

    /// What starts gets on this backend from anywhere (a callback too).
    pub(crate) fn starter(&self) -> GetStarter {
        GetStarter {
            store: Arc::clone(&self.store),
            runtime: self.runtime().handle().clone(),
        }
    }

    /// The object at `path` (`options.range` of it), calling `then` with
    /// its metadata as soon as the response's headers are in, before its
    /// body: `None` from `then` if the get failed.
    pub(crate) fn get_then<X: Send + 'static>(
        &self,
        path: &Path,
        options: GetOptions,
        then: impl FnOnce(&ObjectMeta) -> X + Send + 'static,
    ) -> Result<(Fetched, Option<X>)> {
        let (fetched, called) = self.block(get_then(
            Arc::clone(&self.store),
            path.clone(),
            options,
            then,
        ))?;
        Ok((fetched?, called))
    }

    /// The object at `path`: all of it, or `options.range`, if its
    /// conditions hold.
    pub(crate) fn get(&self, path: &Path, options: GetOptions) -> Result<Fetched> {
        self.block(get(Arc::clone(&self.store), path.clone(), options))?
    }

    /// [`Backend::get`], started: what a reader fetches ahead.
    pub(crate) fn start_get(&self, path: &Path, options: GetOptions) -> Pending<Result<Fetched>> {
        self.starter().start(path, options)
    }

    /// The last `len` bytes of the object at `path` (all of it if shorter).
    pub(crate) fn get_tail(&self, path: &Path, len: u64, options: GetOptions) -> Result<Fetched> {
        self.get(
            path,
            GetOptions {
                range: Some(GetRange::Suffix(len)),
                ..options
            },
        )
    }

    /// Writes `bytes` at `path` under `mode`; `Ok(None)` if the mode's
    /// condition did not hold (created already, or changed since).
    pub(crate) fn put(
        &self,
        path: &Path,
        payload: PutPayload,
        mode: PutMode,
    ) -> Result<Option<PutResult>> {
        let store = Arc::clone(&self.store);
        let path = path.clone();
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self.block(async move { store.put_opts(&path, payload, options).await })? {
            Ok(result) => Ok(Some(result)),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(None),
            Err(object_store::Error::NotImplemented {
                operation,
                implementer,
            }) => Err(Error::NotImplemented {
                operation,
                engine: implementer,
            }),
            Err(error) => Err(storage(error)),
        }
    }

    /// Deletes the object at `path`; succeeds if there is none.
    pub(crate) fn delete(&self, path: &Path) -> Result<()> {
        let store = Arc::clone(&self.store);
        let path = path.clone();
        match self.block(async move { store.delete(&path).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(storage(error)),
        }
    }

    /// Every object under `prefix` (a whole path segment), in path order.
    pub(crate) fn list(&self, prefix: &Path) -> Result<Vec<ObjectMeta>> {
        use futures_util::TryStreamExt;
        let store = Arc::clone(&self.store);
        let prefix = prefix.clone();
        let mut listed = self
            .block(async move { store.list(Some(&prefix)).try_collect::<Vec<_>>().await })?
            .map_err(storage)?;
        listed.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(listed)
    }
    /// Starts a multipart write of the object at `path`, in backend parts
    /// of `part_len` bytes (the last one shorter).
    pub(crate) fn write_parts(&self, path: &Path, part_len: usize) -> Result<PartWriter<'_>> {
        let store = Arc::clone(&self.store);
        let path = path.clone();
        let upload = self
            .block(async move { store.put_multipart(&path).await })?
            .map_err(storage)?;
        Ok(PartWriter {
            backend: self,
            upload: Some(upload),
            part_len,
            buffer: BytesMut::new(),
            in_flight: VecDeque::new(),
        })
    }
}

/// Parts in flight at once in a [`PartWriter`].
const PARTS_IN_FLIGHT: usize = 2;

/// An object written part by part, every part but the last of the same
/// length (at least 5 MiB, as S3 asks), the parts uploading while the next
/// is filled. Dropped unfinished, it aborts the upload: nothing appears.
pub(crate) struct PartWriter<'a> {
    backend: &'a Backend,
    upload: Option<Box<dyn MultipartUpload>>,
    part_len: usize,
    buffer: BytesMut,
    in_flight: VecDeque<tokio::task::JoinHandle<object_store::Result<()>>>,
}

impl PartWriter<'_> {
    /// Appends `data`, uploading each part as it fills.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        self.buffer.extend_from_slice(data);
        while self.buffer.len() >= self.part_len {
            let part = self.buffer.split_to(self.part_len).freeze();
            self.upload_part(part)?;
        }
        Ok(())
    }

    fn upload_part(&mut self, part: Bytes) -> Result<()> {
        let upload = self.upload.as_mut().ok_or(Error::WorkerLost)?;
        let future = upload.put_part(PutPayload::from(part));
        self.in_flight
            .push_back(self.backend.runtime().spawn(future));
        while self.in_flight.len() > PARTS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<()> {
        if let Some(handle) = self.in_flight.pop_front() {
            self.backend
                .block(handle)?
                .map_err(|_| Error::WorkerLost)?
                .map_err(storage)?;
        }
        Ok(())
    }

    /// Uploads what is left as the last part and completes the object.
    pub(crate) fn finish(mut self) -> Result<PutResult> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        self.upload_part(rest)?;
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        let mut upload = self.upload.take().ok_or(Error::WorkerLost)?;
        self.backend
            .block(async move { upload.complete().await })?
            .map_err(storage)
    }
}

impl Drop for PartWriter<'_> {
    fn drop(&mut self) {
        if let Some(mut upload) = self.upload.take() {
            for handle in self.in_flight.drain(..) {
                handle.abort();
            }
            if let Err(error) = self.backend.block(async move { upload.abort().await }) {
                tracing::warn!(%error, "could not abort an unfinished upload");
            }
        }
    }
}

/// An object written as it comes. Unconditionally: in one request if it
/// stays within one part, else as a multipart write. Under a condition
/// (`Create`, `Update`): always in one request, because an object store
/// completes a multipart write without conditions; so a conditional write
/// is held in memory, and refused once it outgrows `conditional_limit`.
pub(crate) struct ObjectWriter<'a> {
    backend: &'a Backend,
    path: Path,
    part_len: usize,
    conditional_limit: usize,
    mode: PutMode,
    /// Held and sent in one request even without a condition.
    one_request: bool,
    buffer: Vec<Bytes>,
    buffered: usize,
    parts: Option<PartWriter<'a>>,
}

impl<'a> ObjectWriter<'a> {
    /// Starts writing the object at `path` under `mode`.
    pub(crate) fn new(
        backend: &'a Backend,
        path: &Path,
        (part_len, conditional_limit): (usize, usize),
        mode: PutMode,
    ) -> Self {
        Self {
            backend,
            path: path.clone(),
            part_len,
            conditional_limit,
            mode,
            one_request: false,
            buffer: Vec::new(),
            buffered: 0,
            parts: None,
        }
    }

    /// Sends the object in one request whatever the mode (the caller knows
    /// it fits `conditional_limit`).
    pub(crate) fn in_one_request(mut self, one: bool) -> Self {
        self.one_request = one;
        self
    }

    /// Appends `data`.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<()> {
        if let Some(parts) = &mut self.parts {
            return parts.write(data);
        }
        self.buffered += data.len();
        self.buffer.push(Bytes::copy_from_slice(data));
        let conditional = self.one_request || !matches!(self.mode, PutMode::Overwrite);
        if conditional && self.buffered > self.conditional_limit {
            return Err(Error::TooLarge(format!(
                "a conditional write of more than {} bytes (an object store takes a conditional write in one request, which coffer holds in memory; RemoteOptions::with_max_conditional_write raises the bound)",
                self.conditional_limit
            )));
        }
        if !conditional && self.buffered > self.part_len {
            let mut parts = self.backend.write_parts(&self.path, self.part_len)?;
            for piece in std::mem::take(&mut self.buffer) {
                parts.write(&piece)?;
            }
            self.parts = Some(parts);
        }
        Ok(())
    }

    /// Completes the object; `None` if the mode's condition did not hold.
    pub(crate) fn finish(self) -> Result<Option<PutResult>> {
        match self.parts {
            Some(parts) => parts.finish().map(Some),
            None => self
                .backend
                .put(&self.path, PutPayload::from_iter(self.buffer), self.mode),
        }
    }
}

/// What a get found.
pub(crate) enum Fetched {
    /// The object's metadata and the bytes asked for.
    Found(ObjectMeta, Bytes),
    /// Nothing at that path.
    Missing,
    /// An `If-Match` or `If-Unmodified-Since` did not hold.
    PreconditionFailed,
    /// An `If-None-Match` or `If-Modified-Since` did not hold.
    NotModified,
}

/// The backend path of coffer's own record `name` (segments under
/// [`RESERVED_PREFIX`]).
pub(crate) fn reserved(segments: &[&str]) -> Path {
    let mut path = Path::from(RESERVED_PREFIX);
    for segment in segments {
        path = path.join(*segment);
    }
    path
}

/// The backend prefix of bucket `name`'s objects.
pub(crate) fn bucket_prefix(name: &str) -> Result<Path> {
    Path::parse(name).map_err(|_| Error::InvalidArgument(format!("bucket name {name:?}")))
}

/// The backend path of object bucket/key: `bucket/key`, as the key is
/// written ([`Error::InvalidArgument`] for a key the backend's paths cannot
/// hold as it is: an empty segment, `.` or `..`, a trailing `/`).
pub(crate) fn object_path(bucket: &str, key: &str) -> Result<Path> {
    let raw = format!("{bucket}/{key}");
    match Path::parse(&raw) {
        Ok(path) if path.as_ref() == raw => Ok(path),
        _ => Err(Error::InvalidArgument(format!(
            "object key {key:?}: an object store path cannot hold it as written (empty segment, `.`, `..` or a trailing `/`)"
        ))),
    }
}
