//! How the audit log proves itself. Every event the store writes (format 2)
//! is sealed under a key of the store's own and carries the tag of the event
//! before it, so an event edited, planted, removed, reordered or replayed is
//! named by the next read that meets it; a head record names the newest
//! event, so removing the newest ones shows too; an anchor says where the
//! chain starts (where the last prune stopped, and which events are older
//! than the chain). `docs/format.md` has the layout byte by byte:
//!
//! ```text
//! audit  time (u64 BE ns) ‖ sequence (u64 BE)
//!          → "CFA2" ‖ previous tag (32) ‖ JSON event ‖ tag (32)
//!        tag = HMAC-SHA256(audit key, "coffer/audit-event/v2" ‖ key (16)
//!                          ‖ "CFA2" ‖ previous tag ‖ JSON event)
//! meta   "audit/head"   → "CFAH" ‖ u64 sequence ‖ key (16) ‖ tag (32) ‖ mac (32)
//!        "audit/anchor" → "CFAN" ‖ u64 chained from ‖ link (32) ‖ pruned through (16)
//!                         ‖ u8 has legacy ‖ u64 legacy through ‖ legacy last key (16)
//!                         ‖ mac (32)
//!        mac = HMAC-SHA256(audit key, "coffer/audit-head/v2" or
//!                          "coffer/audit-anchor/v2" ‖ the bytes before it)
//! ```
//!
//! (u64s in records little-endian.) Sequences are consecutive: one is taken
//! only by an event written, under the log's append lock, with the head in
//! the same write. Event times in keys never go backwards, so key order is
//! sequence order. The first event after the anchor carries the anchor's
//! link (zeros for a new log); every entry at or below the key the last prune
//! removed is one put back. An event written before the log was chained
//! (format 1, plain JSON, only at or below the anchor's "legacy through"
//! sequence and its last key) is read but counted as unauthenticated, and
//! links as zeros.
//!
//! What it cannot show: a rollback of the whole log, head and anchor to an
//! earlier copy of themselves (as for every record of the store).

use ring::hmac;

use super::event::{LEGACY_FORMAT, SEALED_FORMAT};

/// A tag: HMAC-SHA256.
pub(crate) type Tag = [u8; 32];
/// The link of the first event of a new log, and of events before the chain.
pub(crate) const NO_TAG: Tag = [0; 32];

const EVENT_MAGIC: &[u8] = b"CFA2";
const EVENT_DOMAIN: &[u8] = b"coffer/audit-event/v2";
const HEAD_MAGIC: &[u8] = b"CFAH";
const HEAD_DOMAIN: &[u8] = b"coffer/audit-head/v2";
const ANCHOR_MAGIC: &[u8] = b"CFAN";
const ANCHOR_DOMAIN: &[u8] = b"coffer/audit-anchor/v2";
/// Where the head and the anchor live, in the `meta` family.
pub(crate) const HEAD_KEY: &[u8] = b"audit/head";
pub(crate) const ANCHOR_KEY: &[u8] = b"audit/anchor";
/// What the audit key is derived for from the store's sealed keys.
pub(crate) const AUDIT_KEY_PURPOSE: &[u8] = b"coffer/audit-log/v2";

/// The key that seals the audit log. No `Debug`, no `Clone`.
pub(crate) struct AuditKey(hmac::Key);

impl AuditKey {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    fn tag(&self, domain: &[u8], parts: &[&[u8]]) -> Tag {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(domain);
        for part in parts {
            context.update(part);
        }
        let mut tag = NO_TAG;
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    fn verify(&self, domain: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        let expected = self.tag(domain, parts);
        subtle::ConstantTimeEq::ct_eq(&expected[..], tag).into()
    }

    /// The value of the event `json` under `key`, after the event tagged
    /// `previous`; and its tag.
    pub(crate) fn seal_event(&self, key: &[u8; 16], previous: &Tag, json: &[u8]) -> (Vec<u8>, Tag) {
        let tag = self.tag(EVENT_DOMAIN, &[key, EVENT_MAGIC, previous, json]);
        let mut value = Vec::with_capacity(EVENT_MAGIC.len() + 64 + json.len());
        value.extend_from_slice(EVENT_MAGIC);
        value.extend_from_slice(previous);
        value.extend_from_slice(json);
        value.extend_from_slice(&tag);
        (value, tag)
    }

    pub(crate) fn seal_head(&self, head: &Head) -> Vec<u8> {
        let mut body = Vec::with_capacity(92);
        body.extend_from_slice(HEAD_MAGIC);
        body.extend_from_slice(&head.sequence.to_le_bytes());
        body.extend_from_slice(&head.key);
        body.extend_from_slice(&head.tag);
        let mac = self.tag(HEAD_DOMAIN, &[&body]);
        body.extend_from_slice(&mac);
        body
    }

    /// The head record, if it authenticates.
    pub(crate) fn open_head(&self, raw: &[u8]) -> Option<Head> {
        let (body, mac) = raw.split_at_checked(raw.len().checked_sub(32)?)?;
        if body.len() != 4 + 8 + 16 + 32
            || !body.starts_with(HEAD_MAGIC)
            || !self.verify(HEAD_DOMAIN, &[body], mac)
        {
            return None;
        }
        Some(Head {
            sequence: u64::from_le_bytes(body[4..12].try_into().ok()?),
            key: body[12..28].try_into().ok()?,
            tag: body[28..60].try_into().ok()?,
        })
    }

    pub(crate) fn seal_anchor(&self, anchor: &Anchor) -> Vec<u8> {
        let mut body = Vec::with_capacity(ANCHOR_BODY_LEN + 32);
        body.extend_from_slice(ANCHOR_MAGIC);
        body.extend_from_slice(&anchor.chained_from.to_le_bytes());
        body.extend_from_slice(&anchor.link);
        body.extend_from_slice(&anchor.pruned_through);
        let legacy = anchor.legacy.unwrap_or(Legacy {
            through: 0,
            last_key: [0; 16],
        });
        body.push(u8::from(anchor.legacy.is_some()));
        body.extend_from_slice(&legacy.through.to_le_bytes());
        body.extend_from_slice(&legacy.last_key);
        let mac = self.tag(ANCHOR_DOMAIN, &[&body]);
        body.extend_from_slice(&mac);
        body
    }

    /// The anchor record, if it authenticates.
    pub(crate) fn open_anchor(&self, raw: &[u8]) -> Option<Anchor> {
        let (body, mac) = raw.split_at_checked(raw.len().checked_sub(32)?)?;
        if body.len() != ANCHOR_BODY_LEN
            || !body.starts_with(ANCHOR_MAGIC)
            || !self.verify(ANCHOR_DOMAIN, &[body], mac)
        {
            return None;
        }
        let legacy = Legacy {
            through: u64::from_le_bytes(body[61..69].try_into().ok()?),
            last_key: body[69..85].try_into().ok()?,
        };
        Some(Anchor {
            chained_from: u64::from_le_bytes(body[4..12].try_into().ok()?),
            link: body[12..44].try_into().ok()?,
            pruned_through: body[44..60].try_into().ok()?,
            legacy: match body[60] {
                0 => None,
                1 => Some(legacy),
                _ => return None,
            },
        })
    }
}

/// The anchor's bytes before its mac: magic, chained from, link, pruned
/// through, has legacy, legacy through, legacy last key.
const ANCHOR_BODY_LEN: usize = 4 + 8 + 32 + 16 + 1 + 8 + 16;

/// The newest event: its sequence, key and tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) sequence: u64,
    pub(crate) key: [u8; 16],
    pub(crate) tag: Tag,
}

/// Where the chain starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    /// The first sequence whose event links to `link`: every event below it
    /// was pruned (or is from before the log was chained).
    pub(crate) chained_from: u64,
    /// The tag the event at `chained_from` carries as its previous one.
    pub(crate) link: Tag,
    /// The key of the last entry a prune removed (zeros: none): an entry at
    /// or below it is one put back.
    pub(crate) pruned_through: [u8; 16],
    /// The events from before the log was chained, if there were any.
    pub(crate) legacy: Option<Legacy>,
}

/// The events of a log written before it was chained (format 1): which
/// sequences and keys they may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Legacy {
    /// The highest sequence among them.
    pub(crate) through: u64,
    /// The highest key among them.
    pub(crate) last_key: [u8; 16],
}

impl Anchor {
    /// The anchor of a new log.
    pub(crate) const NEW: Anchor = Anchor {
        chained_from: 0,
        link: NO_TAG,
        pruned_through: [0; 16],
        legacy: None,
    };

    /// The anchor after a prune removed the entry `key`: at or below it,
    /// everything is put back; and if that entry was in the chain
    /// (`linked`, sequence `sequence`, tagged `tag`), the chain starts after
    /// it (unless it starts further already).
    pub(crate) fn after_pruning(self, key: [u8; 16], linked: Option<(u64, Tag)>) -> Anchor {
        let mut anchor = Anchor {
            pruned_through: key.max(self.pruned_through),
            ..self
        };
        if let Some((sequence, tag)) = linked
            && let Some(next) = sequence.checked_add(1)
            && next > anchor.chained_from
        {
            anchor.chained_from = next;
            anchor.link = tag;
        }
        anchor
    }

    /// Whether the entry `key` is at or below where the log was last pruned:
    /// an entry put back.
    pub(crate) fn pruned(&self, key: &[u8; 16]) -> bool {
        self.pruned_through != [0; 16] && *key <= self.pruned_through
    }

    /// Whether the legacy entry `key` (sequence `sequence`) may be one the log
    /// held before it was chained.
    pub(crate) fn allows_legacy(&self, key: &[u8; 16], sequence: u64) -> bool {
        self.legacy
            .is_some_and(|legacy| sequence <= legacy.through && *key <= legacy.last_key)
    }
}

/// One stored entry of the audit family, read.
pub(crate) enum Entry<'a> {
    /// Sealed (format 2): its JSON, whether its tag holds, its tag and the
    /// previous event's.
    Sealed {
        json: &'a [u8],
        authentic: bool,
        previous: Tag,
        tag: Tag,
    },
    /// Plain JSON (format 1).
    Legacy(&'a [u8]),
    /// Neither: no event the store wrote.
    Malformed(&'static str),
}

impl AuditKey {
    /// Reads the entry `value` stored under `key`.
    pub(crate) fn entry<'a>(&self, key: &[u8; 16], value: &'a [u8]) -> Entry<'a> {
        let Some(sealed) = value.strip_prefix(EVENT_MAGIC) else {
            return if value.first() == Some(&b'{') {
                Entry::Legacy(value)
            } else {
                Entry::Malformed(
                    "it is neither a sealed event nor an event from before the log was sealed",
                )
            };
        };
        if sealed.len() < 64 {
            return Entry::Malformed("it is shorter than a sealed event");
        }
        let (previous, rest) = sealed.split_at(32);
        let (json, tag) = rest.split_at(rest.len() - 32);
        let authentic = self.verify(EVENT_DOMAIN, &[key, EVENT_MAGIC, previous, json], tag);
        Entry::Sealed {
            json,
            authentic,
            previous: previous.try_into().unwrap_or(NO_TAG),
            tag: tag.try_into().unwrap_or(NO_TAG),
        }
    }
}

/// What one entry of a walk is.
pub(crate) enum Walked<'v> {
    /// An event to read: its JSON, its format (1 from before sealing, 2
    /// sealed), and, if it is in the chain (sealed and linked to the one
    /// before, or a legacy event the anchor allows), its sequence and tag.
    Event {
        json: &'v [u8],
        format: u32,
        linked: Option<(u64, Tag)>,
    },
    /// Not an event the store wrote (named among the problems).
    Rejected,
}

/// Walks the log in key order, checking each event and its link to the one
/// before, and collecting what it finds wrong.
pub(crate) struct ChainCheck<'a> {
    key: &'a AuditKey,
    anchor: Anchor,
    /// The sequence and tag of the last event walked (zeros for an event
    /// from before the chain); the one before the first, if known.
    previous: Option<(u64, Tag)>,
    /// Whether any sealed event was walked.
    saw_sealed: bool,
    /// Events read that are from before the log was chained.
    pub(crate) unauthenticated: u64,
    /// What is wrong, in order, each naming the entry.
    pub(crate) problems: Vec<String>,
}

impl<'a> ChainCheck<'a> {
    /// A walk from the start of the log (`previous` `None`), or from just
    /// after the event `previous` (sequence and tag, zeros if legacy).
    pub(crate) fn new(key: &'a AuditKey, anchor: Anchor, previous: Option<(u64, Tag)>) -> Self {
        Self {
            key,
            anchor,
            previous,
            saw_sealed: false,
            unauthenticated: 0,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, key: &[u8], why: &str) {
        self.problems
            .push(format!("audit event {}: {why}", hex::encode(key)));
    }

    /// Checks one entry: what it is, and whether it is an event to read.
    pub(crate) fn entry<'v>(&mut self, key: &[u8], value: &'v [u8]) -> Walked<'v> {
        let Ok(event_key) = <[u8; 16]>::try_from(key) else {
            self.problem(key, "its key is not 16 bytes; the store did not write it");
            return Walked::Rejected;
        };
        if self.anchor.pruned(&event_key) {
            self.problem(
                key,
                "it is older than where the log was last pruned: an entry put back",
            );
            return Walked::Rejected;
        }
        let sequence = key_sequence(&event_key);
        match self.key.entry(&event_key, value) {
            Entry::Malformed(why) => {
                self.problem(key, &format!("{why}; the store did not write it"));
                Walked::Rejected
            }
            Entry::Legacy(json) => {
                if self.anchor.allows_legacy(&event_key, sequence) {
                    self.unauthenticated += 1;
                    self.previous = Some((sequence, NO_TAG));
                    Walked::Event {
                        json,
                        format: LEGACY_FORMAT,
                        linked: Some((sequence, NO_TAG)),
                    }
                } else {
                    self.problem(
                        key,
                        "it has no tag, yet it is not among the log's events from before sealing: planted",
                    );
                    Walked::Rejected
                }
            }
            Entry::Sealed {
                json,
                authentic,
                previous,
                tag,
            } => {
                self.saw_sealed = true;
                let walked = self.previous;
                if !authentic {
                    self.problem(key, "its tag does not hold: it was edited or planted");
                    // An edit in place keeps the tag the next event names:
                    // follow it, so the next link is checked against it. An
                    // entry out of place changes nothing.
                    if self.expected_next() == Some(sequence) {
                        self.previous = Some((sequence, tag));
                    }
                    return Walked::Rejected;
                }
                self.previous = Some((sequence, tag));
                let in_chain = self.check_link(key, sequence, &previous, walked);
                Walked::Event {
                    json,
                    format: SEALED_FORMAT,
                    linked: in_chain.then_some((sequence, tag)),
                }
            }
        }
    }

    /// The sequence the next event in the chain has.
    fn expected_next(&self) -> Option<u64> {
        match self.previous {
            Some((sequence, _)) => sequence.checked_add(1),
            None => Some(self.anchor.chained_from),
        }
    }

    /// Checks that the event `sequence`, which names `previous` as the tag
    /// before it, follows `walked` (the event walked before it); whether it
    /// does.
    fn check_link(
        &mut self,
        key: &[u8],
        sequence: u64,
        previous: &Tag,
        walked: Option<(u64, Tag)>,
    ) -> bool {
        let anchor = self.anchor;
        let missing = |from: u64| {
            format!(
                "events {from} to {} before it are missing: removed",
                sequence.saturating_sub(1)
            )
        };
        let problem = if sequence < anchor.chained_from {
            Some("it is older than where the log was last pruned: an old event put back".into())
        } else if sequence == anchor.chained_from {
            (*previous != anchor.link).then(|| {
                "it does not follow the event the log's anchor names: events before it were removed or replaced".to_owned()
            })
        } else {
            match walked {
                Some((before, tag)) if before.checked_add(1) == Some(sequence) => (tag != *previous)
                    .then(|| {
                        "it does not follow the event before it: that one was replaced, or the two reordered".to_owned()
                    }),
                Some((before, _)) if before < sequence => Some(missing(before + 1)),
                Some(_) => Some(
                    "it does not follow the event before it: the two were reordered".to_owned(),
                ),
                None => Some(missing(anchor.chained_from)),
            }
        };
        match problem {
            Some(why) => {
                self.problem(key, &why);
                false
            }
            None => true,
        }
    }

    /// Ends a walk that reached the end of the log: the last event walked must
    /// be the one the head names.
    pub(crate) fn finish(&mut self, head: Option<Head>) {
        match (head, self.previous) {
            (Some(head), Some((sequence, tag))) if head.sequence == sequence && head.tag == tag => {
            }
            (Some(head), walked) => self.problems.push(format!(
                "audit log: its newest event, {} (sequence {}), is missing{}: removed",
                hex::encode(head.key),
                head.sequence,
                walked.map_or(String::new(), |(sequence, _)| format!(
                    "; the log ends at sequence {sequence}"
                )),
            )),
            // Without a head there is no sealed event: a log pruned once has
            // one (the prune's own record, never removed by itself).
            (None, _) if self.saw_sealed || self.anchor.link != NO_TAG => self
                .problems
                .push("audit log: the record naming its newest event is missing: removed".into()),
            (None, _) => {}
        }
    }
}

/// The sequence in an event key.
pub(crate) fn key_sequence(key: &[u8; 16]) -> u64 {
    u64::from_be_bytes(key[8..].try_into().unwrap_or_default())
}

/// The time in an event key.
pub(crate) fn key_time(key: &[u8; 16]) -> u64 {
    u64::from_be_bytes(key[..8].try_into().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::new(&[7; 32])
    }

    fn event_key(sequence: u64) -> [u8; 16] {
        let mut key = [0; 16];
        key[..8].copy_from_slice(&(1_000 + sequence).to_be_bytes());
        key[8..].copy_from_slice(&sequence.to_be_bytes());
        key
    }

    /// A chain of `n` events from sequence `from`, after `link`.
    fn chain(k: &AuditKey, from: u64, n: u64, mut link: Tag) -> Vec<([u8; 16], Vec<u8>)> {
        (from..from + n)
            .map(|sequence| {
                let key = event_key(sequence);
                let (value, tag) = k.seal_event(&key, &link, br#"{"v":2}"#);
                link = tag;
                (key, value)
            })
            .collect()
    }

    fn walk(
        k: &AuditKey,
        anchor: Anchor,
        entries: &[([u8; 16], Vec<u8>)],
        head: Option<Head>,
    ) -> Vec<String> {
        let mut check = ChainCheck::new(k, anchor, None);
        for (key, value) in entries {
            check.entry(key, value);
        }
        check.finish(head);
        check.problems
    }

    fn head_of(k: &AuditKey, entries: &[([u8; 16], Vec<u8>)]) -> Option<Head> {
        let (key, value) = entries.last()?;
        match k.entry(key, value) {
            Entry::Sealed { tag, .. } => Some(Head {
                sequence: key_sequence(key),
                key: *key,
                tag,
            }),
            _ => None,
        }
    }

    #[test]
    fn a_whole_chain_checks_and_every_change_to_it_is_named() {
        let k = key();
        let entries = chain(&k, 0, 5, NO_TAG);
        let head = head_of(&k, &entries);
        assert!(walk(&k, Anchor::NEW, &entries, head).is_empty());

        let mut edited = entries.clone();
        let last = edited[2].1.len() - 40;
        edited[2].1[last] ^= 1;
        let problems = walk(&k, Anchor::NEW, &edited, head);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("edited or planted"));

        let mut removed = entries.clone();
        removed.remove(2);
        let problems = walk(&k, Anchor::NEW, &removed, head);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("events 2 to 2"), "{problems:?}");

        let truncated = &entries[..4];
        let problems = walk(&k, Anchor::NEW, truncated, head);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("newest event"), "{problems:?}");

        let first_gone = &entries[1..];
        assert_eq!(walk(&k, Anchor::NEW, first_gone, head).len(), 1);

        let mut swapped = entries.clone();
        let (a, b) = (swapped[1].1.clone(), swapped[3].1.clone());
        swapped[1].1 = b;
        swapped[3].1 = a;
        assert!(!walk(&k, Anchor::NEW, &swapped, head).is_empty());

        let mut planted = entries.clone();
        planted.push((event_key(5), br#"{"v":1}"#.to_vec()));
        assert!(
            walk(&k, Anchor::NEW, &planted, head)
                .iter()
                .any(|p| p.contains("planted"))
        );

        let other = AuditKey::new(&[8; 32]);
        let forged = chain(&other, 0, 5, NO_TAG);
        assert!(walk(&k, Anchor::NEW, &forged, head_of(&other, &forged)).len() >= 5);
    }

    #[test]
    fn a_pruned_chain_starts_at_its_anchor_and_legacy_events_are_counted() {
        let k = key();
        let entries = chain(&k, 0, 6, NO_TAG);
        let head = head_of(&k, &entries);
        let Entry::Sealed { tag, .. } = k.entry(&entries[2].0, &entries[2].1) else {
            panic!("sealed")
        };
        let anchor = Anchor::NEW
            .after_pruning(entries[0].0, Some((0, NO_TAG)))
            .after_pruning(entries[1].0, Some((1, NO_TAG)))
            .after_pruning(entries[2].0, Some((2, tag)));
        assert!(walk(&k, anchor, &entries[3..], head).is_empty());
        assert_eq!(walk(&k, Anchor::NEW, &entries[3..], head).len(), 1);
        // An event pruned away that comes back is named.
        let mut replayed = entries[3..].to_vec();
        replayed.insert(0, entries[1].clone());
        assert!(
            walk(&k, anchor, &replayed, head)
                .iter()
                .any(|p| p.contains("put back"))
        );

        // Two legacy events, then the chain.
        let legacy = Anchor {
            chained_from: 2,
            link: NO_TAG,
            pruned_through: [0; 16],
            legacy: Some(Legacy {
                through: 1,
                last_key: event_key(1),
            }),
        };
        let mut mixed = vec![
            (event_key(0), br#"{"v":1}"#.to_vec()),
            (event_key(1), br#"{"v":1}"#.to_vec()),
        ];
        let sealed = chain(&k, 2, 3, NO_TAG);
        let head = head_of(&k, &sealed);
        mixed.extend(sealed);
        let mut check = ChainCheck::new(&k, legacy, None);
        for (key, value) in &mixed {
            check.entry(key, value);
        }
        check.finish(head);
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        assert_eq!(check.unauthenticated, 2);
        // A legacy event planted past the legacy range, or after a prune
        // removed the legacy range, is named.
        let mut planted = mixed.clone();
        planted.insert(2, (event_key(1).map(|b| b | 0x80), br#"{"v":1}"#.to_vec()));
        assert!(
            walk(&k, legacy, &planted, head)
                .iter()
                .any(|p| p.contains("planted"))
        );
        let pruned = legacy
            .after_pruning(mixed[0].0, Some((0, NO_TAG)))
            .after_pruning(mixed[1].0, Some((1, NO_TAG)));
        assert!(walk(&k, pruned, &mixed[2..], head).is_empty());
        assert!(
            walk(&k, pruned, &mixed, head)
                .iter()
                .any(|p| p.contains("put back"))
        );
    }

    #[test]
    fn planted_entries_with_any_sequence_never_panic_nor_move_the_chain() {
        let k = key();
        let entries = chain(&k, 0, 4, NO_TAG);
        let head = head_of(&k, &entries);
        for sequence in [u64::MAX, u64::MAX - 1, 0, 1 << 62] {
            let mut key = [0xFF; 16];
            key[8..].copy_from_slice(&sequence.to_be_bytes());
            let mut planted = entries.clone();
            planted.insert(2, (key, [&b"CFA2"[..], &[0; 80]].concat()));
            planted.sort_by_key(|entry| entry.0);
            let problems = walk(&k, Anchor::NEW, &planted, head);
            assert_eq!(problems.len(), 1, "{sequence}: {problems:?}");
            assert!(problems[0].contains("edited or planted"), "{problems:?}");
        }
    }

    #[test]
    fn a_log_with_no_head_after_a_prune_has_lost_it() {
        let k = key();
        let entries = chain(&k, 0, 3, NO_TAG);
        let Entry::Sealed { tag, .. } = k.entry(&entries[2].0, &entries[2].1) else {
            panic!("sealed")
        };
        let pruned = Anchor::NEW.after_pruning(entries[2].0, Some((2, tag)));
        // Every event and the head gone: the anchor says there was a chain.
        assert_eq!(walk(&k, pruned, &[], None).len(), 1);
        // A new log with nothing in it yet is whole.
        assert!(walk(&k, Anchor::NEW, &[], None).is_empty());
    }

    #[test]
    fn head_and_anchor_round_trip_and_refuse_edits() {
        let k = key();
        let head = Head {
            sequence: 9,
            key: [3; 16],
            tag: [4; 32],
        };
        let raw = k.seal_head(&head);
        assert_eq!(k.open_head(&raw), Some(head));
        let anchor = Anchor {
            chained_from: 12,
            link: [5; 32],
            pruned_through: [6; 16],
            legacy: Some(Legacy {
                through: 11,
                last_key: [7; 16],
            }),
        };
        let sealed = k.seal_anchor(&anchor);
        assert_eq!(k.open_anchor(&sealed), Some(anchor));
        for at in 0..raw.len() {
            let mut bad = raw.clone();
            bad[at] ^= 1;
            assert_eq!(k.open_head(&bad), None, "{at}");
        }
        for at in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert_eq!(k.open_anchor(&bad), None, "{at}");
        }
        assert_eq!(k.open_head(&raw[..raw.len() - 1]), None);
        assert_eq!(k.open_anchor(&[]), None);
    }
}
