//! The persisted audit log: every KMS call (through the [`Kms`] layer's sink),
//! the store's own policy denials and master key administration, appended to
//! the `audit` column family; queries by time, key, caller and outcome;
//! retention by age and size. A record that cannot be written fails the
//! operation it describes.
//!
//! Layout (`docs/format.md`): key `time (u64 BE, ns since the Unix epoch) ‖
//! sequence (u64 BE)`, value one JSON object ([`StoredEvent`]).
//!
//! [`Kms`]: coffer_keyring::Kms

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_keyring::{AuditEvent, AuditOutcome, AuditSink, AuditWriteError, Caller, Clock};
use parking_lot::Mutex;
use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::store::{SharedDb, borrow_db};
use crate::{ColumnFamily, Error, Result, Store};

/// The format version of a stored event.
const EVENT_FORMAT: u32 = 1;
/// Appends between checks of the age limit.
const AGE_CHECK_EVERY: u64 = 1024;
/// Deletions per write when pruning.
const PRUNE_BATCH: usize = 4096;

/// Who prunes.
#[derive(Clone, Copy)]
pub(crate) enum Prune {
    /// An explicit call, or the store opening: waits for a prune in
    /// progress, and goes down to the limit.
    Requested,
    /// An append that found the log over its limits: skips if another prune
    /// is in progress, and goes down to 90 % of the size limit.
    WhileAppending,
}

/// How long and how much of the audit log to keep. Nothing is dropped unless
/// a limit is set. Pruning removes the oldest events first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditRetention {
    /// Events older than this are removed.
    pub max_age: Option<Duration>,
    /// The oldest events are removed while the log's keys and values total
    /// more than this many bytes.
    pub max_bytes: Option<u64>,
}

impl AuditRetention {
    /// Keep everything.
    pub fn keep_all() -> Self {
        Self::default()
    }

    /// Removes events older than `age`.
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Keeps the log under `bytes`.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }
}

/// How a call ended, for queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcomeKind {
    /// It succeeded.
    Allowed,
    /// A policy refused it.
    Denied,
    /// It was allowed but failed.
    Failed,
}

impl AuditOutcomeKind {
    fn matches(self, outcome: &AuditOutcome) -> bool {
        matches!(
            (self, outcome),
            (Self::Allowed, AuditOutcome::Allowed)
                | (Self::Denied, AuditOutcome::Denied)
                | (Self::Failed, AuditOutcome::Failed(_))
        )
    }
}

impl std::str::FromStr for AuditOutcomeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "allowed" => Ok(Self::Allowed),
            "denied" => Ok(Self::Denied),
            "failed" => Ok(Self::Failed),
            other => Err(Error::InvalidArgument(format!(
                "outcome {other:?}: expected allowed, denied or failed"
            ))),
        }
    }
}

/// Which audit events to return: every filter set must match. Events come
/// oldest first.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Events at or after this time.
    pub since: Option<SystemTime>,
    /// Events before this time.
    pub until: Option<SystemTime>,
    /// Events naming this key id (`master` for the store's master keyring).
    pub key_id: Option<String>,
    /// Events of this caller (`trusted` or a principal's id).
    pub caller: Option<String>,
    /// Events that ended this way.
    pub outcome: Option<AuditOutcomeKind>,
    /// At most this many events.
    pub limit: Option<usize>,
}

impl AuditQuery {
    /// Every event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Events at or after `time`.
    pub fn since(mut self, time: SystemTime) -> Self {
        self.since = Some(time);
        self
    }

    /// Events before `time`.
    pub fn until(mut self, time: SystemTime) -> Self {
        self.until = Some(time);
        self
    }

    /// Events naming `key_id`.
    pub fn key_id(mut self, key_id: &str) -> Self {
        self.key_id = Some(key_id.to_owned());
        self
    }

    /// Events of `caller`.
    pub fn caller(mut self, caller: &str) -> Self {
        self.caller = Some(caller.to_owned());
        self
    }

    /// Events with `outcome`.
    pub fn outcome(mut self, outcome: AuditOutcomeKind) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// At most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    fn matches(&self, event: &AuditEvent) -> bool {
        self.key_id
            .as_deref()
            .is_none_or(|id| event.key_id.as_deref() == Some(id))
            && self.caller.as_deref().is_none_or(|c| event.caller == c)
            && self.outcome.is_none_or(|o| o.matches(&event.outcome))
    }
}

/// What an audit query found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditPage {
    /// The events selected, oldest first.
    pub events: Vec<AuditEvent>,
    /// Each entry in the range that is not an event the store wrote (its key,
    /// and why), in order.
    pub damaged: Vec<String>,
}

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
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn event_key(time_ns: u64, sequence: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&time_ns.to_be_bytes());
    key[8..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// The time an event key starts with (`None` for a key shorter than one,
/// which the store did not write).
fn event_time(key: &[u8]) -> Option<u64> {
    key.get(..8)
        .map(|raw| u64::from_be_bytes(raw.try_into().expect("8 bytes")))
}

/// The bytes (keys and values) in the audit family, counted by reading it.
fn family_bytes(db: &rocksdb::DB, family: &rocksdb::ColumnFamily) -> Result<u64> {
    let mut total = 0u64;
    for item in db.iterator_cf(family, IteratorMode::Start) {
        let (key, value) = item?;
        total += (key.len() + value.len()) as u64;
    }
    Ok(total)
}

fn encode(event: &AuditEvent) -> Vec<u8> {
    let (outcome, error) = match &event.outcome {
        AuditOutcome::Failed(message) => ("failed", Some(message.clone())),
        other => (other.name(), None),
    };
    let stored = StoredEvent {
        v: EVENT_FORMAT,
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
        outcome: outcome.to_owned(),
        error,
    };
    serde_json::to_vec(&stored).expect("an event serializes")
}

fn decode(raw: &[u8]) -> Result<AuditEvent> {
    let corrupt = |why: String| Error::CorruptRecord(format!("audit event: {why}"));
    let stored: StoredEvent = serde_json::from_slice(raw).map_err(|e| corrupt(e.to_string()))?;
    if stored.v != EVENT_FORMAT {
        return Err(corrupt(format!("format version {}", stored.v)));
    }
    let outcome = match (stored.outcome.as_str(), stored.error) {
        ("allowed", _) => AuditOutcome::Allowed,
        ("denied", _) => AuditOutcome::Denied,
        ("failed", error) => AuditOutcome::Failed(error.unwrap_or_default()),
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
        outcome,
    })
}

/// The sink the store's KMS layer and the store itself write to: the `audit`
/// family first, then the application's own sink (if any).
pub(crate) struct AuditLog {
    db: SharedDb,
    forward: Arc<dyn AuditSink>,
    retention: AuditRetention,
    clock: Arc<dyn Clock>,
    write_options: WriteOptions,
    /// The next event's sequence number (unique in the store).
    sequence: AtomicU64,
    /// Bytes in the family (kept only with a size limit).
    bytes: AtomicU64,
    appended: AtomicU64,
    pruning: Mutex<()>,
    /// Test hook: every append fails while set.
    #[cfg(feature = "test-util")]
    pub(crate) fail_appends: std::sync::atomic::AtomicBool,
}

impl AuditLog {
    /// The log of the store in `db`: continues its sequence and applies
    /// `retention` once.
    pub(crate) fn open(
        db: SharedDb,
        forward: Arc<dyn AuditSink>,
        retention: AuditRetention,
        clock: Arc<dyn Clock>,
        sync: bool,
    ) -> Result<Self> {
        let mut write_options = WriteOptions::default();
        write_options.set_sync(sync);
        let (sequence, bytes) = {
            let guard = borrow_db(&db).ok_or(Error::Closed)?;
            let family = guard.cf(ColumnFamily::Audit)?;
            // Continue after the newest well-formed key (a key of another
            // length was not written by the store: queries report it).
            let mut sequence = 0;
            for item in guard.iterator_cf(family, IteratorMode::End) {
                let (key, _) = item?;
                if let Ok(raw) = <[u8; 16]>::try_from(key.as_ref()) {
                    sequence =
                        u64::from_be_bytes(raw[8..].try_into().expect("8 bytes")).wrapping_add(1);
                    break;
                }
            }
            let bytes = match retention.max_bytes {
                Some(_) => family_bytes(&guard, family)?,
                None => 0,
            };
            (sequence, bytes)
        };
        let log = Self {
            db,
            forward,
            retention,
            clock,
            write_options,
            sequence: AtomicU64::new(sequence),
            bytes: AtomicU64::new(bytes),
            appended: AtomicU64::new(0),
            pruning: Mutex::new(()),
            #[cfg(feature = "test-util")]
            fail_appends: std::sync::atomic::AtomicBool::new(false),
        };
        log.prune(&retention, log.clock.now(), Prune::Requested)?;
        Ok(log)
    }

    fn append(&self, event: &AuditEvent) -> Result<()> {
        #[cfg(feature = "test-util")]
        if self.fail_appends.load(Ordering::Relaxed) {
            return Err(Error::Io(std::io::Error::other(
                "audit append refused (test)",
            )));
        }
        let value = encode(event);
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let key = event_key(nanos(event.time), sequence);
        {
            let db = borrow_db(&self.db).ok_or(Error::Closed)?;
            db.put_cf_opt(
                db.cf(ColumnFamily::Audit)?,
                key,
                &value,
                &self.write_options,
            )?;
        }
        let size = (key.len() + value.len()) as u64;
        let bytes = self.bytes.fetch_add(size, Ordering::Relaxed) + size;
        let appended = self.appended.fetch_add(1, Ordering::Relaxed) + 1;
        let over_size = self.retention.max_bytes.is_some_and(|max| bytes > max);
        let age_due = self.retention.max_age.is_some() && appended.is_multiple_of(AGE_CHECK_EVERY);
        if over_size || age_due {
            self.prune(&self.retention, self.clock.now(), Prune::WhileAppending)?;
        }
        Ok(())
    }

    /// Removes the oldest events beyond `retention` (measured at `now`);
    /// returns how many. `how` says whether to wait for a prune in progress
    /// and how far under a size limit to go. Exactly the events counted are
    /// deleted (an event appended meanwhile is never lost), and a size limit
    /// never removes the newest event.
    pub(crate) fn prune(
        &self,
        retention: &AuditRetention,
        now: SystemTime,
        how: Prune,
    ) -> Result<u64> {
        if retention.max_age.is_none() && retention.max_bytes.is_none() {
            return Ok(0);
        }
        let _pruning = match how {
            Prune::Requested => self.pruning.lock(),
            Prune::WhileAppending => match self.pruning.try_lock() {
                Some(guard) => guard,
                None => return Ok(0), // another thread is at it
            },
        };
        let db = borrow_db(&self.db).ok_or(Error::Closed)?;
        let family = db.cf(ColumnFamily::Audit)?;
        let cutoff = retention
            .max_age
            .map(|age| nanos(now.checked_sub(age).unwrap_or(UNIX_EPOCH)));
        // Pruning while appending goes to 90 % of the limit, so that it runs
        // once per tenth of the limit, not on every append.
        let limit = retention.max_bytes.map(|max| match how {
            Prune::Requested => max,
            Prune::WhileAppending => max / 10 * 9,
        });
        // Without a size limit the log's size is not tracked: count it now.
        let mut total = match limit {
            Some(_) if self.retention.max_bytes.is_some() => self.bytes.load(Ordering::Relaxed),
            Some(_) => family_bytes(&db, family)?,
            None => 0,
        };
        let mut removed = 0u64;
        let mut removed_bytes = 0u64;
        let mut batch = WriteBatch::default();
        let mut events = db.iterator_cf(family, IteratorMode::Start).peekable();
        while let Some(item) = events.next() {
            let (key, value) = item?;
            // A key the store did not write (shorter than a time) counts as
            // the oldest.
            let time = event_time(&key).unwrap_or(0);
            let too_old = cutoff.is_some_and(|cutoff| time < cutoff);
            let newest = events.peek().is_none();
            let too_big = !newest && limit.is_some_and(|max| total > max);
            if !too_old && !too_big {
                break;
            }
            let size = (key.len() + value.len()) as u64;
            total = total.saturating_sub(size);
            removed_bytes += size;
            removed += 1;
            batch.delete_cf(family, &key);
            if batch.len() >= PRUNE_BATCH {
                db.write_opt(std::mem::take(&mut batch), &self.write_options)?;
            }
        }
        if !batch.is_empty() {
            db.write_opt(batch, &self.write_options)?;
        }
        self.bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_sub(removed_bytes))
            })
            .ok();
        Ok(removed)
    }

    /// The events `query` selects, oldest first.
    pub(crate) fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        let db = borrow_db(&self.db).ok_or(Error::Closed)?;
        let family = db.cf(ColumnFamily::Audit)?;
        let start = event_key(query.since.map_or(0, nanos), 0);
        let until = query.until.map(nanos);
        let mut out = AuditPage::default();
        for item in db.iterator_cf(family, IteratorMode::From(&start, Direction::Forward)) {
            if query.limit.is_some_and(|limit| out.events.len() >= limit) {
                break;
            }
            let (key, value) = item?;
            let mut damaged = |why: &str| {
                out.damaged.push(format!(
                    "audit event {}: {why}; the store did not write it",
                    hex::encode(&key)
                ));
            };
            let time = event_time(&key);
            if until.is_some_and(|until| time.is_some_and(|time| time >= until)) {
                break;
            }
            if key.len() != 16 {
                damaged("its key is not 16 bytes");
                continue;
            }
            match decode(&value) {
                Ok(event) if query.matches(&event) => out.events.push(event),
                Ok(_) => {}
                Err(error) => damaged(&error.to_string()),
            }
        }
        Ok(out)
    }
}

impl AuditSink for AuditLog {
    fn record(&self, event: &AuditEvent) -> std::result::Result<(), AuditWriteError> {
        self.append(event)
            .map_err(|error| AuditWriteError(format!("the store's audit log: {error}")))?;
        self.forward.record(event)
    }
}

/// What the store itself records: who, what, on which resource, how it ended.
pub(crate) struct StoreEvent<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) action: &'a str,
    pub(crate) resource: Option<String>,
    pub(crate) key_id: Option<&'a str>,
    pub(crate) key_version: Option<u32>,
    pub(crate) bucket: Option<&'a str>,
    pub(crate) object_key: Option<&'a str>,
    pub(crate) outcome: AuditOutcome,
}

impl Store {
    /// The audit events `query` selects, oldest first: every KMS call, the
    /// store's policy denials and master key administration. Fails with
    /// [`Error::CorruptRecord`], naming it, if it meets an event the store did
    /// not write (see [`Store::audit_log`] to read around one).
    pub fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let page = self.inner.audit.query(query)?;
        match page.damaged.into_iter().next() {
            Some(damaged) => Err(Error::CorruptRecord(damaged)),
            None => Ok(page.events),
        }
    }

    /// [`Store::audit_events`], also listing (not failing on) the entries it
    /// met that the store did not write: an edited or planted event hides
    /// nothing after it.
    pub fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage> {
        self.inner.audit.query(query)
    }

    /// Removes the audit events beyond `retention` now (the store also applies
    /// the retention it was opened with as it goes); returns how many.
    pub fn prune_audit_log(&self, retention: &AuditRetention) -> Result<u64> {
        self.inner
            .audit
            .prune(retention, self.inner.clock.now(), Prune::Requested)
    }

    /// Records one of the store's own events; [`Error::AuditFailed`] if it
    /// cannot, and then the operation it describes must fail.
    pub(crate) fn audit(&self, event: StoreEvent<'_>) -> Result<()> {
        let event = AuditEvent {
            time: self.inner.clock.now(),
            caller: event.caller.name().to_owned(),
            source: "store".to_owned(),
            action: event.action.to_owned(),
            resource: event.resource,
            key_id: event.key_id.map(str::to_owned),
            key_version: event.key_version,
            bucket: event.bucket.map(str::to_owned),
            object_key: event.object_key.map(str::to_owned),
            context: None,
            outcome: event.outcome,
        };
        self.inner
            .audit
            .record(&event)
            .map_err(|error| Error::AuditFailed {
                action: event.action,
                reason: error.0,
            })
    }
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
            outcome,
        }
    }

    #[test]
    fn events_round_trip() {
        for outcome in [
            AuditOutcome::Allowed,
            AuditOutcome::Denied,
            AuditOutcome::Failed("key k is disabled".into()),
        ] {
            let e = event(outcome);
            assert_eq!(decode(&encode(&e)).expect("decodes"), e);
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
                matches!(decode(raw), Err(Error::CorruptRecord(_))),
                "{raw:?}"
            );
        }
    }
}
