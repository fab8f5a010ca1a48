//! Multipart uploads whose parts go straight into the backend's own upload
//! (`RemoteOptions::with_multipart_store`), counted by `MeteredStore` over
//! `InMemory`: each stored byte is written once (where a staged upload writes
//! its parts twice), the object reads back whole and by ranges, and what such
//! an upload cannot do is a typed error that leaves it to be completed.

use std::sync::Arc;

use bytes::Bytes;
use coffer_object_store::CofferObjectStore;
use coffer_remote::layout::stored_len;
use coffer_remote::{DIRECT_PART_LEN, MeteredStore, RemoteStore};
use coffer_sse::{CompletedPart, EncryptionRule, Error, PutCondition, PutOptions, Session};
use object_store::aws::AmazonS3;
use object_store::integration::{
    multipart, multipart_out_of_order, multipart_put_part_out_of_order, multipart_race_condition,
    multipart_with_opts,
};
use object_store::memory::InMemory;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::common;

const PART: usize = DIRECT_PART_LEN as usize;

struct Fixture {
    memory: Arc<InMemory>,
    metered: Arc<MeteredStore>,
    store: RemoteStore,
    session: Session<RemoteStore>,
}

/// A store over a metered `InMemory`, its parts sent to the backend's own
/// uploads if `direct`; bucket `b` with the managed key by default.
fn fixture(direct: bool) -> Fixture {
    let memory = Arc::new(InMemory::new());
    let mut metered = MeteredStore::new(Arc::clone(&memory) as Arc<dyn ObjectStore>);
    if direct {
        metered = metered.with_multipart(Arc::clone(&memory) as Arc<dyn MultipartStore>);
    }
    let metered = Arc::new(metered);
    let mut options = common::options();
    if direct {
        options = options.with_multipart_store(Arc::clone(&metered) as Arc<dyn MultipartStore>);
    }
    let store = RemoteStore::create(Arc::clone(&metered) as Arc<dyn ObjectStore>, options)
        .expect("a store");
    let session = Session::trusted(store.clone());
    session.create_bucket("bkt").expect("bucket");
    session
        .put_bucket_encryption("bkt", EncryptionRule::managed())
        .expect("rule");
    Fixture {
        memory,
        metered,
        store,
        session,
    }
}

fn body(size: usize) -> Bytes {
    (0..size).map(|i| (i * 7 + i / 5003) as u8).collect()
}

impl Fixture {
    /// Uploads `parts` (numbered 1, 2, …) and completes them.
    fn upload(&self, key: &str, parts: &[Bytes]) -> coffer_sse::Result<()> {
        let id = self
            .session
            .create_multipart_upload("bkt", key, PutOptions::default())?;
        let mut listed = Vec::new();
        for (number, part) in (1..).zip(parts) {
            let uploaded = self
                .session
                .upload_part("bkt", key, &id, number, part.clone())?;
            listed.push(CompletedPart::from(&uploaded));
        }
        self.session
            .complete_multipart_upload("bkt", key, &id, &listed, &PutCondition::None)?;
        Ok(())
    }

    /// What is left under `.coffer/uploads`.
    fn staged(&self) -> usize {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            use futures_util::TryStreamExt;
            let prefix = Path::from(".coffer/uploads");
            let listed: Vec<_> = self
                .memory
                .list(Some(&prefix))
                .try_collect()
                .await
                .expect("list");
            listed.len()
        })
    }
}

#[test]
fn parts_sent_directly_are_written_once_and_read_back() {
    let tail = 1_500_000;
    let parts = [body(PART), body(PART + 17), body(PART), body(tail)];
    let whole: Bytes = parts.concat().into();
    let size = whole.len() as u64;
    let stored = stored_len(size).expect("a length");

    let mut written = Vec::new();
    for direct in [true, false] {
        let f = fixture(direct);
        f.metered.take();
        f.upload("large", &parts).expect("the upload");
        let requests = f.metered.take();
        written.push(requests.put_bytes);
        assert_eq!(f.staged(), 0, "nothing left under .coffer/uploads");
        let read = f.session.get_object("bkt", "large").expect("get");
        assert!(read.body == whole, "the object reads back whole");
        let range = f
            .session
            .get_object_range("bkt", "large", PART as u64 - 5..2 * PART as u64 + 30)
            .expect("a range across parts");
        assert!(range.body == whole[PART - 5..2 * PART + 30], "the range");
        if direct {
            // Three parts and the tail with the trailer, into the backend's
            // upload; the tail staged first.
            assert_eq!(requests.parts, 4, "{requests:?}");
            assert_eq!(requests.multipart_uploads, 1, "{requests:?}");
            assert_eq!(requests.completions, 1, "{requests:?}");
        }
    }
    let (direct, staged) = (written[0], written[1]);
    let slack = 64 << 10;
    assert!(
        direct <= stored + tail as u64 + 16 * 1024 + slack,
        "direct: {direct} bytes written for {stored} stored"
    );
    assert!(
        staged >= 2 * stored - slack,
        "staged: {staged} bytes written for {stored} stored"
    );
}

#[test]
fn object_store_multipart_writes_go_straight_to_the_backend() {
    let f = fixture(true);
    let objects = CofferObjectStore::new(f.store.clone(), "bkt");
    let whole = body(3 * PART + 123_456);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    f.metered.take();
    runtime.block_on(async {
        let path = Path::from("written");
        let upload = objects.put_multipart(&path).await.expect("upload");
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        for piece in whole.chunks(1_000_003) {
            writer.write(piece);
        }
        writer.finish().await.expect("finish");
        let read = objects.get(&path).await.expect("get").bytes().await;
        assert!(read.expect("bytes") == whole, "reads back");
    });
    let requests = f.metered.take();
    assert_eq!(requests.parts, 4, "{requests:?}");
    let stored = stored_len(whole.len() as u64).expect("a length");
    assert!(
        requests.put_bytes < stored + 2 * 123_456 + (64 << 10),
        "{requests:?} for {stored} stored"
    );
}

#[test]
fn what_a_direct_upload_cannot_do_is_refused_and_leaves_it_to_complete() {
    let f = fixture(true);
    let s = &f.session;
    let id = s
        .create_multipart_upload("bkt", "k", PutOptions::default())
        .expect("create");
    let (one, two, three) = (body(PART), body(PART), body(1000));
    let first = s.upload_part("bkt", "k", &id, 1, one.clone()).expect("1");
    let second = s.upload_part("bkt", "k", &id, 2, two.clone()).expect("2");
    let small = s.upload_part("bkt", "k", &id, 3, three.clone()).expect("3");
    let complete = |parts: &[&coffer_sse::UploadedPart], condition: &PutCondition| {
        let listed: Vec<_> = parts.iter().map(|p| CompletedPart::from(*p)).collect();
        s.complete_multipart_upload("bkt", "k", &id, &listed, condition)
    };
    assert!(
        matches!(
            complete(&[&first, &small], &PutCondition::None),
            Err(Error::InvalidArgument(_))
        ),
        "parts 1 and 3: not 1 to n"
    );
    assert!(
        matches!(
            complete(&[&first, &second, &small], &PutCondition::IfNotExists),
            Err(Error::NotImplemented { .. })
        ),
        "a conditional completion"
    );
    // Part 2 again, short: the first upload's ETag no longer names it, and
    // a short part in the middle is refused.
    let short = s
        .upload_part("bkt", "k", &id, 2, body(10))
        .expect("2 again");
    assert!(matches!(
        complete(&[&first, &second, &small], &PutCondition::None),
        Err(Error::InvalidPart { part_number: 2, .. })
    ));
    assert!(matches!(
        complete(&[&first, &short, &small], &PutCondition::None),
        Err(Error::InvalidArgument(_))
    ));
    let second = s
        .upload_part("bkt", "k", &id, 2, two.clone())
        .expect("2 again");
    assert!(matches!(
        s.get_object("bkt", "k"),
        Err(Error::NoSuchKey { .. })
    ));
    // A handle without the backend's uploads cannot add to this one.
    let plain = RemoteStore::open(f.store.backend().clone(), common::options()).expect("opens");
    assert!(matches!(
        Session::trusted(plain).upload_part("bkt", "k", &id, 3, three.clone()),
        Err(Error::NotImplemented { .. })
    ));
    complete(&[&first, &second, &small], &PutCondition::None).expect("completes");
    let read = s.get_object("bkt", "k").expect("get").body;
    assert!(read == [one, two, three].concat(), "the object");
    assert_eq!(f.staged(), 0, "nothing left under .coffer/uploads");
}

#[test]
fn an_aborted_direct_upload_leaves_nothing() {
    let f = fixture(true);
    let s = &f.session;
    let id = s
        .create_multipart_upload("bkt", "gone", PutOptions::default())
        .expect("create");
    s.upload_part("bkt", "gone", &id, 1, body(PART)).expect("1");
    s.upload_part("bkt", "gone", &id, 2, body(10)).expect("2");
    s.abort_multipart_upload("bkt", "gone", &id).expect("abort");
    assert_eq!(f.staged(), 0, "nothing left under .coffer/uploads");
    assert!(matches!(
        s.upload_part("bkt", "gone", &id, 3, body(10)),
        Err(Error::NoSuchUpload(_))
    ));
    assert!(s.list_multipart_uploads("bkt").expect("list").is_empty());
}

#[test]
fn an_empty_direct_upload_is_an_empty_object() {
    let f = fixture(true);
    f.upload("empty", &[]).expect("completes");
    assert!(
        f.session
            .get_object("bkt", "empty")
            .expect("get")
            .body
            .is_empty()
    );
    assert_eq!(f.staged(), 0);
}

/// Over a real S3 API (moto, SeaweedFS): the conformance suite and the
/// `object_store` multipart integration functions through stores whose
/// uploads are direct, each over a fresh bucket from `bucket()`.
pub(crate) fn over_s3(bucket: impl Fn() -> Arc<AmazonS3>, prefix: &str) {
    let direct = || {
        let s3 = bucket();
        let options = common::options().with_multipart_store(s3.clone());
        common::store_with(s3, options)
    };
    common::conformance_runs_of(direct, &format!("{prefix}-direct"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let objects = || {
        let (store, _, _) = direct();
        let s = Session::trusted(store.clone());
        s.create_bucket("objects").expect("bucket");
        s.put_bucket_encryption("objects", EncryptionRule::managed())
            .expect("rule");
        CofferObjectStore::new(store, "objects")
    };
    runtime.block_on(async {
        let s = objects();
        multipart(&s, &s).await;
        let s = objects();
        multipart_with_opts(&s, &s).await;
        let s = objects();
        multipart_put_part_out_of_order(&s, &s).await;
        multipart_race_condition(&objects(), true).await;
        multipart_out_of_order(&objects()).await;
    });
}

#[test]
fn the_conformance_suite_passes_with_direct_uploads_in_memory() {
    let direct = || {
        let memory = Arc::new(InMemory::new());
        let options = common::options().with_multipart_store(memory.clone());
        common::store_with(memory, options)
    };
    common::conformance_runs_of(direct, "direct-in-memory");
}
