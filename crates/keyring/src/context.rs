//! The encryption context a data key is wrapped for.

use std::fmt;

use coffer_cipher::ObjectIdentity;

/// The object a data key belongs to: the same (store id, bucket, object id) the
/// payload binds, in the same canonical encoding. A wrapped key opens only for
/// the context it was wrapped for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncryptionContext {
    identity: ObjectIdentity,
}

impl EncryptionContext {
    /// The context of an object.
    pub fn new(store_id: &[u8], bucket: &str, object_id: &[u8]) -> Self {
        Self::from_identity(ObjectIdentity::new(store_id, bucket, object_id))
    }

    /// The context of the object a payload is bound to.
    pub fn from_identity(identity: ObjectIdentity) -> Self {
        Self { identity }
    }

    /// The object identity.
    pub fn identity(&self) -> &ObjectIdentity {
        &self.identity
    }

    /// The canonical encoding (see `docs/format.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.identity.to_bytes()
    }
}

impl fmt::Display for EncryptionContext {
    /// For audit records: ids in hex, the bucket as is. Contains no secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store={} bucket={} object={}",
            hex::encode(self.identity.store_id()),
            self.identity.bucket(),
            hex::encode(self.identity.object_id())
        )
    }
}
