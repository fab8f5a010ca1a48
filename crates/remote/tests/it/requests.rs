//! What a read through the `object_store` face costs in requests and bytes,
//! counted by `MeteredStore` over `InMemory`: a whole object of up to a
//! window is one request, a larger one its last window and the rest in
//! windows fetched ahead (each also fetches the chunk that crosses its end),
//! a suffix one request, and a short range the trailer and one chunk. Every read is checked against
//! the plaintext, over objects of one part and of many.

use std::sync::Arc;

use bytes::Bytes;
use coffer_cipher::SEALED_CHUNK_LEN;
use coffer_keyring::Caller;
use coffer_object_store::CofferObjectStore;
use coffer_remote::{MeteredStore, RemoteOptions, RemoteStore, Requests};
use coffer_sse::{EncryptionRule, ObjectApi};
use futures_util::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::common;

const MIB: usize = 1 << 20;
/// What the first read of an object fetches from its end, beyond a window.
const TAIL: u64 = 8 << 10;

struct Fixture {
    metered: Arc<MeteredStore>,
    objects: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

fn fixture(options: RemoteOptions) -> Fixture {
    let metered = Arc::new(MeteredStore::new(Arc::new(InMemory::new())));
    let store = RemoteStore::create(Arc::clone(&metered) as Arc<dyn ObjectStore>, options)
        .expect("a store");
    store
        .create_bucket_as("reads", &Caller::Trusted)
        .expect("bucket");
    store
        .put_bucket_encryption_as("reads", EncryptionRule::managed(), &Caller::Trusted)
        .expect("rule");
    let objects: Arc<dyn ObjectStore> = Arc::new(CofferObjectStore::new(store, "reads"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    Fixture {
        metered,
        objects,
        runtime,
    }
}

fn body(size: usize) -> Bytes {
    (0..size).map(|i| (i * 31 + i / 4093) as u8).collect()
}

impl Fixture {
    fn put(&self, name: &str, body: &Bytes) -> Path {
        let path = Path::from(name);
        self.runtime
            .block_on(self.objects.put(&path, PutPayload::from(body.clone())))
            .expect("put");
        path
    }

    /// `body` written by `WriteMultipart` in parts of `part` bytes.
    fn put_multipart(&self, name: &str, body: &Bytes, part: usize) -> Path {
        let path = Path::from(name);
        self.runtime.block_on(async {
            let upload = self.objects.put_multipart(&path).await.expect("upload");
            let mut writer = WriteMultipart::new_with_chunk_size(upload, part);
            for piece in body.chunks(MIB + 7) {
                writer.write(piece);
            }
            writer.finish().await.expect("complete");
        });
        path
    }

    /// The bytes of `range` of the object at `path`, through the face, and
    /// the requests that cost (the bucket record read beforehand).
    fn get(&self, path: &Path, range: Option<GetRange>) -> (Bytes, Requests) {
        self.runtime
            .block_on(self.objects.head(path))
            .expect("head");
        self.metered.take();
        let options = GetOptions {
            range,
            ..GetOptions::default()
        };
        let bytes = self
            .runtime
            .block_on(async { self.objects.get_opts(path, options).await?.bytes().await })
            .expect("get");
        (bytes, self.metered.take())
    }

    fn stored_len(&self, path: &Path) -> u64 {
        self.runtime
            .block_on(self.metered.head(&Path::from(format!("reads/{path}"))))
            .expect("the stored object")
            .size
    }
}

#[test]
fn an_object_of_up_to_a_window_is_read_whole_in_one_request() {
    let fixture = fixture(common::options());
    for size in [0, 1, 64 << 10, MIB, 8 * MIB] {
        let body = body(size);
        let path = fixture.put(&format!("small-{size}"), &body);
        let (read, requests) = fixture.get(&path, None);
        assert!(read == body, "{size} bytes read back");
        assert_eq!(requests.gets, 1, "{size} bytes: {requests:?}");
        assert_eq!(requests.get_bytes, fixture.stored_len(&path), "{size}");
    }
}

#[test]
fn a_large_object_is_read_in_windows_fetched_ahead_fetching_at_most_a_chunk_twice_per_window() {
    let fixture = fixture(common::options());
    for (size, most_gets) in [(20 * MIB, 3), (64 * MIB + 3, 8)] {
        let body = body(size);
        let path = fixture.put(&format!("large-{size}"), &body);
        let (read, requests) = fixture.get(&path, None);
        assert!(read == body, "{size} bytes read back");
        assert!(requests.gets <= most_gets, "{size} bytes: {requests:?}");
        let stored = fixture.stored_len(&path);
        assert!(
            requests.get_bytes <= stored + requests.gets * SEALED_CHUNK_LEN as u64,
            "{size} bytes, {stored} stored: {requests:?}"
        );
    }
}

#[test]
fn a_suffix_is_one_request_and_a_short_range_the_trailer_and_one_chunk() {
    let fixture = fixture(common::options());
    let body = body(20 * MIB);
    let path = fixture.put("ranges", &body);
    let (read, requests) = fixture.get(&path, Some(GetRange::Suffix(1000)));
    assert!(read == body[body.len() - 1000..], "the suffix");
    assert_eq!(requests.gets, 1, "{requests:?}");
    assert!(
        requests.get_bytes <= TAIL + 1000 + 2 * SEALED_CHUNK_LEN as u64,
        "{requests:?}"
    );

    let (read, requests) = fixture.get(&path, Some(GetRange::Bounded(5..6)));
    assert!(read == body[5..6], "one byte");
    assert_eq!(requests.gets, 2, "{requests:?}");
    assert!(
        requests.get_bytes <= TAIL + SEALED_CHUNK_LEN as u64,
        "{requests:?}"
    );
}

#[test]
fn ranges_of_a_multipart_object_read_what_was_written() {
    let options = common::options().with_part_size(5 * MIB);
    let fixture = fixture(options);
    let size = 23 * MIB + 12_345;
    let body = body(size);
    let path = fixture.put_multipart("parts", &body, 5 * MIB);
    let (read, _) = fixture.get(&path, None);
    assert!(read == body, "the whole object");
    let ranges = [
        0..1,
        5 * MIB - 10..5 * MIB + 10,
        MIB..20 * MIB,
        12 * MIB + 3..size,
        size - 70_000..size - 1,
    ];
    for range in ranges {
        let wanted = range.start as u64..range.end as u64;
        let (read, _) = fixture.get(&path, Some(GetRange::Bounded(wanted)));
        assert!(read == body[range.clone()], "{range:?}");
    }
    let (read, _) = fixture.get(&path, Some(GetRange::Offset(7 * MIB as u64 + 1)));
    assert!(read == body[7 * MIB + 1..], "from an offset");
}

#[test]
fn a_stream_dropped_after_its_first_buffer_cancels_what_it_fetched_ahead() {
    let fixture = fixture(common::options());
    let body = body(40 * MIB);
    let path = fixture.put("dropped", &body);
    fixture.metered.take();
    let first = fixture.runtime.block_on(async {
        let mut stream = fixture.objects.get(&path).await.expect("get").into_stream();
        stream.next().await.expect("a buffer").expect("its bytes")
    });
    assert!(first == body[..first.len()], "the first buffer");
    // What is read after the drop still works, and is read whole.
    let (read, _) = fixture.get(&path, None);
    assert!(read == body, "read again");
}
