//! Concurrent writers of one key and readers of it: the last writer wins, and a
//! reader always sees one whole version, never a mix. The store is shared across
//! threads by cloning. A bucket deleted while objects are put into it ends in
//! the state that matches whichever way the race went.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use coffer_store::{Error, PutOptions, Store};
use common::{MIB, data, fixture};

fn assert_shareable<T: Send + Sync + Clone + 'static>() {}

#[test]
fn the_store_is_send_sync_and_cheap_to_clone() {
    assert_shareable::<Store>();
    assert_shareable::<coffer_store::Session>();
}

#[test]
fn concurrent_writers_and_readers_never_see_a_mix() {
    let f = fixture();
    let store = f.store.clone();
    store.create_bucket("shared").expect("bucket");
    // Versions alternate between inline and segmented sizes and between modes.
    let versions: Arc<Vec<Bytes>> = Arc::new(
        (0..8u8)
            .map(|v| {
                data(
                    if v % 2 == 0 {
                        3000 + usize::from(v)
                    } else {
                        MIB + 7 * usize::from(v)
                    },
                    v,
                )
            })
            .collect(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (store, versions) = (store.clone(), versions.clone());
            std::thread::spawn(move || {
                for round in 0..12 {
                    let v = (w * 3 + round) % versions.len();
                    let options = if v % 3 == 0 {
                        PutOptions::kms(None)
                    } else {
                        PutOptions::managed()
                    };
                    store
                        .put_object("shared", "key", versions[v].clone(), options)
                        .expect("put");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, versions, done) = (store.clone(), versions.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = 0;
                while !done.load(Ordering::Relaxed) {
                    match store.get_object("shared", "key") {
                        Ok(object) => {
                            assert!(
                                versions.contains(&object.body),
                                "a read returned a mix of versions"
                            );
                            seen += 1;
                        }
                        Err(Error::NoSuchKey { .. }) => {}
                        Err(other) => panic!("read failed: {other}"),
                    }
                }
                seen
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    done.store(true, Ordering::Relaxed);
    let reads: usize = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(reads > 0);
    let last = store.get_object("shared", "key").expect("get").body;
    assert!(versions.contains(&last));
    let report = store.check_consistency().expect("check");
    assert!(
        report.orphan_segment_objects.is_empty() && report.missing_segments.is_empty(),
        "{report:?}"
    );
}

#[test]
fn no_object_lands_in_a_bucket_being_deleted() {
    let f = fixture();
    let store = f.store.clone();
    for round in 0..20 {
        let bucket = format!("gone-{round}");
        store.create_bucket(&bucket).expect("bucket");
        let writer = {
            let (store, bucket) = (store.clone(), bucket.clone());
            std::thread::spawn(move || {
                (0..20)
                    .map(|i| {
                        store.put_object(
                            &bucket,
                            &format!("k{i}"),
                            data(100, i as u8),
                            PutOptions::managed(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        };
        // Delete as soon as the bucket is empty at some moment, or give up.
        // Each key is written once, so a key deleted here is gone for good.
        let mut removed = BTreeSet::new();
        let deleted = (0..200).any(|_| match store.delete_bucket(&bucket) {
            Ok(()) => true,
            Err(Error::BucketNotEmpty(_)) => {
                let listed = store
                    .list_objects(&bucket, &Default::default())
                    .expect("the bucket exists until it is deleted here")
                    .objects;
                for object in listed {
                    store
                        .delete_object(&bucket, &object.key)
                        .expect("delete an object");
                    removed.insert(object.key);
                }
                false
            }
            Err(other) => panic!("round {round}: delete_bucket: {other}"),
        });
        let puts = writer.join().expect("writer");

        // Every put either landed or found the bucket gone; once it is gone it
        // stays gone until this thread creates it again.
        let mut landed = BTreeSet::new();
        let mut refused = false;
        for (i, put) in puts.iter().enumerate() {
            let key = format!("k{i}");
            match put {
                Ok(_) => {
                    assert!(!refused, "round {round}: {key} landed after a refused put");
                    landed.insert(key);
                }
                Err(Error::NoSuchBucket(_)) => {
                    assert!(
                        deleted,
                        "round {round}: {key} refused by a bucket never deleted"
                    );
                    refused = true;
                }
                Err(other) => panic!("round {round}: put {key}: {other}"),
            }
        }
        if deleted {
            // The delete found the bucket empty, so each put that landed was
            // removed here first; none outlived the bucket unseen.
            let unseen: Vec<_> = landed.difference(&removed).collect();
            assert!(
                unseen.is_empty(),
                "round {round}: puts landed yet the bucket was deleted: {unseen:?}"
            );
            assert!(
                matches!(store.head_bucket(&bucket), Err(Error::NoSuchBucket(_))),
                "round {round}: the deleted bucket still exists"
            );
            assert!(matches!(
                store.get_object(&bucket, "k0"),
                Err(Error::NoSuchBucket(_))
            ));
            store.create_bucket(&bucket).expect("recreate");
            let left = store
                .list_objects(&bucket, &Default::default())
                .expect("list")
                .objects;
            assert!(
                left.is_empty(),
                "round {round}: objects outlived their bucket: {left:?}"
            );
        } else {
            // Never empty when asked: the bucket stands, holding exactly the
            // puts that landed and were not removed here, each intact.
            let left: BTreeSet<String> = store
                .list_objects(&bucket, &Default::default())
                .expect("the undeleted bucket lists")
                .objects
                .into_iter()
                .map(|o| o.key)
                .collect();
            let kept: BTreeSet<String> = landed.difference(&removed).cloned().collect();
            assert_eq!(left, kept, "round {round}: the surviving objects");
            for key in &kept {
                let i: u8 = key[1..].parse().expect("k<i>");
                assert_eq!(
                    store.get_object(&bucket, key).expect("get").body,
                    data(100, i),
                    "round {round}: {key}"
                );
            }
        }
    }
}
