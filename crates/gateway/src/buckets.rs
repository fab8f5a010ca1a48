//! Buckets: create, head, delete, list, location, and the default
//! encryption rule.

use coffer_sse::ObjectApi;
use s3s::dto::{
    Bucket, CreateBucketInput, CreateBucketOutput, DeleteBucketEncryptionInput,
    DeleteBucketEncryptionOutput, DeleteBucketInput, DeleteBucketOutput, GetBucketEncryptionInput,
    GetBucketEncryptionOutput, GetBucketLocationInput, GetBucketLocationOutput, HeadBucketInput,
    HeadBucketOutput, ListBucketsInput, ListBucketsOutput, PutBucketEncryptionInput,
    PutBucketEncryptionOutput,
};
use s3s::{S3Request, S3Response, S3Result};

use crate::errors::to_s3;
use crate::{Gateway, blocking, sse};

impl<A: ObjectApi + 'static> Gateway<A> {
    pub(crate) async fn create_bucket_op(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let caller = self.caller_of(&req)?;
        let this = self.clone();
        let bucket = req.input.bucket;
        let location = format!("/{bucket}");
        blocking(move || this.api().create_bucket_as(&bucket, &caller).map_err(to_s3)).await?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(location),
        }))
    }

    pub(crate) async fn delete_bucket_op(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let caller = self.caller_of(&req)?;
        let this = self.clone();
        let bucket = req.input.bucket;
        blocking(move || this.api().delete_bucket_as(&bucket, &caller).map_err(to_s3)).await?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    pub(crate) async fn head_bucket_op(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let caller = self.caller_of(&req)?;
        let this = self.clone();
        let bucket = req.input.bucket;
        blocking(move || this.api().head_bucket_as(&bucket, &caller).map_err(to_s3)).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.inner.region.clone()),
            ..Default::default()
        }))
    }

    pub(crate) async fn list_buckets_op(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let caller = self.caller_of(&req)?;
        let this = self.clone();
        let owner = crate::listing::owner(&req);
        let prefix = req.input.prefix.unwrap_or_default();
        let buckets = blocking(move || this.api().list_buckets_as(&caller).map_err(to_s3)).await?;
        let buckets = buckets
            .into_iter()
            .filter(|bucket| bucket.name.starts_with(&prefix))
            .map(|bucket| Bucket {
                bucket_region: Some(self.inner.region.clone()),
                creation_date: Some(crate::whole_seconds(bucket.created_at)),
                name: Some(bucket.name),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner),
            ..Default::default()
        }))
    }

    pub(crate) async fn get_bucket_location_op(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let caller = self.caller_of(&req)?;
        let this = self.clone();
        let bucket = req.input.bucket;
        blocking(move || this.api().head_bucket_as(&bucket, &caller).map_err(to_s3)).await?;
        // us-east-1 is reported as no constraint, as S3 does.
        let region = &self.inner.region;
        let constraint = (region != "us-east-1").then(|| region.clone().into());
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: constraint,
        }))
    }

    pub(crate) async fn put_bucket_encryption_op(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let caller = self.caller_of(&req)?;
        let rule = sse::bucket_rule(&req.input.server_side_encryption_configuration)?;
        let this = self.clone();
        let bucket = req.input.bucket;
        blocking(move || {
            this.api()
                .put_bucket_encryption_as(&bucket, rule, &caller)
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    pub(crate) async fn get_bucket_encryption_op(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let caller = self.caller_of(&req)?;
        let this = self.clone();
        let bucket = req.input.bucket;
        let rule = blocking(move || {
            this.api()
                .get_bucket_encryption_as(&bucket, &caller)
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(sse::bucket_configuration(&rule)),
        }))
    }

    pub(crate) async fn delete_bucket_encryption_op(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        let caller = self.caller_of(&req)?;
        let this = self.clone();
        let bucket = req.input.bucket;
        blocking(move || {
            this.api()
                .delete_bucket_encryption_as(&bucket, &caller)
                .map_err(to_s3)
        })
        .await?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
    }
}
