//! Copy an object: under the same protection, or re-encrypted under another
//! rule (the payload is read and sealed again, a segment at a time).

use bytes::{Bytes, BytesMut};
use coffer_keyring::Caller;

use crate::ObjectApi;
use crate::format::columns::SEGMENT_PLAINTEXT;
use crate::format::record::BucketRecord;
use crate::objects::put::SegmentFeed;
use crate::objects::staged_put::{SegmentLog, StagedPut};
use crate::store::TRUSTED;
use crate::{CopyOptions, GetConditions, PutCondition, PutOptions, PutResult};
use crate::{Result, Store};
use coffer_sse::keys::ResolvedRule;

impl Store {
    /// Copies an object, re-encrypting it with a fresh data key under the copy's
    /// rule. Copying an object over itself with a new rule is how existing
    /// objects get encrypted or re-encrypted; such a copy commits only if the
    /// object still has the ETag it was read with (unless `options` set
    /// another condition), so a write that lands meanwhile is never reverted
    /// ([`Error::PreconditionFailed`](crate::Error::PreconditionFailed): read it again and retry).
    pub fn copy_object(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        options: CopyOptions,
    ) -> Result<PutResult> {
        ObjectApi::copy_object_as(self, source, destination, options, &TRUSTED)
    }

    /// Copies under a destination rule resolved already.
    pub(crate) fn copy_object_resolved(
        &self,
        source: (&str, &str),
        bucket: &BucketRecord,
        key: &str,
        options: CopyOptions,
        rule: &ResolvedRule,
        caller: &Caller,
    ) -> Result<PutResult> {
        let staged = self.stage_copy(
            source,
            bucket,
            key,
            options,
            rule,
            caller,
            SegmentLog::Bounded,
        )?;
        self.flush_and_commit(staged)
    }

    /// Writes a copy's payload, not yet its record (see [`StagedPut`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_copy(
        &self,
        (source_bucket, source_key): (&str, &str),
        bucket: &BucketRecord,
        key: &str,
        options: CopyOptions,
        rule: &ResolvedRule,
        caller: &Caller,
        log: SegmentLog,
    ) -> Result<StagedPut> {
        // A segment at a time, each opened where RocksDB put it and handed
        // on without another copy.
        let stream = self.stream_for(source_bucket, source_key, &GetConditions::new(), caller)?;
        let meta = stream.meta().clone();
        let (attributes, user_metadata) = options
            .replace_metadata
            .unwrap_or((meta.attributes.clone(), meta.user_metadata.clone()));
        // A copy over itself (a re-encryption) replaces only what it read: a
        // write landing meanwhile is never reverted to the older content.
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
        let feed = StreamFeed {
            stream,
            pending: BytesMut::new(),
        };
        self.stage_streamed(bucket, key, feed, put, rule, caller, log)
    }
}

/// An object's plaintext stream cut into whole segments: a buffer the stream
/// yields as a whole segment is passed on as it is, others (a multipart
/// object's parts need not end on segment boundaries) are gathered.
struct StreamFeed {
    stream: crate::ObjectStream,
    pending: BytesMut,
}

impl SegmentFeed for StreamFeed {
    fn next_segment(&mut self) -> Result<Bytes> {
        loop {
            if self.pending.len() >= SEGMENT_PLAINTEXT {
                return Ok(self.pending.split_to(SEGMENT_PLAINTEXT).freeze());
            }
            match self.stream.next() {
                None => return Ok(std::mem::take(&mut self.pending).freeze()),
                Some(piece) => {
                    let piece = piece?;
                    if self.pending.is_empty() && piece.len() == SEGMENT_PLAINTEXT {
                        return Ok(piece);
                    }
                    self.pending.extend_from_slice(&piece);
                }
            }
        }
    }
}
