//! The conformance suite every implementation of the object API runs in its
//! tests (feature `conformance`), unchanged for every engine and caller, as
//! every `object_store` backend runs `object_store::integration` and every
//! KMS backend the KMS conformance suite.
//!
//! It calls the operations through a [`Session`], so a session method that
//! made its call as another caller (the trusted path) fails it. Three runs
//! cover an implementation:
//!
//! | run | session | checks |
//! | --- | --- | --- |
//! | trusted | [`Session::trusted`] | [`run_full_rights`] |
//! | a principal allowed everything | `Session::new(api, principal)` | [`run_full_rights`] |
//! | a principal with [`PARTIAL_RIGHTS_POLICY`] | `Session::new(api, principal)` | [`partial_rights_are_enforced`] |
//!
//! The full-rights checks, in the order [`run_full_rights`] runs them:
//! [`rules_override_and_reporting`], [`changing_a_default_leaves_objects_alone`],
//! [`conditions`], [`ranges`], [`copies_re_encrypt`], [`multipart_uploads`],
//! [`listing`], [`bad_input_is_refused`]. Each check works in buckets of its
//! own, named from [`Harness::prefix`], and panics with a message naming what
//! broke.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;

use crate::{
    CompletedPart, CopyOptions, EncryptionRule, Error, GetConditions, ListOptions, ObjectApi,
    ObjectRead, PlaintextStream, Protection, ProtectionMode, PutCondition, PutOptions, Session,
};

/// The policy of the principal of the partial-rights run: reads of every
/// kind, puts only under KMS encryption (the condition key
/// `oss:x-oss-server-side-encryption`), and the KMS actions those need.
/// Everything else (creating and deleting buckets and objects, rules,
/// aborting uploads, managed or unencrypted puts, and multipart parts and
/// completions, which carry no encryption condition key) is denied, and so
/// are reads of objects named `secret…` and of buckets named `…-sealed`.
pub const PARTIAL_RIGHTS_POLICY: &str = r#"{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["oss:GetObject", "oss:ListObjects", "oss:GetBucketEncryption",
                 "oss:GetBucketInfo", "oss:ListMultipartUploads"],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": "oss:PutObject",
      "Resource": "*",
      "Condition": {"StringEquals": {"oss:x-oss-server-side-encryption": "KMS"}}
    },
    {
      "Effect": "Allow",
      "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
      "Resource": "*"
    },
    {
      "Effect": "Deny",
      "Action": "oss:GetObject",
      "Resource": "acs:oss:*:*:*/secret*"
    },
    {
      "Effect": "Deny",
      "Action": ["oss:ListObjects", "oss:GetBucketEncryption", "oss:GetBucketInfo",
                 "oss:ListMultipartUploads"],
      "Resource": "acs:oss:*:*:*-sealed"
    }
  ]
}"#;

/// What a run needs: the session under test, the implementation under it
/// (made trusted for set-up and for checking what a denied call left), and
/// a CMK the session's caller may use.
pub struct Harness<'a, A: ObjectApi> {
    /// The session under test.
    pub session: &'a Session<A>,
    /// The same implementation, for set-up as a trusted caller.
    pub trusted: &'a Session<A>,
    /// An enabled CMK's key id.
    pub cmk: String,
    /// An alias of that CMK (`alias/…`).
    pub cmk_alias: String,
    /// Bucket names start with this (lowercase letters, digits and hyphens;
    /// at most 50 characters). Distinct per run where runs share an engine.
    pub prefix: String,
}

impl<A: ObjectApi> Harness<'_, A> {
    fn bucket(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// A fresh bucket, created by the session under test.
    fn new_bucket(&self, name: &str) -> String {
        let bucket = self.bucket(name);
        self.session
            .create_bucket(&bucket)
            .unwrap_or_else(|e| panic!("creating bucket {bucket}: {e}"));
        bucket
    }
}

fn body(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect::<Vec<_>>()
        .into()
}

fn managed(version: Option<u32>) -> impl Fn(&Protection) -> bool {
    move |p| {
        p.mode == ProtectionMode::Aes256
            && p.kms_key_id.is_none()
            && p.key_version.is_some()
            && (version.is_none() || p.key_version == version)
    }
}

fn assert_kms(protection: &Protection, cmk: &str, what: &str) {
    assert_eq!(protection.mode, ProtectionMode::Kms, "{what}: mode");
    assert_eq!(
        protection.kms_key_id.as_deref(),
        Some(cmk),
        "{what}: the CMK id (never an alias)"
    );
}

/// Every full-rights check, in order.
pub fn run_full_rights<A: ObjectApi>(h: &Harness<'_, A>) {
    rules_override_and_reporting(h);
    changing_a_default_leaves_objects_alone(h);
    conditions(h);
    ranges(h);
    copies_re_encrypt(h);
    multipart_uploads(h);
    listing(h);
    bad_input_is_refused(h);
}

/// The object's own rule wins over the bucket default; with neither, the
/// object is stored unencrypted; put, get, head and list report the same
/// protection, with the CMK's id even when the rule named an alias.
pub fn rules_override_and_reporting<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("rules");
    let plain = s
        .put_object(&bucket, "plain", body(100, 1), PutOptions::default())
        .expect("unencrypted put");
    assert_eq!(
        plain.protection.mode,
        ProtectionMode::None,
        "no rule at all"
    );

    s.put_bucket_encryption(&bucket, EncryptionRule::managed())
        .expect("managed default");
    assert_eq!(
        s.get_bucket_encryption(&bucket).expect("reads the rule"),
        EncryptionRule::managed()
    );
    let by_default = s
        .put_object(&bucket, "default", body(5000, 2), PutOptions::default())
        .expect("put under the default");
    assert!(
        managed(None)(&by_default.protection),
        "bucket default applies"
    );
    let own = s
        .put_object(
            &bucket,
            "own",
            body(300_000, 3),
            PutOptions::kms(Some(&h.cmk_alias)),
        )
        .expect("put with its own rule");
    assert_kms(&own.protection, &h.cmk, "the object's rule wins");

    for (key, expected, len, seed) in [
        ("plain", &plain.protection, 100, 1),
        ("default", &by_default.protection, 5000, 2),
        ("own", &own.protection, 300_000, 3),
    ] {
        let object = s.get_object(&bucket, key).expect("get");
        assert_eq!(object.body, body(len, seed), "{key}: the bytes written");
        assert_eq!(&object.meta.protection, expected, "{key}: get reports");
        let head = s.head_object(&bucket, key).expect("head");
        assert_eq!(&head.protection, expected, "{key}: head reports");
        assert_eq!(head.size, len as u64, "{key}: head's size");
    }
    let listed = s.list_objects(&bucket, &ListOptions::new()).expect("list");
    let protections: Vec<_> = listed
        .objects
        .iter()
        .map(|o| o.protection.clone())
        .collect();
    assert_eq!(
        protections,
        vec![by_default.protection, own.protection, plain.protection],
        "list reports each object's protection, in key order"
    );

    s.put_bucket_encryption(&bucket, EncryptionRule::kms(Some(&h.cmk_alias)))
        .expect("KMS default by alias");
    let under_alias = s
        .put_object(&bucket, "kms", body(10, 4), PutOptions::default())
        .expect("put under a KMS default");
    assert_kms(&under_alias.protection, &h.cmk, "a default naming an alias");
    let managed_own = s
        .put_object(&bucket, "managed", body(10, 5), PutOptions::managed())
        .expect("managed over a KMS default");
    assert!(
        managed(None)(&managed_own.protection),
        "managed wins over KMS"
    );
}

/// Changing or deleting a bucket's default never touches objects stored.
pub fn changing_a_default_leaves_objects_alone<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("defaults");
    s.put_bucket_encryption(&bucket, EncryptionRule::kms(Some(&h.cmk)))
        .expect("KMS default");
    let before = s
        .put_object(&bucket, "a", body(2000, 6), PutOptions::default())
        .expect("put");
    s.put_bucket_encryption(&bucket, EncryptionRule::managed())
        .expect("a new default");
    assert_eq!(
        s.head_object(&bucket, "a").expect("head").protection,
        before.protection
    );
    s.delete_bucket_encryption(&bucket).expect("no default");
    assert!(
        matches!(
            s.get_bucket_encryption(&bucket),
            Err(Error::NoSuchEncryptionRule(_))
        ),
        "a deleted rule is gone"
    );
    let object = s.get_object(&bucket, "a").expect("still readable");
    assert_eq!(object.meta.protection, before.protection);
    assert_eq!(object.body, body(2000, 6));
}

/// Conditional puts and reads, as HTTP and S3 define them.
pub fn conditions<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("conditions");
    let create = PutOptions::managed().with_condition(PutCondition::IfNotExists);
    let first = s
        .put_object(&bucket, "k", body(10, 7), create.clone())
        .expect("create");
    assert!(
        matches!(
            s.put_object(&bucket, "k", body(10, 8), create),
            Err(Error::AlreadyExists { .. })
        ),
        "IfNotExists over an object"
    );
    let stale = PutOptions::managed().with_condition(PutCondition::IfMatch("\"stale\"".into()));
    assert!(
        matches!(
            s.put_object(&bucket, "k", body(10, 9), stale),
            Err(Error::PreconditionFailed { .. })
        ),
        "IfMatch with another ETag"
    );
    assert_eq!(
        s.get_object(&bucket, "k").expect("get").body,
        body(10, 7),
        "nothing replaced"
    );
    let matching = PutOptions::managed().with_condition(PutCondition::IfMatch(first.etag.clone()));
    let second = s
        .put_object(&bucket, "k", body(10, 10), matching)
        .expect("IfMatch with its ETag");
    assert_ne!(second.etag, first.etag, "every write has its own ETag");

    let if_match = GetConditions::new().if_match(&second.etag);
    assert_eq!(
        s.get_object_if(&bucket, "k", &if_match)
            .expect("If-Match")
            .body,
        body(10, 10)
    );
    assert!(matches!(
        s.get_object_if(&bucket, "k", &GetConditions::new().if_match(&first.etag)),
        Err(Error::PreconditionFailed { .. })
    ));
    assert!(matches!(
        s.get_object_if(
            &bucket,
            "k",
            &GetConditions::new().if_none_match(&second.etag)
        ),
        Err(Error::NotModified { .. })
    ));
    assert!(matches!(
        s.head_object_if(
            &bucket,
            "k",
            &GetConditions::new().if_none_match(&second.etag)
        ),
        Err(Error::NotModified { .. })
    ));
}

/// Ranges read only what they cover, across segment boundaries, through
/// get, `Read + Seek` and the stream; a range outside the object is refused.
pub fn ranges<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("ranges");
    let len = 3 * (1 << 20) + 12_345;
    let whole = body(len, 11);
    s.put_object(&bucket, "big", whole.clone(), PutOptions::kms(Some(&h.cmk)))
        .expect("put");
    s.put_object(&bucket, "small", body(1000, 12), PutOptions::managed())
        .expect("put");
    for range in [
        0..1,
        16_380..16_400,
        (1 << 20) - 7..(1 << 20) + 9,
        0..len as u64,
    ] {
        let part = s
            .get_object_range(&bucket, "big", range.clone())
            .expect("ranged get");
        let (start, end) = (range.start as usize, range.end as usize);
        assert_eq!(part.body, whole.slice(start..end), "range {range:?}");
        assert_eq!(part.meta.size, len as u64, "a range reports the whole size");
    }
    assert_eq!(
        s.get_object_range(&bucket, "small", 10..20)
            .expect("small")
            .body,
        body(1000, 12).slice(10..20)
    );
    assert!(
        matches!(
            s.get_object_range(&bucket, "small", 900..1001),
            Err(Error::InvalidRange { .. })
        ),
        "a range past the end"
    );

    let mut reader = s.open_object(&bucket, "big").expect("open");
    assert_eq!(reader.meta().size, len as u64);
    reader
        .seek(SeekFrom::Start(2 * (1 << 20) - 3))
        .expect("seek");
    let mut six = [0u8; 6];
    reader.read_exact(&mut six).expect("read");
    let at = 2 * (1 << 20) - 3;
    assert_eq!(&six[..], &whole[at..at + 6], "read after a seek");

    let stream = s
        .get_object_stream(&bucket, "big", &GetConditions::new())
        .expect("stream");
    let from = (1 << 20) + 100;
    let stream = stream
        .with_range(from as u64..len as u64)
        .expect("narrowed");
    let mut streamed = Vec::new();
    for buffer in stream {
        streamed.extend_from_slice(&buffer.expect("buffer"));
    }
    assert_eq!(&streamed[..], &whole[from..], "a narrowed stream");
}

/// A copy re-encrypts under its own rule (or the destination's default): a
/// copy over itself with a new rule changes the protection and keeps the
/// bytes, as "encrypt historical objects" needs.
pub fn copies_re_encrypt<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("copies");
    let other = h.new_bucket("copies-to");
    s.put_bucket_encryption(&other, EncryptionRule::kms(Some(&h.cmk)))
        .expect("destination default");
    let data = body(1_500_000, 13);
    let original = s
        .put_object(&bucket, "old", data.clone(), PutOptions::default())
        .expect("unencrypted put");
    assert_eq!(original.protection.mode, ProtectionMode::None);

    let over_itself = s
        .copy_object((&bucket, "old"), (&bucket, "old"), CopyOptions::managed())
        .expect("copy over itself");
    assert!(managed(None)(&over_itself.protection), "re-encrypted");
    assert_ne!(over_itself.etag, original.etag);
    let read = s.get_object(&bucket, "old").expect("get");
    assert_eq!(read.body, data, "same bytes");
    assert_eq!(read.meta.protection, over_itself.protection);

    let across = s
        .copy_object((&bucket, "old"), (&other, "new"), CopyOptions::default())
        .expect("copy to another bucket");
    assert_kms(&across.protection, &h.cmk, "the destination's default");
    assert_eq!(s.get_object(&other, "new").expect("get").body, data);
    assert!(
        matches!(
            s.copy_object((&bucket, "missing"), (&bucket, "x"), CopyOptions::default()),
            Err(Error::NoSuchKey { .. })
        ),
        "a missing source"
    );
}

/// Multipart uploads: parts uploaded in any order complete into one object
/// under the upload's protection; wrong parts are refused; an aborted
/// upload is gone.
pub fn multipart_uploads<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("multipart");
    let upload = s
        .create_multipart_upload(&bucket, "parts", PutOptions::kms(Some(&h.cmk)))
        .expect("create");
    let (one, two) = (body(5 << 20, 14), body(300_000, 15));
    let second = s
        .upload_part(&bucket, "parts", &upload, 2, two.clone())
        .expect("part 2 first");
    let first = s
        .upload_part_from_reader(&bucket, "parts", &upload, 1, &one[..])
        .expect("part 1 from a reader");
    let listed = s.list_multipart_uploads(&bucket).expect("list uploads");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].upload_id, upload);
    assert_eq!(
        s.list_parts(&bucket, "parts", &upload).expect("list parts"),
        vec![first.clone(), second.clone()],
        "the parts by number, as their uploads returned them"
    );
    assert!(matches!(
        s.complete_multipart_upload(
            &bucket,
            "parts",
            &upload,
            &[CompletedPart::from(&second), CompletedPart::from(&first)],
            &PutCondition::None,
        ),
        Err(Error::InvalidPartOrder { .. })
    ));
    assert!(matches!(
        s.complete_multipart_upload(
            &bucket,
            "parts",
            &upload,
            &[
                CompletedPart::new(1, "\"wrong\""),
                CompletedPart::from(&second)
            ],
            &PutCondition::None,
        ),
        Err(Error::InvalidPart { .. })
    ));
    let done = s
        .complete_multipart_upload(
            &bucket,
            "parts",
            &upload,
            &[CompletedPart::from(&first), CompletedPart::from(&second)],
            &PutCondition::None,
        )
        .expect("complete");
    assert_kms(&done.protection, &h.cmk, "the upload's protection");
    let object = s.get_object(&bucket, "parts").expect("get");
    assert_eq!(object.body.len(), one.len() + two.len());
    assert_eq!(object.body.slice(..one.len()), one);
    assert_eq!(object.body.slice(one.len()..), two);
    let across = s
        .get_object_range(&bucket, "parts", (5 << 20) - 10..(5 << 20) + 10)
        .expect("a range across parts");
    assert_eq!(
        across.body,
        object.body.slice((5 << 20) - 10..(5 << 20) + 10)
    );

    let abandoned = s
        .create_multipart_upload(&bucket, "gone", PutOptions::managed())
        .expect("create");
    s.upload_part(&bucket, "gone", &abandoned, 1, body(10, 16))
        .expect("part");
    s.abort_multipart_upload(&bucket, "gone", &abandoned)
        .expect("abort");
    assert!(matches!(
        s.upload_part(&bucket, "gone", &abandoned, 2, body(10, 17)),
        Err(Error::NoSuchUpload(_))
    ));
    assert!(s.list_multipart_uploads(&bucket).expect("list").is_empty());
    assert!(matches!(
        s.list_parts(&bucket, "gone", &abandoned),
        Err(Error::NoSuchUpload(_))
    ));
    assert!(matches!(
        s.head_object(&bucket, "gone"),
        Err(Error::NoSuchKey { .. })
    ));
}

/// Listing: key order, prefixes, delimiters, pages.
pub fn listing<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("listing");
    for key in ["a/1", "a/2", "b/1", "b/2/x", "c"] {
        s.put_object(&bucket, key, body(key.len(), 18), PutOptions::managed())
            .expect("put");
    }
    let keys = |options: &ListOptions| -> (Vec<String>, Vec<String>, bool) {
        let page = s.list_objects(&bucket, options).expect("list");
        let keys = page.objects.iter().map(|o| o.key.clone()).collect();
        (keys, page.common_prefixes, page.is_truncated)
    };
    assert_eq!(
        keys(&ListOptions::new()).0,
        ["a/1", "a/2", "b/1", "b/2/x", "c"]
    );
    assert_eq!(keys(&ListOptions::new().prefix("b/")).0, ["b/1", "b/2/x"]);
    let (objects, prefixes, _) = keys(&ListOptions::new().delimiter("/"));
    assert_eq!(objects, ["c"]);
    assert_eq!(prefixes, ["a/", "b/"]);
    let (first, _, truncated) = keys(&ListOptions::new().max_keys(2));
    assert_eq!(
        (first.as_slice(), truncated),
        (&["a/1".to_owned(), "a/2".to_owned()][..], true)
    );
    let (rest, _, truncated) = keys(&ListOptions::new().start_after("a/2"));
    assert_eq!(
        (rest.as_slice(), truncated),
        (
            &["b/1".to_owned(), "b/2/x".to_owned(), "c".to_owned()][..],
            false
        )
    );
    s.delete_object(&bucket, "c").expect("delete");
    s.delete_object(&bucket, "c")
        .expect("deleting what is gone succeeds");
    assert_eq!(keys(&ListOptions::new()).0.len(), 4);
}

/// Bad input gets a typed error and changes nothing.
pub fn bad_input_is_refused<A: ObjectApi>(h: &Harness<'_, A>) {
    let s = h.session;
    let bucket = h.new_bucket("errors");
    let missing = h.bucket("missing");
    assert!(matches!(
        s.create_bucket(&bucket),
        Err(Error::BucketAlreadyExists(_))
    ));
    assert!(matches!(
        s.create_bucket("No_Such"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        s.put_object(&missing, "k", body(1, 0), PutOptions::default()),
        Err(Error::NoSuchBucket(_))
    ));
    assert!(matches!(
        s.get_object(&missing, "k"),
        Err(Error::NoSuchBucket(_))
    ));
    assert!(matches!(
        s.get_object(&bucket, "k"),
        Err(Error::NoSuchKey { .. })
    ));
    assert!(matches!(
        s.head_object(&bucket, "k"),
        Err(Error::NoSuchKey { .. })
    ));
    for key in ["", "/leading"] {
        assert!(
            matches!(
                s.put_object(&bucket, key, body(1, 0), PutOptions::default()),
                Err(Error::InvalidArgument(_))
            ),
            "key {key:?}"
        );
    }
    assert!(matches!(
        s.put_bucket_encryption(&bucket, EncryptionRule::kms(Some("no-such-key"))),
        Err(Error::KeyNotFound(_))
    ));
    assert!(matches!(
        s.put_object(
            &bucket,
            "k",
            body(1, 0),
            PutOptions::kms(Some("no-such-key"))
        ),
        Err(Error::KeyNotFound(_))
    ));
    assert!(matches!(
        s.get_bucket_encryption(&bucket),
        Err(Error::NoSuchEncryptionRule(_))
    ));
    assert!(matches!(
        s.upload_part(
            &bucket,
            "k",
            "00000000000000000000000000000000",
            1,
            body(1, 0)
        ),
        Err(Error::NoSuchUpload(_))
    ));
    s.put_object(&bucket, "k", body(1, 0), PutOptions::default())
        .expect("put");
    assert!(matches!(
        s.delete_bucket(&bucket),
        Err(Error::BucketNotEmpty(_))
    ));
    s.delete_object(&bucket, "k").expect("delete");
    s.delete_bucket(&bucket).expect("an empty bucket goes");
    assert!(matches!(
        s.head_bucket(&bucket),
        Err(Error::NoSuchBucket(_))
    ));
    assert!(
        !s.list_buckets()
            .expect("list buckets")
            .iter()
            .any(|b| b.name == bucket)
    );
}

fn denied<T: std::fmt::Debug>(result: crate::Result<T>, action: &str, what: &str) {
    match result {
        Err(Error::AccessDenied { action: got, .. }) => {
            assert_eq!(got, action, "{what}: denied for the action it needs")
        }
        other => panic!("{what}: expected AccessDenied for {action}, got {other:?}"),
    }
}

/// A principal with [`PARTIAL_RIGHTS_POLICY`]: every allowed operation
/// works, every other one is [`Error::AccessDenied`] for the action it needs
/// and leaves the store as it was (checked by the trusted side).
pub fn partial_rights_are_enforced<A: ObjectApi>(h: &Harness<'_, A>) {
    let (s, t) = (h.session, h.trusted);
    let bucket = h.bucket("partial");
    t.create_bucket(&bucket).expect("set-up: bucket");
    t.put_bucket_encryption(&bucket, EncryptionRule::managed())
        .expect("set-up: rule");
    let kept = t
        .put_object(
            &bucket,
            "kept",
            body(2000, 20),
            PutOptions::kms(Some(&h.cmk)),
        )
        .expect("set-up: object");
    let upload = t
        .create_multipart_upload(&bucket, "upload", PutOptions::kms(Some(&h.cmk)))
        .expect("set-up: upload");

    // Allowed: reads of every kind, and puts under KMS.
    assert_eq!(
        s.get_object(&bucket, "kept").expect("get").body,
        body(2000, 20)
    );
    assert_eq!(
        s.head_object(&bucket, "kept").expect("head").protection,
        kept.protection
    );
    assert_eq!(
        s.list_objects(&bucket, &ListOptions::new())
            .expect("list")
            .objects
            .len(),
        1
    );
    assert_eq!(
        s.get_bucket_encryption(&bucket).expect("rule"),
        EncryptionRule::managed()
    );
    assert_eq!(s.head_bucket(&bucket).expect("head bucket").name, bucket);
    assert_eq!(s.list_multipart_uploads(&bucket).expect("uploads").len(), 1);
    let written = s
        .put_object(&bucket, "kms", body(10, 21), PutOptions::kms(Some(&h.cmk)))
        .expect("a KMS put is allowed");
    assert_kms(&written.protection, &h.cmk, "the session's put");
    // Parts and completions carry no encryption header (as in S3 and OSS),
    // so an Allow conditioned on one does not cover them.
    denied(
        s.upload_part(&bucket, "upload", &upload, 1, body(100, 22)),
        "oss:PutObject",
        "a part (no encryption condition key)",
    );
    let part = t
        .upload_part(&bucket, "upload", &upload, 1, body(100, 22))
        .expect("set-up: a part");
    denied(
        s.complete_multipart_upload(
            &bucket,
            "upload",
            &upload,
            &[CompletedPart::from(&part)],
            &PutCondition::None,
        ),
        "oss:PutObject",
        "a completion",
    );

    // Denied, each for its action; nothing changes.
    denied(
        s.create_bucket(&h.bucket("partial-new")),
        "oss:PutBucket",
        "create bucket",
    );
    denied(
        s.delete_bucket(&bucket),
        "oss:DeleteBucket",
        "delete bucket",
    );
    denied(s.list_buckets(), "oss:ListBuckets", "list buckets");
    denied(
        s.put_bucket_encryption(&bucket, EncryptionRule::kms(Some(&h.cmk))),
        "oss:PutBucketEncryption",
        "put rule",
    );
    denied(
        s.delete_bucket_encryption(&bucket),
        "oss:DeleteBucketEncryption",
        "delete rule",
    );
    denied(
        s.put_object(&bucket, "managed", body(10, 23), PutOptions::default()),
        "oss:PutObject",
        "a put under the managed default",
    );
    denied(
        s.put_object_from_reader(&bucket, "managed", &body(10, 23)[..], PutOptions::managed()),
        "oss:PutObject",
        "a managed put from a reader",
    );
    denied(
        s.copy_object((&bucket, "kept"), (&bucket, "copy"), CopyOptions::managed()),
        "oss:PutObject",
        "a managed copy",
    );
    denied(
        s.create_multipart_upload(&bucket, "managed-upload", PutOptions::managed()),
        "oss:PutObject",
        "a managed upload",
    );
    denied(
        s.delete_object(&bucket, "kept"),
        "oss:DeleteObject",
        "delete object",
    );
    let second = t
        .create_multipart_upload(&bucket, "second", PutOptions::kms(Some(&h.cmk)))
        .expect("set-up: another upload");
    denied(
        s.abort_multipart_upload(&bucket, "second", &second),
        "oss:AbortMultipartUpload",
        "abort",
    );

    // Reads, every form of them, where the policy denies them.
    t.put_object(
        &bucket,
        "secret",
        body(3000, 24),
        PutOptions::kms(Some(&h.cmk)),
    )
    .expect("set-up: a secret");
    let none = GetConditions::new();
    let get = "oss:GetObject";
    denied(s.get_object(&bucket, "secret"), get, "get");
    denied(
        s.get_object_if(&bucket, "secret", &none),
        get,
        "conditional get",
    );
    denied(
        s.get_object_range(&bucket, "secret", 0..1),
        get,
        "ranged get",
    );
    denied(
        s.get_object_range_if(&bucket, "secret", 0..1, &none),
        get,
        "conditional range",
    );
    denied(s.open_object(&bucket, "secret").map(|_| ()), get, "open");
    denied(
        s.open_object_if(&bucket, "secret", &none).map(|_| ()),
        get,
        "conditional open",
    );
    denied(
        s.get_object_stream(&bucket, "secret", &none).map(|_| ()),
        get,
        "stream",
    );
    denied(s.head_object(&bucket, "secret"), get, "head");
    denied(
        s.head_object_if(&bucket, "secret", &none),
        get,
        "conditional head",
    );
    denied(
        s.copy_object(
            (&bucket, "secret"),
            (&bucket, "leak"),
            CopyOptions::kms(Some(&h.cmk)),
        ),
        get,
        "a copy from it",
    );
    let sealed = h.bucket("sealed");
    t.create_bucket(&sealed).expect("set-up: a sealed bucket");
    t.put_bucket_encryption(&sealed, EncryptionRule::managed())
        .expect("set-up: its rule");
    denied(
        s.list_objects(&sealed, &ListOptions::new()),
        "oss:ListObjects",
        "list",
    );
    denied(
        s.get_bucket_encryption(&sealed),
        "oss:GetBucketEncryption",
        "get rule",
    );
    denied(s.head_bucket(&sealed), "oss:GetBucketInfo", "head bucket");
    denied(
        s.list_multipart_uploads(&sealed),
        "oss:ListMultipartUploads",
        "list uploads",
    );

    assert!(matches!(
        t.head_object(&bucket, "leak"),
        Err(Error::NoSuchKey { .. })
    ));
    assert_eq!(
        t.get_bucket_encryption(&bucket).expect("rule"),
        EncryptionRule::managed()
    );
    assert!(matches!(
        t.head_bucket(&h.bucket("partial-new")),
        Err(Error::NoSuchBucket(_))
    ));
    for key in ["managed", "copy", "managed-upload", "upload"] {
        assert!(
            matches!(t.head_object(&bucket, key), Err(Error::NoSuchKey { .. })),
            "{key}: a denied write left nothing"
        );
    }
    assert_eq!(
        t.get_object(&bucket, "kept").expect("kept").body,
        body(2000, 20)
    );
    let uploads = t.list_multipart_uploads(&bucket).expect("uploads");
    let mut ids: Vec<_> = uploads.iter().map(|u| u.upload_id.clone()).collect();
    ids.sort();
    let mut expected = vec![upload, second];
    expected.sort();
    assert_eq!(
        ids, expected,
        "the uploads whose completion and abort were denied"
    );
}
