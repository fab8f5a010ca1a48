//! The OSS face: requests signed the OSS way (V1 `OSS id:signature`, or a
//! presigned URL), as Alibaba Cloud's SDKs (`oss2`, `ali-oss`, …) and
//! `ossutil` send them, answered by the same operations as S3's.
//!
//! [`GatewayService`] routes each request by its signature. An S3 request
//! goes to `s3s` with its signature checks; an OSS one has its signature
//! checked here ([`signature`]), its headers renamed to S3's (`x-oss-meta-*`
//! → `x-amz-meta-*`, `x-oss-server-side-encryption: KMS` →
//! `x-amz-server-side-encryption: aws:kms`, `x-oss-forbid-overwrite: true` →
//! `If-None-Match: *`, …), and goes to an `s3s` service without signature
//! checks, carrying the verified access key in its extensions (which no
//! client can set). Responses are renamed back, and S3's XML namespace is
//! dropped (OSS's XML has none). The bucket encryption rule
//! (`PUT/GET /?encryption`) is OSS's own XML, `ServerSideEncryptionRule`,
//! handled here ([`rule`]).

mod rule;
mod signature;

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use coffer_sse::ObjectApi;
use futures_util::future::BoxFuture;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use s3s::service::S3Service;
use s3s::{Body, HttpError, S3Error, S3ErrorCode, S3Result};

use crate::Gateway;

/// The access key whose OSS signature was checked, in a request's
/// extensions.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedOss {
    pub(crate) access_key: String,
}

/// The gateway as hyper serves it: S3 and OSS requests, each checked the
/// way it is signed. Cheap to clone.
pub struct GatewayService<A> {
    gateway: Gateway<A>,
    hosts: VirtualHosts,
    s3: S3Service,
    oss: S3Service,
}

impl<A> Clone for GatewayService<A> {
    fn clone(&self) -> Self {
        Self {
            gateway: self.gateway.clone(),
            hosts: self.hosts.clone(),
            s3: self.s3.clone(),
            oss: self.oss.clone(),
        }
    }
}

impl<A: ObjectApi + 'static> GatewayService<A> {
    pub(crate) fn new(gateway: Gateway<A>) -> Self {
        Self::with_hosts(gateway, VirtualHosts::default())
    }

    /// The same service answering virtual-hosted requests too: a `Host` of
    /// `<bucket>.<domain>` for one of `domains` (`s3.example.com`,
    /// `oss-cn-hangzhou.aliyuncs.com` — where `ali-oss` sends requests for an
    /// endpoint given as an IP address) names the bucket; any other `Host`
    /// is path-style.
    pub fn with_virtual_hosts(self, domains: &[String]) -> Self {
        let hosts = VirtualHosts {
            domains: Arc::new(domains.iter().map(|d| d.to_ascii_lowercase()).collect()),
        };
        Self::with_hosts(self.gateway, hosts)
    }

    fn with_hosts(gateway: Gateway<A>, hosts: VirtualHosts) -> Self {
        let keys = gateway.inner.keys.clone();
        let mut s3 = s3s::service::S3ServiceBuilder::new(gateway.clone());
        s3.set_auth(keys);
        s3.set_host(hosts.clone());
        let mut oss = s3s::service::S3ServiceBuilder::new(gateway.clone());
        oss.set_host(hosts.clone());
        Self {
            gateway,
            hosts,
            s3: s3.build(),
            oss: oss.build(),
        }
    }

    /// Answers one request.
    pub async fn call(&self, request: Request<Body>) -> Result<Response<Body>, HttpError> {
        let query = query_pairs(request.uri().query());
        match signature::signed_as_oss(request.headers(), &query) {
            None => self.s3.call(request).await,
            Some(signed) => Ok(self
                .call_oss(request, query, signed)
                .await
                .unwrap_or_else(oss_error)),
        }
    }

    async fn call_oss(
        &self,
        request: Request<Body>,
        query: Vec<(String, String)>,
        signed: S3Result<signature::Signed>,
    ) -> S3Result<Response<Body>> {
        let signed = signed?;
        let (signature::Signed::Header { access_key, .. }
        | signature::Signed::Url { access_key, .. }
        | signature::Signed::V4 { access_key, .. }) = &signed;
        let access_key = access_key.clone();
        let secret = self.gateway.inner.keys.secret(&access_key)?;
        let host = request
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let path = match self.hosts.bucket_of(host) {
            Some(bucket) => format!("/{bucket}{}", request.uri().path()),
            None => request.uri().path().to_owned(),
        };
        let signable = signature::Signable {
            method: request.method().as_str(),
            path: &path,
            query: &query,
            headers: request.headers(),
        };
        signature::verify(&signed, secret.expose(), &signable, SystemTime::now())?;
        drop(secret);
        let verified = VerifiedOss { access_key };
        let is_rule = query.iter().any(|(k, _)| k == "encryption") && bucket_only(&path);
        if is_rule && request.method() == Method::PUT {
            return rule::put(&self.gateway, &path, request, verified).await;
        }
        if is_rule && request.method() == Method::GET {
            return rule::get(&self.gateway, &path, verified).await;
        }
        let request = to_s3_request(request, verified)?;
        let response = self
            .oss
            .call(request)
            .await
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, format!("{e:?}")))?;
        to_oss_response(response).await
    }
}

impl<A: ObjectApi + 'static> hyper::service::Service<Request<hyper::body::Incoming>>
    for GatewayService<A>
{
    type Response = Response<Body>;
    type Error = HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, request: Request<hyper::body::Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.call(request.map(Body::from)).await })
    }
}

/// The query's parameters, decoded, in order.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query.map(url_decoded_pairs).unwrap_or_default()
}

fn url_decoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

/// Whether `path` names a bucket only (`/bucket` or `/bucket/`).
fn bucket_only(path: &str) -> bool {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    !trimmed.is_empty() && !trimmed.contains('/')
}

/// The parameters a presigned OSS URL carries besides the request's own.
const SIGNATURE_PARAMETERS: [&str; 3] = ["OSSAccessKeyId", "Expires", "Signature"];

/// `request` as `s3s` reads it: S3's header names, no signature, the
/// verified key in its extensions.
fn to_s3_request(request: Request<Body>, verified: VerifiedOss) -> S3Result<Request<Body>> {
    let (mut parts, body) = request.into_parts();
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (header, value) in &parts.headers {
        let name = header.as_str();
        if name == "authorization" {
            continue;
        }
        let Some(rest) = name.strip_prefix("x-oss-") else {
            if !name.starts_with("x-amz-") {
                headers.append(header.clone(), value.clone());
            }
            continue;
        };
        let (renamed, value) = match rest {
            "server-side-encryption" => {
                let value = match value.as_bytes() {
                    b"KMS" => HeaderValue::from_static("aws:kms"),
                    _ => value.clone(),
                };
                ("x-amz-server-side-encryption".to_owned(), value)
            }
            "server-side-encryption-key-id" => (
                "x-amz-server-side-encryption-aws-kms-key-id".to_owned(),
                value.clone(),
            ),
            "server-side-data-encryption" => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "x-oss-server-side-data-encryption (SM4) is not supported",
                ));
            }
            "forbid-overwrite" => {
                if value.as_bytes().eq_ignore_ascii_case(b"true") {
                    ("if-none-match".to_owned(), HeaderValue::from_static("*"))
                } else {
                    continue;
                }
            }
            "copy-source"
            | "copy-source-range"
            | "metadata-directive"
            | "copy-source-if-match"
            | "copy-source-if-none-match"
            | "copy-source-if-modified-since"
            | "copy-source-if-unmodified-since" => (format!("x-amz-{rest}"), value.clone()),
            meta if meta.starts_with("meta-") => (format!("x-amz-{meta}"), value.clone()),
            _ => continue,
        };
        headers.append(
            HeaderName::from_bytes(renamed.as_bytes()).map_err(bad_header)?,
            value,
        );
    }
    parts.headers = headers;
    // The query as sent, less the presigned URL's signature parameters.
    let kept: Vec<&str> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            !pair.is_empty() && !SIGNATURE_PARAMETERS.contains(&name)
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        parts.uri.path().to_owned()
    } else {
        format!("{}?{}", parts.uri.path(), kept.join("&"))
    };
    parts.uri = path_and_query
        .parse()
        .map_err(|_| S3Error::with_message(S3ErrorCode::InvalidURI, "the request's URI"))?;
    parts.extensions.insert(verified);
    Ok(Request::from_parts(parts, body))
}

fn bad_header(_: hyper::header::InvalidHeaderName) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, "a header name is not valid")
}

/// The most of an XML response body renamed back (a listing of 1000 keys
/// is a few hundred KiB).
const MAX_XML_RESPONSE: usize = 16 << 20;

/// `response` as OSS answers: `x-oss-*` headers, `KMS` for `aws:kms`, no
/// XML namespace.
async fn to_oss_response(response: Response<Body>) -> S3Result<Response<Body>> {
    let (mut parts, mut body) = response.into_parts();
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (header, value) in &parts.headers {
        let name = header.as_str();
        let Some(rest) = name.strip_prefix("x-amz-") else {
            headers.append(header.clone(), value.clone());
            continue;
        };
        let (renamed, value) = match rest {
            "server-side-encryption" => {
                let value = match value.as_bytes() {
                    b"aws:kms" => HeaderValue::from_static("KMS"),
                    _ => value.clone(),
                };
                ("x-oss-server-side-encryption".to_owned(), value)
            }
            "server-side-encryption-aws-kms-key-id" => (
                "x-oss-server-side-encryption-key-id".to_owned(),
                value.clone(),
            ),
            "request-id" => ("x-oss-request-id".to_owned(), value.clone()),
            meta if meta.starts_with("meta-") => (format!("x-oss-{meta}"), value.clone()),
            _ => continue,
        };
        headers.append(
            HeaderName::from_bytes(renamed.as_bytes()).map_err(bad_header)?,
            value,
        );
    }
    parts.headers = headers;
    let is_xml = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/xml"));
    if is_xml {
        let xml = body
            .store_all_limited(MAX_XML_RESPONSE)
            .await
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        let xml = without_s3_namespace(&xml);
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        body = Body::from(xml);
    }
    Ok(Response::from_parts(parts, body))
}

/// S3's XML namespace attribute, which OSS's XML does not carry (and its
/// SDKs, finding elements by their plain names, would not see past).
const S3_NAMESPACE: &str = " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

/// `xml` as OSS writes it: without S3's namespace, and with each listed
/// object's `<Type>` (`Normal`: coffer has no appendable or symlinked
/// objects), which OSS's SDKs require.
fn without_s3_namespace(xml: &[u8]) -> Bytes {
    let text = String::from_utf8_lossy(xml);
    let text = text.replacen(S3_NAMESPACE, "", 1);
    Bytes::from(text.replace("<Contents>", "<Contents><Type>Normal</Type>"))
}

/// An error as OSS answers it: its XML, with OSS's names for the codes that
/// differ from S3's.
fn oss_error(error: S3Error) -> Response<Body> {
    let code = match error.code().as_str() {
        "ServerSideEncryptionConfigurationNotFoundError" => {
            Some(S3ErrorCode::Custom("NoSuchServerSideEncryptionRule".into()))
        }
        _ => None,
    };
    let status = error
        .status_code()
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let error = match code {
        Some(code) => {
            let mut renamed = S3Error::with_message(code, error.message().unwrap_or("").to_owned());
            renamed.set_status_code(status);
            renamed
        }
        None => error,
    };
    error.to_http_response().unwrap_or_else(|_| {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        response
    })
}

/// The base domains of virtual-hosted requests.
#[derive(Debug, Clone, Default)]
struct VirtualHosts {
    domains: Arc<Vec<String>>,
}

impl VirtualHosts {
    /// The bucket a `Host` header names, if it is `<bucket>.<domain>`.
    fn bucket_of<'h>(&self, host: &'h str) -> Option<&'h str> {
        let name = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        self.domains.iter().find_map(|domain| {
            let bucket = name.strip_suffix(domain.as_str())?.strip_suffix('.')?;
            (!bucket.is_empty() && name.len() == bucket.len() + 1 + domain.len()).then_some(bucket)
        })
    }
}

impl s3s::host::S3Host for VirtualHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => s3s::host::VirtualHost::new(host).with_bucket(bucket),
            None => s3s::host::VirtualHost::new(host),
        })
    }
}

/// Shared with [`rule`]: the bucket named by `path`.
fn bucket_of(path: &str) -> String {
    percent_encoding::percent_decode_str(path.trim_matches('/'))
        .decode_utf8_lossy()
        .into_owned()
}
