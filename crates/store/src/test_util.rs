//! Test-only access to key material (feature `test-util`), so tests can prove
//! that no key reaches the disk. Never enable this feature in production.

use coffer_keyring::Caller;

use crate::{Result, Store};

/// The plaintext data key of an object (`None` if unencrypted).
pub fn data_key_bytes(store: &Store, bucket: &str, key: &str) -> Result<Option<[u8; 32]>> {
    let record = store
        .read_record(bucket, key)?
        .ok_or_else(|| crate::objects::get::no_such_key(bucket, key))?;
    Ok(store
        .data_key(bucket, key, &record, &Caller::Trusted)?
        .map(|k| *k.expose_secret()))
}

/// Every master key version's, every local CMK's and every bucket key's
/// plaintext material.
pub fn key_material(store: &Store) -> Vec<[u8; 32]> {
    let mut keys = store.inner.keys.master().export_material_for_test();
    if let Some(kms) = &store.inner.keys.local_kms() {
        keys.extend(kms.export_material_for_test());
    }
    keys.extend(
        store
            .bucket_key_material_for_test()
            .expect("bucket keys unwrap"),
    );
    keys
}

/// Every (key, value) of a column family (by its name), raw.
pub fn raw_family(store: &Store, family: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let family = crate::ColumnFamily::ALL
        .into_iter()
        .find(|f| f.name() == family)
        .ok_or_else(|| crate::Error::InvalidArgument(format!("no column family {family}")))?;
    let mut out = Vec::new();
    let db = store.db()?;
    for item in db.iterator_cf(db.cf(family)?, rocksdb::IteratorMode::Start) {
        let (key, value) = item.map_err(crate::engine::db::storage)?;
        out.push((key.to_vec(), value.to_vec()));
    }
    Ok(out)
}

/// Makes every write to the store's audit log fail (`true`) or work again,
/// as a full disk would: operations that must be audited then fail.
pub fn fail_audit_appends(store: &Store, fail: bool) {
    store
        .inner
        .engine
        .audit
        .fail_appends
        .store(fail, std::sync::atomic::Ordering::Relaxed);
}

/// Runs `hook` in every key retirement (master keyring or CMK) between its
/// scan of multipart uploads and its scan of object records, or no longer
/// (`None`): a test widens the window a concurrent completion could fall in.
pub fn between_retirement_scans(
    store: &Store,
    hook: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
) {
    *store.inner.between_retirement_scans.lock() = hook;
}

/// Rotates the master key and retires every version below the new one with
/// no usage scan, as the store itself never does: for tests of what a read
/// does under a version retired anyway (it must fail, not use a kept key).
pub fn rotate_and_retire_master_keys_unchecked(store: &Store) -> Result<u32> {
    let version = store.inner.keys.master().rotate_now()?;
    store.inner.keys.master().retire_versions_below(
        version,
        coffer_keyring::NothingReferencesOlderVersions::after_scanning_every_wrapped_key(),
    )?;
    Ok(version)
}

/// Writes `value` under `key` in a column family (by its name) of the open
/// store, as an edit from outside would, or a race would have left it.
pub fn raw_put(store: &Store, family: &str, key: &[u8], value: &[u8]) -> Result<()> {
    let family = crate::ColumnFamily::ALL
        .into_iter()
        .find(|f| f.name() == family)
        .ok_or_else(|| crate::Error::InvalidArgument(format!("no column family {family}")))?;
    let db = store.db()?;
    db.put_cf(db.cf(family)?, key, value)
        .map_err(crate::engine::db::storage)?;
    Ok(())
}

/// Removes `key` from a column family (by its name) of the open store.
pub fn raw_delete(store: &Store, family: &str, key: &[u8]) -> Result<()> {
    let family = crate::ColumnFamily::ALL
        .into_iter()
        .find(|f| f.name() == family)
        .ok_or_else(|| crate::Error::InvalidArgument(format!("no column family {family}")))?;
    let db = store.db()?;
    db.delete_cf(db.cf(family)?, key)
        .map_err(crate::engine::db::storage)?;
    Ok(())
}

/// The value under `key` in a column family (by its name) of the open store.
pub fn raw_get(store: &Store, family: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let family = crate::ColumnFamily::ALL
        .into_iter()
        .find(|f| f.name() == family)
        .ok_or_else(|| crate::Error::InvalidArgument(format!("no column family {family}")))?;
    let db = store.db()?;
    db.get_cf(db.cf(family)?, key)
        .map_err(crate::engine::db::storage)
}
