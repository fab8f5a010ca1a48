//! The object operations: the object API's implementation and its
//! authorization, the keys of each write and read, put/get/head/list/delete/copy, staged writes (a put's
//! payload written before its record), the reader, the stream and multipart
//! uploads.

pub(crate) mod api;
pub(crate) mod authorize;
pub(crate) mod keys;
pub(crate) mod multipart;
pub(crate) mod operations;
pub(crate) mod reader;
pub(crate) mod staged_put;
pub(crate) mod stream;
