//! [`MeteredStore`]: a layer over any `ObjectStore` that counts the requests
//! made through it and the bytes they carry, by kind: what an S3 bill
//! charges for, and what shows how many requests and bytes a coffer read or
//! write costs against the plain client's (`compare -- remote` prints it).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartId, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

/// What went through a [`MeteredStore`] since it was made (or last reset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Requests {
    /// GET requests (a HEAD counts as one), ranged or not.
    pub gets: u64,
    /// Bytes those returned.
    pub get_bytes: u64,
    /// Single-request PUTs.
    pub puts: u64,
    /// Multipart uploads started.
    pub multipart_uploads: u64,
    /// Parts uploaded.
    pub parts: u64,
    /// Bytes PUT, in single requests and in parts.
    pub put_bytes: u64,
    /// Multipart completions and aborts.
    pub completions: u64,
    /// List requests (a listing stream counts once, whatever its pages).
    pub lists: u64,
    /// Server-side copies.
    pub copies: u64,
    /// Deletes.
    pub deletes: u64,
}

impl Requests {
    /// Every request counted, of any kind.
    pub fn total(&self) -> u64 {
        self.gets
            + self.puts
            + self.multipart_uploads
            + self.parts
            + self.completions
            + self.lists
            + self.copies
            + self.deletes
    }
}

#[derive(Debug, Default)]
struct Meter {
    gets: AtomicU64,
    get_bytes: AtomicU64,
    puts: AtomicU64,
    multipart_uploads: AtomicU64,
    parts: AtomicU64,
    put_bytes: AtomicU64,
    completions: AtomicU64,
    lists: AtomicU64,
    copies: AtomicU64,
    deletes: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// An `ObjectStore` that forwards every call to another and counts it.
/// Clones of its [`Arc`] share the counts.
pub struct MeteredStore {
    inner: Arc<dyn ObjectStore>,
    multipart: Option<Arc<dyn MultipartStore>>,
    meter: Arc<Meter>,
}

impl MeteredStore {
    /// Counts what goes to `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            multipart: None,
            meter: Arc::default(),
        }
    }

    /// Counts the calls of the same store's own multipart uploads too (as a
    /// [`MultipartStore`]; without them those calls are `NotImplemented`).
    pub fn with_multipart(mut self, multipart: Arc<dyn MultipartStore>) -> Self {
        self.multipart = Some(multipart);
        self
    }

    fn multipart(&self) -> object_store::Result<&Arc<dyn MultipartStore>> {
        self.multipart
            .as_ref()
            .ok_or_else(|| object_store::Error::NotImplemented {
                operation: "MultipartStore".into(),
                implementer: self.to_string(),
            })
    }

    /// The counts so far.
    pub fn requests(&self) -> Requests {
        self.snapshot(|c| c.load(Ordering::Relaxed))
    }

    /// The counts so far, and zero from here on.
    pub fn take(&self) -> Requests {
        self.snapshot(|c| c.swap(0, Ordering::Relaxed))
    }

    fn snapshot(&self, read: impl Fn(&AtomicU64) -> u64) -> Requests {
        let m = &self.meter;
        Requests {
            gets: read(&m.gets),
            get_bytes: read(&m.get_bytes),
            puts: read(&m.puts),
            multipart_uploads: read(&m.multipart_uploads),
            parts: read(&m.parts),
            put_bytes: read(&m.put_bytes),
            completions: read(&m.completions),
            lists: read(&m.lists),
            copies: read(&m.copies),
            deletes: read(&m.deletes),
        }
    }
}

impl fmt::Debug for MeteredStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredStore")
            .field("inner", &self.inner)
            .field("multipart", &self.multipart.is_some())
            .field("meter", &self.meter)
            .finish()
    }
}

impl fmt::Display for MeteredStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Metered({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for MeteredStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        add(&self.meter.puts, 1);
        add(&self.meter.put_bytes, payload.content_length() as u64);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        add(&self.meter.multipart_uploads, 1);
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(MeteredUpload {
            inner: upload,
            meter: Arc::clone(&self.meter),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        add(&self.meter.gets, 1);
        let head = options.head;
        let result = self.inner.get_opts(location, options).await?;
        if !head {
            let Range { start, end } = result.range;
            add(&self.meter.get_bytes, end - start);
        }
        Ok(result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let meter = Arc::clone(&self.meter);
        let counted = locations
            .map(move |location| {
                add(&meter.deletes, 1);
                location
            })
            .boxed();
        self.inner.delete_stream(counted)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        add(&self.meter.lists, 1);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        add(&self.meter.lists, 1);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        add(&self.meter.lists, 1);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        add(&self.meter.copies, 1);
        self.inner.copy_opts(from, to, options).await
    }
}

#[derive(Debug)]
struct MeteredUpload {
    inner: Box<dyn MultipartUpload>,
    meter: Arc<Meter>,
}

#[async_trait]
impl MultipartUpload for MeteredUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        add(&self.meter.parts, 1);
        add(&self.meter.put_bytes, data.content_length() as u64);
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        add(&self.meter.completions, 1);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        add(&self.meter.completions, 1);
        self.inner.abort().await
    }
}

#[async_trait]
impl MultipartStore for MeteredStore {
    async fn create_multipart(&self, path: &Path) -> object_store::Result<MultipartId> {
        add(&self.meter.multipart_uploads, 1);
        self.multipart()?.create_multipart(path).await
    }

    async fn create_multipart_opts(
        &self,
        path: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<MultipartId> {
        add(&self.meter.multipart_uploads, 1);
        self.multipart()?.create_multipart_opts(path, opts).await
    }

    async fn put_part(
        &self,
        path: &Path,
        id: &MultipartId,
        part_idx: usize,
        data: PutPayload,
    ) -> object_store::Result<PartId> {
        add(&self.meter.parts, 1);
        add(&self.meter.put_bytes, data.content_length() as u64);
        self.multipart()?.put_part(path, id, part_idx, data).await
    }

    async fn complete_multipart(
        &self,
        path: &Path,
        id: &MultipartId,
        parts: Vec<PartId>,
    ) -> object_store::Result<PutResult> {
        add(&self.meter.completions, 1);
        self.multipart()?.complete_multipart(path, id, parts).await
    }

    async fn abort_multipart(&self, path: &Path, id: &MultipartId) -> object_store::Result<()> {
        add(&self.meter.completions, 1);
        self.multipart()?.abort_multipart(path, id).await
    }
}
