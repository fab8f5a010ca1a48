//! The object API: the operations every engine implements and every face
//! (sessions, the `object_store` adapter, the CLI) calls.
//!
//! Shaped as `object_store` shapes its own trait: a small set of required
//! operations, each taking an options struct, with the convenience forms on
//! top ([`ObjectApi::get_object_range_as`] here; the whole caller-bound
//! surface on [`crate::Session`]). The caller is explicit in every operation,
//! as the KMS layer takes it: [`Caller::Trusted`] for a service that does its
//! own authorization, or a principal, whose `oss:*` actions the engine checks
//! (through [`crate::access`]) and whose `kms:*` actions the KMS checks. A
//! denied operation reads and changes nothing.
//!
//! The API is blocking; the `object_store` face is the async one. Not yet a
//! stable contract for implementations outside this workspace.

use std::io::{Read, Seek};
use std::ops::Range;

use bytes::Bytes;
use coffer_keyring::Caller;

use crate::{
    BucketInfo, ByteRange, CompletedPart, CopyOptions, EncryptionRule, GetConditions, GetOptions,
    ListOptions, ListResult, MultipartUpload, Object, ObjectMeta, PutCondition, PutOptions,
    PutResult, Result, UploadedPart,
};

/// The body of a put or of a part: bytes in memory, or a stream of any size
/// read to its end with bounded memory (the object becomes visible only when
/// the stream is complete; an error leaves nothing).
pub enum PutPayload<'a> {
    /// A body in memory.
    Bytes(Bytes),
    /// A stream, read until it ends.
    Reader(Box<dyn Read + 'a>),
}

impl From<Bytes> for PutPayload<'_> {
    fn from(body: Bytes) -> Self {
        Self::Bytes(body)
    }
}

impl std::fmt::Debug for PutPayload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(body) => write!(f, "PutPayload::Bytes({} bytes)", body.len()),
            Self::Reader(_) => f.write_str("PutPayload::Reader"),
        }
    }
}

/// Buffers read in order as one `Read`: a plaintext stream's pieces, a
/// payload's chunks, each taken when the last is used up. An error in the
/// sequence ends the read with it.
pub struct ChunksReader<I> {
    chunks: I,
    current: Bytes,
}

impl<I> ChunksReader<I> {
    /// Reads `chunks` one after another.
    pub fn new(chunks: I) -> Self {
        Self {
            chunks,
            current: Bytes::new(),
        }
    }
}

impl<I: Iterator<Item = Result<Bytes>>> Read for ChunksReader<I> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.next() {
                Some(next) => self.current = next?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// An object opened for reading as `Read + Seek`, with bounded memory
/// whatever its size; every byte it yields is authenticated first.
pub trait ObjectRead: Read + Seek + Send {
    /// The object's metadata and protection.
    fn meta(&self) -> &ObjectMeta;

    /// Reads `range` of the plaintext, opening only the chunks that cover it
    /// ([`crate::Error::InvalidRange`] if it is not inside the object).
    fn read_range(&mut self, range: Range<u64>) -> Result<Vec<u8>>;
}

/// An object's plaintext as a sequence of buffers (one stored segment at a
/// time): what an async caller streams without holding the object whole.
/// Its metadata is known, its key unwrapped and its conditions checked
/// before the first buffer; a damaged buffer ends it with an integrity
/// error, and no unauthenticated byte is yielded.
pub trait PlaintextStream: Iterator<Item = Result<Bytes>> + Send + Sized {
    /// The object's metadata and protection.
    fn meta(&self) -> &ObjectMeta;

    /// The plaintext range this stream yields.
    fn range(&self) -> Range<u64>;

    /// Yields only `range` ([`crate::Error::InvalidRange`] if it is not
    /// inside the object; [`crate::Error::InvalidArgument`] once the stream
    /// has yielded).
    fn with_range(self, range: Range<u64>) -> Result<Self>;

    /// Yields only `range` resolved against the object's size (all of it
    /// for `None`), as [`PlaintextStream::with_range`].
    fn narrowed(self, range: Option<&ByteRange>) -> Result<Self> {
        match range {
            Some(range) => {
                let wanted = range.resolve(self.meta().size)?;
                self.with_range(wanted)
            }
            None => Ok(self),
        }
    }
}

/// The operations on buckets and objects, for `caller`. Every engine
/// implements them with the same semantics, which the conformance suite
/// (feature `conformance`) checks: the object's own rule wins over the
/// bucket default, every write gets a fresh data key, every read reports the
/// protection applied, and a tampered or misplaced payload is
/// [`crate::Error::Integrity`], never other bytes.
///
/// For a principal, each operation is checked before anything is read or
/// changed: the `oss:*` action named in its documentation on the bucket or
/// object's resource ([`crate::access`]), and the KMS's `kms:*` actions on
/// the CMK it uses. A denial is [`crate::Error::AccessDenied`] and is
/// recorded where the engine keeps an audit log.
pub trait ObjectApi: Send + Sync {
    /// An object opened for reading.
    type Reader: ObjectRead;
    /// An object streamed a buffer at a time.
    type Stream: PlaintextStream;

    /// Creates an empty bucket (`oss:PutBucket`;
    /// [`crate::Error::BucketAlreadyExists`], [`crate::Error::InvalidArgument`]
    /// for a bad name).
    fn create_bucket_as(&self, name: &str, caller: &Caller) -> Result<()>;

    /// Deletes an empty bucket (`oss:DeleteBucket`;
    /// [`crate::Error::BucketNotEmpty`], [`crate::Error::NoSuchBucket`]).
    fn delete_bucket_as(&self, name: &str, caller: &Caller) -> Result<()>;

    /// A bucket's description (`oss:GetBucketInfo`).
    fn head_bucket_as(&self, name: &str, caller: &Caller) -> Result<BucketInfo>;

    /// Every bucket, in name order (`oss:ListBuckets` on `acs:oss:*:<account>:*`).
    fn list_buckets_as(&self, caller: &Caller) -> Result<Vec<BucketInfo>>;

    /// Sets a bucket's default encryption rule (`oss:PutBucketEncryption`; a
    /// named CMK must exist and be enabled, checked with the caller's
    /// `kms:DescribeKey`). Objects already stored are untouched.
    fn put_bucket_encryption_as(
        &self,
        bucket: &str,
        rule: EncryptionRule,
        caller: &Caller,
    ) -> Result<()>;

    /// A bucket's default rule (`oss:GetBucketEncryption`;
    /// [`crate::Error::NoSuchEncryptionRule`] if it has none).
    fn get_bucket_encryption_as(&self, bucket: &str, caller: &Caller) -> Result<EncryptionRule>;

    /// Removes a bucket's default rule (`oss:DeleteBucketEncryption`).
    fn delete_bucket_encryption_as(&self, bucket: &str, caller: &Caller) -> Result<()>;

    /// Stores `payload` under bucket/key with a fresh data key under the
    /// put's own rule, else the bucket default (`oss:PutObject`, with the
    /// encryption condition keys; `kms:GenerateDataKey` for a KMS rule).
    /// `options.condition` makes it conditional.
    fn put_object_as(
        &self,
        bucket: &str,
        key: &str,
        payload: PutPayload<'_>,
        options: PutOptions,
        caller: &Caller,
    ) -> Result<PutResult>;

    /// Reads an object, or `options.range` of it, if `options.conditions`
    /// hold (`oss:GetObject`; `kms:Decrypt` on a KMS object's CMK).
    fn get_object_as(
        &self,
        bucket: &str,
        key: &str,
        options: &GetOptions,
        caller: &Caller,
    ) -> Result<Object>;

    /// Opens an object as `Read + Seek` (checked as a get).
    fn open_object_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Self::Reader>;

    /// Opens an object as a stream of plaintext buffers (checked as a get).
    fn get_object_stream_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Self::Stream>;

    /// Opens `range` of an object (all of it for `None`) as a stream,
    /// checked as a get: `range` is resolved against the object's size once
    /// the conditions have held. Provided: [`ObjectApi::get_object_stream_as`]
    /// narrowed with [`PlaintextStream::with_range`]; an engine that fetches
    /// over a network overrides it so that its first request fits the range.
    fn get_object_stream_range_as(
        &self,
        bucket: &str,
        key: &str,
        range: Option<&ByteRange>,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Self::Stream> {
        self.get_object_stream_as(bucket, key, conditions, caller)?
            .narrowed(range)
    }

    /// An object's metadata and protection, decrypting nothing
    /// (`oss:GetObject`).
    fn head_object_as(
        &self,
        bucket: &str,
        key: &str,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<ObjectMeta>;

    /// Deletes an object; succeeds if there is none (`oss:DeleteObject`).
    fn delete_object_as(&self, bucket: &str, key: &str, caller: &Caller) -> Result<()>;

    /// Lists a bucket's objects in key order (`oss:ListObjects`).
    fn list_objects_as(
        &self,
        bucket: &str,
        options: &ListOptions,
        caller: &Caller,
    ) -> Result<ListResult>;

    /// Copies an object, re-encrypting it with a fresh data key under the
    /// copy's rule (`oss:GetObject` on the source, `oss:PutObject` on the
    /// destination). A copy over itself with a new rule is how existing
    /// objects are re-encrypted; it commits only if the object is unchanged.
    fn copy_object_as(
        &self,
        source: (&str, &str),
        destination: (&str, &str),
        options: CopyOptions,
        caller: &Caller,
    ) -> Result<PutResult>;

    /// Starts a multipart upload into bucket/key under the rule a put would
    /// apply (checked as a put); its id.
    fn create_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
        caller: &Caller,
    ) -> Result<String>;

    /// Uploads part `part_number` of an upload, sealed as it arrives
    /// (`oss:PutObject`; `kms:Decrypt` on a KMS upload's CMK).
    fn upload_part_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        payload: PutPayload<'_>,
        caller: &Caller,
    ) -> Result<UploadedPart>;

    /// Completes an upload from `parts` in order (`oss:PutObject`); the
    /// object appears whole or not at all.
    fn complete_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        condition: &PutCondition,
        caller: &Caller,
    ) -> Result<PutResult>;

    /// Abandons an upload and its parts (`oss:AbortMultipartUpload`).
    fn abort_multipart_upload_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        caller: &Caller,
    ) -> Result<()>;

    /// A bucket's uploads in progress (`oss:ListMultipartUploads`).
    fn list_multipart_uploads_as(
        &self,
        bucket: &str,
        caller: &Caller,
    ) -> Result<Vec<MultipartUpload>>;

    /// The parts uploaded so far to an upload, by part number, each with the
    /// ETag and size its upload returned (`oss:ListParts` on the object;
    /// [`crate::Error::NoSuchUpload`]).
    fn list_parts_as(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        caller: &Caller,
    ) -> Result<Vec<UploadedPart>>;

    /// Reads `range` of an object if `conditions` hold (provided:
    /// [`ObjectApi::get_object_as`] with both set).
    fn get_object_range_as(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        conditions: &GetConditions,
        caller: &Caller,
    ) -> Result<Object> {
        let options = GetOptions::new()
            .with_range(range)
            .with_conditions(conditions.clone());
        self.get_object_as(bucket, key, &options, caller)
    }
}
