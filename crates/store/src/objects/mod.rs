//! The object operations: the object API's implementation and its
//! authorization, put/get/head/list/delete/copy, the reader, the stream and
//! multipart uploads.

pub(crate) mod api;
pub(crate) mod authorize;
pub(crate) mod multipart;
pub(crate) mod operations;
pub(crate) mod reader;
pub(crate) mod stream;
