//! What a store is created with and keeps: its region and account (in every
//! resource name policies match) and the version of its object records. Kept
//! in the sealed key record `store/settings`, written together with the root
//! key's check record, so it can be neither edited nor removed unnoticed.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The sealed key record that holds the settings.
pub(crate) const SETTINGS_RECORD: &str = "store/settings";
/// The region a store is created in unless told otherwise.
pub const DEFAULT_REGION: &str = "local";
/// The account a store belongs to unless told otherwise.
pub const DEFAULT_ACCOUNT: &str = "0";
/// The object record version this build writes.
pub(crate) const OBJECT_RECORDS: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoreSettings {
    pub(crate) region: String,
    pub(crate) account: String,
    /// 1 until a store written before authenticated records is migrated.
    pub(crate) object_records: u8,
}

impl StoreSettings {
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("settings serialize")
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::CorruptRecord(format!("store settings: {e}")))
    }

    /// Checks that the options asked for (if any) are what the store has.
    pub(crate) fn check(&self, region: Option<&str>, account: Option<&str>) -> Result<()> {
        for (what, asked, kept) in [
            ("region", region, &self.region),
            ("account", account, &self.account),
        ] {
            if let Some(asked) = asked
                && asked != kept
            {
                return Err(Error::InvalidArgument(format!(
                    "the store was created with {what} {kept:?}, not {asked:?}; a store's {what} cannot change"
                )));
            }
        }
        Ok(())
    }
}

/// Checks a region or account for use in resource names (`acs:oss:<region>:<account>:…`).
pub(crate) fn validate_name_part(what: &str, value: &str) -> Result<()> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} {value:?} must be 1 to 64 letters, digits, '-' or '_'"
        )))
    }
}
