//! Several handles on one store, as several processes would have: what one
//! writes the other reads, and changes to the shared records never lose
//! each other.

use std::sync::Arc;

use bytes::Bytes;
use coffer_remote::RemoteStore;
use coffer_sse::{EncryptionRule, Error, ObjectApi, PutOptions, Session};

use crate::common;

#[test]
fn what_one_handle_writes_the_other_reads() {
    for (name, backend, _dir) in common::backends() {
        let (first, cmk, _) = common::store(Arc::clone(&backend));
        let second = RemoteStore::open(Arc::clone(&backend), common::options()).expect("open");
        assert_eq!(first.id(), second.id());
        let (a, b) = (Session::trusted(first), Session::trusted(second));
        a.create_bucket("shared").expect("bucket");
        assert!(matches!(
            b.create_bucket("shared"),
            Err(Error::BucketAlreadyExists(_))
        ));
        for (key, options) in [
            ("managed", PutOptions::managed()),
            ("kms", PutOptions::kms(Some(&cmk))),
        ] {
            a.put_object("shared", key, Bytes::from_static(b"from a"), options)
                .expect("put");
            let got = b.get_object("shared", key).expect("read by the other");
            assert_eq!(got.body, "from a", "{name}: {key}");
        }
        b.put_bucket_encryption("shared", EncryptionRule::kms(Some(&cmk)))
            .expect("rule");
        assert_eq!(
            a.api()
                .get_bucket_encryption_as("shared", a.caller())
                .expect("rule"),
            EncryptionRule::kms(Some(&cmk)),
            "{name}: a rule read back from the store, not a stale cache"
        );
    }
}
