//! On-disk encodings and layout: the column families and their keys, the
//! records (and the cache of recently verified ones), the store settings
//! (bucket key records are the core's, `coffer_sse::keys`). Any change here is a format change: it bumps a
//! version in the settings and is described byte by byte in `docs/format.md`.

pub(crate) mod columns;
pub(crate) mod record;
pub(crate) mod settings;
