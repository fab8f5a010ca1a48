//! The encryption context a data key is wrapped for.

use std::fmt;

use coffer_cipher::ObjectIdentity;

/// The object a data key belongs to: the same (store id, bucket, object id) the
/// payload binds, in the same canonical encoding. A wrapped key opens only for
/// the context it was wrapped for.
///
/// It may also carry the object's key, for audit records only: the key is
/// not bound (an object keeps its data key when renamed by a copy), not in
/// [`EncryptionContext::to_bytes`], and not compared.
#[derive(Debug, Clone)]
pub struct EncryptionContext {
    identity: ObjectIdentity,
    object_key: Option<String>,
}

impl PartialEq for EncryptionContext {
    fn eq(&self, other: &Self) -> bool {
        self.identity == other.identity
    }
}

impl Eq for EncryptionContext {}

impl std::hash::Hash for EncryptionContext {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity.hash(state);
    }
}

impl EncryptionContext {
    /// The context of an object.
    pub fn new(store_id: &[u8], bucket: &str, object_id: &[u8]) -> Self {
        Self::from_identity(ObjectIdentity::new(store_id, bucket, object_id))
    }

    /// The context of the object a payload is bound to.
    pub fn from_identity(identity: ObjectIdentity) -> Self {
        Self {
            identity,
            object_key: None,
        }
    }

    /// The same context, naming the object's key in audit records.
    pub fn with_object_key(mut self, key: &str) -> Self {
        self.object_key = Some(key.to_owned());
        self
    }

    /// The object's key, if the caller named it (audit only).
    pub fn object_key(&self) -> Option<&str> {
        self.object_key.as_deref()
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
