//! On-disk encodings and layout: the column families and their keys, the
//! records (and the cache of recently verified ones), bucket key records, the
//! store settings. Any change here is a format change: it bumps a
//! version in the settings and is described byte by byte in `docs/format.md`.

pub(crate) mod bucket_key;
pub(crate) mod columns;
pub(crate) mod recent;
pub(crate) mod record;
pub(crate) mod settings;
