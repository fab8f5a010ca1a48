//! The SDK's errors as the KMS layer's: what the caller can do next.

use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use coffer_keyring::Error;

use crate::BACKEND;

/// The layer's error for a failed call about `key`.
pub(crate) fn to_kms_error<E>(error: SdkError<E>, key: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let unavailable = |error: &SdkError<E>| Error::KmsUnavailable {
        backend: BACKEND,
        reason: DisplayErrorContext(error).to_string(),
    };
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => unavailable(&error),
        SdkError::ResponseError(response) if response.raw().status().is_server_error() => {
            unavailable(&error)
        }
        SdkError::ServiceError(service) => {
            let message = service.err().message().unwrap_or_default().to_owned();
            let key = || key.to_owned();
            match service.err().code().unwrap_or_default() {
                "NotFoundException" => Error::KeyNotFound(key()),
                "DisabledException" => Error::KeyDisabled(key()),
                "KMSInvalidStateException" => {
                    let lower = message.to_ascii_lowercase();
                    if lower.contains("pending deletion") || lower.contains("pendingdeletion") {
                        Error::KeyPendingDeletion {
                            key_id: key(),
                            delete_at: std::time::SystemTime::UNIX_EPOCH,
                        }
                    } else if lower.contains("pending import") || lower.contains("pendingimport") {
                        Error::KeyPendingImport(key())
                    } else if lower.contains("disabled") {
                        Error::KeyDisabled(key())
                    } else {
                        Error::Backend {
                            backend: BACKEND,
                            message,
                        }
                    }
                }
                "InvalidCiphertextException" | "IncorrectKeyException" => Error::Integrity(
                    "the AWS KMS ciphertext does not decrypt for this object (another context or key, or a modified blob)",
                ),
                "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException" => Error::BackendDenied {
                    backend: BACKEND,
                    message,
                },
                "ValidationException"
                | "InvalidArnException"
                | "InvalidAliasNameException"
                | "AlreadyExistsException"
                | "InvalidKeyUsageException" => Error::InvalidArgument(message),
                "UnsupportedOperationException" => Error::Unsupported {
                    backend: BACKEND,
                    operation: message,
                },
                "KMSInternalException"
                | "DependencyTimeoutException"
                | "ThrottlingException"
                | "ServiceUnavailableException" => unavailable(&error),
                code => Error::Backend {
                    backend: BACKEND,
                    message: format!("{code}: {message}"),
                },
            }
        }
        _ => Error::Backend {
            backend: BACKEND,
            message: DisplayErrorContext(&error).to_string(),
        },
    }
}

/// Whether the service said it does not support what was asked.
pub(crate) fn is_unsupported(error: &Error) -> bool {
    matches!(error, Error::Unsupported { .. })
}
