//! Multipart uploads as the object API names them: the parts a caller uploads
//! and names again to complete, and the uploads in progress.

use std::time::SystemTime;

/// Part numbers run from 1 to this, as in S3 and OSS.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// A multipart upload in progress, as `list_multipart_uploads` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    /// The upload's id (32 hex digits).
    pub upload_id: String,
    /// The object key it will complete into.
    pub key: String,
    /// When it was created.
    pub initiated: SystemTime,
}

/// A part as uploaded: what to list when completing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// Its number, 1 to [`MAX_PART_NUMBER`].
    pub part_number: u32,
    /// Its ETag, to name it when completing.
    pub etag: String,
    /// Its plaintext size.
    pub size: u64,
}

/// A part named when completing an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// Its number.
    pub part_number: u32,
    /// The ETag its upload returned.
    pub etag: String,
}

impl CompletedPart {
    /// Part `part_number` with `etag`.
    pub fn new(part_number: u32, etag: &str) -> Self {
        Self {
            part_number,
            etag: etag.to_owned(),
        }
    }
}

impl From<&UploadedPart> for CompletedPart {
    fn from(part: &UploadedPart) -> Self {
        Self::new(part.part_number, &part.etag)
    }
}
