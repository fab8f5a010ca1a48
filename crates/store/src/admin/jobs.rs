//! Bulk key jobs: rewrap a bucket, re-encrypt it to a rule, or encrypt its
//! unencrypted objects, durably. A job's definition and checkpoint live in the
//! `jobs` column family (JSON under the store's record tag, bound to the job's
//! id, `docs/format.md`: an edited or planted job is refused, never run) and
//! are updated as it runs, so after a crash or a restart [`Store::run_job`]
//! resumes after the last key checkpointed; the objects since then are looked
//! at again, which changes nothing for those already done (a rewrap of a
//! rewrapped key is a no-op, an object already under the target rule is
//! skipped). A re-encryption copies each object over itself only if it still
//! has the ETag it was read with, so a concurrent overwrite is never
//! clobbered; objects written under the target rule after the job started
//! need nothing.

use std::time::{Duration, Instant};

use coffer_keyring::Caller;
use rocksdb::IteratorMode;
use serde::{Deserialize, Serialize};

use crate::engine::blob_relocation::BlobRelocation;
use crate::engine::db::millis;
use crate::engine::db::storage;
use crate::format::columns::{object_key, split_object_key};
use crate::format::record::RecordAuth;
use crate::objects::staged_put::{SegmentLog, StagedPut};
use crate::{ColumnFamily, Error, Result, Store};
use crate::{CopyOptions, PutCondition};
use crate::{EncryptionRule, ProtectionMode};

/// What a job does to each object of its bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobKind {
    /// Wrapped data keys to the current master key version or CMK material;
    /// no object data is rewritten.
    Rewrap,
    /// Every object copied over itself under `rule`: fresh data keys, new
    /// payloads.
    Reencrypt {
        /// `AES256` or `KMS`.
        sse: String,
        /// The CMK, for `KMS`.
        kms_key_id: Option<String>,
    },
    /// Unencrypted objects copied over themselves under the bucket's rule.
    EncryptUnencrypted,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobState {
    /// Created or resumed; [`Store::run_job`] works on it.
    Running,
    /// Stopped by [`Store::pause_job`]; [`Store::resume_job`] continues it.
    Paused,
    /// Stopped for good.
    Cancelled,
    /// Every object was looked at.
    Done,
}

/// A job: its definition and checkpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobStatus {
    /// Its id.
    pub id: String,
    /// The bucket it works on.
    pub bucket: String,
    /// What it does.
    pub kind: JobKind,
    /// Where it stands.
    pub state: JobState,
    /// When it was created (ms since the Unix epoch).
    pub created_ms: u64,
    /// The last key checkpointed: every key up to it was looked at.
    pub last_key: Option<String>,
    /// Objects changed.
    pub done: u64,
    /// Objects that needed nothing (or changed under the job).
    pub skipped: u64,
    /// Objects that failed (their errors are logged, not fatal to the job).
    pub failed: u64,
    /// Plaintext bytes rewritten (re-encryption) or covered (rewrap).
    pub bytes: u64,
}

/// Limits on how fast a job runs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct JobLimits {
    /// At most this many objects per second.
    pub objects_per_second: Option<f64>,
    /// At most this many plaintext bytes per second.
    pub bytes_per_second: Option<f64>,
}

impl JobLimits {
    /// The slowest rate a job may be limited to: one object (or byte) in
    /// about eleven days.
    pub const MIN_RATE: f64 = 1e-6;

    /// No limit.
    pub fn none() -> Self {
        Self::default()
    }

    /// At most `n` objects per second.
    pub fn objects_per_second(mut self, n: f64) -> Self {
        self.objects_per_second = Some(n);
        self
    }

    /// At most `n` bytes per second.
    pub fn bytes_per_second(mut self, n: f64) -> Self {
        self.bytes_per_second = Some(n);
        self
    }

    /// [`Error::InvalidArgument`] unless every limit set is a rate of at
    /// least [`JobLimits::MIN_RATE`] per second (and finite).
    fn check(&self) -> Result<()> {
        for (what, limit) in [
            ("objects", self.objects_per_second),
            ("bytes", self.bytes_per_second),
        ] {
            if let Some(limit) = limit
                && !(limit.is_finite() && limit >= Self::MIN_RATE)
            {
                return Err(Error::InvalidArgument(format!(
                    "a job's limit of {limit} {what} per second must be a finite rate of at least {}",
                    Self::MIN_RATE
                )));
            }
        }
        Ok(())
    }
}

/// The start of a job record (version 2: authenticated).
pub(crate) const JOB_MAGIC: &[u8] = b"CFJ2";
/// What a job record's tag is computed for.
pub(crate) const JOB_DOMAIN: &[u8] = b"coffer/job/v2";

/// Objects between checkpoints (and between looks at the job's state).
const CHECKPOINT_EVERY: u64 = 256;
/// Payload bytes a job worker stages before it commits them.
const STAGED_BYTES: u64 = 128 << 20;
/// …or this long, whichever comes first.
const CHECKPOINT_AFTER: Duration = Duration::from_millis(200);

/// A job record's bytes: `"CFJ2" ‖ JSON ‖ tag`, bound to the job's id.
pub(crate) fn seal_job_record(records: &RecordAuth, status: &JobStatus) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(status)
        .map_err(|e| Error::InvalidArgument(format!("job record: {e}")))?;
    records.seal_tagged(
        JOB_DOMAIN,
        &[status.id.as_bytes()],
        [JOB_MAGIC, &json[..]].concat(),
    )
}

/// Authenticates and decodes the record of job `id` (see [`Store::job_status`]).
pub(crate) fn open_job_record(records: &RecordAuth, id: &str, raw: &[u8]) -> Result<JobStatus> {
    let body = records.open_tagged(JOB_DOMAIN, &[id.as_bytes()], raw, || format!("job {id}"))?;
    let status: JobStatus = body
        .strip_prefix(JOB_MAGIC)
        .ok_or_else(|| Error::CorruptRecord(format!("job {id}: no record magic")))
        .and_then(|json| {
            serde_json::from_slice(json).map_err(|e| Error::CorruptRecord(format!("job {id}: {e}")))
        })?;
    if status.id != id {
        return Err(Error::Integrity(format!(
            "the record of job {id} names job {}",
            status.id
        )));
    }
    Ok(status)
}

impl JobKind {
    /// The rule a re-encryption moves objects to.
    fn target_rule(&self) -> Result<Option<EncryptionRule>> {
        match self {
            Self::Reencrypt { sse, kms_key_id } => {
                EncryptionRule::from_parts(sse, kms_key_id.as_deref()).map(Some)
            }
            _ => Ok(None),
        }
    }
}

impl Store {
    /// Creates a job on `bucket` (not yet run: see [`Store::run_job`]) and
    /// returns its id.
    pub fn create_job(&self, bucket: &str, kind: JobKind) -> Result<String> {
        let bucket_record = self.bucket_record(bucket)?;
        kind.target_rule()?;
        if kind == JobKind::EncryptUnencrypted && bucket_record.rule.is_none() {
            return Err(Error::NoSuchEncryptionRule(bucket.to_owned()));
        }
        let id = hex::encode(crate::engine::db::random_id()?);
        let status = JobStatus {
            id: id.clone(),
            bucket: bucket.to_owned(),
            kind,
            state: JobState::Running,
            created_ms: millis(self.inner.keys.clock().now()),
            last_key: None,
            done: 0,
            skipped: 0,
            failed: 0,
            bytes: 0,
        };
        self.audit_job("coffer:CreateJob", &status)?;
        self.save_job(&status)?;
        Ok(id)
    }

    /// Records a job's creation or change of state (before it is saved: a
    /// record that fails leaves the job as it was).
    fn audit_job(&self, action: &str, status: &JobStatus) -> Result<()> {
        let key_id = match &status.kind {
            JobKind::Reencrypt { kms_key_id, .. } => kms_key_id.as_deref(),
            _ => None,
        };
        self.audit(crate::engine::audit::StoreEvent {
            caller: &Caller::Trusted,
            action,
            resource: Some(format!("job/{}", status.id)),
            key_id,
            key_version: None,
            bucket: Some(&status.bucket),
            object_key: None,
            outcome: coffer_keyring::AuditOutcome::Allowed,
        })
    }

    /// A job's definition and checkpoint. [`Error::Integrity`] naming the job
    /// if its record was edited, moved from another job or planted.
    pub fn job_status(&self, id: &str) -> Result<JobStatus> {
        let db = self.db()?;
        let value = db
            .get_cf(db.cf(ColumnFamily::Jobs)?, id.as_bytes())
            .map_err(storage)?
            .ok_or_else(|| Error::NoSuchJob(id.to_owned()))?;
        self.open_job(id, &value)
    }

    /// Every job, by id ([`Error::Integrity`] naming the first whose record
    /// does not authenticate).
    pub fn list_jobs(&self) -> Result<Vec<JobStatus>> {
        let db = self.db()?;
        let mut out = Vec::new();
        for item in db.iterator_cf(db.cf(ColumnFamily::Jobs)?, IteratorMode::Start) {
            let (key, value) = item.map_err(storage)?;
            out.push(self.open_job(&String::from_utf8_lossy(&key), &value)?);
        }
        Ok(out)
    }

    /// A job record's bytes: `"CFJ2" ‖ JSON ‖ tag`, bound to the job's id.
    pub(crate) fn seal_job(&self, status: &JobStatus) -> Result<Vec<u8>> {
        seal_job_record(&self.inner.records, status)
    }

    /// Authenticates and decodes the record of job `id`: one that was
    /// edited, moved from another job, planted, or written before job
    /// records were authenticated (and not migrated) is [`Error::Integrity`]
    /// naming the job, and never runs.
    fn open_job(&self, id: &str, raw: &[u8]) -> Result<JobStatus> {
        open_job_record(&self.inner.records, id, raw)
    }

    /// Pauses a job: a run stops at its next checkpoint.
    pub fn pause_job(&self, id: &str) -> Result<JobStatus> {
        self.set_job_state(id, JobState::Paused)
    }

    /// Marks a paused job running again (run it with [`Store::run_job`]).
    pub fn resume_job(&self, id: &str) -> Result<JobStatus> {
        self.set_job_state(id, JobState::Running)
    }

    /// Cancels a job for good: a run stops at its next checkpoint.
    pub fn cancel_job(&self, id: &str) -> Result<JobStatus> {
        self.set_job_state(id, JobState::Cancelled)
    }

    fn set_job_state(&self, id: &str, state: JobState) -> Result<JobStatus> {
        let _lock = self.inner.engine.jobs_lock.lock();
        let mut status = self.job_status(id)?;
        if matches!(status.state, JobState::Done | JobState::Cancelled) {
            return Err(Error::InvalidArgument(format!(
                "job {id} is {:?}: it cannot be changed",
                status.state
            )));
        }
        let action = match state {
            JobState::Paused => "coffer:PauseJob",
            JobState::Cancelled => "coffer:CancelJob",
            _ => "coffer:ResumeJob",
        };
        status.state = state;
        self.audit_job(action, &status)?;
        self.save_job(&status)?;
        Ok(status)
    }

    fn save_job(&self, status: &JobStatus) -> Result<()> {
        let db = self.db()?;
        let value = self.seal_job(status)?;
        db.put_cf_opt(
            db.cf(ColumnFamily::Jobs)?,
            status.id.as_bytes(),
            value,
            &self.inner.engine.write_options,
        )
        .map_err(storage)?;
        Ok(())
    }

    /// Runs a job from its checkpoint until it is done, paused or cancelled,
    /// within `limits`, calling `progress` at each checkpoint; returns where it
    /// stands. Only one run of a job at a time makes sense; a second one
    /// would redo the same objects harmlessly.
    pub fn run_job(
        &self,
        id: &str,
        limits: JobLimits,
        mut progress: impl FnMut(&JobStatus),
    ) -> Result<JobStatus> {
        limits.check()?;
        let mut status = self.job_status(id)?;
        if status.state != JobState::Running {
            return Ok(status);
        }
        let rule = status.kind.target_rule()?;
        // A job that rewrites payloads replaces the very segments blob
        // relocation would move.
        let _relocation = match status.kind {
            JobKind::Rewrap => None,
            JobKind::Reencrypt { .. } | JobKind::EncryptUnencrypted => Some(BlobRelocation::pause(
                &self.inner.engine.blob_relocation,
                &self.inner.engine.db,
            )?),
        };
        let prefix = object_key(&status.bucket, "");
        let start = match &status.last_key {
            Some(last) => {
                let mut after = object_key(&status.bucket, last);
                after.push(0);
                after
            }
            None => prefix.clone(),
        };
        let began = Instant::now();
        let (mut objects_run, mut bytes_run) = (0u64, 0u64);
        let mut since_checkpoint = (0u64, Instant::now());
        let db = self.db()?;
        // Keys only: the values are read again under each key's lock.
        let mut keys = db.raw_iterator_cf(db.cf(ColumnFamily::Objects)?);
        keys.seek(&start);
        // Unlimited jobs work on a batch of keys on every core; limited ones
        // one key at a time, so that the pace is exact.
        let limited = limits.objects_per_second.is_some() || limits.bytes_per_second.is_some();
        let workers = if limited {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
        };
        let batch_len = if workers == 1 {
            1
        } else {
            CHECKPOINT_EVERY as usize
        };
        // Each key with a hint, from its record's mode byte (read, not
        // trusted), of whether it is under a KMS.
        let next_batch = |keys: &mut rocksdb::DBRawIterator<'_>| -> Result<Batch> {
            let mut batch = Batch::default();
            while batch.keys.len() < batch_len && keys.valid() {
                let Some(raw_key) = keys.key() else { break };
                if !raw_key.starts_with(&prefix) {
                    break;
                }
                if let Some((_, key)) = split_object_key(raw_key) {
                    batch.keys.push(key.to_owned());
                    batch.under_kms.push(
                        keys.value().and_then(crate::format::record::mode_byte_hint) == Some(2),
                    );
                }
                keys.next();
            }
            keys.status().map_err(storage)?;
            Ok(batch)
        };
        let mut batch = next_batch(&mut keys)?;
        loop {
            if batch.keys.is_empty() {
                break;
            }
            let outcomes = self.job_steps(&status, rule.as_ref(), &batch, workers);
            for (key, (outcome, size)) in batch.keys.iter().zip(outcomes) {
                match outcome {
                    Step::Done => status.done += 1,
                    Step::Skipped => status.skipped += 1,
                    Step::Failed(error) => {
                        tracing::warn!(job = %status.id, %key, %error, "job: an object failed");
                        status.failed += 1;
                    }
                }
                status.bytes += size;
                bytes_run += size;
            }
            status.last_key = batch.keys.last().cloned();
            objects_run += batch.keys.len() as u64;
            since_checkpoint.0 += batch.keys.len() as u64;
            if since_checkpoint.0 >= CHECKPOINT_EVERY
                || since_checkpoint.1.elapsed() >= CHECKPOINT_AFTER
            {
                since_checkpoint = (0, Instant::now());
                self.checkpoint_job(&mut status, false)?;
                // Without the lock: the callback may pause or cancel the job.
                progress(&status);
                if status.state != JobState::Running {
                    return Ok(status);
                }
            }
            pace(&limits, began, objects_run, bytes_run);
            if batch.keys.len() < batch_len {
                break;
            }
            batch = next_batch(&mut keys)?;
        }
        if status.kind == JobKind::Rewrap {
            // An object under a bucket key has no wrapped key of its own: it
            // moves with the bucket's keys (one KMS call each). Before the job
            // is done, so that a failure leaves it to run again.
            self.rewrap_bucket_keys(&status.bucket)?;
        }
        self.checkpoint_job(&mut status, true)?;
        progress(&status);
        Ok(status)
    }

    /// Saves a run's progress with the state stored now (a pause or a cancel
    /// made meanwhile wins; a running job that `finished` is done).
    fn checkpoint_job(&self, status: &mut JobStatus, finished: bool) -> Result<()> {
        let _lock = self.inner.engine.jobs_lock.lock();
        status.state = match self.job_status(&status.id)?.state {
            JobState::Running if finished => JobState::Done,
            other => other,
        };
        self.save_job(status)
    }

    /// The steps of a batch of keys, in order, on `workers` threads.
    fn job_steps(
        &self,
        status: &JobStatus,
        rule: Option<&EncryptionRule>,
        batch: &Batch,
        workers: usize,
    ) -> Vec<(Step, u64)> {
        // A rewrap writes its changed records in batches; other kinds copy
        // one object at a time.
        let run = |keys: &[String], under_kms: &[bool]| -> Vec<(Step, u64)> {
            if status.kind == JobKind::Rewrap {
                return self
                    .rewrap_objects_sized(&status.bucket, keys, under_kms)
                    .into_iter()
                    .map(rewrap_step)
                    .collect();
            }
            self.copy_steps(status, rule, keys)
        };
        let keys = &batch.keys;
        if workers <= 1 || keys.len() < 2 {
            return run(keys, &batch.under_kms);
        }
        let per_worker = keys.len().div_ceil(workers);
        std::thread::scope(|scope| {
            let handles: Vec<_> = keys
                .chunks(per_worker)
                .zip(batch.under_kms.chunks(per_worker))
                .map(|(chunk, hints)| scope.spawn(move || run(chunk, hints)))
                .collect();
            handles
                .into_iter()
                .zip(keys.chunks(per_worker))
                .flat_map(|(handle, chunk)| {
                    handle.join().unwrap_or_else(|_| {
                        chunk
                            .iter()
                            .map(|_| (Step::Failed(Error::WorkerLost), 0))
                            .collect()
                    })
                })
                .collect()
        })
    }

    /// The objects of a re-encryption or encrypt-unencrypted job (rewraps go
    /// through `rewrap_objects_sized`), in order: what happened to each, and
    /// its size. Several keys are staged with their segments written around
    /// the write-ahead log, made durable by one flush, then committed (see
    /// `staged_put`); a single key goes through the log, as a put does.
    fn copy_steps(
        &self,
        status: &JobStatus,
        rule: Option<&EncryptionRule>,
        keys: &[String],
    ) -> Vec<(Step, u64)> {
        let log = if keys.len() > 1 {
            SegmentLog::Unlogged
        } else {
            SegmentLog::Bounded
        };
        let mut outcomes = Vec::with_capacity(keys.len());
        let mut staged = Vec::new();
        let mut staged_bytes = 0u64;
        for key in keys {
            match self.stage_step(status, rule, key, log) {
                Ok((put, size)) => {
                    staged_bytes += size;
                    staged.push((outcomes.len(), put, size));
                    outcomes.push((Step::Done, 0));
                }
                Err(outcome) => outcomes.push(outcome),
            }
            // Old and new copies of what is staged are both on disk, and an
            // overwrite meanwhile wins: commit before that grows large.
            if staged_bytes >= STAGED_BYTES {
                self.commit_steps(std::mem::take(&mut staged), &mut outcomes);
                staged_bytes = 0;
            }
        }
        self.commit_steps(staged, &mut outcomes);
        outcomes
    }

    /// Commits staged copies, in order, after making their unlogged segments
    /// durable; sets each one's outcome.
    fn commit_steps(&self, staged: Vec<(usize, StagedPut, u64)>, outcomes: &mut [(Step, u64)]) {
        let flushed = if staged.iter().any(|(_, put, _)| put.needs_flush()) {
            self.flush_segments()
        } else {
            Ok(())
        };
        for (index, put, size) in staged {
            outcomes[index] = match &flushed {
                Err(error) => {
                    self.abandon_staged(put);
                    (Step::Failed(same_error(error)), size)
                }
                Ok(()) => match self.commit_staged(put) {
                    Ok(_) => (Step::Done, size),
                    // Overwritten or deleted since it was staged.
                    Err(Error::PreconditionFailed { .. } | Error::NoSuchKey { .. }) => {
                        (Step::Skipped, size)
                    }
                    Err(error) => (Step::Failed(error), size),
                },
            };
        }
    }

    /// Stages the copy of one object over itself, with its size; or what
    /// happened instead (skipped: gone, or needing nothing; failed).
    fn stage_step(
        &self,
        status: &JobStatus,
        rule: Option<&EncryptionRule>,
        key: &str,
        log: SegmentLog,
    ) -> std::result::Result<(StagedPut, u64), (Step, u64)> {
        let bucket = status.bucket.as_str();
        let meta = match self.head_object(bucket, key) {
            Ok(meta) => meta,
            Err(Error::NoSuchKey { .. }) => return Err((Step::Skipped, 0)),
            Err(error) => return Err((Step::Failed(error), 0)),
        };
        let size = meta.size;
        let protection = &meta.protection;
        let target = match (&status.kind, rule) {
            (JobKind::Reencrypt { .. }, Some(rule)) => {
                let already = millis(meta.last_modified) >= status.created_ms
                    && protection.mode.algorithm() == Some(rule.algorithm())
                    && (rule.kms_key_id().is_none()
                        || protection.kms_key_id.as_deref() == rule.kms_key_id());
                if already {
                    return Err((Step::Skipped, size));
                }
                Some(rule.clone())
            }
            (JobKind::EncryptUnencrypted, _) if protection.mode == ProtectionMode::None => None,
            _ => return Err((Step::Skipped, size)),
        };
        match self.stage_copy_over_itself(bucket, key, target, &meta.etag, log) {
            Ok(put) => Ok((put, size)),
            Err(Error::PreconditionFailed { .. } | Error::NoSuchKey { .. }) => {
                Err((Step::Skipped, size))
            }
            Err(error) => Err((Step::Failed(error), size)),
        }
    }

    /// Stages a copy of an object over itself (under `rule`, or the bucket's
    /// rule), to commit only if it still has `etag`.
    fn stage_copy_over_itself(
        &self,
        bucket: &str,
        key: &str,
        rule: Option<EncryptionRule>,
        etag: &str,
        log: SegmentLog,
    ) -> Result<StagedPut> {
        let bucket = self.bucket_record(bucket)?;
        let rule = match rule {
            Some(rule) => rule,
            None => bucket
                .rule
                .clone()
                .ok_or_else(|| Error::NoSuchEncryptionRule(bucket.name.clone()))?,
        };
        let options = CopyOptions::default()
            .with_encryption(Some(rule))
            .with_condition(PutCondition::IfMatch(etag.to_owned()));
        let resolved = self.resolve_rule(options.encryption.as_ref(), &bucket, &Caller::Trusted)?;
        self.stage_copy(
            (&bucket.name, key),
            &bucket,
            key,
            options,
            &resolved,
            &Caller::Trusted,
            log,
        )
    }
}

/// `error` again, for each object a failed flush leaves uncommitted.
fn same_error(error: &Error) -> Error {
    match error {
        Error::Storage(error) => Error::Storage(error.clone()),
        Error::Closed => Error::Closed,
        other => Error::CorruptRecord(other.to_string()),
    }
}

enum Step {
    Done,
    Skipped,
    Failed(Error),
}

/// Keys of a job, in order, each with a hint of whether it is under a KMS.
#[derive(Default)]
struct Batch {
    keys: Vec<String>,
    under_kms: Vec<bool>,
}

/// What a rewrap of one object did.
fn rewrap_step(result: Result<(bool, u64)>) -> (Step, u64) {
    match result {
        Ok((true, size)) => (Step::Done, size),
        Ok((false, size)) => (Step::Skipped, size),
        Err(Error::NoSuchKey { .. }) => (Step::Skipped, 0),
        Err(error) => (Step::Failed(error), 0),
    }
}

/// Sleeps as long as it takes to keep within `limits`.
fn pace(limits: &JobLimits, began: Instant, objects: u64, bytes: u64) {
    let mut wait = Duration::ZERO;
    for (limit, count) in [
        (limits.objects_per_second, objects as f64),
        (limits.bytes_per_second, bytes as f64),
    ] {
        if let Some(limit) = limit {
            // Limits are checked (at least `JobLimits::MIN_RATE`), so this is at most
            // about 10^25 s for any count; saturated all the same.
            let due = Duration::try_from_secs_f64(count / limit).unwrap_or(Duration::MAX);
            wait = wait.max(due.saturating_sub(began.elapsed()));
        }
    }
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
}
