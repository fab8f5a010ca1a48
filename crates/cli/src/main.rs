//! `coffer`: the command line for operating a store, named after what
//! operators already type (ossutil, `aws s3api`, `aws kms`).
//!
//! - [`args`]: the commands and flags (clap), with help for each.
//! - [`store_commands`]: init, buckets and their encryption, objects.
//! - [`key_commands`]: the KMS's keys, key usage and retirement.
//! - [`job_commands`]: bulk key jobs, run in the foreground, resumable.
//! - [`audit_command`]: `coffer audit query|prune`.
//! - [`verify_command`]: `coffer verify`.
//! - [`output`]: human and `--json` output, progress bars.
//! - [`exit`]: failures and the exit codes that tell them apart.

mod args;
mod audit_command;
mod exit;
mod job_commands;
mod key_commands;
mod output;
mod store_commands;
mod verify_command;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use coffer_store::{RootKey, Store, StoreOptions};

use args::{Cli, Command};
use exit::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("coffer: {failure}");
            failure.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let out = output::Output::new(cli.json);
    if let Command::Init { dir } = &cli.command {
        return store_commands::init(dir, cli.root_key_file.as_deref(), &out);
    }
    let store = open(cli.dir.as_deref(), cli.root_key_file.as_deref())?;
    let result = match cli.command {
        Command::Init { .. } => unreachable!("handled above"),
        Command::Bucket(command) => store_commands::bucket(&store, command, &out),
        Command::Put {
            file,
            target,
            sse,
            attributes,
        } => store_commands::put(&store, &file, &target, &sse, &attributes, &out),
        Command::Get { source, file } => {
            store_commands::get(&store, &source, file.as_deref(), &out)
        }
        Command::Head { object } => store_commands::head(&store, &object, &out),
        Command::Ls { location } => store_commands::ls(&store, &location, &out),
        Command::Rm { object } => store_commands::rm(&store, &object, &out),
        Command::Cp {
            source,
            destination,
            sse,
            attributes,
        } => store_commands::cp(&store, &source, &destination, &sse, &attributes, &out),
        Command::Kms(command) => key_commands::kms(&store, command, &out),
        Command::Keys(command) => key_commands::keys(&store, command, &out),
        Command::Job(command) => job_commands::job(&store, command, &out),
        Command::Audit(command) => audit_command::audit(&store, command, &out),
        Command::Verify { bucket } => verify_command::verify(&store, bucket.as_deref(), &out),
    };
    let closed = store.close().map_err(Failure::from);
    result.and(closed)
}

/// The root key file: the flag, or DIR/root.key.
fn root_key_path(dir: &Path, flag: Option<&Path>) -> PathBuf {
    flag.map_or_else(|| dir.join("root.key"), Path::to_owned)
}

/// Opens the existing store in `dir` with its root key.
fn open(dir: Option<&Path>, root_key_file: Option<&Path>) -> Result<Store, Failure> {
    let dir = dir.ok_or_else(|| {
        Failure::Usage(
            "no store: give --dir DIR or set COFFER_DIR (coffer init DIR creates one)".into(),
        )
    })?;
    let root = RootKey::from_file(root_key_path(dir, root_key_file))?;
    Ok(Store::open(dir, StoreOptions::new(root))?)
}
