//! Multipart uploads: parts in any order and concurrently, completion into
//! one object with one ETag and the upload's protection, reads whole, by range
//! across parts and as `Read + Seek`; bad input that changes nothing; abort,
//! listing and the age-based sweep; parts bound to their position and upload on
//! disk; unlisted parts dropped; retirement held back by uploads in progress,
//! and no longer by the uploads of a deleted bucket (deleted with it, or
//! dropped when the store opens).

use crate::common;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use coffer_keyring::Caller;
use coffer_store::{
    CompletedPart, EncryptionRule, Error, ListOptions, PolicyDocument, Principal, ProtectionMode,
    PutCondition, PutOptions, Store, UploadedPart,
};
use common::{ACCOUNT, MIB, data, fixture, options};
use rocksdb::{DB, Options};

fn parts_of(uploaded: &[UploadedPart]) -> Vec<CompletedPart> {
    let mut parts: Vec<CompletedPart> = uploaded.iter().map(CompletedPart::from).collect();
    parts.sort_by_key(|p| p.part_number);
    parts
}

#[test]
fn parts_in_any_order_complete_into_one_object() {
    let f = fixture();
    let s = &f.store;
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    for (bucket, rule, mode) in [
        ("managed", EncryptionRule::managed(), ProtectionMode::Aes256),
        ("kms", EncryptionRule::kms(Some(&cmk)), ProtectionMode::Kms),
        (
            "bucket-key",
            EncryptionRule::kms(Some(&cmk)).with_bucket_key(true),
            ProtectionMode::Kms,
        ),
    ] {
        s.create_bucket(bucket).expect("bucket");
        s.put_bucket_encryption(bucket, rule).expect("rule");
        let bodies = [data(5 * MIB + 3, 1), data(MIB, 2), data(17, 3)];
        let upload = s
            .create_multipart_upload(
                bucket,
                "big",
                PutOptions::default()
                    .with_content_type("application/octet-stream")
                    .with_metadata("origin", "test"),
            )
            .expect("create");
        // Out of order, the middle one on another thread meanwhile.
        let mut uploaded = Vec::new();
        std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                s.upload_part(bucket, "big", &upload, 2, bodies[1].clone())
                    .expect("part 2")
            });
            uploaded.push(
                s.upload_part(bucket, "big", &upload, 3, bodies[2].clone())
                    .expect("part 3"),
            );
            uploaded.push(
                s.upload_part_from_reader(
                    bucket,
                    "big",
                    &upload,
                    1,
                    std::io::Cursor::new(bodies[0].to_vec()),
                )
                .expect("part 1"),
            );
            uploaded.push(other.join().expect("thread"));
        });
        assert!(
            matches!(s.head_object(bucket, "big"), Err(Error::NoSuchKey { .. })),
            "not visible before completion"
        );
        assert!(
            s.list_objects(bucket, &ListOptions::new())
                .expect("list")
                .objects
                .is_empty()
        );
        let done = s
            .complete_multipart_upload(
                bucket,
                "big",
                &upload,
                &parts_of(&uploaded),
                &PutCondition::None,
            )
            .expect("complete");
        assert_eq!(done.protection.mode, mode);
        let whole: Vec<u8> = bodies.concat();
        let object = s.get_object(bucket, "big").expect("get");
        assert_eq!(object.body, whole);
        assert_eq!(object.meta.etag, done.etag);
        assert_eq!(object.meta.size, whole.len() as u64);
        assert_eq!(object.meta.protection, done.protection);
        assert_eq!(
            object.meta.attributes.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(
            object.meta.user_metadata.get("origin").map(String::as_str),
            Some("test")
        );
        // Ranges across part boundaries, and a reader that seeks.
        let boundary = 5 * MIB as u64 + 3;
        for range in [
            0..10,
            boundary - 5..boundary + 5,
            boundary - 1..boundary + MIB as u64 + 2,
            whole.len() as u64 - 20..whole.len() as u64,
            0..whole.len() as u64,
        ] {
            let got = s
                .get_object_range(bucket, "big", range.clone())
                .expect("range");
            assert_eq!(
                got.body,
                &whole[range.start as usize..range.end as usize],
                "{range:?}"
            );
        }
        let mut reader = s.open_object(bucket, "big").expect("open");
        reader.seek(SeekFrom::Start(boundary - 2)).expect("seek");
        let mut buf = vec![0; 6];
        reader.read_exact(&mut buf).expect("read");
        assert_eq!(buf, &whole[boundary as usize - 2..boundary as usize + 4]);
        reader.seek(SeekFrom::End(-17)).expect("seek");
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).expect("read");
        assert_eq!(tail, bodies[2]);
        assert!(matches!(
            s.get_object_range(bucket, "big", 0..whole.len() as u64 + 1),
            Err(Error::InvalidRange { .. })
        ));
        let report = s.check_consistency().expect("check");
        assert!(
            report.missing_segments.is_empty() && report.orphan_segment_objects.is_empty(),
            "{report:?}"
        );
    }
}

#[test]
fn bad_input_changes_nothing() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let upload = s
        .create_multipart_upload("bkt", "k", PutOptions::managed())
        .expect("create");
    let one = s
        .upload_part("bkt", "k", &upload, 1, data(100, 1))
        .expect("part 1");
    let two = s
        .upload_part("bkt", "k", &upload, 2, data(100, 2))
        .expect("part 2");
    for number in [0, 10_001] {
        assert!(matches!(
            s.upload_part("bkt", "k", &upload, number, data(1, 1)),
            Err(Error::InvalidArgument(_))
        ));
    }
    for unknown in ["00000000000000000000000000000000", "not hex", ""] {
        assert!(matches!(
            s.upload_part("bkt", "k", unknown, 1, data(1, 1)),
            Err(Error::NoSuchUpload(_))
        ));
        assert!(matches!(
            s.complete_multipart_upload("bkt", "k", unknown, &[], &PutCondition::None),
            Err(Error::NoSuchUpload(_))
        ));
        assert!(matches!(
            s.abort_multipart_upload("bkt", "k", unknown),
            Err(Error::NoSuchUpload(_))
        ));
    }
    // The upload is for another key.
    assert!(matches!(
        s.upload_part("bkt", "other", &upload, 1, data(1, 1)),
        Err(Error::NoSuchUpload(_))
    ));
    type ExpectedError = fn(&Error) -> bool;
    let cases: [(Vec<CompletedPart>, ExpectedError); 5] = [
        (
            vec![CompletedPart::from(&one), CompletedPart::new(3, &two.etag)],
            |e| matches!(e, Error::InvalidPart { part_number: 3, .. }),
        ),
        (
            vec![CompletedPart::from(&two), CompletedPart::from(&one)],
            |e| matches!(e, Error::InvalidPartOrder { .. }),
        ),
        (
            vec![CompletedPart::from(&one), CompletedPart::from(&one)],
            |e| matches!(e, Error::InvalidPartOrder { .. }),
        ),
        (
            vec![CompletedPart::from(&one), CompletedPart::new(2, &one.etag)],
            |e| matches!(e, Error::InvalidPart { part_number: 2, .. }),
        ),
        (vec![CompletedPart::new(1, "not an etag")], |e| {
            matches!(e, Error::InvalidPart { part_number: 1, .. })
        }),
    ];
    for (parts, expected) in cases {
        let error = s
            .complete_multipart_upload("bkt", "k", &upload, &parts, &PutCondition::None)
            .expect_err("refused");
        assert!(expected(&error), "{parts:?}: {error}");
        assert!(matches!(
            s.head_object("bkt", "k"),
            Err(Error::NoSuchKey { .. })
        ));
    }
    // After all that, the upload still completes.
    s.complete_multipart_upload(
        "bkt",
        "k",
        &upload,
        &[CompletedPart::from(&one), CompletedPart::from(&two)],
        &PutCondition::None,
    )
    .expect("completes");
    assert_eq!(
        s.get_object("bkt", "k").expect("get").body,
        [data(100, 1), data(100, 2)].concat()
    );
    assert!(matches!(
        s.complete_multipart_upload("bkt", "k", &upload, &[], &PutCondition::None),
        Err(Error::NoSuchUpload(_))
    ));
}

#[test]
fn parts_uploaded_again_replace_and_unlisted_parts_go() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let upload = s
        .create_multipart_upload("bkt", "k", PutOptions::kms(None))
        .expect("create");
    let first = s
        .upload_part("bkt", "k", &upload, 1, data(2 * MIB, 1))
        .expect("part");
    let again = s
        .upload_part("bkt", "k", &upload, 1, data(3 * MIB, 9))
        .expect("again");
    let unlisted = s
        .upload_part("bkt", "k", &upload, 2, data(2 * MIB, 2))
        .expect("part");
    let last = s
        .upload_part("bkt", "k", &upload, 3, data(10, 3))
        .expect("part");
    assert_ne!(first.etag, again.etag);
    assert!(matches!(
        s.complete_multipart_upload(
            "bkt",
            "k",
            &upload,
            &[CompletedPart::from(&first), CompletedPart::from(&last)],
            &PutCondition::None
        ),
        Err(Error::InvalidPart { part_number: 1, .. })
    ));
    let _ = unlisted;
    s.complete_multipart_upload(
        "bkt",
        "k",
        &upload,
        &[CompletedPart::from(&again), CompletedPart::from(&last)],
        &PutCondition::None,
    )
    .expect("complete");
    assert_eq!(
        s.get_object("bkt", "k").expect("get").body,
        [data(3 * MIB, 9), data(10, 3)].concat()
    );
    // Only the listed parts' segments are left: 3 for part 1, 1 for part 3.
    s.flush_and_compact().expect("compact");
    let segments = coffer_store::test_util::raw_family(s, "chunks").expect("scan");
    assert_eq!(segments.len(), 4, "{} segments", segments.len());
    let report = s.check_consistency().expect("check");
    assert!(report.orphan_segment_objects.is_empty() && report.missing_segments.is_empty());
    // Overwriting the object drops every part's segments.
    s.put_object("bkt", "k", data(10, 1), PutOptions::managed())
        .expect("put");
    s.flush_and_compact().expect("compact");
    assert!(
        coffer_store::test_util::raw_family(s, "chunks")
            .expect("scan")
            .is_empty()
    );
}

#[test]
fn empty_uploads_conditions_aborts_lists_and_sweeps() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let empty = s
        .create_multipart_upload("bkt", "empty", PutOptions::managed())
        .expect("create");
    s.complete_multipart_upload("bkt", "empty", &empty, &[], &PutCondition::None)
        .expect("complete");
    let object = s.get_object("bkt", "empty").expect("get");
    assert!(object.body.is_empty());
    assert_eq!(object.meta.size, 0);

    let guarded = s
        .create_multipart_upload("bkt", "empty", PutOptions::managed())
        .expect("create");
    let part = s
        .upload_part("bkt", "empty", &guarded, 1, data(5, 1))
        .expect("part");
    assert!(matches!(
        s.complete_multipart_upload(
            "bkt",
            "empty",
            &guarded,
            &[CompletedPart::from(&part)],
            &PutCondition::IfNotExists
        ),
        Err(Error::AlreadyExists { .. })
    ));
    s.complete_multipart_upload(
        "bkt",
        "empty",
        &guarded,
        &[CompletedPart::from(&part)],
        &PutCondition::IfMatch(object.meta.etag.clone()),
    )
    .expect("the ETag matches");

    let a = s
        .create_multipart_upload("bkt", "a", PutOptions::managed())
        .expect("a");
    s.upload_part("bkt", "a", &a, 1, data(2 * MIB, 1))
        .expect("part");
    f.clock.advance(Duration::from_secs(3600));
    let b = s
        .create_multipart_upload("bkt", "b", PutOptions::managed())
        .expect("b");
    let listed = s.list_multipart_uploads("bkt").expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|u| (u.key.as_str(), u.upload_id.as_str()))
            .collect::<Vec<_>>(),
        vec![("a", a.as_str()), ("b", b.as_str())]
    );
    s.abort_multipart_upload("bkt", "b", &b).expect("abort");
    assert!(matches!(
        s.upload_part("bkt", "b", &b, 1, data(1, 1)),
        Err(Error::NoSuchUpload(_))
    ));
    assert_eq!(
        s.sweep_multipart_uploads(Duration::from_secs(7200))
            .expect("sweep"),
        0
    );
    assert_eq!(
        s.sweep_multipart_uploads(Duration::from_secs(1800))
            .expect("sweep"),
        1
    );
    assert!(s.list_multipart_uploads("bkt").expect("list").is_empty());
    assert!(matches!(
        s.head_object("bkt", "a"),
        Err(Error::NoSuchKey { .. })
    ));
    s.flush_and_compact().expect("compact");
    let report = s.check_consistency().expect("check");
    assert!(report.orphan_segment_objects.is_empty(), "{report:?}");

    // Uploads older than the expiry are swept when the store opens.
    let c = s
        .create_multipart_upload("bkt", "c", PutOptions::managed())
        .expect("c");
    s.upload_part("bkt", "c", &c, 1, data(10, 1)).expect("part");
    s.close().expect("close");
    f.clock.advance(Duration::from_secs(8 * 24 * 3600));
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    assert!(s.list_multipart_uploads("bkt").expect("list").is_empty());
    assert!(matches!(
        s.complete_multipart_upload("bkt", "c", &c, &[], &PutCondition::None),
        Err(Error::NoSuchUpload(_))
    ));
}

fn raw_db(path: &Path) -> DB {
    let names = DB::list_cf(&Options::default(), path).expect("lists families");
    DB::open_cf(&Options::default(), path, names).expect("opens raw")
}

#[test]
fn parts_are_bound_to_their_place_and_upload_on_disk() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let mut uploads = Vec::new();
    for key in ["swapped", "moved-to", "untouched"] {
        let upload = s
            .create_multipart_upload("bkt", key, PutOptions::managed())
            .expect("create");
        let parts: Vec<_> = (1..=2)
            .map(|n| {
                s.upload_part("bkt", key, &upload, n, data(100 + n as usize, n as u8))
                    .expect("part")
            })
            .collect();
        s.complete_multipart_upload("bkt", key, &upload, &parts_of(&parts), &PutCondition::None)
            .expect("complete");
        uploads.push(upload);
    }
    s.close().expect("close");
    {
        let db = raw_db(f.dir.path());
        let chunks = db.cf_handle("chunks").expect("family");
        let segments: Vec<(Vec<u8>, Vec<u8>)> = db
            .iterator_cf(chunks, rocksdb::IteratorMode::Start)
            .map(|item| {
                let (k, v) = item.expect("reads");
                (k.to_vec(), v.to_vec())
            })
            .collect();
        let of = |upload: &str, part: u32| {
            let id = hex::decode(upload).expect("hex");
            segments
                .iter()
                .find(|(k, _)| k.starts_with(&id) && k[16..20] == part.to_be_bytes())
                .cloned()
                .expect("a segment")
        };
        // Swap the two parts of one object.
        let (k1, v1) = of(&uploads[0], 1);
        let (k2, v2) = of(&uploads[0], 2);
        db.put_cf(chunks, &k1, &v2).expect("writes");
        db.put_cf(chunks, &k2, &v1).expect("writes");
        // Put another upload's part 1 in place of this one's.
        let (k3, _) = of(&uploads[1], 1);
        let (_, foreign) = of(&uploads[2], 1);
        db.put_cf(chunks, &k3, &foreign).expect("writes");
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    for key in ["swapped", "moved-to"] {
        assert!(
            matches!(s.get_object("bkt", key), Err(Error::Integrity(_))),
            "{key}"
        );
        assert!(matches!(
            s.get_object_range("bkt", key, 0..10),
            Err(Error::Integrity(_))
        ));
    }
    assert_eq!(
        s.get_object("bkt", "untouched").expect("reads").body,
        [data(101, 1), data(102, 2)].concat()
    );
}

#[test]
fn an_upload_in_progress_holds_back_retirement() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let upload = s
        .create_multipart_upload("bkt", "k", PutOptions::managed())
        .expect("create");
    let part = s
        .upload_part("bkt", "k", &upload, 1, data(50, 1))
        .expect("part");
    s.rotate_master_key().expect("rotate");
    assert_eq!(
        s.retire_unused_master_keys().expect("retire"),
        1,
        "version 1 is in use"
    );
    let done = s
        .complete_multipart_upload(
            "bkt",
            "k",
            &upload,
            &[CompletedPart::from(&part)],
            &PutCondition::None,
        )
        .expect("complete");
    assert_eq!(done.protection.key_version, Some(1));
    s.rewrap_bucket("bkt").expect("rewrap");
    assert_eq!(s.retire_unused_master_keys().expect("retire"), 2);
    assert_eq!(s.get_object("bkt", "k").expect("get").body, data(50, 1));
}

#[test]
fn sessions_check_every_multipart_step() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let policy = |actions: &str| {
        PolicyDocument::parse(&format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":[{actions}],"Resource":["acs:oss:*:{ACCOUNT}:bkt","acs:oss:*:{ACCOUNT}:bkt/*"]}}]}}"#
        ))
        .expect("policy")
    };
    let writer =
        s.session(Principal::new("writer", ACCOUNT).with_policy(policy(r#""oss:PutObject""#)));
    let admin = s.session(Principal::new("admin", ACCOUNT).with_policy(policy(
        r#""oss:AbortMultipartUpload","oss:ListMultipartUploads""#,
    )));
    let upload = writer
        .create_multipart_upload("bkt", "k", PutOptions::managed())
        .expect("create");
    let part = writer
        .upload_part("bkt", "k", &upload, 1, Bytes::from_static(b"x"))
        .expect("part");
    assert!(matches!(
        admin.upload_part("bkt", "k", &upload, 2, Bytes::from_static(b"y")),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        writer.list_multipart_uploads("bkt"),
        Err(Error::AccessDenied { .. })
    ));
    assert_eq!(admin.list_multipart_uploads("bkt").expect("list").len(), 1);
    assert!(matches!(
        admin.complete_multipart_upload(
            "bkt",
            "k",
            &upload,
            &[CompletedPart::from(&part)],
            &PutCondition::None
        ),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        writer.abort_multipart_upload("bkt", "k", &upload),
        Err(Error::AccessDenied { .. })
    ));
    writer
        .complete_multipart_upload(
            "bkt",
            "k",
            &upload,
            &[CompletedPart::from(&part)],
            &PutCondition::None,
        )
        .expect("complete");
    // KMS uploads: the parts need kms:Decrypt on the CMK, as in S3.
    let cmk = s
        .kms()
        .create_key(Default::default(), &Caller::Trusted)
        .expect("cmk")
        .key_id;
    let kms_writer = s.session(Principal::new("kms-writer", ACCOUNT).with_policy(
        PolicyDocument::parse(&format!(
            r#"{{"Version":"1","Statement":[
                {{"Effect":"Allow","Action":"oss:PutObject","Resource":"acs:oss:*:{ACCOUNT}:bkt/*"}},
                {{"Effect":"Allow","Action":["kms:DescribeKey","kms:GenerateDataKey"],"Resource":"acs:kms:*:{ACCOUNT}:key/{cmk}"}}]}}"#
        ))
        .expect("policy"),
    ));
    let upload = kms_writer
        .create_multipart_upload("bkt", "kms", PutOptions::kms(Some(&cmk)))
        .expect("create");
    assert!(matches!(
        kms_writer.upload_part("bkt", "kms", &upload, 1, Bytes::from_static(b"x")),
        Err(Error::AccessDenied { action, .. }) if action == "kms:Decrypt"
    ));
    assert!(matches!(
        s.head_object("bkt", "kms"),
        Err(Error::NoSuchKey { .. })
    ));
}

#[test]
fn a_multipart_object_copied_over_itself_re_encrypts_whatever_its_part_sizes() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let upload = s
        .create_multipart_upload("bkt", "parts", PutOptions::managed())
        .expect("upload");
    // Parts that do not end on the 1 MiB segment boundaries a copy writes.
    let bodies = [
        data(MIB + 12_345, 1),
        data(2 * MIB + 7, 2),
        data(300_001, 3),
    ];
    let mut parts = Vec::new();
    for (number, body) in (1..).zip(&bodies) {
        let uploaded = s
            .upload_part("bkt", "parts", &upload, number, body.clone())
            .expect("part");
        parts.push(CompletedPart::new(number, &uploaded.etag));
    }
    s.complete_multipart_upload("bkt", "parts", &upload, &parts, &PutCondition::None)
        .expect("complete");
    let whole: Vec<u8> = bodies.iter().flat_map(|b| b.iter().copied()).collect();
    let copied = s
        .copy_object(
            ("bkt", "parts"),
            ("bkt", "parts"),
            coffer_store::CopyOptions::kms(None),
        )
        .expect("copy over itself");
    assert_eq!(copied.protection.mode, ProtectionMode::Kms);
    let got = s.get_object("bkt", "parts").expect("get");
    assert_eq!(got.body.len(), whole.len());
    assert!(got.body == whole, "the bytes survive the re-encryption");
    assert_eq!(got.meta.protection.mode, ProtectionMode::Kms);
    let range = s
        .get_object_range("bkt", "parts", 1_048_000..3_200_000)
        .expect("range");
    assert!(range.body == whole[1_048_000..3_200_000]);
}

#[test]
fn deleting_a_bucket_drops_its_uploads_and_they_hold_nothing_back() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    s.create_bucket("other").expect("bucket");
    let gone = s
        .create_multipart_upload("bkt", "k", PutOptions::managed())
        .expect("create");
    s.upload_part("bkt", "k", &gone, 1, data(2 * MIB, 1))
        .expect("part");
    let kept = s
        .create_multipart_upload("other", "k", PutOptions::managed())
        .expect("create");
    s.delete_bucket("bkt")
        .expect("an empty bucket deletes, uploads and all");
    assert!(matches!(
        s.abort_multipart_upload("bkt", "k", &gone),
        Err(Error::NoSuchUpload(_))
    ));
    assert_eq!(s.list_multipart_uploads("other").expect("lists").len(), 1);
    let report = s.check_consistency().expect("checks");
    assert!(report.orphan_segment_objects.is_empty(), "{report:?}");
    s.abort_multipart_upload("other", "k", &kept)
        .expect("aborts");
    s.rotate_master_key().expect("rotates");
    assert_eq!(
        s.retire_unused_master_keys().expect("retires"),
        2,
        "nothing holds version 1 back"
    );
    // An upload whose bucket was deleted by an earlier version (which left
    // it) goes when the store opens.
    s.create_bucket("again").expect("bucket");
    let left = s
        .create_multipart_upload("again", "k", PutOptions::managed())
        .expect("create");
    s.upload_part("again", "k", &left, 1, data(100, 2))
        .expect("part");
    s.close().expect("closes");
    {
        let db = raw_db(f.dir.path());
        db.delete_cf(db.cf_handle("buckets").expect("buckets"), b"again")
            .expect("deletes the bucket record only");
    }
    let s = Store::open(f.dir.path(), options(&f.clock)).expect("reopens");
    s.create_bucket("again").expect("bucket");
    assert!(s.list_multipart_uploads("again").expect("lists").is_empty());
    let report = s.check_consistency().expect("checks");
    assert!(report.orphan_segment_objects.is_empty(), "{report:?}");
    s.rotate_master_key().expect("rotates");
    assert_eq!(s.retire_unused_master_keys().expect("retires"), 3);
}
