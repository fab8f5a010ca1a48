//! coffer's errors as S3's error codes.
//!
//! | coffer | S3 code | status |
//! |---|---|---|
//! | `NoSuchBucket`, `NoSuchKey`, `NoSuchUpload` | the same | 404 |
//! | `NoSuchEncryptionRule` | `ServerSideEncryptionConfigurationNotFoundError` | 404 |
//! | `BucketAlreadyExists` | `BucketAlreadyOwnedByYou` | 409 |
//! | `BucketNotEmpty` | `BucketNotEmpty` | 409 |
//! | `AlreadyExists`, `PreconditionFailed` | `PreconditionFailed` | 412 |
//! | `NotModified` | `NotModified` | 304 |
//! | `InvalidPart`, `InvalidPartOrder` | the same | 400 |
//! | `InvalidArgument`, `ManagedKey` | `InvalidArgument` | 400 |
//! | `InvalidRange` | `InvalidRange` | 416 |
//! | `AccessDenied` | `AccessDenied` | 403 |
//! | `KeyDisabled` | `KMS.DisabledException` | 400 |
//! | `KeyNotFound` | `KMS.NotFoundException` | 400 |
//! | `KeyPendingDeletion`, `KeyPendingImport`, `KeyDestroyed` | `KMS.KMSInvalidStateException` | 400 |
//! | `TooLarge` | `EntityTooLarge` | 400 |
//! | `NotImplemented`, `Unsupported` | `NotImplemented` | 501 |
//! | `KmsUnavailable`, `KmsOutcomeUnknown`, `Closed` | `ServiceUnavailable` | 503 |
//! | `Integrity` and every other | `InternalError` | 500 |
//!
//! The message is coffer's own, which names the bucket, object or key and
//! never a secret or a plaintext byte. A damaged object is a 500 and no body.

use coffer_sse::Error;
use hyper::StatusCode;
use s3s::{S3Error, S3ErrorCode};

/// A request body that could not be read to its end: cut short, or not the
/// body its signature covers. Carried through the engine inside its I/O
/// error, so that the put fails (storing nothing) and the client hears a 400.
#[derive(Debug, thiserror::Error)]
#[error("the request body: {0}")]
pub(crate) struct RequestBodyError(pub(crate) String);

impl RequestBodyError {
    /// S3's code for it: a body that is not the signed one, or one that
    /// ended early.
    fn code(&self) -> S3ErrorCode {
        if self.0.contains("Sha256Mismatch") || self.0.contains("SignatureDoesNotMatch") {
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into())
        } else {
            S3ErrorCode::IncompleteBody
        }
    }
}

/// `error` as S3 answers it.
pub fn to_s3(error: Error) -> S3Error {
    if let Error::Io(io) = &error
        && let Some(body) = io
            .get_ref()
            .and_then(|e| e.downcast_ref::<RequestBodyError>())
    {
        let mut s3 = S3Error::with_message(body.code(), body.to_string());
        s3.set_status_code(StatusCode::BAD_REQUEST);
        return s3;
    }
    let (code, status) = code_of(&error);
    let mut s3 = S3Error::with_message(code, error.to_string());
    if let Some(status) = status {
        s3.set_status_code(status);
    }
    s3
}

fn code_of(error: &Error) -> (S3ErrorCode, Option<StatusCode>) {
    let kms = |code: &str| {
        (
            S3ErrorCode::Custom(code.to_owned().into()),
            Some(StatusCode::BAD_REQUEST),
        )
    };
    let code = match error {
        Error::NoSuchBucket(_) => S3ErrorCode::NoSuchBucket,
        Error::NoSuchKey { .. } => S3ErrorCode::NoSuchKey,
        Error::NoSuchUpload(_) => S3ErrorCode::NoSuchUpload,
        Error::NoSuchEncryptionRule(_) => {
            return (
                S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
                Some(StatusCode::NOT_FOUND),
            );
        }
        Error::BucketAlreadyExists(_) => S3ErrorCode::BucketAlreadyOwnedByYou,
        Error::BucketNotEmpty(_) => S3ErrorCode::BucketNotEmpty,
        Error::AlreadyExists { .. } | Error::PreconditionFailed { .. } => {
            S3ErrorCode::PreconditionFailed
        }
        Error::NotModified { .. } => S3ErrorCode::NotModified,
        Error::InvalidPart { .. } => S3ErrorCode::InvalidPart,
        Error::InvalidPartOrder { .. } => S3ErrorCode::InvalidPartOrder,
        Error::InvalidArgument(_) | Error::ManagedKey(_) => S3ErrorCode::InvalidArgument,
        Error::InvalidRange { .. } => S3ErrorCode::InvalidRange,
        Error::AccessDenied { .. } => S3ErrorCode::AccessDenied,
        Error::KeyDisabled(_) => return kms("KMS.DisabledException"),
        Error::KeyNotFound(_) => return kms("KMS.NotFoundException"),
        Error::KeyPendingDeletion(_) | Error::KeyPendingImport(_) | Error::KeyDestroyed(_) => {
            return kms("KMS.KMSInvalidStateException");
        }
        Error::TooLarge(_) => S3ErrorCode::EntityTooLarge,
        Error::NotImplemented { .. } | Error::Unsupported { .. } => S3ErrorCode::NotImplemented,
        Error::KmsUnavailable(_) | Error::KmsOutcomeUnknown(_) | Error::Closed => {
            S3ErrorCode::ServiceUnavailable
        }
        _ => S3ErrorCode::InternalError,
    };
    (code, None)
}

/// An S3 `InvalidArgument` (400) saying `message`.
pub(crate) fn invalid_argument(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coffer_errors_take_s3_codes_and_statuses() {
        let cases = [
            (Error::NoSuchBucket("b".into()), "NoSuchBucket", 404),
            (
                Error::NoSuchEncryptionRule("b".into()),
                "ServerSideEncryptionConfigurationNotFoundError",
                404,
            ),
            (Error::BucketNotEmpty("b".into()), "BucketNotEmpty", 409),
            (
                Error::AlreadyExists {
                    bucket: "b".into(),
                    key: "k".into(),
                },
                "PreconditionFailed",
                412,
            ),
            (Error::KeyDisabled("k".into()), "KMS.DisabledException", 400),
            (Error::KeyNotFound("k".into()), "KMS.NotFoundException", 400),
            (
                Error::InvalidRange {
                    start: 5,
                    end: 6,
                    size: 2,
                },
                "InvalidRange",
                416,
            ),
            (Error::Integrity("tag".into()), "InternalError", 500),
        ];
        for (error, code, status) in cases {
            let s3 = to_s3(error);
            assert_eq!(s3.code().as_str(), code);
            assert_eq!(s3.status_code().map(|s| s.as_u16()), Some(status), "{code}");
        }
    }
}
