//! Bodies over the gateway's limit: refused with `EntityTooLarge` whether
//! the body is read whole (small) or streamed into the engine (large), and
//! nothing is stored either way.

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_entity_too_large_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = coffer_store::Store::open(dir.path(), common::store_options()).expect("opens");
    store.create_bucket("bounded").expect("bucket");
    let limit = 3 << 20;
    let g = common::start_over(dir, store, Vec::new(), limit);
    let s3 = g.s3("bounded");
    s3.put(
        &Path::from("fits"),
        Bytes::from(vec![1u8; limit as usize]).into(),
    )
    .await
    .expect("a body at the limit is stored");
    for (name, len) in [("small-limit", 0usize), ("streamed", 5 << 20)] {
        let len = if len == 0 { limit as usize + 1 } else { len };
        let error = s3
            .put(&Path::from(name), Bytes::from(vec![2u8; len]).into())
            .await
            .expect_err("over the limit");
        assert!(
            error.to_string().contains("EntityTooLarge"),
            "{name}: {error}"
        );
        assert!(
            g.store.head_object("bounded", name).is_err(),
            "{name} was stored"
        );
    }
    assert_eq!(
        g.store.head_object("bounded", "fits").expect("kept").size,
        limit
    );
}
