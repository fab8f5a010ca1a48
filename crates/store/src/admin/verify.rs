//! `verify`: reads and authenticates every object of the store (or of one
//! bucket) and says which are damaged and how: a record that fails to
//! authenticate, a missing segment, a payload or wrapped key that fails to
//! open, a key the KMS will not use; and, for the whole store, segments that
//! belong to no object. Healthy objects are never named.

use std::collections::HashSet;

use rocksdb::{Direction, IteratorMode};

use crate::GetConditions;
use crate::engine::db::storage;
use crate::format::columns::{object_key, split_object_key};
use crate::{ColumnFamily, Error, Result, Store};

/// What is wrong with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Its record fails to authenticate: edited, moved from another key,
    /// planted, or unreadable.
    DamagedRecord,
    /// A segment its record names is not there.
    MissingSegment,
    /// Its payload (a chunk's tag, the key commitment, its length) or its
    /// wrapped data key fails to open.
    DamagedPayload,
    /// Its data key cannot be unwrapped now: the CMK is disabled, pending
    /// deletion, destroyed, or the KMS refuses or is unreachable. The bytes may
    /// be intact.
    KeyUnavailable,
    /// Segments on disk that belong to no object or upload (whole-store
    /// verification only); the key is the object id in hex.
    OrphanSegments,
    /// A bucket key of a bucket that is gone (whole-store verification only):
    /// nothing uses it, and it holds back key retirement until the store
    /// removes it when it opens. The bucket is its bucket's name, the key its
    /// id in hex.
    OrphanBucketKey,
}

/// One problem, with the object it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyProblem {
    /// The object's bucket (empty for orphan segments).
    pub bucket: String,
    /// The object's key (the object id for orphan segments).
    pub key: String,
    /// What is wrong.
    pub kind: ProblemKind,
    /// The error that showed it.
    pub detail: String,
}

/// How far [`Store::verify`] has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyProgress {
    /// Objects checked so far.
    pub objects: u64,
    /// Objects to check in all.
    pub objects_total: u64,
    /// Plaintext bytes read and authenticated so far.
    pub bytes: u64,
}

/// What [`Store::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Objects checked.
    pub objects: u64,
    /// Plaintext bytes read and authenticated.
    pub bytes: u64,
    /// Every problem, in key order (orphan segments last).
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Reads and authenticates every object of `bucket` (every bucket if
    /// `None`): its record, every segment's presence, every byte of its
    /// payload, its wrapped data key; for the whole store, also segments that
    /// belong to nothing. Calls `progress` after each object. Damage is
    /// reported, not returned as an error; an error is a failure to read the
    /// store itself (I/O, a closed store).
    pub fn verify(
        &self,
        bucket: Option<&str>,
        mut progress: impl FnMut(&VerifyProgress),
    ) -> Result<VerifyReport> {
        if let Some(bucket) = bucket {
            self.bucket_record(bucket)?;
        }
        let in_scope = |name: &str| bucket.is_none_or(|wanted| wanted == name);
        let consistency = self.check_consistency()?;
        let mut report = VerifyReport::default();
        let mut flagged = HashSet::new();
        for (names, kind) in [
            (&consistency.damaged_records, ProblemKind::DamagedRecord),
            (&consistency.missing_segments, ProblemKind::MissingSegment),
        ] {
            for name in names {
                let (b, k) = name.split_once('/').unwrap_or((name, ""));
                if in_scope(b) && flagged.insert(name.clone()) {
                    report.problems.push(VerifyProblem {
                        bucket: b.to_owned(),
                        key: k.to_owned(),
                        kind,
                        detail: match kind {
                            ProblemKind::DamagedRecord => "its record fails to authenticate",
                            _ => "a segment its record names is missing",
                        }
                        .to_owned(),
                    });
                }
            }
        }

        let objects_total = self.object_count(bucket)?;
        let prefix = bucket.map(|b| object_key(b, "")).unwrap_or_default();
        let db = self.db()?;
        for item in db.iterator_cf(
            db.cf(ColumnFamily::Objects)?,
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (raw, _) = item.map_err(storage)?;
            if !raw.starts_with(&prefix) {
                break;
            }
            // A key that does not split is a damaged record, reported above.
            let Some((b, k)) = split_object_key(&raw) else {
                continue;
            };
            let (b, k) = (b.to_owned(), k.to_owned());
            report.objects += 1;
            if !flagged.contains(&format!("{b}/{k}")) {
                match self.read_through(&b, &k, &mut report.bytes) {
                    Ok(()) => {}
                    Err(Error::NoSuchKey { .. }) => {} // deleted meanwhile
                    Err(error) => match classify(&error) {
                        Some(kind) => report.problems.push(VerifyProblem {
                            bucket: b,
                            key: k,
                            kind,
                            detail: error.to_string(),
                        }),
                        None => return Err(error),
                    },
                }
            }
            progress(&VerifyProgress {
                objects: report.objects,
                objects_total,
                bytes: report.bytes,
            });
        }
        report
            .problems
            .sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
        if bucket.is_none() {
            for id in consistency.orphan_segment_objects {
                report.problems.push(VerifyProblem {
                    bucket: String::new(),
                    key: id,
                    kind: ProblemKind::OrphanSegments,
                    detail: "segments that belong to no object or upload".into(),
                });
            }
            for (bucket, id) in self.orphan_bucket_keys()? {
                report.problems.push(VerifyProblem {
                    bucket,
                    key: hex::encode(id),
                    kind: ProblemKind::OrphanBucketKey,
                    detail: "a bucket key of a bucket that is gone".into(),
                });
            }
        }
        Ok(report)
    }

    /// Reads every byte of an object, authenticating it, counting the bytes.
    fn read_through(&self, bucket: &str, key: &str, bytes: &mut u64) -> Result<()> {
        for buffer in self.get_object_stream(bucket, key, &GetConditions::new())? {
            *bytes += buffer?.len() as u64;
        }
        Ok(())
    }
}

/// What an error reading one object says about it; `None` for a failure to
/// read the store itself, which ends the verification.
fn classify(error: &Error) -> Option<ProblemKind> {
    match error {
        Error::Integrity(_) | Error::CorruptRecord(_) | Error::Key(_) => {
            Some(ProblemKind::DamagedPayload)
        }
        Error::Storage(_)
        | Error::Io(_)
        | Error::Closed
        | Error::Randomness
        | Error::WorkerLost => None,
        // Anything else is about the object's key: disabled, deleted,
        // refused, unreachable, or wrapped by a KMS this store was not
        // opened with. The bytes may be intact.
        _ => Some(ProblemKind::KeyUnavailable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failure_of_the_store_itself_ends_a_verification() {
        for error in [Error::Closed, Error::Io(std::io::Error::other("read"))] {
            assert_eq!(classify(&error), None, "{error}");
        }
        assert_eq!(
            classify(&Error::Integrity("tag".into())),
            Some(ProblemKind::DamagedPayload)
        );
        // A key the KMS refuses, or one wrapped by another KMS than the one
        // the store was opened with: the object's key is unavailable, and
        // the verification goes on.
        for error in [
            Error::KeyDisabled("k".into()),
            Error::KmsUnavailable("down".into()),
            Error::InvalidArgument("wrapped by OpenBao/Vault Transit".into()),
            Error::AccessDenied {
                principal: "p".into(),
                action: "kms:Decrypt".into(),
                resource: "k".into(),
            },
        ] {
            assert_eq!(
                classify(&error),
                Some(ProblemKind::KeyUnavailable),
                "{error}"
            );
        }
    }
}
