//! Side-by-side comparisons that run the baseline in the same process, on the
//! same bytes, and print one JSON object per line with the ratio.
//!
//! ```text
//! cargo run --release -p coffer-benches --bin compare -- <cipher|gateway|jobs|keys|kms|object-store|remote|store|sustained> [--quick]
//! ```
//!
//! `kms` starts an OpenBao dev server the way the tests do (and says how to
//! install `bao` when it is missing); `remote` starts SeaweedFS likewise.
//!
//! `--size=<bytes>` limits `store` to one object size and skips its streaming
//! case (for profiling one path). `--tuning=<name>=<value>,...` runs `store`
//! and `jobs`
//! with other storage settings than the defaults (see `tuning.rs`), which is how
//! the defaults were chosen.
//!
//! `sustained` runs 4 writer and 4 reader threads for 10 minutes per engine
//! (`--minutes=<n>`; 1 with `--quick`); `--only=volume` runs its earlier,
//! single-threaded overwrite of a fixed volume instead.
//!
//! `--only=concurrent` runs only `store`'s concurrent cases (1, 2, 4 and 16
//! threads; see `many_writers.rs`).
//!
//! `--only=<part>` runs one part of `jobs` (`rewrap`, `payloads` or
//! `reencrypt`), for profiling it alone; `--objects=<n>` sets how many large
//! objects its `payloads` and `reencrypt` parts use (default 256).

mod bounds;
mod cipher;
mod cpu;
mod gateway;
mod jobs;
mod keys;
mod kms;
mod many_writers;
mod measure;
mod object_store_trait;
mod remote;
mod store;
mod store_memory;
mod sustained;
mod tuning;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let size = args
        .iter()
        .find_map(|a| a.strip_prefix("--size="))
        .map(str::parse::<usize>)
        .transpose();
    let Ok(size) = size else {
        eprintln!("--size takes a number of bytes");
        return ExitCode::FAILURE;
    };
    let tuning = match args.iter().find_map(|a| a.strip_prefix("--tuning=")) {
        Some(spec) => match tuning::parse(spec) {
            Ok(tuning) => tuning,
            Err(error) => {
                eprintln!("--tuning: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => tuning::Candidate::default(),
    };
    let only = args.iter().find_map(|a| a.strip_prefix("--only="));
    let objects = args
        .iter()
        .find_map(|a| a.strip_prefix("--objects="))
        .map(str::parse::<usize>)
        .transpose();
    let Ok(objects) = objects else {
        eprintln!("--objects takes a number");
        return ExitCode::FAILURE;
    };
    let minutes = args
        .iter()
        .find_map(|a| a.strip_prefix("--minutes="))
        .map(str::parse::<u64>)
        .transpose();
    let Ok(minutes) = minutes else {
        eprintln!("--minutes takes a number");
        return ExitCode::FAILURE;
    };
    let cases: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if cases.is_empty() {
        eprintln!(
            "usage: compare <cipher|gateway|jobs|keys|kms|object-store|remote|store|sustained>... [--quick] [--size=<bytes>]"
        );
        return ExitCode::FAILURE;
    }
    let budget = measure::Budget::new(quick);
    for case in cases {
        match case {
            "cipher" => cipher::run(&budget),
            "gateway" => gateway::run(&budget, quick),
            "keys" => keys::run(&budget),
            "jobs" => jobs::run(quick, only, objects, &tuning),
            "kms" => kms::run(quick),
            "object-store" => object_store_trait::run(&budget, quick),
            "remote" => remote::run(&budget, quick),
            "sustained" => sustained::run(quick, &tuning, only, minutes),
            "store" => store::run(&budget, quick, size, &tuning, only),
            other => {
                eprintln!(
                    "unknown comparison {other:?}; known: cipher, gateway, jobs, keys, kms, object-store, remote, store, sustained"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
