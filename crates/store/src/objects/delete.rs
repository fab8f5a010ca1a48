//! Delete an object.

use crate::PutCondition;
use crate::{Result, Store};
use coffer_sse::validate_key;

impl Store {
    /// Deletes an object (succeeds if it does not exist).
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let bucket = self.bucket_record(bucket)?;
        validate_key(key)?;
        self.commit(&bucket, key, None, &PutCondition::None, |_, _| Ok(()))?;
        Ok(())
    }
}
