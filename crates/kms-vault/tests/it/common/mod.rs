//! The OpenBao dev server fixture, from the crate's `dev-server` feature.
#![allow(unused_imports)]

pub(crate) use coffer_kms_vault::dev_server::*;
