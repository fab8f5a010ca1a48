//! AWS's key metadata as coffer's.

use std::time::{Duration, SystemTime};

use aws_sdk_kms::types::{KeyState as AwsKeyState, OriginType};
use coffer_keyring::{KeyMetadata, KeyOrigin, KeyState};

/// A key id from an id or a key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
pub(crate) fn key_id_of(id_or_arn: &str) -> String {
    id_or_arn
        .rsplit_once(":key/")
        .map_or(id_or_arn, |(_, id)| id)
        .to_owned()
}

/// coffer's description of a key AWS describes, with its counted version and
/// rotation.
pub(crate) fn key_metadata(
    metadata: &aws_sdk_kms::types::KeyMetadata,
    current_version: u32,
    rotation_period: Option<Duration>,
    last_rotated_at: Option<SystemTime>,
) -> KeyMetadata {
    let time = |t: Option<&aws_sdk_kms::primitives::DateTime>| {
        t.and_then(|t| SystemTime::try_from(*t).ok())
    };
    let state = match metadata.key_state() {
        Some(AwsKeyState::Enabled) => KeyState::Enabled,
        Some(AwsKeyState::PendingDeletion) => KeyState::PendingDeletion {
            delete_at: time(metadata.deletion_date()).unwrap_or(SystemTime::UNIX_EPOCH),
        },
        Some(AwsKeyState::PendingImport) => KeyState::PendingImport,
        // Disabled, and states in which AWS refuses use too (Unavailable,
        // Creating, Updating, PendingReplicaDeletion).
        _ => KeyState::Disabled,
    };
    KeyMetadata {
        key_id: metadata.key_id().to_owned(),
        resource_name: String::new(),
        description: metadata.description().unwrap_or_default().to_owned(),
        state,
        origin: if metadata.origin() == Some(&OriginType::External) {
            KeyOrigin::External
        } else {
            KeyOrigin::Generated
        },
        created_at: time(metadata.creation_date()).unwrap_or(SystemTime::UNIX_EPOCH),
        current_version,
        // The AWS KMS API has no minimum decryption version.
        min_decryption_version: 1,
        rotation_period,
        last_rotated_at,
        managed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_become_key_ids() {
        assert_eq!(
            key_id_of("arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab"),
            "1234abcd-12ab"
        );
        assert_eq!(key_id_of("1234abcd-12ab"), "1234abcd-12ab");
    }
}
