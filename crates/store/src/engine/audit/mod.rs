//! The persisted audit log: every KMS call (through the [`Kms`] layer's sink),
//! the store's own policy denials, master key administration, jobs and
//! prunes, appended to the `audit` column family; queries by time, key,
//! caller and outcome; retention by age and size. A record that cannot be
//! written fails the operation it describes. Every event is sealed and
//! chained to the one before, so an edit, a plant or a removal is named by
//! the next read that meets it (`docs/format.md`).
//!
//! - [`query`]: retention, queries and what they return.
//! - [`event`]: one event as stored (JSON, under a time-and-sequence key).
//! - [`chain`]: the seal, the chain, its head and anchor, and the walk that
//!   checks them.
//! - [`log`]: appends, prunes and queries over the family.
//!
//! [`Kms`]: coffer_keyring::Kms

pub(crate) mod chain;
pub(crate) mod event;
mod log;
mod query;

pub(crate) use chain::{AUDIT_KEY_PURPOSE, AuditKey};
pub(crate) use log::{AuditLog, LogState, Prune, StoreEvent};
pub use query::{AuditOutcomeKind, AuditPage, AuditQuery, AuditRetention, AuditVerification};
