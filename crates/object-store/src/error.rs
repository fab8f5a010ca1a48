//! coffer's errors as `object_store` errors, the way the ecosystem expects
//! them:
//!
//! | coffer | `object_store` |
//! | --- | --- |
//! | `NoSuchKey`, `NoSuchBucket`, `NoSuchUpload` | `NotFound` |
//! | `AlreadyExists` | `AlreadyExists` |
//! | `PreconditionFailed` | `Precondition` |
//! | `NotModified` | `NotModified` |
//! | `AccessDenied`, and every KMS refusal: `KmsDenied`, `KeyDisabled`, `KeyPendingDeletion`, `KeyPendingImport`, `KeyNotFound`, `KeyDestroyed`, `ManagedKey` | `PermissionDenied` |
//! | `Unsupported` | `NotSupported` |
//! | `NotImplemented` (by the engine's storage) | `NotImplemented` |
//! | anything else (an integrity failure among them) | `Generic`, whose message names the object |
//!
//! The coffer error is kept as the source: `downcast_ref::<coffer_sse::Error>`
//! on it (through [`ObjectError`]) recovers it.

use coffer_sse::Error;

/// A coffer error about one object (or prefix): the path and the error.
#[derive(Debug)]
pub struct ObjectError {
    /// The object's path in the bucket.
    pub path: String,
    /// What coffer reported.
    pub error: Error,
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

impl std::error::Error for ObjectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// `error`, from a call about `path`, as an `object_store` error.
pub(crate) fn to_object_store(error: Error, path: &str) -> object_store::Error {
    let path = path.to_owned();
    let kind = Kind::of(&error);
    let not_implemented = match &error {
        Error::NotImplemented { operation, engine } => Some((operation.clone(), engine.clone())),
        _ => None,
    };
    let source = Box::new(ObjectError {
        path: path.clone(),
        error,
    });
    match kind {
        Kind::NotFound => object_store::Error::NotFound { path, source },
        Kind::AlreadyExists => object_store::Error::AlreadyExists { path, source },
        Kind::Precondition => object_store::Error::Precondition { path, source },
        Kind::NotModified => object_store::Error::NotModified { path, source },
        Kind::PermissionDenied => object_store::Error::PermissionDenied { path, source },
        Kind::NotSupported => object_store::Error::NotSupported { source },
        Kind::NotImplemented => {
            let (operation, implementer) = not_implemented.unwrap_or_default();
            object_store::Error::NotImplemented {
                operation,
                implementer,
            }
        }
        Kind::Generic => object_store::Error::Generic {
            store: crate::STORE_NAME,
            source,
        },
    }
}

enum Kind {
    NotFound,
    AlreadyExists,
    Precondition,
    NotModified,
    PermissionDenied,
    NotSupported,
    NotImplemented,
    Generic,
}

impl Kind {
    fn of(error: &Error) -> Self {
        match error {
            Error::NoSuchKey { .. } | Error::NoSuchBucket(_) | Error::NoSuchUpload(_) => {
                Self::NotFound
            }
            Error::AlreadyExists { .. } => Self::AlreadyExists,
            Error::PreconditionFailed { .. } => Self::Precondition,
            Error::NotModified { .. } => Self::NotModified,
            Error::AccessDenied { .. }
            | Error::KmsDenied(_)
            | Error::KeyDisabled(_)
            | Error::KeyPendingDeletion(_)
            | Error::KeyPendingImport(_)
            | Error::KeyNotFound(_)
            | Error::KeyDestroyed(_)
            | Error::ManagedKey(_) => Self::PermissionDenied,
            Error::Unsupported { .. } => Self::NotSupported,
            Error::NotImplemented { .. } => Self::NotImplemented,
            _ => Self::Generic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_failures_name_the_object_and_keep_the_error() {
        let error = to_object_store(Error::Integrity("tag mismatch".into()), "a/b.parquet");
        assert!(matches!(error, object_store::Error::Generic { .. }));
        assert!(error.to_string().contains("a/b.parquet"), "{error}");
        let object_store::Error::Generic { source, .. } = error else {
            unreachable!()
        };
        let inner = source.downcast_ref::<ObjectError>().expect("coffer's");
        assert!(matches!(inner.error, Error::Integrity(_)));
    }

    #[test]
    fn kms_refusals_are_permission_denied() {
        for error in [
            Error::KmsDenied("no".into()),
            Error::KeyDisabled("k".into()),
            Error::KeyPendingDeletion("k".into()),
            Error::KeyDestroyed("k".into()),
        ] {
            assert!(matches!(
                to_object_store(error, "p"),
                object_store::Error::PermissionDenied { .. }
            ));
        }
    }
}
