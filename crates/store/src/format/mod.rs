//! On-disk encodings and layout: the column families and their keys, the
//! records, the store settings. Any change here is a format change: it bumps a
//! version in the settings and is described byte by byte in `docs/format.md`.

pub(crate) mod columns;
pub(crate) mod record;
pub(crate) mod settings;
