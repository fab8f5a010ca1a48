//! What the integration suite does not ask but coffer promises through the
//! trait: protection requested through attributes and reported back, sessions
//! authorized, KMS refusals as `PermissionDenied`, damaged objects as errors
//! naming the path (never bytes), large objects streamed a segment at a time,
//! payloads of many chunks stored whole, bad requests refused.

use crate::common;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_object_store::{
    CofferObjectStore, SSE_ATTRIBUTE, SSE_BUCKET_KEY_ATTRIBUTE, SSE_KEY_ID_ATTRIBUTE,
    SSE_KEY_VERSION_ATTRIBUTE,
};
use coffer_store::{PolicyDocument, Principal, Protection, ProtectionMode, Store};
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload, UpdateVersion,
};

use common::{BUCKET, Default, fixture, options};

const MIB: usize = 1 << 20;

fn data(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<_>>()
        .into()
}

fn metadata(name: &'static str) -> Attribute {
    Attribute::Metadata(name.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protection_is_requested_through_attributes_and_reported_back() {
    let f = fixture(Default::Aes256);
    let cmk = f
        .store
        .kms()
        .create_key(std::default::Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    let objects = &f.objects;

    // The bucket's default.
    let put = objects
        .put(&Path::from("default"), data(10, 1).into())
        .await
        .expect("put");
    let protection = put.extensions.get::<Protection>().expect("reported");
    assert_eq!(protection.mode, ProtectionMode::Aes256);

    // KMS with a CMK and a bucket key, asked for on the put.
    let mut attributes = Attributes::from_iter([
        (metadata(SSE_ATTRIBUTE), "KMS"),
        (metadata(SSE_BUCKET_KEY_ATTRIBUTE), "true"),
        (metadata("owner"), "alice"),
    ]);
    attributes.insert(metadata(SSE_KEY_ID_ATTRIBUTE), cmk.clone().into());
    let put = objects
        .put_opts(
            &Path::from("kms"),
            data(10, 2).into(),
            PutOptions::from(attributes),
        )
        .await
        .expect("put");
    let protection = put.extensions.get::<Protection>().expect("reported");
    assert_eq!(protection.mode, ProtectionMode::Kms);
    assert_eq!(protection.kms_key_id.as_deref(), Some(cmk.as_str()));
    assert!(protection.bucket_key);

    // Without the opt-in, the attributes are exactly what was written.
    let got = objects.get(&Path::from("kms")).await.expect("get");
    assert_eq!(
        got.attributes,
        Attributes::from_iter([(metadata("owner"), "alice")])
    );
    let reported = got.extensions.get::<Protection>().expect("reported");
    assert_eq!(reported.mode, ProtectionMode::Kms);
    assert_eq!(got.bytes().await.expect("body"), data(10, 2));

    // With it, get and head report the protection as attributes too.
    let reporting = objects.clone().with_protection_attributes(true);
    for head in [false, true] {
        let options = GetOptions::new().with_head(head);
        let got = reporting
            .get_opts(&Path::from("kms"), options)
            .await
            .expect("get");
        let value = |name| got.attributes.get(&metadata(name)).map(|v| v.to_string());
        assert_eq!(value(SSE_ATTRIBUTE).as_deref(), Some("KMS"));
        assert_eq!(value(SSE_KEY_ID_ATTRIBUTE).as_deref(), Some(cmk.as_str()));
        assert_eq!(value(SSE_BUCKET_KEY_ATTRIBUTE).as_deref(), Some("true"));
        assert_eq!(value(SSE_KEY_VERSION_ATTRIBUTE).as_deref(), Some("1"));
        assert_eq!(value("owner").as_deref(), Some("alice"));
    }
    let got = reporting.get(&Path::from("default")).await.expect("get");
    assert_eq!(
        got.attributes
            .get(&metadata(SSE_ATTRIBUTE))
            .map(|v| v.to_string()),
        Some("AES256".to_owned())
    );
    assert!(
        got.attributes
            .get(&metadata(SSE_KEY_ID_ATTRIBUTE))
            .is_none()
    );

    // Multipart uploads take their protection from the same attributes.
    let attributes = Attributes::from_iter([(metadata(SSE_ATTRIBUTE), "KMS")]);
    let mut upload = objects
        .put_multipart_opts(&Path::from("mp"), attributes.into())
        .await
        .expect("create");
    upload.put_part(data(MIB, 3).into()).await.expect("part");
    let done = upload.complete().await.expect("complete");
    let protection = done.extensions.get::<Protection>().expect("reported");
    assert_eq!(protection.mode, ProtectionMode::Kms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let f = fixture(Default::Aes256);
    let objects = &f.objects;
    let path = Path::from("k");
    let cases = [
        Attributes::from_iter([(Attribute::StorageClass, "GLACIER")]),
        Attributes::from_iter([(metadata(SSE_ATTRIBUTE), "ROT13")]),
        Attributes::from_iter([(metadata(SSE_KEY_ID_ATTRIBUTE), "k")]),
        Attributes::from_iter([
            (metadata(SSE_ATTRIBUTE), "KMS"),
            (metadata(SSE_KEY_ID_ATTRIBUTE), "no-such-key"),
        ]),
    ];
    for attributes in cases {
        let result = objects
            .put_opts(
                &path,
                data(5, 1).into(),
                PutOptions::from(attributes.clone()),
            )
            .await;
        assert!(result.is_err(), "{attributes:?}");
        assert!(
            objects
                .put_multipart_opts(&path, attributes.clone().into())
                .await
                .is_err(),
            "{attributes:?}"
        );
    }
    // An update needs an ETag: coffer keeps no versions.
    let update = PutMode::Update(UpdateVersion {
        e_tag: None,
        version: Some("1".into()),
    });
    assert!(matches!(
        objects
            .put_opts(&path, data(5, 1).into(), update.into())
            .await,
        Err(object_store::Error::Precondition { .. })
    ));
    assert!(matches!(
        objects
            .get_opts(&path, GetOptions::new().with_version(Some("1")))
            .await,
        Err(object_store::Error::NotSupported { .. })
    ));
    assert!(matches!(
        objects.head(&path).await,
        Err(object_store::Error::NotFound { .. })
    ));
    assert!(
        f.store
            .list_multipart_uploads(BUCKET)
            .expect("lists")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_objects_stream_a_segment_at_a_time_and_payload_chunks_are_stored_whole() {
    let f = fixture(Default::Kms);
    let objects = &f.objects;
    let body = data(5 * MIB + 123, 9);
    // A payload of many uneven chunks.
    let payload: PutPayload = body.chunks(300_001).map(Bytes::copy_from_slice).collect();
    objects.put(&Path::from("big"), payload).await.expect("put");
    let got = objects.get(&Path::from("big")).await.expect("get");
    assert_eq!(got.meta.size, body.len() as u64);
    let buffers: Vec<Bytes> = got.into_stream().try_collect().await.expect("streams");
    assert!(
        buffers.len() >= 6,
        "one buffer per segment: {}",
        buffers.len()
    );
    assert!(buffers.iter().all(|b| b.len() <= MIB));
    assert_eq!(buffers.concat(), body);
    // Ranges across segments, and a suffix.
    for range in [
        MIB as u64 - 3..3 * MIB as u64 + 7,
        17..18,
        0..body.len() as u64,
    ] {
        let got = objects
            .get_range(&Path::from("big"), range.clone())
            .await
            .expect("range");
        assert_eq!(got, body.slice(range.start as usize..range.end as usize));
    }
    let got = objects
        .get_opts(
            &Path::from("big"),
            GetOptions::new().with_range(Some(GetRange::Suffix(10))),
        )
        .await
        .expect("suffix");
    assert_eq!(
        got.bytes().await.expect("body"),
        body.slice(body.len() - 10..)
    );
    // A reader that stops early ends the read-ahead without harm.
    let mut stream = objects
        .get(&Path::from("big"))
        .await
        .expect("get")
        .into_stream();
    stream.next().await.expect("one").expect("buffer");
    drop(stream);
    assert_eq!(
        objects
            .get(&Path::from("big"))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body"),
        body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_authorized_and_kms_refusals_are_permission_denied() {
    let f = fixture(Default::Kms);
    let cmk = f.cmk.clone().expect("kms fixture");
    f.objects
        .put(&Path::from("k"), data(100, 1).into())
        .await
        .expect("put");
    let account = coffer_store::DEFAULT_ACCOUNT;
    let policy = PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":["oss:GetObject","oss:ListObjects"],"Resource":["acs:oss:*:{account}:{BUCKET}","acs:oss:*:{account}:{BUCKET}/*"]}},{{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":["*"]}}]}}"#
    ))
    .expect("policy");
    let reader = CofferObjectStore::with_session(
        f.store
            .session(Principal::new("reader", account).with_policy(policy)),
        BUCKET,
    );
    assert_eq!(
        reader
            .get(&Path::from("k"))
            .await
            .expect("reads")
            .bytes()
            .await
            .expect("body"),
        data(100, 1)
    );
    let listed: Vec<_> = reader.list(None).try_collect().await.expect("lists");
    assert_eq!(listed.len(), 1);
    for denied in [
        reader.put(&Path::from("k2"), data(1, 1).into()).await.err(),
        reader.delete(&Path::from("k")).await.err(),
        reader.put_multipart(&Path::from("k3")).await.err(),
    ] {
        assert!(
            matches!(denied, Some(object_store::Error::PermissionDenied { .. })),
            "{denied:?}"
        );
    }

    // The KMS refuses: the CMK is disabled.
    f.store
        .kms()
        .disable_key(&cmk, &Caller::Trusted)
        .expect("disable");
    let refused = f.objects.get(&Path::from("k")).await.err();
    assert!(
        matches!(refused, Some(object_store::Error::PermissionDenied { ref path, .. }) if path == "k"),
        "{refused:?}"
    );
}

/// Puts two 3 MiB objects under `keys` (three segments each), closes the
/// store, lets `edit` change the chunks family with the `rocksdb` crate (its
/// six segment keys in order: segments are keyed by object id, so the first
/// object's three come first), and reopens it.
async fn with_segments_edited(
    keys: [&str; 2],
    seed: u8,
    edit: impl FnOnce(&rocksdb::DB, &rocksdb::ColumnFamily, &[Box<[u8]>]),
) -> (tempfile::TempDir, CofferObjectStore<Store>) {
    let f = fixture(Default::Aes256);
    let body = data(3 * MIB, seed);
    for key in keys {
        f.objects
            .put(&Path::from(key), body.clone().into())
            .await
            .expect("put");
    }
    let common::Fixture {
        dir,
        store,
        objects,
        ..
    } = f;
    drop(objects);
    drop(store);
    {
        let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).expect("lists");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), names)
            .expect("opens raw");
        let chunks = db.cf_handle("chunks").expect("chunks");
        let segments: Vec<Box<[u8]>> = db
            .iterator_cf(chunks, rocksdb::IteratorMode::Start)
            .map(|entry| entry.expect("entry").0)
            .collect();
        assert_eq!(segments.len(), 6);
        edit(&db, chunks, &segments);
    }
    let store = Store::open(dir.path(), options()).expect("reopens");
    (dir, CofferObjectStore::new(store, BUCKET))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_object_is_an_error_naming_its_path_never_bytes() {
    let keys = ["tables/first-damaged", "tables/second-damaged"];
    // Segment 0 of one object and segment 2 of the other get a bit flipped.
    let (_dir, objects) = with_segments_edited(keys, 4, |db, chunks, segments| {
        for key in [&segments[0], &segments[5]] {
            let mut value = db.get_cf(chunks, key).expect("reads").expect("present");
            value[1000] ^= 0x40;
            db.put_cf(chunks, key, value).expect("writes");
        }
    })
    .await;
    for key in keys {
        // Either the get fails at once (first segment) or its stream does.
        let error = match objects.get(&Path::from(key)).await {
            Err(error) => error,
            Ok(got) => got.bytes().await.expect_err("damage is found"),
        };
        assert!(
            matches!(error, object_store::Error::Generic { .. }),
            "{key}: {error}"
        );
        assert!(error.to_string().contains(key), "{key}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_shorter_or_longer_than_its_record_says_is_an_error_on_every_read() {
    // The last segment of one object cut to 10 bytes; the middle one of the
    // other given a byte more.
    let (_dir, objects) =
        with_segments_edited(["cut-short", "made-longer"], 5, |db, chunks, segments| {
            let mut value = db
                .get_cf(chunks, &segments[2])
                .expect("reads")
                .expect("present");
            value.truncate(10);
            db.put_cf(chunks, &segments[2], value).expect("writes");
            let mut value = db
                .get_cf(chunks, &segments[4])
                .expect("reads")
                .expect("present");
            value.push(0);
            db.put_cf(chunks, &segments[4], value).expect("writes");
        })
        .await;
    for key in ["cut-short", "made-longer"] {
        let path = Path::from(key);
        let whole = match objects.get(&path).await {
            Err(error) => error,
            Ok(got) => got.bytes().await.expect_err("damage is found"),
        };
        // A range in each segment: one of them is the damaged one.
        let mut ranged = Vec::new();
        for at in [10u64, MIB as u64 + 10, 2 * MIB as u64 + 10] {
            let options = GetOptions {
                range: Some(GetRange::Bounded(at..at + 100)),
                ..GetOptions::default()
            };
            let read = match objects.get_opts(&path, options).await {
                Err(error) => Some(error),
                Ok(got) => got.bytes().await.err(),
            };
            ranged.extend(read);
        }
        assert!(!ranged.is_empty(), "{key}: every range read succeeded");
        for error in std::iter::once(whole).chain(ranged) {
            assert!(
                matches!(error, object_store::Error::Generic { .. }),
                "{key}: {error}"
            );
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }
}
