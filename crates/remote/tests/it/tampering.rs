//! What an attacker with write access to the object store can do, done with
//! the backend's own calls behind coffer's back: every change is an
//! integrity error naming the object, never other bytes; and what the
//! backend holds shows no plaintext.

use std::sync::Arc;

use bytes::Bytes;
use coffer_keyring::RootKey;
use coffer_remote::layout::stored_len;
use coffer_remote::{RemoteOptions, RemoteStore};
use coffer_sse::{Error, GetOptions, ObjectApi, PutOptions, Session};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::common;

/// The backend's own calls, on a runtime of the test's.
struct Raw {
    runtime: tokio::runtime::Runtime,
    store: Arc<dyn ObjectStore>,
}

impl Raw {
    fn new(store: Arc<dyn ObjectStore>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        Self { runtime, store }
    }

    fn get(&self, path: &str) -> Bytes {
        let store = Arc::clone(&self.store);
        let path = Path::from(path);
        self.runtime.block_on(async move {
            store
                .get(&path)
                .await
                .expect("get")
                .bytes()
                .await
                .expect("bytes")
        })
    }

    fn put(&self, path: &str, bytes: Bytes) {
        let store = Arc::clone(&self.store);
        let path = Path::from(path);
        self.runtime.block_on(async move {
            store
                .put(&path, PutPayload::from(bytes))
                .await
                .expect("put");
        });
    }

    fn copy(&self, from: &str, to: &str) {
        let store = Arc::clone(&self.store);
        let (from, to) = (Path::from(from), Path::from(to));
        self.runtime
            .block_on(async move { store.copy(&from, &to).await.expect("copy") });
    }

    fn all(&self) -> Vec<(String, Bytes)> {
        let store = Arc::clone(&self.store);
        let listed: Vec<_> = self
            .runtime
            .block_on(async move { store.list(None).try_collect::<Vec<_>>().await })
            .expect("list");
        listed
            .into_iter()
            .map(|meta| {
                let name = meta.location.to_string();
                let bytes = self.get(&name);
                (name, bytes)
            })
            .collect()
    }
}

fn integrity<T: std::fmt::Debug>(result: coffer_sse::Result<T>, names: &str, what: &str) {
    match result {
        Err(Error::Integrity(reason)) => {
            assert!(
                reason.contains(names),
                "{what}: {reason} does not name {names}"
            )
        }
        other => panic!("{what}: {other:?}, not an integrity error"),
    }
}

const SECRET: &[u8] = b"attack at dawn, bring the secret plans; ";

fn secret_body(len: usize) -> Bytes {
    SECRET
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect::<Vec<_>>()
        .into()
}

#[test]
fn the_backend_holds_no_plaintext_and_sizes_follow_the_formula() {
    for (name, backend, _dir) in common::backends() {
        let (store, cmk, _) = common::store(Arc::clone(&backend));
        let s = Session::trusted(store.clone());
        s.create_bucket("plain-check").expect("bucket");
        let sizes = [0usize, 1, 16 * 1024, 100_000, 9 << 20];
        for (i, size) in sizes.iter().enumerate() {
            let options = if i % 2 == 0 {
                PutOptions::managed()
            } else {
                PutOptions::kms(Some(&cmk))
            };
            s.put_object("plain-check", &format!("o{i}"), secret_body(*size), options)
                .expect("put");
        }
        let raw = Raw::new(backend);
        for (path, bytes) in raw.all() {
            assert!(
                !bytes
                    .windows(16)
                    .any(|w| SECRET.windows(16).any(|s| s == w)),
                "{name}: {path} holds plaintext"
            );
            if let Some(i) = path.strip_prefix("plain-check/o") {
                let size = sizes[i.parse::<usize>().expect("index")] as u64;
                assert_eq!(
                    bytes.len() as u64,
                    stored_len(size).expect("fits"),
                    "{name}: {path}"
                );
            }
        }
        for (i, size) in sizes.iter().enumerate() {
            let got = s.get_object("plain-check", &format!("o{i}")).expect("get");
            assert_eq!(got.body, secret_body(*size), "{name}: o{i}");
        }
    }
}

#[test]
fn edited_cut_swapped_and_copied_bodies_are_integrity_errors() {
    for (name, backend, _dir) in common::backends() {
        let (store, _, _) = common::store(Arc::clone(&backend));
        let s = Session::trusted(store.clone());
        s.create_bucket("tamper").expect("bucket");
        for key in ["a", "b", "c", "d", "e"] {
            s.put_object("tamper", key, secret_body(200_000), PutOptions::managed())
                .expect("put");
        }
        let raw = Raw::new(Arc::clone(&backend));

        // A byte flipped in a chunk, and one in the trailer's record.
        let mut flipped = raw.get("tamper/a").to_vec();
        flipped[1000] ^= 1;
        raw.put("tamper/a", flipped.into());
        integrity(s.get_object("tamper", "a"), "tamper/a", name);
        let ranged = GetOptions::new().with_range(100..200);
        integrity(
            s.api().get_object_as("tamper", "a", &ranged, s.caller()),
            "tamper/a",
            name,
        );
        let mut record = raw.get("tamper/b").to_vec();
        let at = record.len() - 40;
        record[at] ^= 1;
        raw.put("tamper/b", record.into());
        integrity(s.get_object("tamper", "b"), "tamper/b", name);
        integrity(s.head_object("tamper", "b"), "tamper/b", name);

        // The last chunk cut off.
        let whole = raw.get("tamper/c");
        raw.put("tamper/c", whole.slice(..whole.len() - 5000));
        integrity(s.get_object("tamper", "c"), "tamper/c", name);

        // Two bodies swapped, and one copied over another.
        let (d, e) = (raw.get("tamper/d"), raw.get("tamper/e"));
        raw.put("tamper/d", e);
        raw.put("tamper/e", d);
        integrity(s.get_object("tamper", "d"), "tamper/d", name);
        integrity(s.get_object("tamper", "e"), "tamper/e", name);
        s.put_object("tamper", "f", secret_body(10), PutOptions::managed())
            .expect("put");
        raw.copy("tamper/f", "tamper/g");
        integrity(s.get_object("tamper", "g"), "tamper/g", name);
        assert_eq!(
            s.get_object("tamper", "f").expect("the original").body,
            secret_body(10)
        );

        // An object coffer did not write.
        raw.put("tamper/foreign", Bytes::from_static(b"hello, not coffer's"));
        integrity(s.get_object("tamper", "foreign"), "tamper/foreign", name);
        let listed = s
            .list_objects("tamper", &coffer_sse::ListOptions::new())
            .expect("list");
        assert!(
            listed.objects.iter().all(|o| o.key != "foreign"),
            "{name}: a foreign object is listed"
        );
    }
}

#[test]
fn wrong_root_keys_and_foreign_records_are_refused() {
    for (name, backend, _dir) in common::backends() {
        let (store, _, _) = common::store(Arc::clone(&backend));
        Session::trusted(store.clone())
            .create_bucket("mine")
            .expect("bucket");
        let wrong = RemoteOptions::new(RootKey::from_bytes([0x55; 32]));
        assert!(
            matches!(
                RemoteStore::open(Arc::clone(&backend), wrong),
                Err(Error::WrongRootKey)
            ),
            "{name}: a wrong root key"
        );
        let empty: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        assert!(matches!(
            RemoteStore::open(empty, common::options()),
            Err(Error::StoreNotFound(_))
        ));

        // A bucket record another store sealed, planted in this one.
        let other_backend: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let other = RemoteStore::create(
            Arc::clone(&other_backend),
            RemoteOptions::new(RootKey::from_bytes([0x66; 32])),
        )
        .expect("another store");
        Session::trusted(other)
            .create_bucket("planted")
            .expect("bucket");
        let first = ".coffer/buckets/planted/00000000000000000001";
        let record = Raw::new(other_backend).get(first);
        let raw = Raw::new(Arc::clone(&backend));
        raw.put(first, record);
        integrity(
            Session::trusted(store.clone()).head_bucket("planted"),
            "planted",
            name,
        );

        // Keys the backend's paths cannot hold as written.
        let s = Session::trusted(store);
        for key in ["a//b", "a/./b", "a/../b", "dir/"] {
            assert!(
                matches!(
                    s.put_object("mine", key, Bytes::from_static(b"x"), PutOptions::managed()),
                    Err(Error::InvalidArgument(_))
                ),
                "{name}: {key:?}"
            );
        }
    }
}
