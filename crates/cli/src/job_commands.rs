//! `coffer job ...`: bulk key jobs, run in the foreground with a progress
//! bar. The job's id is printed first (on standard error), so that a run
//! killed or interrupted can be continued with `coffer job resume ID`.

use coffer_store::{JobKind, JobLimits, JobStatus, Store};
use serde_json::json;

use crate::args::{JobCommand, JobRunArgs, Sse};
use crate::exit::Failure;
use crate::output::{Output, Progress};

fn status_json(status: &JobStatus) -> serde_json::Value {
    serde_json::to_value(status).unwrap_or_else(|_| json!({"id": status.id}))
}

fn status_text(status: &JobStatus) -> String {
    format!(
        "job {} on {}: {:?}, {} done, {} skipped, {} failed, {} bytes, last key {}",
        status.id,
        status.bucket,
        status.state,
        status.done,
        status.skipped,
        status.failed,
        status.bytes,
        status.last_key.as_deref().unwrap_or("-")
    )
}

fn limits(run: &JobRunArgs) -> JobLimits {
    let mut limits = JobLimits::none();
    if let Some(n) = run.objects_per_second {
        limits = limits.objects_per_second(n);
    }
    if let Some(n) = run.bytes_per_second {
        limits = limits.bytes_per_second(n);
    }
    limits
}

/// Runs a job to the end (or until paused or cancelled), with progress.
fn run(store: &Store, id: &str, run: &JobRunArgs, out: &Output) -> Result<(), Failure> {
    let status = store.job_status(id)?;
    eprintln!("job {id} (coffer job resume {id} continues it if interrupted)");
    let total = store.object_count(Some(&status.bucket))?;
    let mut progress = Progress::new(out, "objects", total);
    let finished = store.run_job(id, limits(run), |s| {
        progress.set(s.done + s.skipped + s.failed)
    })?;
    progress.finish();
    out.print(|| status_text(&finished), || status_json(&finished));
    if finished.failed > 0 {
        return Err(Failure::Usage(format!(
            "{} object(s) failed; see the log, fix, and run the job again",
            finished.failed
        )));
    }
    Ok(())
}

pub(crate) fn job(store: &Store, command: JobCommand, out: &Output) -> Result<(), Failure> {
    match command {
        JobCommand::Rewrap { bucket, run: args } => {
            let id = store.create_job(&bucket, JobKind::Rewrap)?;
            run(store, &id, &args, out)
        }
        JobCommand::Reencrypt {
            bucket,
            sse,
            run: args,
        } => {
            let kind = match sse.sse {
                Some(Sse::Aes256) if sse.sse_kms_key_id.is_none() => JobKind::Reencrypt {
                    sse: "AES256".into(),
                    kms_key_id: None,
                },
                Some(Sse::Kms) => JobKind::Reencrypt {
                    sse: "KMS".into(),
                    kms_key_id: sse.sse_kms_key_id.clone(),
                },
                _ => {
                    return Err(Failure::Usage(
                        "job reencrypt needs --sse AES256, or --sse KMS [--sse-kms-key-id ID]"
                            .into(),
                    ));
                }
            };
            let id = store.create_job(&bucket, kind)?;
            run(store, &id, &args, out)
        }
        JobCommand::EncryptUnencrypted { bucket, run: args } => {
            let id = store.create_job(&bucket, JobKind::EncryptUnencrypted)?;
            run(store, &id, &args, out)
        }
        JobCommand::Status { id: Some(id) } => {
            let status = store.job_status(&id)?;
            out.print(|| status_text(&status), || status_json(&status));
            Ok(())
        }
        JobCommand::Status { id: None } => {
            let jobs = store.list_jobs()?;
            out.print(
                || jobs.iter().map(status_text).collect::<Vec<_>>().join("\n"),
                || json!(jobs.iter().map(status_json).collect::<Vec<_>>()),
            );
            Ok(())
        }
        JobCommand::Pause { id } => {
            let status = store.pause_job(&id)?;
            out.print(|| status_text(&status), || status_json(&status));
            Ok(())
        }
        JobCommand::Resume { id, run: args } => {
            store.resume_job(&id)?;
            run(store, &id, &args, out)
        }
        JobCommand::Cancel { id } => {
            let status = store.cancel_job(&id)?;
            out.print(|| status_text(&status), || status_json(&status));
            Ok(())
        }
    }
}
