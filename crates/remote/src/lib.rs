//! coffer's encrypted buckets over any `object_store::ObjectStore`: S3 and
//! the stores that speak it (SeaweedFS, Ceph, MinIO), GCS, Azure, a local
//! directory. The same semantics as the embedded store, on the same core
//! (`coffer-sse`): bucket default rules, a put's own rule, a fresh data key
//! per object wrapped by the master keyring or a KMS CMK, bucket keys,
//! protection reported on every read, policies checked for principals.
//! No RocksDB.
//!
//! - [`RemoteStore`]: opens (or creates) the store in an object store; it
//!   implements [`coffer_sse::ObjectApi`], so sessions, the conformance
//!   suite and the `object_store` face (`coffer-object-store`) work over it.
//! - [`RemoteOptions`]: the root key, the KMS, the part size, the backend's
//!   own multipart uploads (parts of [`DIRECT_PART_LEN`] and more then go
//!   straight into them).
//! - [`RemoteReader`], [`RemoteStream`]: an object read a window at a time.
//! - Keys after a rotation: [`RemoteStore::rewrap_prefix`] ([`RewrapReport`]),
//!   [`RemoteStore::reencrypt_prefix`] ([`ReencryptReport`]) and
//!   [`RemoteStore::key_usage`], which shows a rotation complete.
//! - [`MeteredStore`]: a layer over any object store counting its requests
//!   and bytes ([`Requests`]), to see what coffer's reads and writes cost.
//! - The layout (`docs/format.md`, "Remote objects"): one backend object per
//!   coffer object at `bucket/key`, its parts' sealed chunks followed by a
//!   trailer whose authenticated record is bound to the path; coffer's own
//!   records under `.coffer/`, changed with conditional puts so that
//!   processes sharing the store never lose each other's changes.

mod api;
mod authorize;
mod backend;
mod buckets;
mod copy;
mod direct;
mod generations;
pub mod layout;
mod list;
mod maintenance;
mod metered;
mod multipart;
mod object_record;
mod options;
mod parts;
mod put;
mod read;
mod reader;
mod shared_keys;
mod store;

pub use backend::RESERVED_PREFIX;
pub use direct::DIRECT_PART_LEN;
pub use maintenance::{ReencryptReport, RewrapReport};
pub use metered::{MeteredStore, Requests};
pub use options::{DEFAULT_MAX_CONDITIONAL_WRITE, DEFAULT_PART_SIZE, RemoteOptions};
pub use reader::{RemoteReader, RemoteStream};
pub use shared_keys::KeyringConflict;
pub use store::{DEFAULT_ACCOUNT, DEFAULT_REGION, RemoteStore};
