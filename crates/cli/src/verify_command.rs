//! `coffer verify [BUCKET]`: every object read and authenticated, each
//! problem printed with its object; exit code 5 if there is any.

use coffer_store::{ProblemKind, Store};
use serde_json::json;

use crate::exit::Failure;
use crate::output::{Output, Progress};

fn kind_name(kind: ProblemKind) -> &'static str {
    match kind {
        ProblemKind::DamagedRecord => "damaged-record",
        ProblemKind::MissingSegment => "missing-segment",
        ProblemKind::DamagedPayload => "damaged-payload",
        ProblemKind::KeyUnavailable => "key-unavailable",
        ProblemKind::OrphanSegments => "orphan-segments",
        ProblemKind::OrphanBucketKey => "orphan-bucket-key",
        _ => "other",
    }
}

pub(crate) fn verify(store: &Store, bucket: Option<&str>, out: &Output) -> Result<(), Failure> {
    let mut progress: Option<Progress> = None;
    let report = store.verify(bucket, |p| {
        progress
            .get_or_insert_with(|| Progress::new(out, "objects", p.objects_total))
            .set(p.objects);
    })?;
    if let Some(progress) = progress {
        progress.finish();
    }
    let name = |p: &coffer_store::VerifyProblem| {
        if p.kind == ProblemKind::OrphanSegments {
            format!("object id {}", p.key)
        } else if p.kind == ProblemKind::OrphanBucketKey {
            format!("bucket key {} of {}", p.key, p.bucket)
        } else {
            format!("{}/{}", p.bucket, p.key)
        }
    };
    out.print(
        || {
            let mut lines: Vec<String> = report
                .problems
                .iter()
                .map(|p| format!("{}: {}: {}", name(p), kind_name(p.kind), p.detail))
                .collect();
            lines.push(format!(
                "checked {} objects, {} bytes: {}",
                report.objects,
                report.bytes,
                if report.is_clean() {
                    "no problems".to_owned()
                } else {
                    format!("{} problem(s)", report.problems.len())
                }
            ));
            lines.join("\n")
        },
        || {
            json!({
                "objects": report.objects,
                "bytes": report.bytes,
                "problems": report.problems.iter().map(|p| json!({
                    "bucket": p.bucket,
                    "key": p.key,
                    "kind": kind_name(p.kind),
                    "detail": p.detail,
                })).collect::<Vec<_>>(),
            })
        },
    );
    if report.is_clean() {
        Ok(())
    } else {
        Err(Failure::Problems(report.problems.len()))
    }
}
