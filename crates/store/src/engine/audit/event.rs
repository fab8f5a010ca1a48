//! One audit event as stored: JSON, in the value of a key that orders events
//! by time and sequence.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_keyring::{AuditEvent, AuditOutcome};
use rocksdb::IteratorMode;
use serde::{Deserialize, Serialize};

use crate::engine::db::storage;
use crate::{Error, Result};

/// The JSON format of events written before the log was sealed.
pub(crate) const LEGACY_FORMAT: u32 = 1;
/// The JSON format of sealed events.
pub(crate) const SEALED_FORMAT: u32 = 2;

/// One event as stored (JSON).
#[derive(Serialize, Deserialize)]
struct StoredEvent {
    v: u32,
    time_ns: u64,
    caller: String,
    source: String,
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(crate) fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(crate) fn event_key(time_ns: u64, sequence: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&time_ns.to_be_bytes());
    key[8..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// The time an event key starts with (`None` for a key shorter than one,
/// which the store did not write).
pub(crate) fn event_time(key: &[u8]) -> Option<u64> {
    key.get(..8)
        .and_then(|raw| raw.try_into().ok())
        .map(u64::from_be_bytes)
}

/// The bytes (keys and values) in the audit family, counted by reading it.
pub(crate) fn family_bytes(db: &rocksdb::DB, family: &rocksdb::ColumnFamily) -> Result<u64> {
    let mut total = 0u64;
    for item in db.iterator_cf(family, IteratorMode::Start) {
        let (key, value) = item.map_err(storage)?;
        total += (key.len() + value.len()) as u64;
    }
    Ok(total)
}

/// The JSON of `event`, in the format sealed events carry.
pub(crate) fn encode(event: &AuditEvent) -> Vec<u8> {
    let (outcome, error) = match &event.outcome {
        AuditOutcome::Failed(message) | AuditOutcome::Unknown(message) => {
            (event.outcome.name(), Some(message.clone()))
        }
        other => (other.name(), None),
    };
    let stored = StoredEvent {
        v: SEALED_FORMAT,
        time_ns: nanos(event.time),
        caller: event.caller.clone(),
        source: event.source.clone(),
        action: event.action.clone(),
        resource: event.resource.clone(),
        key_id: event.key_id.clone(),
        key_version: event.key_version,
        bucket: event.bucket.clone(),
        object_key: event.object_key.clone(),
        context: event.context.clone(),
        detail: event.detail.clone(),
        outcome: outcome.to_owned(),
        error,
    };
    serde_json::to_vec(&stored).expect("an event serializes")
}

/// An event from its JSON, which must be in `format` (1: from before the log
/// was sealed; 2: sealed).
pub(crate) fn decode(raw: &[u8], format: u32) -> Result<AuditEvent> {
    let corrupt = |why: String| Error::CorruptRecord(format!("audit event: {why}"));
    let stored: StoredEvent = serde_json::from_slice(raw).map_err(|e| corrupt(e.to_string()))?;
    if stored.v != format {
        return Err(corrupt(format!("format version {}", stored.v)));
    }
    let outcome = match (stored.outcome.as_str(), stored.error) {
        ("allowed", _) => AuditOutcome::Allowed,
        ("denied", _) => AuditOutcome::Denied,
        ("failed", error) => AuditOutcome::Failed(error.unwrap_or_default()),
        ("unknown", error) => AuditOutcome::Unknown(error.unwrap_or_default()),
        (other, _) => return Err(corrupt(format!("outcome {other:?}"))),
    };
    Ok(AuditEvent {
        time: UNIX_EPOCH + Duration::from_nanos(stored.time_ns),
        caller: stored.caller,
        source: stored.source,
        action: stored.action,
        resource: stored.resource,
        key_id: stored.key_id,
        key_version: stored.key_version,
        bucket: stored.bucket,
        object_key: stored.object_key,
        context: stored.context,
        detail: stored.detail,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(outcome: AuditOutcome) -> AuditEvent {
        AuditEvent {
            time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
            caller: "alice".into(),
            source: "local".into(),
            action: "kms:Decrypt".into(),
            resource: Some("acs:kms:local:0:key/k".into()),
            key_id: Some("k".into()),
            key_version: Some(3),
            bucket: Some("b".into()),
            object_key: Some("a/b.txt".into()),
            context: Some("store=00 bucket=b object=01".into()),
            detail: None,
            outcome,
        }
    }

    #[test]
    fn events_round_trip() {
        for outcome in [
            AuditOutcome::Allowed,
            AuditOutcome::Denied,
            AuditOutcome::Failed("key k is disabled".into()),
            AuditOutcome::Unknown("no answer within 30s".into()),
        ] {
            let e = event(outcome);
            assert_eq!(decode(&encode(&e), SEALED_FORMAT).expect("decodes"), e);
        }
    }

    #[test]
    fn keys_sort_by_time_then_sequence() {
        assert!(event_key(1, u64::MAX) < event_key(2, 0));
        assert!(event_key(5, 1) < event_key(5, 2));
    }

    #[test]
    fn bad_records_are_corrupt_not_panics() {
        for raw in [
            &b"{}"[..],
            b"not json",
            br#"{"v":2,"time_ns":0,"caller":"","source":"","action":"","outcome":"allowed"}"#,
            br#"{"v":1,"time_ns":0,"caller":"","source":"","action":"","outcome":"maybe"}"#,
        ] {
            assert!(
                matches!(decode(raw, LEGACY_FORMAT), Err(Error::CorruptRecord(_))),
                "{raw:?}"
            );
        }
    }
}
