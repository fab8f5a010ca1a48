//! The object operations: the object API's implementation and its
//! authorization, buckets, commits, the keys of each write and read, one file per verb (put,
//! get and head, list, delete, copy), staged writes (a put's payload written
//! before its record), the reader, the stream and multipart uploads.

pub(crate) mod api;
pub(crate) mod authorize;
pub(crate) mod buckets;
pub(crate) mod commit;
pub(crate) mod copy;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod multipart;
pub(crate) mod put;
pub(crate) mod reader;
pub(crate) mod staged_put;
pub(crate) mod stream;
