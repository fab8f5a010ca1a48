//! The persisted audit log: appends (each event sealed and chained to the one
//! before, with the head record in the same write), retention (a prune
//! records itself before it removes anything, and moves the anchor as it
//! goes), and queries that check the chain as they read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use coffer_keyring::{AuditEvent, AuditOutcome, AuditSink, AuditWriteError, Caller, Clock};
use parking_lot::Mutex;
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch, WriteOptions};

use super::chain::{
    ANCHOR_KEY, Anchor, AuditKey, ChainCheck, Entry, HEAD_KEY, Head, Legacy, NO_TAG, Tag, Walked,
    key_sequence, key_time,
};
use super::event::{SEALED_FORMAT, decode, encode, event_key, event_time, family_bytes, nanos};
use super::query::{AuditPage, AuditQuery, AuditRetention, AuditVerification};
use crate::engine::db::storage;
use crate::engine::db::{DbRef, SharedDb, borrow_db};
use crate::{ColumnFamily, Error, Result};

/// Appends between checks of the age limit.
const AGE_CHECK_EVERY: u64 = 1024;
/// Deletions per write when pruning.
const PRUNE_BATCH: usize = 4096;
/// Room a prune keeps under a size limit for the event recording it (key,
/// seal and JSON: about 400 bytes).
const PRUNE_RECORD_BYTES: u64 = 512;

/// Who prunes.
#[derive(Clone, Copy)]
pub(crate) enum Prune {
    /// An explicit call: waits for a prune in progress, goes down to the
    /// limit, and records itself as `coffer:PruneAuditLog`.
    Requested,
    /// The store's retention, when it opens: as `Requested`, recorded as
    /// `coffer:PruneAuditLogByRetention`.
    Opening,
    /// An append that found the log over its limits: skips if another prune
    /// is in progress, and goes down to 90 % of the size limit.
    WhileAppending,
}

/// How the log was found when the store opened.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogState {
    /// A store being created.
    New,
    /// Written by a version that did not seal events: they are anchored as
    /// unauthenticated, and sealed events follow them.
    Unsealed,
    /// Sealed and chained.
    Sealed,
}

/// The end of the chain: what the next event follows.
struct ChainEnd {
    next_sequence: u64,
    /// The time of the last key: keys never go back in time.
    last_time_ns: u64,
    last_tag: Tag,
}

/// The sink the store's KMS layer and the store itself write to: the `audit`
/// family first, then the application's own sink (if any).
pub(crate) struct AuditLog {
    db: SharedDb,
    key: AuditKey,
    forward: Arc<dyn AuditSink>,
    retention: AuditRetention,
    clock: Arc<dyn Clock>,
    write_options: WriteOptions,
    /// Held while an event is written: sequences are taken in order and
    /// only by events written.
    end: Mutex<ChainEnd>,
    /// Bytes in the family (kept only with a size limit).
    bytes: AtomicU64,
    appended: AtomicU64,
    pruning: Mutex<()>,
    /// Test hook: every append fails while set.
    #[cfg(feature = "test-util")]
    pub(crate) fail_appends: std::sync::atomic::AtomicBool,
}

impl AuditLog {
    /// The log of the store in `db`, sealed under `key`: continues its chain
    /// (anchoring the events of an unsealed log first), records what it finds
    /// missing at its end, and applies `retention` once.
    pub(crate) fn open(
        db: SharedDb,
        key: AuditKey,
        state: LogState,
        forward: Arc<dyn AuditSink>,
        retention: AuditRetention,
        clock: Arc<dyn Clock>,
        sync: bool,
    ) -> Result<Self> {
        let mut write_options = WriteOptions::default();
        write_options.set_sync(sync);
        let (end, damage, bytes) = {
            let guard = borrow_db(&db).ok_or(Error::Closed)?;
            let (end, damage) = chain_end(&guard, &key, state)?;
            let bytes = match retention.max_bytes {
                Some(_) => family_bytes(&guard, guard.cf(ColumnFamily::Audit)?)?,
                None => 0,
            };
            (end, damage, bytes)
        };
        let log = Self {
            db,
            key,
            forward,
            retention,
            clock,
            write_options,
            end: Mutex::new(end),
            bytes: AtomicU64::new(bytes),
            appended: AtomicU64::new(0),
            pruning: Mutex::new(()),
            #[cfg(feature = "test-util")]
            fail_appends: std::sync::atomic::AtomicBool::new(false),
        };
        if let Some(damage) = damage {
            // Kept in the log itself, so the next append cannot hide it.
            tracing::warn!(%damage, "the audit log was damaged while the store was closed");
            log.append(&log.store_event("coffer:AuditLogDamaged", Some(damage)))?;
        }
        log.prune(&retention, log.clock.now(), Prune::Opening)?;
        Ok(log)
    }

    /// An event of the store about its own log.
    fn store_event(&self, action: &str, detail: Option<String>) -> AuditEvent {
        AuditEvent {
            time: self.clock.now(),
            caller: Caller::Trusted.name().to_owned(),
            source: "store".to_owned(),
            action: action.to_owned(),
            resource: None,
            key_id: None,
            key_version: None,
            bucket: None,
            object_key: None,
            context: None,
            detail,
            outcome: AuditOutcome::Allowed,
        }
    }

    fn append(&self, event: &AuditEvent) -> Result<()> {
        #[cfg(feature = "test-util")]
        if self.fail_appends.load(Ordering::Relaxed) {
            return Err(Error::Io(std::io::Error::other(
                "audit append refused (test)",
            )));
        }
        let json = encode(event);
        let size = {
            let mut end = self.end.lock();
            let time_ns = nanos(event.time).max(end.last_time_ns);
            let sequence = end.next_sequence;
            let key = event_key(time_ns, sequence);
            let (value, tag) = self.key.seal_event(&key, &end.last_tag, &json);
            let head = self.key.seal_head(&Head { sequence, key, tag });
            let db = borrow_db(&self.db).ok_or(Error::Closed)?;
            let mut batch = WriteBatch::default();
            batch.put_cf(db.cf(ColumnFamily::Audit)?, key, &value);
            batch.put_cf(db.cf(ColumnFamily::Meta)?, HEAD_KEY, head);
            let next_sequence = sequence.checked_add(1).ok_or_else(|| {
                Error::CorruptRecord("the audit log's sequence is used up".into())
            })?;
            db.write_opt(batch, &self.write_options).map_err(storage)?;
            *end = ChainEnd {
                next_sequence,
                last_time_ns: time_ns,
                last_tag: tag,
            };
            (key.len() + value.len()) as u64
        };
        let bytes = self.bytes.fetch_add(size, Ordering::Relaxed) + size;
        let appended = self.appended.fetch_add(1, Ordering::Relaxed) + 1;
        let over_size = self.retention.max_bytes.is_some_and(|max| bytes > max);
        let age_due = self.retention.max_age.is_some() && appended.is_multiple_of(AGE_CHECK_EVERY);
        if (over_size || age_due)
            && let Err(error) = self.prune(&self.retention, self.clock.now(), Prune::WhileAppending)
        {
            // The event is written: the operation it records stands. The
            // next append tries again.
            tracing::warn!(%error, "could not prune the audit log");
        }
        Ok(())
    }

    /// Removes the oldest events beyond `retention` (measured at `now`);
    /// returns how many. `how` says whether to wait for a prune in progress
    /// and how far under a size limit to go. The newest event is never
    /// removed. A prune that removes anything first appends an event saying
    /// what it will remove (so it is newer than all of it, and is never
    /// removed by itself), then deletes exactly the events it counted, moving
    /// the anchor with every batch.
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
            Prune::Requested | Prune::Opening => self.pruning.lock(),
            Prune::WhileAppending => match self.pruning.try_lock() {
                Some(guard) => guard,
                None => return Ok(0), // another thread is at it
            },
        };
        let db = borrow_db(&self.db).ok_or(Error::Closed)?;
        // Without an anchor that authenticates, a prune would write a new one
        // over the evidence: it refuses (or, by retention, waits).
        let Some(anchor) = read_anchor(&db, &self.key)? else {
            let refused = "the audit log's anchor is missing or does not authenticate; not pruned";
            return match how {
                Prune::Requested => Err(Error::CorruptRecord(refused.into())),
                Prune::Opening | Prune::WhileAppending => {
                    tracing::warn!("{refused}");
                    Ok(0)
                }
            };
        };
        drop(db);
        let Some(plan) = self.plan_prune(retention, now, how, anchor)? else {
            return Ok(0);
        };
        let action = match how {
            Prune::Requested => "coffer:PruneAuditLog",
            Prune::Opening | Prune::WhileAppending => "coffer:PruneAuditLogByRetention",
        };
        self.append(&self.store_event(action, Some(plan.describe())))?;
        let db = borrow_db(&self.db).ok_or(Error::Closed)?;
        let family = db.cf(ColumnFamily::Audit)?;
        let meta = db.cf(ColumnFamily::Meta)?;
        // The anchor moves past what is removed; its chain position only
        // past entries that are in the chain, so nothing planted decides
        // where the chain starts.
        let mut anchor = anchor;
        let mut check = ChainCheck::new(&self.key, anchor, None);
        let mut batch = WriteBatch::default();
        let mut removed = 0u64;
        let mut removed_bytes = 0u64;
        for item in db.iterator_cf(family, IteratorMode::Start) {
            let (key, value) = item.map_err(storage)?;
            if *key > plan.through[..] {
                break;
            }
            removed += 1;
            removed_bytes += (key.len() + value.len()) as u64;
            if let Ok(event_key) = <[u8; 16]>::try_from(&key[..]) {
                let linked = match check.entry(&key, &value) {
                    Walked::Event { linked, .. } => linked,
                    Walked::Rejected => None,
                };
                anchor = anchor.after_pruning(event_key, linked);
            }
            batch.delete_cf(family, &key);
            if batch.len() >= PRUNE_BATCH {
                batch.put_cf(meta, ANCHOR_KEY, self.key.seal_anchor(&anchor));
                db.write_opt(std::mem::take(&mut batch), &self.write_options)
                    .map_err(storage)?;
            }
        }
        if !batch.is_empty() {
            batch.put_cf(meta, ANCHOR_KEY, self.key.seal_anchor(&anchor));
            db.write_opt(batch, &self.write_options).map_err(storage)?;
        }
        self.bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_sub(removed_bytes))
            })
            .ok();
        Ok(removed)
    }

    /// What a prune under `retention` at `now` would remove: `None` if
    /// nothing.
    fn plan_prune(
        &self,
        retention: &AuditRetention,
        now: SystemTime,
        how: Prune,
        anchor: Anchor,
    ) -> Result<Option<PrunePlan>> {
        let db = borrow_db(&self.db).ok_or(Error::Closed)?;
        let family = db.cf(ColumnFamily::Audit)?;
        let cutoff = retention
            .max_age
            .map(|age| nanos(now.checked_sub(age).unwrap_or(UNIX_EPOCH)));
        // Pruning while appending goes to 90 % of the limit, so that it runs
        // once per tenth of the limit, not on every append.
        let limit = retention.max_bytes.map(|max| match how {
            Prune::Requested | Prune::Opening => max,
            Prune::WhileAppending => max / 10 * 9,
        });
        // Without a size limit the log's size is not tracked: count it now;
        // with the prune's own record, which stays.
        let mut total = PRUNE_RECORD_BYTES
            + match limit {
                Some(_) if self.retention.max_bytes.is_some() => self.bytes.load(Ordering::Relaxed),
                Some(_) => family_bytes(&db, family)?,
                None => 0,
            };
        let mut plan: Option<PrunePlan> = None;
        let mut check = ChainCheck::new(&self.key, anchor, None);
        let mut events = db.iterator_cf(family, IteratorMode::Start).peekable();
        while let Some(item) = events.next() {
            let (key, value) = item.map_err(storage)?;
            // A key the store did not write (shorter than a time) counts as
            // the oldest.
            let time = event_time(&key).unwrap_or(0);
            let too_old = cutoff.is_some_and(|cutoff| time < cutoff);
            let newest = events.peek().is_none();
            let too_big = limit.is_some_and(|max| total > max);
            if newest || !(too_old || too_big) {
                break;
            }
            let size = (key.len() + value.len()) as u64;
            total = total.saturating_sub(size);
            check.entry(&key, &value);
            let plan = plan.get_or_insert_with(|| PrunePlan {
                events: 0,
                bytes: 0,
                oldest_ns: time,
                newest_ns: time,
                through: Vec::new(),
                problems: Vec::new(),
            });
            plan.events += 1;
            plan.bytes += size;
            plan.newest_ns = time;
            plan.through = key.to_vec();
        }
        if let Some(plan) = &mut plan {
            plan.problems = check.problems;
        }
        Ok(plan)
    }

    /// The events `query` selects, oldest first, with what the walk found
    /// wrong on the way.
    pub(crate) fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        let mut out = AuditPage::default();
        let limit = query.limit.unwrap_or(usize::MAX);
        self.walk(query.since, query.until, |json, format| {
            if out.events.len() >= limit {
                return Ok(false);
            }
            match decode(json, format) {
                Ok(event) if query.matches(&event) => out.events.push(event),
                Ok(_) => {}
                Err(error) => out.damaged.push(error.to_string()),
            }
            Ok(true)
        })
        .map(|check| {
            out.damaged.extend(check.problems);
            out.unauthenticated = check.unauthenticated;
        })?;
        Ok(out)
    }

    /// Walks the whole log, checking every event and every link.
    pub(crate) fn verify(&self) -> Result<AuditVerification> {
        let mut report = AuditVerification::default();
        let mut undecodable = Vec::new();
        let check = self.walk(None, None, |json, format| {
            match decode(json, format) {
                Ok(_) if format == SEALED_FORMAT => report.events += 1,
                Ok(_) => {}
                Err(error) => undecodable.push(error.to_string()),
            }
            Ok(true)
        })?;
        report.unauthenticated = check.unauthenticated;
        report.problems = undecodable;
        report.problems.extend(check.problems);
        Ok(report)
    }

    /// Walks the events from `since` to `until` in one snapshot (events, head
    /// and anchor as one write left them), calling `each` with the JSON of
    /// every event that checks and its format until it says stop; returns the
    /// check (its problems, the unauthenticated count). A walk that reaches
    /// the end of the log checks the head.
    fn walk(
        &self,
        since: Option<SystemTime>,
        until: Option<SystemTime>,
        mut each: impl FnMut(&[u8], u32) -> Result<bool>,
    ) -> Result<ChainCheck<'_>> {
        let db = borrow_db(&self.db).ok_or(Error::Closed)?;
        let family = db.cf(ColumnFamily::Audit)?;
        let meta = db.cf(ColumnFamily::Meta)?;
        let snapshot = db.snapshot();
        let mut problems = Vec::new();
        let anchor = match snapshot.get_cf(meta, ANCHOR_KEY).map_err(storage)? {
            Some(raw) => self.key.open_anchor(&raw).unwrap_or_else(|| {
                problems.push(
                    "audit log: its anchor record does not authenticate: it was edited or planted"
                        .to_owned(),
                );
                Anchor::NEW
            }),
            None => {
                problems.push("audit log: its anchor record is missing: removed".to_owned());
                Anchor::NEW
            }
        };
        let head = match snapshot.get_cf(meta, HEAD_KEY).map_err(storage)? {
            Some(raw) => {
                let head = self.key.open_head(&raw);
                if head.is_none() {
                    problems.push("audit log: the record naming its newest event does not authenticate: it was edited or planted".to_owned());
                }
                head
            }
            None => None,
        };
        let start = event_key(since.map_or(0, nanos), 0);
        // The event before the range, which the first in it must follow.
        let previous = match since {
            None => None,
            Some(_) => {
                let mut options = ReadOptions::default();
                options.set_snapshot(&snapshot);
                let mut before = db.raw_iterator_cf_opt(family, options);
                before.seek_for_prev(start);
                // The newest event before it the chain holds (one planted
                // there is no predecessor), within a few entries.
                let mut found = None;
                for _ in 0..64 {
                    let (Some(key), Some(value)) = (before.key(), before.value()) else {
                        break;
                    };
                    if let Ok(key) = <[u8; 16]>::try_from(key)
                        && key < start
                        && let Some(tag) = chained_tag(&self.key, &anchor, &key, value)
                    {
                        found = Some((key_sequence(&key), tag));
                        break;
                    }
                    before.prev();
                }
                found
            }
        };
        let mut check = ChainCheck::new(&self.key, anchor, previous);
        check.problems = problems;
        let until = until.map(nanos);
        let mut reached_end = true;
        // From the very start when the range has none: a key the store did
        // not write may sort before the first event's (an empty one does).
        let from = match since {
            None => IteratorMode::Start,
            Some(_) => IteratorMode::From(&start, Direction::Forward),
        };
        for item in snapshot.iterator_cf(family, from) {
            let (key, value) = item.map_err(storage)?;
            if until.is_some_and(|until| event_time(&key).is_some_and(|time| time >= until)) {
                reached_end = false;
                break;
            }
            let Walked::Event { json, format, .. } = check.entry(&key, &value) else {
                continue;
            };
            if !each(json, format)? {
                reached_end = false;
                break;
            }
        }
        if reached_end {
            check.finish(head);
        }
        Ok(check)
    }
}

/// What a prune will remove.
struct PrunePlan {
    events: u64,
    bytes: u64,
    oldest_ns: u64,
    newest_ns: u64,
    /// The key of the newest event it removes.
    through: Vec<u8>,
    /// What is wrong among them (it is said in the prune's record, since
    /// the prune removes the evidence).
    problems: Vec<String>,
}

impl PrunePlan {
    fn describe(&self) -> String {
        let time = |ns: u64| {
            humantime::format_rfc3339_millis(UNIX_EPOCH + std::time::Duration::from_nanos(ns))
        };
        let mut text = format!(
            "removing {} events ({} bytes) written from {} to {}, through event {}",
            self.events,
            self.bytes,
            time(self.oldest_ns),
            time(self.newest_ns),
            hex::encode(&self.through)
        );
        if let Some(first) = self.problems.first() {
            text.push_str(&format!(
                "; {} problems among them, the first: {first}",
                self.problems.len()
            ));
        }
        text
    }
}

/// The tag the entry after `event_key` links to, if it is an event the chain
/// holds (sealed and authentic, or one from before sealing the anchor
/// allows: zeros); `None` for anything else.
fn chained_tag(key: &AuditKey, anchor: &Anchor, event_key: &[u8; 16], value: &[u8]) -> Option<Tag> {
    if anchor.pruned(event_key) {
        return None;
    }
    match key.entry(event_key, value) {
        Entry::Sealed {
            authentic: true,
            tag,
            ..
        } => Some(tag),
        Entry::Legacy(_) if anchor.allows_legacy(event_key, key_sequence(event_key)) => {
            Some(NO_TAG)
        }
        _ => None,
    }
}

/// The anchor, if it is there and authenticates.
fn read_anchor(db: &DbRef<'_>, key: &AuditKey) -> Result<Option<Anchor>> {
    Ok(db
        .get_cf(db.cf(ColumnFamily::Meta)?, ANCHOR_KEY)
        .map_err(storage)?
        .and_then(|raw| key.open_anchor(&raw)))
}

/// Where the chain ends when the store opens, writing the anchor of a new or
/// unsealed log; and what is missing at its end, if anything (to record in
/// the log itself: the next append would hide it).
fn chain_end(
    db: &DbRef<'_>,
    key: &AuditKey,
    state: LogState,
) -> Result<(ChainEnd, Option<String>)> {
    let family = db.cf(ColumnFamily::Audit)?;
    let meta = db.cf(ColumnFamily::Meta)?;
    let stored_anchor = db.get_cf(meta, ANCHOR_KEY).map_err(storage)?;
    let head = db.get_cf(meta, HEAD_KEY).map_err(storage)?;
    let empty = db.iterator_cf(family, IteratorMode::Start).next().is_none();
    // A store whose creation stopped before its log opened is as new.
    let fresh = state == LogState::Sealed && stored_anchor.is_none() && head.is_none() && empty;
    if (state != LogState::Sealed || fresh) && stored_anchor.is_none() {
        // Every event there is from before sealing: the chain starts after
        // the highest sequence among them (a key order that is not sequence
        // order, after a clock stepped back, is how they were written).
        let mut legacy: Option<Legacy> = None;
        for item in db.iterator_cf(family, IteratorMode::Start) {
            let (event_key, _) = item.map_err(storage)?;
            if let Ok(event_key) = <[u8; 16]>::try_from(&event_key[..]) {
                let sequence = key_sequence(&event_key);
                legacy = Some(Legacy {
                    through: legacy.map_or(sequence, |l| l.through.max(sequence)),
                    last_key: event_key,
                });
            }
        }
        let anchor = match legacy {
            Some(legacy) => Anchor {
                chained_from: legacy.through.saturating_add(1),
                link: NO_TAG,
                pruned_through: [0; 16],
                legacy: Some(legacy),
            },
            None => Anchor::NEW,
        };
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        db.put_cf_opt(meta, ANCHOR_KEY, key.seal_anchor(&anchor), &sync)
            .map_err(storage)?;
        let end = match legacy {
            Some(legacy) => ChainEnd {
                next_sequence: anchor.chained_from,
                last_time_ns: key_time(&legacy.last_key),
                last_tag: NO_TAG,
            },
            None => fresh_end(&anchor),
        };
        return Ok((end, None));
    }
    let anchor = stored_anchor
        .and_then(|raw| key.open_anchor(&raw))
        .unwrap_or(Anchor::NEW);
    match head.map(|raw| key.open_head(&raw)) {
        Some(Some(head)) => {
            let there = db
                .get_cf(family, head.key)
                .map_err(storage)?
                .is_some_and(|value| {
                    chained_tag(key, &anchor, &head.key, &value) == Some(head.tag)
                });
            // If the newest events are gone, go on after the head all the
            // same: every later walk sees the gap.
            let missing = (!there).then(|| {
                format!(
                    "the newest audit events are missing: the head names event {} (sequence {}), which is not there",
                    hex::encode(head.key),
                    head.sequence
                )
            });
            Ok((after(head.key, head.tag), missing))
        }
        Some(None) => Ok((
            last_event(db, key, &anchor)?.map_or_else(|| fresh_end(&anchor), |(k, t)| after(k, t)),
            Some(
                "the audit log's head record does not authenticate: it was edited or planted"
                    .into(),
            ),
        )),
        None => match last_event(db, key, &anchor)? {
            Some((event_key, tag)) if tag != NO_TAG => Ok((
                after(event_key, tag),
                Some("the audit log's head record is missing: it was removed".into()),
            )),
            Some((event_key, tag)) => Ok((after(event_key, tag), None)),
            // No event at all: as new, unless a prune ran (its own record
            // would be there, with the head).
            None => Ok((
                fresh_end(&anchor),
                (anchor.link != NO_TAG).then(|| {
                    "every audit event and the head naming the newest are missing: removed".into()
                }),
            )),
        },
    }
}

/// The end of the chain after the event `event_key` tagged `tag`.
fn after(event_key: [u8; 16], tag: Tag) -> ChainEnd {
    ChainEnd {
        next_sequence: key_sequence(&event_key).saturating_add(1),
        last_time_ns: key_time(&event_key),
        last_tag: tag,
    }
}

/// The newest event the chain holds, with its tag (zeros for one from before
/// sealing).
fn last_event(db: &DbRef<'_>, key: &AuditKey, anchor: &Anchor) -> Result<Option<([u8; 16], Tag)>> {
    for item in db.iterator_cf(db.cf(ColumnFamily::Audit)?, IteratorMode::End) {
        let (event_key, value) = item.map_err(storage)?;
        let Ok(event_key) = <[u8; 16]>::try_from(&event_key[..]) else {
            continue;
        };
        if let Some(tag) = chained_tag(key, anchor, &event_key, &value) {
            return Ok(Some((event_key, tag)));
        }
    }
    Ok(None)
}

/// The end of a log with no event: where its anchor says the chain starts.
fn fresh_end(anchor: &Anchor) -> ChainEnd {
    ChainEnd {
        next_sequence: anchor.chained_from,
        last_time_ns: 0,
        last_tag: anchor.link,
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
