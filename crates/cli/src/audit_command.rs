//! `coffer audit query|prune|verify`: the store's audit log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_store::{AuditEvent, AuditOutcome, AuditOutcomeKind, AuditQuery, AuditRetention, Store};
use serde_json::{Value, json};

use crate::args::{AuditCommand, OutcomeArg};
use crate::exit::Failure;
use crate::output::Output;

pub(crate) fn audit(store: &Store, command: AuditCommand, out: &Output) -> Result<(), Failure> {
    match command {
        AuditCommand::Query {
            since,
            until,
            key_id,
            caller,
            outcome,
            limit,
        } => {
            let now = SystemTime::now();
            let mut query = AuditQuery::new();
            if let Some(since) = since {
                query = query.since(parse_time(&since, now)?);
            }
            if let Some(until) = until {
                query = query.until(parse_time(&until, now)?);
            }
            if let Some(key_id) = key_id {
                query = query.key_id(&key_id);
            }
            if let Some(caller) = caller {
                query = query.caller(&caller);
            }
            if let Some(outcome) = outcome {
                query = query.outcome(match outcome {
                    OutcomeArg::Allowed => AuditOutcomeKind::Allowed,
                    OutcomeArg::Denied => AuditOutcomeKind::Denied,
                    OutcomeArg::Failed => AuditOutcomeKind::Failed,
                    OutcomeArg::Unknown => AuditOutcomeKind::Unknown,
                });
            }
            if let Some(limit) = limit {
                query = query.limit(limit);
            }
            // What can be read is printed; entries the store did not write are
            // named on standard error, and the command then exits 5.
            let page = store.audit_log(&query)?;
            let events = &page.events;
            out.print(
                || events.iter().map(event_text).collect::<Vec<_>>().join("\n"),
                || json!(events.iter().map(event_json).collect::<Vec<_>>()),
            );
            for damaged in &page.damaged {
                eprintln!("coffer: {damaged}");
            }
            if !page.damaged.is_empty() {
                return Err(Failure::Store(coffer_store::Error::CorruptRecord(format!(
                    "{} problems in the audit log (named above): events the store did not write, or removed",
                    page.damaged.len()
                ))));
            }
        }
        AuditCommand::Verify => {
            let report = store.verify_audit_log()?;
            out.print(
                || {
                    let mut lines = report.problems.clone();
                    lines.push(format!(
                        "checked {} sealed events{}: {}",
                        report.events,
                        match report.unauthenticated {
                            0 => String::new(),
                            n => format!(
                                " and {n} from before the log was sealed (not authenticated)"
                            ),
                        },
                        match report.problems.len() {
                            0 => "the log is whole".to_owned(),
                            n => format!("{n} problem(s)"),
                        }
                    ));
                    lines.join("\n")
                },
                || {
                    json!({
                        "events": report.events,
                        "unauthenticated": report.unauthenticated,
                        "problems": report.problems,
                    })
                },
            );
            if !report.problems.is_empty() {
                return Err(Failure::Problems(report.problems.len()));
            }
        }
        AuditCommand::Prune {
            older_than,
            max_bytes,
        } => {
            if older_than.is_none() && max_bytes.is_none() {
                return Err(Failure::Usage(
                    "give --older-than SPAN, --max-bytes BYTES or both".into(),
                ));
            }
            let mut retention = AuditRetention::keep_all();
            if let Some(span) = older_than {
                retention = retention.with_max_age(parse_span(&span)?);
            }
            if let Some(bytes) = max_bytes {
                retention = retention.with_max_bytes(bytes);
            }
            let removed = store.prune_audit_log(&retention)?;
            out.print(
                || format!("removed {removed} audit events"),
                || json!({"removed": removed}),
            );
        }
    }
    Ok(())
}

/// An RFC 3339 time, or a span back from `now`.
fn parse_time(text: &str, now: SystemTime) -> Result<SystemTime, Failure> {
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(time);
    }
    let span = parse_span(text).map_err(|_| {
        Failure::Usage(format!(
            "{text:?} is neither an RFC 3339 time (2026-12-01T09:30:00Z) nor a span (15m, 2h, 7d)"
        ))
    })?;
    Ok(now.checked_sub(span).unwrap_or(UNIX_EPOCH))
}

fn parse_span(text: &str) -> Result<Duration, Failure> {
    humantime::parse_duration(text)
        .map_err(|e| Failure::Usage(format!("{text:?} is not a span such as 15m, 2h or 7d: {e}")))
}

fn time_text(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

fn outcome_text(outcome: &AuditOutcome) -> String {
    match outcome {
        AuditOutcome::Failed(error) => format!("failed ({error})"),
        AuditOutcome::Unknown(error) => format!("unknown ({error})"),
        other => other.name().to_owned(),
    }
}

fn event_text(event: &AuditEvent) -> String {
    let mut text = format!(
        "{}  {:<8} {:<7} {:<32}",
        time_text(event.time),
        event.caller,
        event.source,
        event.action
    );
    if let Some(key) = &event.key_id {
        text.push_str(&format!(" key {key}"));
        if let Some(version) = event.key_version {
            text.push_str(&format!(" v{version}"));
        }
    }
    match (&event.bucket, &event.object_key) {
        (Some(bucket), Some(key)) => text.push_str(&format!(" {bucket}/{key}")),
        (Some(bucket), None) => text.push_str(&format!(" {bucket}")),
        _ => {}
    }
    text.push_str(&format!("  {}", outcome_text(&event.outcome)));
    if let Some(detail) = &event.detail {
        text.push_str(&format!(": {detail}"));
    }
    text
}

fn event_json(event: &AuditEvent) -> Value {
    let error = match &event.outcome {
        AuditOutcome::Failed(error) | AuditOutcome::Unknown(error) => Some(error.clone()),
        _ => None,
    };
    json!({
        "time": time_text(event.time),
        "detail": event.detail,
        "caller": event.caller,
        "source": event.source,
        "action": event.action,
        "resource": event.resource,
        "key_id": event.key_id,
        "key_version": event.key_version,
        "bucket": event.bucket,
        "object_key": event.object_key,
        "context": event.context,
        "outcome": event.outcome.name(),
        "error": error,
    })
}
