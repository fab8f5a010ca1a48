//! Delete, and copy: the source read a window at a time and sealed again
//! under a fresh data key and the copy's rule, so the copy is bound to its
//! own path (a copy over itself, which re-encrypts, replaces only what it
//! read).

use coffer_keyring::Caller;
use coffer_sse::keys::ResolvedRule;
use coffer_sse::{
    CopyOptions, GetConditions, PutCondition, PutOptions, PutPayload, PutResult, Result,
};

use crate::RemoteStore;
use crate::backend::object_path;
use crate::buckets::BucketRecord;
use crate::read::Opened;
use crate::reader::{RemoteReader, stream_first};

impl RemoteStore {
    pub(crate) fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        self.bucket_or_missing(bucket)?;
        self.inner.backend.delete(&object_path(bucket, key)?)
    }

    pub(crate) fn copy_resolved(
        &self,
        (source_bucket, source_key): (&str, &str),
        bucket: &BucketRecord,
        key: &str,
        options: CopyOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<PutResult> {
        let conditions = GetConditions::new();
        let first = stream_first(None, &conditions);
        let opened = Opened::open(self, source_bucket, source_key, first, &conditions, caller)?;
        let meta = opened.object.meta.clone();
        let (attributes, user_metadata) = options
            .replace_metadata
            .unwrap_or((meta.attributes.clone(), meta.user_metadata.clone()));
        let condition = match options.condition {
            PutCondition::None if (source_bucket, source_key) == (bucket.name.as_str(), key) => {
                PutCondition::IfMatch(meta.etag.clone())
            }
            condition => condition,
        };
        let mut put = PutOptions::default()
            .with_encryption(options.encryption)
            .with_attributes(attributes)
            .with_condition(condition);
        put.user_metadata = user_metadata;
        let source = RemoteReader::new(opened);
        self.put_resolved(
            bucket,
            key,
            PutPayload::Reader(Box::new(source)),
            put,
            rule,
            caller,
        )
    }
}
