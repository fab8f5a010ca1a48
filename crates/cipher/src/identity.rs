//! The identity every payload (and every wrapped data key) is bound to.
//!
//! Canonical encoding, each field a little-endian `u32` length and its bytes:
//!
//! ```text
//! len(store id) ‖ store id ‖ len(bucket) ‖ bucket (UTF-8) ‖ len(object id) ‖ object id
//! ```

/// The store, bucket and immutable object id a payload belongs to. Sealing binds
/// the payload to it, so a payload (or wrapped key) moved to another object fails
/// to open.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectIdentity {
    store_id: Vec<u8>,
    bucket: String,
    object_id: Vec<u8>,
}

impl ObjectIdentity {
    /// An identity from its three parts. The object id must never be reused for
    /// another object write.
    pub fn new(store_id: &[u8], bucket: &str, object_id: &[u8]) -> Self {
        Self {
            store_id: store_id.to_vec(),
            bucket: bucket.to_owned(),
            object_id: object_id.to_vec(),
        }
    }

    /// The store id.
    pub fn store_id(&self) -> &[u8] {
        &self.store_id
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The immutable object id.
    pub fn object_id(&self) -> &[u8] {
        &self.object_id
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        for field in [
            &self.store_id[..],
            self.bucket.as_bytes(),
            &self.object_id[..],
        ] {
            let len = u32::try_from(field.len()).expect("identity fields are far below 4 GiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(field);
        }
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(12 + self.store_id.len() + self.bucket.len() + self.object_id.len());
        self.encode_into(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_unambiguous() {
        let a = ObjectIdentity::new(b"s", "ab", b"c").to_bytes();
        let b = ObjectIdentity::new(b"s", "a", b"bc").to_bytes();
        assert_ne!(a, b);
        assert_eq!(a, b"\x01\0\0\0s\x02\0\0\0ab\x01\0\0\0c");
    }
}
