//! Resource names and the policy check on a key, with the store's managed
//! default key exempt from the data-key checks.

use super::LocalKms;
use crate::{Caller, Result};

/// The actions the managed default key does not check: the store uses the key
/// on every caller's behalf, as OSS does with its `alias/acs/oss` key. Every
/// other action is checked as on any key, and the managed key can never be
/// disabled or deleted (`set_state` refuses it with `ManagedKey`).
const MANAGED_KEY_UNCHECKED: [&str; 3] = ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"];

impl LocalKms {
    /// The resource name of a key, as policies match it.
    pub fn resource_name(&self, key_id: &str) -> String {
        format!(
            "acs:kms:{}:{}:key/{key_id}",
            self.options.region, self.options.account
        )
    }

    /// The resource of account-wide actions (`kms:CreateKey`, `kms:ListKeys`,
    /// `kms:ListAliases`).
    pub(super) fn account_resource(&self) -> String {
        format!(
            "acs:kms:{}:{}:key",
            self.options.region, self.options.account
        )
    }

    /// Checks `action` on the key, except the data-key actions on the managed
    /// default key ([`MANAGED_KEY_UNCHECKED`]).
    pub(super) fn authorize_on_key(&self, caller: &Caller, action: &str, id: &str) -> Result<()> {
        let managed = self
            .keys
            .read()
            .entries
            .get(id)
            .is_some_and(|e| e.record.managed);
        if managed && MANAGED_KEY_UNCHECKED.contains(&action) {
            return Ok(());
        }
        caller.authorize(action, &self.resource_name(id))
    }
}
