//! Conditional writes (if no object is there, if the object there has an
//! ETag), atomic against other writers of the key; conditional reads with HTTP's
//! semantics on get, range, open and head; a copy over itself (a
//! re-encryption) that never reverts a write landing while it copies; and the
//! attributes kept with an object, through put, copy and sessions.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use coffer_store::{
    CopyOptions, Error, GetConditions, ObjectAttributes, PolicyDocument, Principal, PutCondition,
    PutOptions,
};
use common::{ACCOUNT, MIB, data, fixture};

#[test]
fn puts_if_not_exists_and_if_match() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let create = PutOptions::managed().with_condition(PutCondition::IfNotExists);
    let first = s
        .put_object("bkt", "k", data(10, 1), create.clone())
        .expect("created");
    assert!(matches!(
        s.put_object("bkt", "k", data(10, 2), create.clone()),
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(s.get_object("bkt", "k").expect("get").body, data(10, 1));

    let update =
        |etag: &str| PutOptions::managed().with_condition(PutCondition::IfMatch(etag.into()));
    let second = s
        .put_object("bkt", "k", data(20, 3), update(&first.etag))
        .expect("the ETag matches");
    assert_ne!(first.etag, second.etag);
    assert!(matches!(
        s.put_object("bkt", "k", data(20, 4), update(&first.etag)),
        Err(Error::PreconditionFailed { .. })
    ));
    assert!(matches!(
        s.put_object("bkt", "k", data(20, 4), update("not an etag")),
        Err(Error::PreconditionFailed { .. })
    ));
    assert!(matches!(
        s.put_object("bkt", "missing", data(20, 4), update(&second.etag)),
        Err(Error::PreconditionFailed { .. })
    ));
    assert_eq!(s.get_object("bkt", "k").expect("get").body, data(20, 3));
    assert!(matches!(
        s.head_object("bkt", "missing"),
        Err(Error::NoSuchKey { .. })
    ));

    // A large conditional put that fails leaves none of its segments behind,
    // whether it is written in one batch or streamed.
    for size in [3 * MIB, 9 * MIB] {
        assert!(matches!(
            s.put_object("bkt", "k", data(size, 5), create.clone()),
            Err(Error::AlreadyExists { .. })
        ));
        assert!(matches!(
            s.put_object_from_reader(
                "bkt",
                "k",
                std::io::Cursor::new(data(size, 5).to_vec()),
                update(&first.etag)
            ),
            Err(Error::PreconditionFailed { .. })
        ));
    }
    let report = s.check_consistency().expect("check");
    assert!(report.orphan_segment_objects.is_empty(), "{report:?}");
    // Deleting is a write like any other: a conditional create works again after.
    s.delete_object("bkt", "k").expect("delete");
    s.put_object("bkt", "k", data(1, 1), create)
        .expect("created again");
}

#[test]
fn read_modify_write_loses_no_increment() {
    const WRITERS: usize = 5;
    const INCREMENTS: usize = 10;
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| {
                for _ in 0..INCREMENTS {
                    loop {
                        let attempt = match s.get_object("bkt", "counter") {
                            Ok(object) => {
                                let value: usize = std::str::from_utf8(&object.body)
                                    .expect("utf-8")
                                    .parse()
                                    .expect("a number");
                                s.put_object(
                                    "bkt",
                                    "counter",
                                    (value + 1).to_string().into(),
                                    PutOptions::managed()
                                        .with_condition(PutCondition::IfMatch(object.meta.etag)),
                                )
                            }
                            Err(Error::NoSuchKey { .. }) => s.put_object(
                                "bkt",
                                "counter",
                                "1".into(),
                                PutOptions::managed().with_condition(PutCondition::IfNotExists),
                            ),
                            Err(other) => panic!("get: {other}"),
                        };
                        match attempt {
                            Ok(_) => break,
                            Err(Error::PreconditionFailed { .. } | Error::AlreadyExists { .. }) => {
                            }
                            Err(other) => panic!("put: {other}"),
                        }
                    }
                }
            });
        }
    });
    let total = s.get_object("bkt", "counter").expect("get").body;
    assert_eq!(total, (WRITERS * INCREMENTS).to_string());
}

#[test]
fn conditional_reads_follow_http_on_every_read() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    // Written at a whole second and 700 ms.
    f.clock.advance(Duration::from_millis(700));
    for (key, size) in [("small", 100), ("large", 2 * MIB + 7)] {
        s.put_object("bkt", key, data(size, 1), PutOptions::managed())
            .expect("put");
        let meta = s.head_object("bkt", key).expect("head");
        let modified = meta.last_modified;
        let whole_second = modified - Duration::from_millis(700);
        let ok = [
            GetConditions::new().if_match(&meta.etag),
            GetConditions::new().if_match("*"),
            GetConditions::new().if_none_match("\"00\""),
            GetConditions::new().if_modified_since(whole_second - Duration::from_secs(1)),
            GetConditions::new().if_unmodified_since(whole_second),
            GetConditions::new().if_unmodified_since(modified + Duration::from_secs(3600)),
        ];
        let failed = [
            GetConditions::new().if_match("\"00\""),
            GetConditions::new().if_unmodified_since(whole_second - Duration::from_secs(1)),
        ];
        let not_modified = [
            GetConditions::new().if_none_match(&meta.etag),
            GetConditions::new().if_none_match("*"),
            // Whole seconds: written at .700 of the second named, so not after it.
            GetConditions::new().if_modified_since(whole_second),
            GetConditions::new().if_modified_since(modified),
        ];
        for conditions in &ok {
            s.get_object_if("bkt", key, conditions).expect("get");
            s.head_object_if("bkt", key, conditions).expect("head");
            s.get_object_range_if("bkt", key, 1..50, conditions)
                .expect("range");
            s.open_object_if("bkt", key, conditions).expect("open");
        }
        for conditions in &failed {
            assert!(matches!(
                s.get_object_if("bkt", key, conditions),
                Err(Error::PreconditionFailed { .. })
            ));
            assert!(matches!(
                s.head_object_if("bkt", key, conditions),
                Err(Error::PreconditionFailed { .. })
            ));
            assert!(matches!(
                s.get_object_range_if("bkt", key, 1..50, conditions),
                Err(Error::PreconditionFailed { .. })
            ));
            assert!(matches!(
                s.open_object_if("bkt", key, conditions),
                Err(Error::PreconditionFailed { .. })
            ));
        }
        for conditions in &not_modified {
            assert!(
                matches!(
                    s.get_object_if("bkt", key, conditions),
                    Err(Error::NotModified { .. })
                ),
                "{conditions:?}"
            );
            assert!(matches!(
                s.head_object_if("bkt", key, conditions),
                Err(Error::NotModified { .. })
            ));
            assert!(matches!(
                s.open_object_if("bkt", key, conditions),
                Err(Error::NotModified { .. })
            ));
        }
    }
}

#[test]
fn attributes_are_kept_copied_and_replaced() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let attributes = ObjectAttributes::new()
        .with_content_type("text/html; charset=utf-8")
        .with_content_disposition("attachment; filename=\"test.html\"")
        .with_content_encoding("gzip")
        .with_content_language("en-US")
        .with_cache_control("max-age=604800");
    for (key, size) in [("small", 10), ("large", 2 * MIB)] {
        s.put_object(
            "bkt",
            key,
            data(size, 1),
            PutOptions::kms(None)
                .with_attributes(attributes.clone())
                .with_metadata("key with spaces", "hello   world"),
        )
        .expect("put");
        let meta = s.head_object("bkt", key).expect("head");
        assert_eq!(meta.attributes, attributes);
        assert_eq!(
            meta.user_metadata
                .get("key with spaces")
                .map(String::as_str),
            Some("hello   world")
        );
        assert_eq!(
            s.get_object("bkt", key).expect("get").meta.attributes,
            attributes
        );
        s.copy_object(("bkt", key), ("bkt", "copy"), CopyOptions::default())
            .expect("copy");
        let copied = s.head_object("bkt", "copy").expect("head");
        assert_eq!(copied.attributes, attributes, "a copy keeps them");
        assert_eq!(copied.user_metadata, meta.user_metadata);
        let replaced = ObjectAttributes::new().with_content_type("application/json");
        s.copy_object(
            ("bkt", key),
            ("bkt", "copy"),
            CopyOptions::default().with_metadata_replaced(replaced.clone(), BTreeMap::new()),
        )
        .expect("copy");
        let copied = s.head_object("bkt", "copy").expect("head");
        assert_eq!(copied.attributes, replaced, "or replaces them");
        assert!(copied.user_metadata.is_empty());
        assert!(matches!(
            s.copy_object(
                ("bkt", key),
                ("bkt", "copy"),
                CopyOptions::default().with_condition(PutCondition::IfNotExists)
            ),
            Err(Error::AlreadyExists { .. })
        ));
    }
}

#[test]
fn sessions_check_conditional_operations_as_plain_ones() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    let put = s
        .put_object("bkt", "k", data(10, 1), PutOptions::managed())
        .expect("put");
    let reader = s.session(
        Principal::new("reader", ACCOUNT).with_policy(
            PolicyDocument::parse(&format!(
                r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:{ACCOUNT}:bkt/*"}}]}}"#
            ))
            .expect("policy"),
        ),
    );
    assert!(matches!(
        reader.put_object(
            "bkt",
            "k",
            data(1, 1),
            PutOptions::managed().with_condition(PutCondition::IfMatch(put.etag.clone()))
        ),
        Err(Error::AccessDenied { .. })
    ));
    reader
        .get_object_if("bkt", "k", &GetConditions::new().if_match(&put.etag))
        .expect("reads");
    assert!(matches!(
        reader.head_object_if("bkt", "k", &GetConditions::new().if_none_match(&put.etag)),
        Err(Error::NotModified { .. })
    ));
    let nobody = s.session(Principal::new("nobody", ACCOUNT));
    assert!(matches!(
        nobody.get_object_if("bkt", "k", &GetConditions::new().if_match("\"x\"")),
        Err(Error::AccessDenied { .. })
    ));
}

#[test]
fn a_copy_over_itself_never_reverts_a_write_that_lands_while_it_copies() {
    let f = fixture();
    let s = &f.store;
    s.create_bucket("bkt").expect("bucket");
    s.put_object("bkt", "big", data(96 * MIB, 1), PutOptions::default())
        .expect("put");
    let copy = {
        let s = s.clone();
        std::thread::spawn(move || {
            s.copy_object(("bkt", "big"), ("bkt", "big"), CopyOptions::kms(None))
        })
    };
    // The copy has read the record and is streaming 96 MiB through AES-GCM.
    std::thread::sleep(Duration::from_millis(20));
    s.put_object("bkt", "big", data(100, 2), PutOptions::managed())
        .expect("a write lands meanwhile");
    let copied = copy.join().expect("copy thread");
    assert!(
        matches!(copied, Err(Error::PreconditionFailed { .. })),
        "the copy read the old content and must not commit it: {:?}",
        copied.map(|r| r.etag)
    );
    assert_eq!(
        s.get_object("bkt", "big").expect("get").body,
        data(100, 2),
        "the write that landed is what the object holds"
    );
    // A condition the caller gives is the one applied.
    let current = s.head_object("bkt", "big").expect("head").etag;
    s.copy_object(
        ("bkt", "big"),
        ("bkt", "big"),
        CopyOptions::kms(None).with_condition(PutCondition::IfMatch(current)),
    )
    .expect("copies under the caller's condition");
}
