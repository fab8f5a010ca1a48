//! OSS's bucket encryption rule, `PUT/GET /<bucket>?encryption`, in OSS's
//! own XML:
//!
//! ```xml
//! <ServerSideEncryptionRule>
//!   <ApplyServerSideEncryptionByDefault>
//!     <SSEAlgorithm>KMS</SSEAlgorithm>           <!-- or AES256 -->
//!     <KMSMasterKeyID>key id</KMSMasterKeyID>    <!-- KMS only; empty or absent: the default managed CMK -->
//!   </ApplyServerSideEncryptionByDefault>
//! </ServerSideEncryptionRule>
//! ```
//!
//! `KMSDataEncryption` (SM4 data) is refused; GET answers with the CMK the
//! rule names, `NoSuchServerSideEncryptionRule` (404) when there is none.

use coffer_sse::{EncryptionRule, ObjectApi};
use hyper::{Request, Response};
use s3s::{Body, S3Error, S3ErrorCode, S3Result};
use serde::{Deserialize, Serialize};

use super::{VerifiedOss, bucket_of};
use crate::errors::to_s3;
use crate::{Gateway, blocking};

/// The largest rule document read.
const MAX_RULE_XML: usize = 64 << 10;

#[derive(Deserialize, Serialize)]
#[serde(rename = "ServerSideEncryptionRule")]
struct RuleXml {
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    default: DefaultXml,
}

#[derive(Deserialize, Serialize)]
struct DefaultXml {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(
        rename = "KMSMasterKeyID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    key_id: Option<String>,
    #[serde(
        rename = "KMSDataEncryption",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    data_encryption: Option<String>,
}

fn malformed(what: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        format!("ServerSideEncryptionRule: {what}"),
    )
}

/// PutBucketEncryption with OSS's XML.
pub(super) async fn put<A: ObjectApi + 'static>(
    gateway: &Gateway<A>,
    path: &str,
    request: Request<Body>,
    verified: VerifiedOss,
) -> S3Result<Response<Body>> {
    let caller = gateway.inner.keys.caller(&verified.access_key)?;
    let bucket = bucket_of(path);
    let mut body = request.into_body();
    let xml = body
        .store_all_limited(MAX_RULE_XML)
        .await
        .map_err(|e| malformed(format!("the body could not be read: {e}")))?;
    let text = std::str::from_utf8(&xml).map_err(|_| malformed("not UTF-8"))?;
    let parsed: RuleXml = quick_xml::de::from_str(text).map_err(malformed)?;
    if parsed
        .default
        .data_encryption
        .as_deref()
        .is_some_and(|d| !d.is_empty())
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "KMSDataEncryption (SM4) is not supported",
        ));
    }
    let key_id = parsed.default.key_id.as_deref().filter(|k| !k.is_empty());
    let rule = match parsed.default.algorithm.as_str() {
        "AES256" | "KMS" => crate::sse::rule_of(&parsed.default.algorithm, key_id, false)?,
        other => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("SSEAlgorithm {other:?} is not supported (AES256 or KMS)"),
            ));
        }
    };
    let this = gateway.clone();
    blocking(move || {
        this.api()
            .put_bucket_encryption_as(&bucket, rule, &caller)
            .map_err(to_s3)
    })
    .await?;
    Ok(Response::new(Body::empty()))
}

/// GetBucketEncryption in OSS's XML.
pub(super) async fn get<A: ObjectApi + 'static>(
    gateway: &Gateway<A>,
    path: &str,
    verified: VerifiedOss,
) -> S3Result<Response<Body>> {
    let caller = gateway.inner.keys.caller(&verified.access_key)?;
    let bucket = bucket_of(path);
    let this = gateway.clone();
    let rule = blocking(move || {
        this.api()
            .get_bucket_encryption_as(&bucket, &caller)
            .map_err(to_s3)
    })
    .await?;
    let (algorithm, key_id) = match rule {
        EncryptionRule::Managed { .. } => ("AES256", None),
        EncryptionRule::Kms { key_id, .. } => ("KMS", Some(key_id.unwrap_or_default())),
    };
    let document = RuleXml {
        default: DefaultXml {
            algorithm: algorithm.to_owned(),
            key_id,
            data_encryption: None,
        },
    };
    let xml = quick_xml::se::to_string(&document)
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
    let mut response = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}"
    )));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_rule_documents_parse() {
        let kms = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
            <SSEAlgorithm>KMS</SSEAlgorithm><KMSMasterKeyID>9468da86-3509-4f8d-a61e-6eab1eac****</KMSMasterKeyID>\
            </ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
        let parsed: RuleXml = quick_xml::de::from_str(kms).expect("parses");
        assert_eq!(parsed.default.algorithm, "KMS");
        assert_eq!(
            parsed.default.key_id.as_deref(),
            Some("9468da86-3509-4f8d-a61e-6eab1eac****")
        );
        let aes = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
            <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
        let parsed: RuleXml = quick_xml::de::from_str(aes).expect("parses");
        assert_eq!(parsed.default.key_id, None);
        for bad in ["<ServerSideEncryptionRule>", "<Other/>", "not xml"] {
            assert!(quick_xml::de::from_str::<RuleXml>(bad).is_err(), "{bad}");
        }
    }
}
