//! `coffer`: the command line for operating a store, named after what
//! operators already type (ossutil, `aws s3api`, `aws kms`).
//!
//! - [`args`]: the commands and flags (clap), with help for each.
//! - [`store_commands`]: init, buckets and their encryption, objects.
//! - [`key_commands`]: the KMS's keys, key usage and retirement.
//! - [`job_commands`]: bulk key jobs, run in the foreground, resumable.
//! - [`audit_command`]: `coffer audit query|prune`.
//! - [`verify_command`]: `coffer verify`.
//! - [`serve_command`]: `coffer serve`, the S3-compatible gateway.
//! - [`output`]: human and `--json` output, progress bars.
//! - [`exit`]: failures and the exit codes that tell them apart.

mod args;
mod audit_command;
mod exit;
mod job_commands;
mod key_commands;
mod output;
mod serve_command;
mod store_commands;
mod verify_command;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use coffer_store::{RootKey, Store, StoreOptions};

use args::{Cli, Command, KmsArg};
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
    let keys = KeyLocation {
        file: cli.root_key_file.clone(),
        unsafe_in_store_dir: cli.unsafe_root_key_in_store_dir,
    };
    let kms = KmsChoice {
        kind: cli.kms,
        transit_mount: cli.transit_mount.clone(),
        default_key: cli.kms_default_key.clone(),
    };
    if let Command::Init { dir } = &cli.command {
        return store_commands::init(dir, &keys, &kms, &out);
    }
    if let Command::Serve { config, listen } = &cli.command {
        let config = serve_command::load(config)?;
        if serve_command::has_engine(&config) {
            return serve_command::serve_engine(&config, *listen, &out);
        }
    }
    let store = open(cli.dir.as_deref(), &keys, &kms)?;
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
        Command::Serve { config, listen } => serve_command::load(&config)
            .and_then(|config| serve_command::serve(store.clone(), &config, listen, &out)),
    };
    let closed = store.close().map_err(Failure::from);
    result.and(closed)
}

/// Where the root key is, and whether it may be inside the store's directory.
pub(crate) struct KeyLocation {
    file: Option<PathBuf>,
    unsafe_in_store_dir: bool,
}

impl KeyLocation {
    /// The root key file of the store in `dir`: the flag, or beside the
    /// directory (`DIR.root.key`). One inside `dir` is refused unless asked
    /// for: any copy of the directory would then hold the key to it.
    pub(crate) fn path(&self, dir: &Path) -> Result<PathBuf, Failure> {
        let dir =
            std::path::absolute(dir).map_err(|e| Failure::Io(dir.display().to_string(), e))?;
        let path = match &self.file {
            Some(file) => {
                std::path::absolute(file).map_err(|e| Failure::Io(file.display().to_string(), e))?
            }
            None => beside(&dir)?,
        };
        if !self.unsafe_in_store_dir && is_inside(&path, &dir) {
            return Err(Failure::Usage(format!(
                "the root key {} is inside the store's directory {}: every copy of the directory \
                 would decrypt the store. Keep it elsewhere (move it to {} or give --root-key-file), \
                 or pass --unsafe-root-key-in-store-dir for a throwaway store",
                path.display(),
                dir.display(),
                beside(&dir)?.display()
            )));
        }
        Ok(path)
    }
}

/// `DIR.root.key`, beside `dir` (absolute).
fn beside(dir: &Path) -> Result<PathBuf, Failure> {
    let name = dir.file_name().ok_or_else(|| {
        Failure::Usage(format!(
            "{} has no name to put a root key beside; give --root-key-file",
            dir.display()
        ))
    })?;
    let mut file = name.to_os_string();
    file.push(".root.key");
    Ok(dir.with_file_name(file))
}

/// Whether `path` is inside `dir` (both absolute), following symbolic links
/// where they exist.
fn is_inside(path: &Path, dir: &Path) -> bool {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let dir = real(dir);
    let path = match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => real(parent).join(name),
        _ => real(path),
    };
    path.starts_with(&dir)
}

/// The KMS backend the flags choose.
pub(crate) struct KmsChoice {
    kind: KmsArg,
    transit_mount: String,
    default_key: Option<String>,
}

impl KmsChoice {
    /// `options` with the chosen backend (none for the local KMS: the store
    /// opens its own).
    pub(crate) fn apply(&self, options: StoreOptions) -> Result<StoreOptions, Failure> {
        let usage = |what: &str, error: &dyn std::fmt::Display| {
            Failure::Usage(format!("--kms {what}: {error}"))
        };
        Ok(match self.kind {
            KmsArg::Local => options,
            KmsArg::Transit => {
                let mut config =
                    coffer_kms_vault::VaultConfig::from_env().map_err(|e| usage("transit", &e))?;
                config.mount.clone_from(&self.transit_mount);
                let mut backend =
                    coffer_kms_vault::TransitKms::new(config).map_err(|e| usage("transit", &e))?;
                if let Some(key) = &self.default_key {
                    backend = backend.with_default_key(key);
                }
                options.with_kms(Arc::new(backend))
            }
            KmsArg::Aws => {
                let env = |names: &[&str]| {
                    names
                        .iter()
                        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
                };
                let region = env(&["AWS_REGION", "AWS_DEFAULT_REGION"]).ok_or_else(|| {
                    Failure::Usage("--kms aws: set AWS_REGION (or AWS_DEFAULT_REGION)".into())
                })?;
                let credentials =
                    coffer_kms_aws::AwsCredentials::from_env().map_err(|e| usage("aws", &e))?;
                let mut config = coffer_kms_aws::AwsKmsConfig::new(region, credentials);
                if let Some(endpoint) = env(&["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]) {
                    config = config.with_endpoint(endpoint);
                }
                if let Some(key) = &self.default_key {
                    config = config.with_default_key(key.clone());
                }
                let backend = coffer_kms_aws::AwsKms::new(config).map_err(|e| usage("aws", &e))?;
                options.with_kms(Arc::new(backend))
            }
        })
    }
}

/// Opens the existing store in `dir` with its root key and its KMS.
fn open(dir: Option<&Path>, keys: &KeyLocation, kms: &KmsChoice) -> Result<Store, Failure> {
    let dir = dir.ok_or_else(|| {
        Failure::Usage(
            "no store: give --dir DIR or set COFFER_DIR (coffer init DIR creates one)".into(),
        )
    })?;
    let root = RootKey::from_file(keys.path(dir)?)?;
    Ok(Store::open(dir, kms.apply(StoreOptions::new(root))?)?)
}
