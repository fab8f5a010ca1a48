//! What a store is created with and keeps: its region and account (in every
//! resource name policies match), the KMS backend its CMKs live in, and the
//! versions of its record formats. Kept in the sealed key record
//! `store/settings`, written together with the root key's check record, so it
//! can be neither edited nor removed unnoticed.

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
/// The job record version this build writes (2: authenticated).
pub(crate) const JOB_RECORDS: u8 = 2;
/// The audit log version this build writes (2: sealed and chained).
pub(crate) const AUDIT_LOG: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoreSettings {
    pub(crate) region: String,
    pub(crate) account: String,
    /// 1 until a store written before authenticated records is migrated.
    pub(crate) object_records: u8,
    /// 1 until the plain JSON job records of an earlier version are sealed.
    #[serde(default = "version_1")]
    pub(crate) job_records: u8,
    /// 1 until the events of an earlier version's audit log are anchored as
    /// unsealed, with sealed events after them.
    #[serde(default = "version_1")]
    pub(crate) audit_log: u8,
    /// The backend the store's CMKs live in; `None` in a store written
    /// before it was recorded, until it is opened once by this version.
    #[serde(default)]
    pub(crate) kms: Option<KmsBinding>,
}

fn version_1() -> u8 {
    1
}

/// Which KMS a store's CMKs live in: the backend (`local`, `transit`,
/// `aws-kms`) and where in it (the Transit mount, the AWS region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KmsBinding {
    pub(crate) backend: String,
    #[serde(default)]
    pub(crate) location: Option<String>,
}

impl std::fmt::Display for KmsBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(location) => write!(f, "the {} KMS at {location}", self.backend),
            None => write!(f, "the {} KMS", self.backend),
        }
    }
}

impl StoreSettings {
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("settings serialize")
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::CorruptRecord(format!("store settings: {e}")))
    }

    /// Whether anything is older than this build writes (a migration is due).
    pub(crate) fn outdated(&self) -> bool {
        self.object_records < OBJECT_RECORDS
            || self.job_records < JOB_RECORDS
            || self.audit_log < AUDIT_LOG
            || self.kms.is_none()
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

    /// [`Error::KmsMismatch`] unless `opened` is the backend the store's
    /// CMKs live in (a store that has not recorded one yet takes any).
    pub(crate) fn check_kms(&self, opened: &KmsBinding) -> Result<()> {
        match &self.kms {
            Some(kept) if kept != opened => Err(Error::KmsMismatch {
                store: kept.to_string(),
                opened: opened.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// Checks a region or account for use in resource names (`acs:oss:<region>:<account>:…`).
pub(crate) fn validate_name_part(what: &str, value: &str) -> Result<()> {
    coffer_sse::validate_name_part(what, value)
}
