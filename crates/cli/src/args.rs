//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Operate a coffer store: buckets, objects, keys, key usage and
/// verification.
///
/// Exit codes: 0 success, 1 any other failure, 2 usage error, 3 not found,
/// 4 access denied (a disabled or deleted key, a wrong or too-open root key),
/// 5 integrity failure (damaged data, or `verify` found a problem),
/// 6 already exists.
#[derive(Debug, Parser)]
#[command(name = "coffer", version)]
pub(crate) struct Cli {
    /// The store's directory.
    #[arg(long, env = "COFFER_DIR", global = true)]
    pub(crate) dir: Option<PathBuf>,
    /// The root key file (64 hex digits, mode 0600); default: beside the
    /// store's directory, DIR.root.key. A root key inside DIR is refused:
    /// every copy of the directory (a backup, a snapshot) would decrypt
    /// everything in it.
    #[arg(long, env = "COFFER_ROOT_KEY_FILE", global = true)]
    pub(crate) root_key_file: Option<PathBuf>,
    /// Accept a root key file inside the store's directory, so that anyone
    /// with a copy of the directory can decrypt the store. Only for
    /// throwaway stores.
    #[arg(long, global = true)]
    pub(crate) unsafe_root_key_in_store_dir: bool,
    /// The KMS the store's CMKs live in: the store's own (`local`),
    /// OpenBao/Vault Transit (`transit`: BAO_ADDR or VAULT_ADDR, BAO_TOKEN or
    /// VAULT_TOKEN, BAO_NAMESPACE, BAO_CACERT), or the AWS KMS API (`aws`:
    /// AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL_KMS or
    /// AWS_ENDPOINT_URL). A store is bound to the backend it was created
    /// with: opening it with another is refused.
    #[arg(long, env = "COFFER_KMS", value_enum, default_value_t = KmsArg::Local, global = true)]
    pub(crate) kms: KmsArg,
    /// The Transit mount, with `--kms transit`.
    #[arg(
        long,
        env = "COFFER_TRANSIT_MOUNT",
        default_value = "transit",
        global = true
    )]
    pub(crate) transit_mount: String,
    /// The key of rules that name none, with `--kms transit` or `--kms aws`
    /// (the local KMS makes its own).
    #[arg(long, env = "COFFER_KMS_DEFAULT_KEY", global = true)]
    pub(crate) kms_default_key: Option<String>,
    /// Print results as JSON, one document per command, for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where a store's CMKs live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KmsArg {
    /// The store's own KMS.
    Local,
    /// OpenBao or Vault Transit.
    Transit,
    /// The AWS KMS API.
    Aws,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a store in DIR and its root key (beside it, DIR.root.key, mode
    /// 0600, unless --root-key-file says where); refuses to overwrite either.
    /// The store is bound to the KMS --kms names. Keep the root key apart from
    /// the directory's backups.
    Init {
        /// The directory to create the store in.
        dir: PathBuf,
    },
    /// Buckets and their default encryption.
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// Store FILE (or standard input, `-`) as BUCKET/KEY.
    Put {
        /// The file to read; `-` for standard input.
        file: PathBuf,
        /// Where to store it: BUCKET/KEY.
        target: String,
        #[command(flatten)]
        sse: SseArgs,
        #[command(flatten)]
        attributes: AttributeArgs,
    },
    /// Write BUCKET/KEY to FILE, or to standard output (`-` or no FILE).
    Get {
        /// The object: BUCKET/KEY.
        source: String,
        /// The file to write; `-` or none for standard output.
        file: Option<PathBuf>,
    },
    /// Show an object's metadata and protection.
    Head {
        /// The object: BUCKET/KEY.
        object: String,
    },
    /// List the objects of BUCKET, under PREFIX if given.
    Ls {
        /// BUCKET or BUCKET/PREFIX.
        location: String,
    },
    /// Delete an object.
    Rm {
        /// The object: BUCKET/KEY.
        object: String,
    },
    /// Copy an object to another (over itself: re-encrypts it).
    Cp {
        /// The source: BUCKET/KEY.
        source: String,
        /// The destination: BUCKET/KEY.
        destination: String,
        #[command(flatten)]
        sse: SseArgs,
        #[command(flatten)]
        attributes: AttributeArgs,
    },
    /// Keys in the store's KMS.
    #[command(subcommand)]
    Kms(KmsCommand),
    /// Key usage and retirement.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Bulk key jobs: durable, resumable after a crash, rate-limited.
    #[command(subcommand)]
    Job(JobCommand),
    /// The audit log: every key use and key administration, and every
    /// request a policy refused.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve the store over HTTP as an S3- and OSS-compatible endpoint (the
    /// aws CLI, boto3, oss2, ali-oss), with the access keys, principals and
    /// policies of the configuration file; the store is --dir's, or the S3
    /// bucket the file's `[engine]` names. Stops on SIGTERM or Ctrl-C once the
    /// requests in flight have finished.
    Serve {
        /// The gateway's configuration file (TOML: listen, tls, access_keys).
        #[arg(long)]
        config: PathBuf,
        /// Listen here instead of the file's `listen`.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Read and authenticate every object (of BUCKET, or of the store) and
    /// print each problem with its object; exits 5 if there is any.
    Verify {
        /// Only this bucket (orphan segments are checked for the whole store
        /// only).
        bucket: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum BucketCommand {
    /// Create a bucket.
    Create {
        /// Its name.
        name: String,
    },
    /// List buckets.
    Ls,
    /// Delete an empty bucket.
    Rm {
        /// Its name.
        name: String,
    },
    /// Show a bucket: creation time and default encryption.
    Info {
        /// Its name.
        name: String,
    },
    /// A bucket's default encryption rule.
    #[command(subcommand)]
    Encryption(EncryptionCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum EncryptionCommand {
    /// Set the rule (--sse AES256, or --sse KMS with an optional
    /// --sse-kms-key-id).
    Put {
        /// The bucket.
        bucket: String,
        #[command(flatten)]
        sse: SseArgs,
    },
    /// Show the rule.
    Get {
        /// The bucket.
        bucket: String,
    },
    /// Remove the rule (new objects are then stored unencrypted unless a
    /// put asks otherwise).
    Rm {
        /// The bucket.
        bucket: String,
    },
}

/// Server-side encryption, as OSS and S3 spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Sse {
    /// Store-managed keys (the master keyring).
    #[value(name = "AES256")]
    Aes256,
    /// A KMS customer master key.
    #[value(name = "KMS")]
    Kms,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SseArgs {
    /// Encrypt with store-managed keys (AES256) or a KMS key (KMS); default:
    /// the bucket's rule.
    #[arg(long, value_enum)]
    pub(crate) sse: Option<Sse>,
    /// The CMK (id or alias) for --sse KMS; default: the managed CMK.
    #[arg(long, requires = "sse")]
    pub(crate) sse_kms_key_id: Option<String>,
    /// Derive data keys from a bucket key (fewer KMS calls).
    #[arg(long, requires = "sse")]
    pub(crate) bucket_key: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct AttributeArgs {
    /// The object's content type.
    #[arg(long)]
    pub(crate) content_type: Option<String>,
    /// User metadata, NAME=VALUE; repeat for more.
    #[arg(long = "meta", value_name = "NAME=VALUE")]
    pub(crate) meta: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KmsCommand {
    /// Create a CMK.
    Create {
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Bring your own key: the CMK waits for imported material
        /// (`coffer kms import-params`, then `coffer kms import`).
        #[arg(long)]
        external: bool,
    },
    /// List CMKs.
    Ls,
    /// Show a CMK.
    Describe {
        /// Its id or alias.
        key_id: String,
    },
    /// Give a CMK an alias (`alias/...`).
    Alias {
        /// The alias.
        alias: String,
        /// The CMK's id.
        key_id: String,
    },
    /// Enable a CMK.
    Enable {
        /// Its id or alias.
        key_id: String,
    },
    /// Disable a CMK: objects under it cannot be read until it is enabled.
    Disable {
        /// Its id or alias.
        key_id: String,
    },
    /// Schedule a CMK's deletion after a waiting period.
    ScheduleDeletion {
        /// Its id or alias.
        key_id: String,
        /// Days until its material is destroyed (7 to 30).
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Cancel a scheduled deletion (the key comes back disabled).
    CancelDeletion {
        /// Its id or alias.
        key_id: String,
    },
    /// Rotate a CMK: new objects use a new version.
    Rotate {
        /// Its id or alias.
        key_id: String,
    },
    /// Get what is needed to import material into an external CMK: an RSA
    /// public key to wrap it with (RSAES-OAEP, SHA-256) and a single-use
    /// token valid for 24 hours. Wrap 32 bytes of material with
    /// `openssl pkeyutl -encrypt -pubin -inkey KEY.pem -pkeyopt
    /// rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt
    /// rsa_mgf1_md:sha256 -in material.bin -out wrapped.bin`.
    ImportParams {
        /// The external CMK's id or alias.
        key_id: String,
        /// Write the public key (PEM) to this file instead of printing it.
        #[arg(long, value_name = "FILE")]
        public_key_out: Option<PathBuf>,
        /// The wrapping key's size.
        #[arg(long, value_enum, default_value_t = WrappingKeySize::Rsa2048)]
        wrapping_key_spec: WrappingKeySize,
    },
    /// Import wrapped material into an external CMK.
    Import {
        /// The external CMK's id or alias.
        key_id: String,
        /// The token `coffer kms import-params` printed.
        #[arg(long)]
        token: String,
        /// The wrapped material (the binary output of `openssl pkeyutl`).
        #[arg(long, value_name = "FILE")]
        material: PathBuf,
    },
}

/// The RSA wrapping key of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WrappingKeySize {
    /// RSA 2048 bits.
    #[value(name = "RSA_2048")]
    Rsa2048,
    /// RSA 3072 bits.
    #[value(name = "RSA_3072")]
    Rsa3072,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Print audit events, oldest first. TIME is an RFC 3339 time
    /// (`2026-12-01T09:30:00Z`) or a span back from now (`15m`, `2h`, `7d`).
    Query {
        /// Events at or after TIME.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Events before TIME.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Events naming this key id (`master` for the master keyring).
        #[arg(long)]
        key_id: Option<String>,
        /// Events of this caller (`trusted`, or a principal's id).
        #[arg(long)]
        caller: Option<String>,
        /// Events that ended this way.
        #[arg(long, value_enum)]
        outcome: Option<OutcomeArg>,
        /// At most this many events.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Remove the oldest events now.
    Prune {
        /// Remove events older than this span (`90d`, `12h`).
        #[arg(long, value_name = "SPAN")]
        older_than: Option<String>,
        /// Then remove the oldest events until the log is under this many
        /// bytes.
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<u64>,
    },
    /// Check the whole log: every event's tag, every link from one event to
    /// the next, where the chain starts and where it ends. Prints each
    /// problem (an event edited, planted, put back or removed); exits 5 if
    /// there is any.
    Verify,
}

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutcomeArg {
    /// It succeeded.
    Allowed,
    /// A policy refused it.
    Denied,
    /// It was allowed but failed.
    Failed,
    /// It reached the KMS, which never said how it ended (it may have taken
    /// effect).
    Unknown,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Count objects per protection mode, key id and key version.
    Usage {
        /// Only this bucket.
        #[arg(long)]
        bucket: Option<String>,
    },
    /// Retire the master key versions (or, with --kms-key-id, the CMK
    /// versions) no object, bucket key or upload uses any more.
    Retire {
        /// Retire this CMK's unused versions (raise its minimum decryption
        /// version) instead of the master key's.
        #[arg(long, value_name = "ID")]
        kms_key_id: Option<String>,
    },
    /// Rotate the store-managed master key.
    RotateMaster,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct JobRunArgs {
    /// At most this many objects per second.
    #[arg(long)]
    pub(crate) objects_per_second: Option<f64>,
    /// At most this many bytes per second.
    #[arg(long)]
    pub(crate) bytes_per_second: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobCommand {
    /// Move every wrapped data key of BUCKET to the current master key
    /// version or CMK material (no object data rewritten), and run it.
    Rewrap {
        /// The bucket.
        bucket: String,
        #[command(flatten)]
        run: JobRunArgs,
    },
    /// Copy every object of BUCKET over itself under a new rule (--sse
    /// AES256, or --sse KMS --sse-kms-key-id ID), and run it.
    Reencrypt {
        /// The bucket.
        bucket: String,
        #[command(flatten)]
        sse: SseArgs,
        #[command(flatten)]
        run: JobRunArgs,
    },
    /// Encrypt BUCKET's unencrypted objects under its default rule, and run it.
    EncryptUnencrypted {
        /// The bucket.
        bucket: String,
        #[command(flatten)]
        run: JobRunArgs,
    },
    /// Show a job (or every job).
    Status {
        /// The job's id.
        id: Option<String>,
    },
    /// Pause a job (a run stops at its next checkpoint).
    Pause {
        /// The job's id.
        id: String,
    },
    /// Resume a paused or interrupted job from its checkpoint, and run it.
    Resume {
        /// The job's id.
        id: String,
        #[command(flatten)]
        run: JobRunArgs,
    },
    /// Cancel a job for good.
    Cancel {
        /// The job's id.
        id: String,
    },
}
