//! Retiring key versions nothing uses: the master keyring's (destroyed, and
//! compacted out of the store's files) and a CMK's (refused by the KMS from
//! then on). Both keep every version that anything stored depends on, found
//! by one walk, [`Store::versions_in_use`], whose order is what makes a race
//! with writers impossible:
//!
//! 1. **Pins first** ([`VersionPins::floor`](crate::keys::pins::VersionPins)). A
//!    write that wrapped its data key before this point is pinned until it
//!    commits or fails; one that wraps after it uses the current version or a
//!    later one.
//! 2. **Multipart uploads before objects.** Completing an upload moves its
//!    wrapped key from the `multipart` family to the `objects` family in one
//!    atomic write. Each scan reads one snapshot (its iterator's, taken when
//!    the iterator is created), and the objects scan's is taken after the
//!    uploads scan ended. So an upload is in progress in the first snapshot
//!    (and counted there), or was completed before it, and then its object is
//!    in the second, later one. An upload created after the pins were read
//!    wraps under the current version or a later one. None is missed, however
//!    the completion falls (scanning objects first, an upload completed
//!    between the two scans was in neither; a test widens that window with a
//!    hook and shows the object survives).
//! 3. **Bucket keys last.** A bucket key's record is written (its version
//!    pinned meanwhile) before any object derives its key from it, and stays
//!    until its bucket is deleted; a rewrap only moves it to a newer version.
//!    Orphans (of a deleted bucket) are left out: no object refers to them.
//!
//! Anything that does not authenticate or decode refuses the retirement
//! ([`Error::Integrity`]): its version is unknown.

use coffer_keyring::{
    AdminOperation, Caller, NothingReferencesOlderVersions, Provider, WrapAlgorithm, WrappedKey,
};
use rocksdb::IteratorMode;

use crate::ProtectionMode;
use crate::engine::db::storage;
use crate::format::columns::split_object_key;
use crate::{ColumnFamily, Error, Result, Store};

/// A key version something stored depends on.
struct InUse {
    provider: Provider,
    /// The CMK's id (the master keyring's for `MasterKeyring`).
    key_id: String,
    version: u32,
}

impl Store {
    /// Retires master key versions older than every stored object's and every
    /// write in flight (after a rotation and a rewrap of every bucket); returns
    /// the new minimum version. The retired versions' material is then
    /// compacted out of the store's files. [`Error::Integrity`], retiring
    /// nothing, while a record or upload does not authenticate.
    /// Recorded in the audit log as `coffer:RetireMasterKeys` with the new
    /// minimum version.
    pub fn retire_unused_master_keys(&self) -> Result<u32> {
        let result = self.retire_unused_master_keys_unaudited();
        self.inner
            .keys
            .audit_master("coffer:RetireMasterKeys", &result)?;
        result
    }

    fn retire_unused_master_keys_unaudited(&self) -> Result<u32> {
        let floor = self
            .inner
            .keys
            .pins()
            .floor("", || self.inner.keys.master().current_version());
        let min = self
            .versions_in_use()?
            .iter()
            .filter(|used| used.provider == Provider::MasterKeyring)
            .map(|used| used.version)
            .fold(floor, u32::min);
        self.inner.keys.master().retire_versions_below(
            min,
            NothingReferencesOlderVersions::after_scanning_every_wrapped_key(),
        )?;
        // Kept keys check the version on use; this also frees their memory.
        self.inner.keys.forget_payload_keys();
        Ok(min)
    }

    /// Retires the versions of the CMK `key_id` (an id or alias) that nothing
    /// in the store uses any more: raises the KMS's minimum decryption version
    /// to the oldest version any object, bucket key or multipart upload is
    /// wrapped under (the current version if none is older), and returns it.
    /// The KMS then refuses to decrypt under the versions below it.
    ///
    /// Writes in flight that wrapped under the CMK keep their version (they are
    /// pinned until they commit), and a minimum already higher is left as it
    /// is: retired versions never come back. Only this store's objects are
    /// counted: a CMK that other stores or applications also use is theirs to
    /// check too.
    ///
    /// Refuses ([`Error::Integrity`]) while any object record or upload fails
    /// to authenticate or decode, since its version is then unknown;
    /// [`Error::Unsupported`] where the backend has no minimum decryption
    /// version (the AWS KMS API).
    /// Recorded in the audit log as `kms:UpdateMinDecryptionVersion` with the
    /// new minimum.
    pub fn retire_unused_kms_versions(&self, key_id: &str) -> Result<u32> {
        let trusted = &Caller::Trusted;
        let operation = AdminOperation::SetMinDecryptionVersion;
        if !self.inner.keys.kms().supports(operation) {
            return Err(Error::Unsupported {
                backend: self.inner.keys.kms().backend_name().to_owned(),
                operation: operation.action().to_owned(),
            });
        }
        let metadata = self.inner.keys.kms().describe_key(key_id, trusted)?;
        let id = metadata.key_id;
        let floor = self
            .inner
            .keys
            .pins()
            .floor(&id, || metadata.current_version);
        let oldest = self
            .versions_in_use()?
            .iter()
            .filter(|used| used.provider == Provider::Kms && used.key_id == id)
            .map(|used| used.version)
            .fold(floor, u32::min);
        // Versions already retired stay retired: the minimum never goes down.
        if oldest <= metadata.min_decryption_version {
            return Ok(metadata.min_decryption_version);
        }
        self.inner
            .keys
            .kms()
            .set_min_decryption_version(&id, oldest, trusted)?;
        Ok(oldest)
    }

    /// Every key version a multipart upload, an object or a bucket key
    /// depends on, in that order (see the module documentation for why);
    /// the caller has read the pins already.
    fn versions_in_use(&self) -> Result<Vec<InUse>> {
        let mut used = Vec::new();
        let mut own_key = |wrapped: &[u8], what: &dyn Fn() -> String| -> Result<()> {
            let wrapped = WrappedKey::decode(wrapped).map_err(|_| {
                Error::Integrity(format!(
                    "{}: its wrapped key does not decode; no version is retired",
                    what()
                ))
            })?;
            // An object or upload under a bucket key depends on the bucket
            // key's version, counted with the bucket keys.
            if wrapped.algorithm() != WrapAlgorithm::BucketKey {
                used.push(InUse {
                    provider: wrapped.provider(),
                    key_id: wrapped.key_id().to_owned(),
                    version: wrapped.key_version(),
                });
            }
            Ok(())
        };
        for (upload_id, upload) in self.uploads_checked()? {
            if upload.mode()? != ProtectionMode::None {
                let wrapped = hex::decode(&upload.wrapped_key).unwrap_or_default();
                own_key(&wrapped, &|| {
                    format!("multipart upload {}", hex::encode(upload_id))
                })?;
            }
        }
        self.between_retirement_scans();
        {
            let db = self.db()?;
            for item in db.iterator_cf(db.cf(ColumnFamily::Objects)?, IteratorMode::Start) {
                let (raw_key, value) = item.map_err(storage)?;
                let (bucket, key) = split_object_key(&raw_key).ok_or_else(|| {
                    Error::Integrity(format!(
                        "object record {}: its key is not bucket and key; no version is retired",
                        hex::encode(&raw_key)
                    ))
                })?;
                let record =
                    self.inner
                        .records
                        .open_scanned(bucket, key, value.into_vec().into())?;
                if record.mode != ProtectionMode::None {
                    own_key(&record.wrapped_key, &|| format!("object {bucket}/{key}"))?;
                }
            }
        }
        for (_, _, record) in self.live_bucket_keys()? {
            used.push(InUse {
                provider: record.wrapped.provider(),
                key_id: record.wrapped.key_id().to_owned(),
                version: record.wrapped.key_version(),
            });
        }
        Ok(used)
    }

    /// The test hook of the window between a retirement's two scans.
    fn between_retirement_scans(&self) {
        #[cfg(feature = "test-util")]
        {
            let hook = self.inner.between_retirement_scans.lock().clone();
            if let Some(hook) = hook {
                hook();
            }
        }
    }
}
