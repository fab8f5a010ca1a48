//! Timing: each case runs for a time budget, several rounds interleaved with its
//! baseline so that drift on a shared machine hits both alike; the median counts.

use std::time::{Duration, Instant};

/// How long to measure.
pub(crate) struct Budget {
    /// Time spent per round of one case.
    pub(crate) per_round: Duration,
    /// Rounds per case; the median is reported.
    pub(crate) rounds: usize,
}

impl Budget {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                per_round: Duration::from_millis(60),
                rounds: 3,
            }
        } else {
            Self {
                per_round: Duration::from_millis(300),
                rounds: 7,
            }
        }
    }
}

/// Operations per second of `op`, run repeatedly for `budget`.
pub(crate) fn ops_per_s(budget: Duration, mut op: impl FnMut()) -> f64 {
    op();
    ops_per_s_settled(budget, op, || {})
}

/// Operations per second of `op` run for `budget`, counting the time `settle`
/// then takes to finish the work the operations left behind (a flush).
pub(crate) fn ops_per_s_settled(
    budget: Duration,
    mut op: impl FnMut(),
    mut settle: impl FnMut(),
) -> f64 {
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget || count < 3 {
        op();
        count += 1;
    }
    settle();
    count as f64 / start.elapsed().as_secs_f64()
}

/// Operations per second of `op` on inputs made by `prepare`, counting only the
/// time spent in `op` (dropping its output is not counted either).
pub(crate) fn ops_per_s_prepared<T, R>(
    budget: Duration,
    mut prepare: impl FnMut() -> T,
    mut op: impl FnMut(T) -> R,
) -> f64 {
    drop(op(prepare()));
    let start = Instant::now();
    let mut timed = Duration::ZERO;
    let mut count = 0u64;
    while start.elapsed() < budget || count < 3 {
        let input = prepare();
        let began = Instant::now();
        let output = op(input);
        timed += began.elapsed();
        drop(output);
        count += 1;
    }
    count as f64 / timed.as_secs_f64()
}

/// Runs every case once per round, in order, and returns each case's median
/// operations per second.
pub(crate) fn interleaved(budget: &Budget, cases: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut rounds: Vec<Box<dyn FnMut(Duration) -> f64 + '_>> = cases
        .iter_mut()
        .map(|case| Box::new(move |d| ops_per_s(d, &mut **case)) as Box<dyn FnMut(Duration) -> f64>)
        .collect();
    interleaved_rounds(budget, &mut rounds)
}

/// Like [`interleaved`], for cases that time one round themselves, given its length.
pub(crate) fn interleaved_rounds(
    budget: &Budget,
    cases: &mut [Box<dyn FnMut(Duration) -> f64 + '_>],
) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(budget.rounds); cases.len()];
    for _ in 0..budget.rounds {
        for (case, out) in cases.iter_mut().zip(samples.iter_mut()) {
            out.push(case(budget.per_round));
        }
    }
    samples.into_iter().map(median).collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub(crate) const MIB: f64 = 1024.0 * 1024.0;

/// Prints one result line.
pub(crate) fn report(
    case: &str,
    bytes: usize,
    threads: usize,
    ops: f64,
    baseline_ops: f64,
    extra: serde_json::Value,
) {
    let mut line = serde_json::json!({
        "case": case,
        "bytes": bytes,
        "threads": threads,
        "ops_per_s": round(ops),
        "mib_per_s": round(ops * bytes as f64 / MIB),
        "ratio_vs_ring": round(ops / baseline_ops),
    });
    if let (Some(line), serde_json::Value::Object(extra)) = (line.as_object_mut(), extra) {
        line.extend(extra);
    }
    println!("{line}");
}

pub(crate) fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Prints one line per engine and case (`put`, `get`) of a size, each with
/// its rate against the baselines named in `ratios` (name, index of the
/// baseline engine in `engines`).
pub(crate) fn report_rates(
    engines: &[&str],
    size: usize,
    cases: [(&str, &[f64]); 2],
    ratios: &[(&str, usize)],
) {
    for (case, rates) in cases {
        for (engine, rate) in engines.iter().zip(rates.iter()) {
            let mut line = serde_json::json!({
                "case": format!("{engine}_{case}"),
                "bytes": size,
                "ops_per_s": round(*rate),
                "mib_per_s": round(rate * size as f64 / MIB),
            });
            if let Some(line) = line.as_object_mut() {
                for (name, baseline) in ratios {
                    line.insert((*name).to_owned(), round(rate / rates[*baseline]).into());
                }
            }
            println!("{line}");
        }
    }
}

/// Flushes the store and waits until its database has no background work
/// left, so that a round pays for the work its puts caused.
pub(crate) fn settle_store(store: &coffer_store::Store) {
    store.flush().expect("flush");
    coffer_store::internals::wait_for_background_work(store).expect("background work");
}
