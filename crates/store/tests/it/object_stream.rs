//! Objects read as streams of plaintext buffers: whole and by range, across
//! segments and across multipart parts, encrypted and not; buffers no larger
//! than a segment; conditions checked before the first buffer; a damaged
//! segment ends the stream with an integrity error naming the object, never
//! with bytes; sessions need `oss:GetObject`.

use crate::common;

use bytes::Bytes;
use coffer_store::{
    CompletedPart, Error, GetConditions, ObjectStream, PolicyDocument, Principal, PutOptions,
};
use common::{ACCOUNT, MIB, data, fixture, options};
use rocksdb::{DB, Options};

fn collect(stream: ObjectStream) -> (Vec<usize>, Vec<u8>) {
    let mut lengths = Vec::new();
    let mut body = Vec::new();
    for buffer in stream {
        let buffer = buffer.expect("buffer");
        lengths.push(buffer.len());
        body.extend_from_slice(&buffer);
    }
    (lengths, body)
}

/// Ranges that start and end inside chunks, on chunk and segment boundaries,
/// span segments, and are empty.
fn ranges(size: u64) -> Vec<std::ops::Range<u64>> {
    let mib = MIB as u64;
    let mut out = vec![0..size, 0..0, size..size, 0..1.min(size), size / 2..size];
    if size > 3 * mib {
        out.extend([
            1..16 * 1024 + 1,
            16 * 1024..32 * 1024,
            mib - 5..mib + 5,
            mib..2 * mib,
            mib + 100..3 * mib - 100,
            size - 17..size,
        ]);
    }
    out
}

#[test]
fn streams_match_whole_reads_for_every_layout_and_range() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let objects = [
        ("inline-managed", PutOptions::managed(), data(3000, 1)),
        ("inline-plain", PutOptions::default(), data(3000, 2)),
        (
            "segmented-managed",
            PutOptions::managed(),
            data(5 * MIB + 7, 3),
        ),
        ("segmented-kms", PutOptions::kms(None), data(4 * MIB, 4)),
        (
            "segmented-plain",
            PutOptions::default(),
            data(4 * MIB + 1, 5),
        ),
    ];
    for (key, options, body) in &objects {
        s.put_object("bkt", key, body.clone(), options.clone())
            .expect("put");
    }
    // A multipart object of uneven parts.
    let upload = s
        .create_multipart_upload("bkt", "multipart", PutOptions::managed())
        .expect("create");
    let bodies = [data(MIB + 5, 6), data(2 * MIB, 7), data(333, 8)];
    let mut parts = Vec::new();
    for (number, body) in (1..).zip(&bodies) {
        let part = s
            .upload_part("bkt", "multipart", &upload, number, body.clone())
            .expect("part");
        parts.push(CompletedPart::from(&part));
    }
    s.complete_multipart_upload(
        "bkt",
        "multipart",
        &upload,
        &parts,
        &coffer_store::PutCondition::None,
    )
    .expect("complete");
    let multipart: Bytes = bodies.concat().into();

    let all = objects
        .iter()
        .map(|(key, _, body)| (*key, body.clone()))
        .chain([("multipart", multipart)]);
    for (key, body) in all {
        let size = body.len() as u64;
        let (lengths, whole) = collect(
            s.get_object_stream("bkt", key, &GetConditions::new())
                .expect("stream"),
        );
        assert_eq!(whole, body, "{key}: whole stream");
        assert!(
            lengths.iter().all(|&len| len <= MIB),
            "{key}: buffers are at most a segment: {lengths:?}"
        );
        if size > MIB as u64 {
            assert!(lengths.len() > 1, "{key}: streamed in pieces");
        }
        for range in ranges(size) {
            let stream = s
                .get_object_stream("bkt", key, &GetConditions::new())
                .expect("stream")
                .with_range(range.clone())
                .expect("range");
            assert_eq!(stream.range(), range);
            assert_eq!(stream.meta().size, size, "{key}: meta is the object's");
            let (_, got) = collect(stream);
            let expected = &body[range.start as usize..range.end as usize];
            assert_eq!(got, expected, "{key}: range {range:?}");
        }
        // A range outside the object is refused.
        let outside = s
            .get_object_stream("bkt", key, &GetConditions::new())
            .expect("stream")
            .with_range(0..size + 1);
        assert!(
            matches!(outside, Err(Error::InvalidRange { .. })),
            "{key}: {outside:?}"
        );
    }
}

#[test]
fn a_range_is_set_before_reading() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_object("bkt", "k", data(3 * MIB, 1), PutOptions::managed())
        .expect("put");
    let mut stream = s
        .get_object_stream("bkt", "k", &GetConditions::new())
        .expect("stream");
    stream.next().expect("one").expect("buffer");
    assert!(matches!(
        stream.with_range(0..1),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn conditions_are_checked_before_the_stream_opens() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let put = s
        .put_object("bkt", "k", data(2 * MIB, 1), PutOptions::managed())
        .expect("put");
    assert!(
        s.get_object_stream("bkt", "k", &GetConditions::new().if_match(&put.etag))
            .is_ok()
    );
    assert!(matches!(
        s.get_object_stream("bkt", "k", &GetConditions::new().if_match("\"0\"")),
        Err(Error::PreconditionFailed { .. })
    ));
    assert!(matches!(
        s.get_object_stream("bkt", "k", &GetConditions::new().if_none_match(&put.etag)),
        Err(Error::NotModified { .. })
    ));
    assert!(matches!(
        s.get_object_stream("bkt", "missing", &GetConditions::new()),
        Err(Error::NoSuchKey { .. })
    ));
}

#[test]
fn a_damaged_segment_ends_the_stream_with_an_integrity_error() {
    let f = fixture();
    let body = data(3 * MIB, 9);
    {
        let s = &f.store;
        s.create_bucket("bkt").expect("bucket");
        s.put_object("bkt", "victim", body.clone(), PutOptions::managed())
            .expect("put");
    }
    let common::Fixture { dir, clock, store } = f;
    drop(store);
    {
        let names = DB::list_cf(&Options::default(), dir.path()).expect("lists families");
        let db = DB::open_cf(&Options::default(), dir.path(), names).expect("opens raw");
        let chunks = db.cf_handle("chunks").expect("chunks");
        let mut damaged = 0;
        for entry in db.iterator_cf(chunks, rocksdb::IteratorMode::Start) {
            let (key, value) = entry.expect("entry");
            // The second segment (index 1, big-endian at the key's end).
            if key.ends_with(&1u32.to_be_bytes()) {
                let mut value = value.to_vec();
                value[100] ^= 1;
                db.put_cf(chunks, &key, value).expect("writes");
                damaged += 1;
            }
        }
        assert_eq!(damaged, 1, "one object, one second segment");
    }
    let s = coffer_store::Store::open(dir.path(), options(&clock)).expect("reopens");
    let mut stream = s
        .get_object_stream("bkt", "victim", &GetConditions::new())
        .expect("stream opens: the record is intact");
    let first = stream
        .next()
        .expect("first")
        .expect("first segment is intact");
    assert_eq!(first, body.slice(..MIB));
    match stream.next() {
        Some(Err(Error::Integrity(message))) => {
            assert!(message.contains("victim"), "names the object: {message}")
        }
        other => panic!("expected an integrity error, got {other:?}"),
    }
    assert!(stream.next().is_none(), "nothing follows an error");
    // A range inside the damaged chunk fails too; one in another segment reads.
    let stream = s
        .get_object_stream("bkt", "victim", &GetConditions::new())
        .expect("stream")
        .with_range(MIB as u64 + 10..MIB as u64 + 20)
        .expect("range");
    assert!(
        stream
            .into_iter()
            .any(|b| matches!(b, Err(Error::Integrity(_))))
    );
    let stream = s
        .get_object_stream("bkt", "victim", &GetConditions::new())
        .expect("stream")
        .with_range(2 * MIB as u64..3 * MIB as u64)
        .expect("range");
    assert_eq!(collect(stream).1, &body[2 * MIB..]);
}

#[test]
fn sessions_stream_with_get_object_permission_only() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_object("bkt", "k", data(2 * MIB, 1), PutOptions::managed())
        .expect("put");
    let policy = |action: &str| {
        PolicyDocument::parse(&format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":["{action}"],"Resource":["acs:oss:*:{ACCOUNT}:bkt/*"]}}]}}"#
        ))
        .expect("policy")
    };
    let reader = s.session(Principal::new("reader", ACCOUNT).with_policy(policy("oss:GetObject")));
    let writer = s.session(Principal::new("writer", ACCOUNT).with_policy(policy("oss:PutObject")));
    let (_, body) = collect(
        reader
            .get_object_stream("bkt", "k", &GetConditions::new())
            .expect("reader streams"),
    );
    assert_eq!(body, data(2 * MIB, 1));
    assert!(matches!(
        writer.get_object_stream("bkt", "k", &GetConditions::new()),
        Err(Error::AccessDenied { .. })
    ));
}
