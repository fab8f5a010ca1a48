//! OSS's V1 signature (`Authorization: OSS <id>:<signature>`, and presigned
//! URLs with `OSSAccessKeyId`, `Expires`, `Signature`), checked with the
//! access key's secret: HMAC-SHA1 (ring) over
//!
//! ```text
//! VERB \n Content-MD5 \n Content-Type \n Date (or x-oss-date; Expires for a URL) \n
//! every x-oss-* header, lowercased and sorted, as `name:value\n`
//! /bucket/key, then the sub-resources among the query's parameters, sorted
//! ```
//!
//! compared in constant time (`ring::hmac::verify`); and OSS's V4 signature
//! (`Authorization: OSS4-HMAC-SHA256 Credential=<id>/<date>/<region>/oss/aliyun_v4_request,
//! AdditionalHeaders=…, Signature=<hex>`): HMAC-SHA256 with the key derived
//! from `aliyun_v4<secret>`, the date, the region, `oss` and
//! `aliyun_v4_request`, over
//!
//! ```text
//! OSS4-HMAC-SHA256 \n x-oss-date \n scope \n hex(SHA-256(canonical request))
//! canonical request = VERB \n /bucket/key (URI-encoded, `/` kept) \n the query,
//!   every parameter URI-encoded and sorted \n the x-oss-*, Content-Type,
//!   Content-MD5 and additional headers as `name:value\n`, sorted \n
//!   the additional headers' names \n x-oss-content-sha256
//! ```
//!
//! The request's date must be within 15 minutes of the gateway's clock; a
//! URL must not have expired.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hyper::HeaderMap;
use percent_encoding::percent_decode_str;
use ring::hmac;
use s3s::{S3Error, S3ErrorCode, S3Result};

/// How far a signed request's date may be from the gateway's clock.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The query parameters that are part of the signed resource, as OSS's SDKs
/// list them.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "append",
    "bucketInfo",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "lifecycle",
    "live",
    "location",
    "logging",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "qos",
    "referer",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "symlink",
    "tagging",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "x-oss-process",
];

/// Where a request's OSS signature is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Signed {
    /// `Authorization: OSS id:signature`.
    Header {
        access_key: String,
        signature: String,
    },
    /// `Authorization: OSS4-HMAC-SHA256 Credential=…, Signature=…`.
    V4 {
        access_key: String,
        /// The scope: `<yyyymmdd>/<region>/<product>/aliyun_v4_request`.
        scope: String,
        date: String,
        region: String,
        product: String,
        additional_headers: Vec<String>,
        signature: String,
    },
    /// `?OSSAccessKeyId=id&Expires=t&Signature=s`.
    Url {
        access_key: String,
        signature: String,
        expires: u64,
    },
}

/// Whether a request is signed the OSS way, and how.
pub(crate) fn signed_as_oss(
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Option<S3Result<Signed>> {
    if let Some(value) = headers.get(hyper::header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or("");
        if let Some(fields) = value.strip_prefix("OSS4-HMAC-SHA256 ") {
            return Some(parse_v4(fields));
        }
        let rest = value.strip_prefix("OSS ")?;
        return Some(match rest.rsplit_once(':') {
            Some((id, signature)) if !id.is_empty() && !signature.is_empty() => {
                Ok(Signed::Header {
                    access_key: id.to_owned(),
                    signature: signature.to_owned(),
                })
            }
            _ => Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Authorization must be OSS <AccessKeyId>:<Signature>",
            )),
        });
    }
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let access_key = get("OSSAccessKeyId")?;
    Some(
        match (
            get("Signature"),
            get("Expires").and_then(|e| e.parse().ok()),
        ) {
            (Some(signature), Some(expires)) => Ok(Signed::Url {
                access_key,
                signature,
                expires,
            }),
            _ => Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "a presigned URL needs OSSAccessKeyId, Expires and Signature",
            )),
        },
    )
}

/// The fields of a V4 `Authorization` header.
fn parse_v4(fields: &str) -> S3Result<Signed> {
    let malformed = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Authorization must be OSS4-HMAC-SHA256 Credential=<id>/<date>/<region>/oss/aliyun_v4_request, Signature=<hex>",
        )
    };
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let credential = field("Credential").ok_or_else(malformed)?;
    let signature = field("Signature").ok_or_else(malformed)?.to_owned();
    let additional_headers = field("AdditionalHeaders")
        .map(|list| {
            list.split(';')
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, product, "aliyun_v4_request"] = parts[..] else {
        return Err(malformed());
    };
    Ok(Signed::V4 {
        access_key: access_key.to_owned(),
        scope: parts[1..].join("/"),
        date: date.to_owned(),
        region: region.to_owned(),
        product: product.to_owned(),
        additional_headers,
        signature,
    })
}

/// The request's parts the signature covers.
pub(crate) struct Signable<'a> {
    pub(crate) method: &'a str,
    /// The path, percent-encoded as sent (`/bucket/key`).
    pub(crate) path: &'a str,
    /// The query's parameters, decoded.
    pub(crate) query: &'a [(String, String)],
    pub(crate) headers: &'a HeaderMap,
}

/// Checks `signed` against `secret` (`SignatureDoesNotMatch`, or
/// `RequestTimeTooSkewed` / `AccessDenied` for a stale date or an expired
/// URL), at `now`.
pub(crate) fn verify(
    signed: &Signed,
    secret: &str,
    request: &Signable<'_>,
    now: SystemTime,
) -> S3Result<()> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if let Signed::V4 { .. } = signed {
        return verify_v4(signed, secret, request, now);
    }
    let (date, signature) = match signed {
        Signed::Header { signature, .. } => {
            let date = match header("x-oss-date") {
                "" => header("date"),
                date => date,
            };
            check_skew(date, now)?;
            (date.to_owned(), signature)
        }
        Signed::V4 { .. } => unreachable!("checked above"),
        Signed::Url {
            signature, expires, ..
        } => {
            let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if seconds > *expires {
                return Err(S3Error::with_message(
                    S3ErrorCode::AccessDenied,
                    "Request has expired",
                ));
            }
            (expires.to_string(), signature)
        }
    };
    let to_sign = string_to_sign(
        request,
        &date,
        header("content-md5"),
        header("content-type"),
    );
    let provided = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| signature_mismatch())?;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    hmac::verify(&key, to_sign.as_bytes(), &provided).map_err(|_| signature_mismatch())
}

/// Checks a V4 signature.
fn verify_v4(
    signed: &Signed,
    secret: &str,
    request: &Signable<'_>,
    now: SystemTime,
) -> S3Result<()> {
    let Signed::V4 {
        scope,
        date,
        region,
        product,
        additional_headers,
        signature,
        ..
    } = signed
    else {
        return Err(signature_mismatch());
    };
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let stamp = header("x-oss-date").ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "a V4-signed request needs an x-oss-date header",
        )
    })?;
    let at = time::PrimitiveDateTime::parse(
        stamp,
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "x-oss-date is not yyyymmddThhmmssZ",
        )
    })?
    .assume_utc();
    let skew = (time::OffsetDateTime::from(now) - at).unsigned_abs();
    if skew > MAX_SKEW {
        return Err(S3Error::with_message(
            S3ErrorCode::RequestTimeTooSkewed,
            "the difference between the request time and the current time is too large",
        ));
    }
    if !stamp.starts_with(date.as_str()) {
        return Err(signature_mismatch());
    }
    let payload = header("x-oss-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    if payload != "UNSIGNED-PAYLOAD" {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "V4 signatures over the payload are not supported; send x-oss-content-sha256: UNSIGNED-PAYLOAD",
        ));
    }
    let canonical = canonical_request_v4(request, additional_headers, payload);
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    let to_sign = format!(
        "OSS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex::encode(digest.as_ref())
    );
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, format!("aliyun_v4{secret}").as_bytes());
    for part in [date.as_str(), region, product, "aliyun_v4_request"] {
        key = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&key, part.as_bytes()).as_ref(),
        );
    }
    let provided = hex::decode(signature).map_err(|_| signature_mismatch())?;
    hmac::verify(&key, to_sign.as_bytes(), &provided).map_err(|_| signature_mismatch())
}

/// V4's URI encoding: RFC 3986's unreserved characters as they are,
/// `/` too where `keep_slashes`, every other byte as `%XX`.
fn v4_encode(text: &str, keep_slashes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || b"_-~.".contains(&byte);
        if unreserved || (keep_slashes && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn canonical_request_v4(request: &Signable<'_>, additional: &[String], payload: &str) -> String {
    let mut path = percent_decode_str(request.path)
        .decode_utf8_lossy()
        .into_owned();
    if path.matches('/').count() == 1 && path.len() > 1 {
        path.push('/');
    }
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(name, value)| (v4_encode(name, false), v4_encode(value, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query
        .into_iter()
        .map(|(name, value)| {
            if value.is_empty() {
                name
            } else {
                format!("{name}={value}")
            }
        })
        .collect();
    let mut headers: Vec<(String, &str)> = request
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let signed = name.starts_with("x-oss-")
                || name == "content-type"
                || name == "content-md5"
                || additional.contains(&name);
            signed
                .then(|| value.to_str().ok().map(|v| (name, v.trim())))
                .flatten()
        })
        .collect();
    headers.sort();
    let mut additional = additional.to_vec();
    additional.sort();
    let mut text = format!(
        "{}\n{}\n{}\n",
        request.method,
        v4_encode(&path, true),
        query.join("&")
    );
    for (name, value) in headers {
        text.push_str(&name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&additional.join(";"));
    text.push('\n');
    text.push_str(payload);
    text
}

fn signature_mismatch() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided",
    )
}

fn check_skew(date: &str, now: SystemTime) -> S3Result<()> {
    let at = httpdate::parse_http_date(date).map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "an OSS-signed request needs a Date (or x-oss-date) header in HTTP format",
        )
    })?;
    let skew = match now.duration_since(at) {
        Ok(behind) => behind,
        Err(ahead) => ahead.duration(),
    };
    if skew > MAX_SKEW {
        return Err(S3Error::with_message(
            S3ErrorCode::RequestTimeTooSkewed,
            "the difference between the request time and the current time is too large",
        ));
    }
    Ok(())
}

fn string_to_sign(request: &Signable<'_>, date: &str, md5: &str, content_type: &str) -> String {
    let mut oss_headers: Vec<(String, &str)> = request
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            name.starts_with("x-oss-")
                .then(|| value.to_str().ok().map(|v| (name, v)))
                .flatten()
        })
        .collect();
    oss_headers.sort();
    let mut text = format!("{}\n{md5}\n{content_type}\n{date}\n", request.method);
    for (name, value) in oss_headers {
        text.push_str(&name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push_str(&percent_decode_str(request.path).decode_utf8_lossy());
    if request.path.matches('/').count() == 1 && request.path.len() > 1 {
        // `/bucket` is signed as `/bucket/`.
        text.push('/');
    }
    let mut subresources: Vec<&(String, String)> = request
        .query
        .iter()
        .filter(|(name, _)| SUBRESOURCES.contains(&name.as_str()))
        .collect();
    subresources.sort();
    for (i, (name, value)) in subresources.into_iter().enumerate() {
        text.push(if i == 0 { '?' } else { '&' });
        text.push_str(name);
        if !value.is_empty() {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of OSS's documentation of the V1 signature: PUT of
    /// `/examplebucket/nelson` with two x-oss- headers.
    #[test]
    fn the_documented_example_verifies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-md5",
            "eB5eJF1ptWaXm4bijSPyxw==".parse().expect("value"),
        );
        headers.insert("content-type", "text/html".parse().expect("value"));
        headers.insert(
            "date",
            "Wed, 28 Dec 2022 10:27:41 GMT".parse().expect("value"),
        );
        headers.insert("x-oss-meta-author", "alice".parse().expect("value"));
        headers.insert("x-oss-magic", "abracadabra".parse().expect("value"));
        let request = Signable {
            method: "PUT",
            path: "/examplebucket/nelson",
            query: &[],
            headers: &headers,
        };
        let text = string_to_sign(
            &request,
            "Wed, 28 Dec 2022 10:27:41 GMT",
            "eB5eJF1ptWaXm4bijSPyxw==",
            "text/html",
        );
        assert_eq!(
            text,
            "PUT\neB5eJF1ptWaXm4bijSPyxw==\ntext/html\nWed, 28 Dec 2022 10:27:41 GMT\nx-oss-magic:abracadabra\nx-oss-meta-author:alice\n/examplebucket/nelson"
        );
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"secret");
        let signature = base64::engine::general_purpose::STANDARD
            .encode(hmac::sign(&key, text.as_bytes()).as_ref());
        let signed = Signed::Header {
            access_key: "id".into(),
            signature,
        };
        let at = httpdate::parse_http_date("Wed, 28 Dec 2022 10:30:00 GMT").expect("date");
        assert!(verify(&signed, "secret", &request, at).is_ok());
        assert_eq!(
            verify(&signed, "other", &request, at).map_err(|e| e.code().as_str().to_owned()),
            Err("SignatureDoesNotMatch".to_owned())
        );
        let late = at + Duration::from_secs(3600);
        assert_eq!(
            verify(&signed, "secret", &request, late).map_err(|e| e.code().as_str().to_owned()),
            Err("RequestTimeTooSkewed".to_owned())
        );
    }

    #[test]
    fn sub_resources_are_signed_sorted_and_other_parameters_not() {
        let headers = HeaderMap::new();
        let query = vec![
            ("uploadId".to_owned(), "u1".to_owned()),
            ("partNumber".to_owned(), "2".to_owned()),
            ("max-keys".to_owned(), "10".to_owned()),
            ("encryption".to_owned(), String::new()),
        ];
        let request = Signable {
            method: "PUT",
            path: "/b/a%20key",
            query: &query,
            headers: &headers,
        };
        let text = string_to_sign(&request, "d", "", "");
        assert!(
            text.ends_with("/b/a key?encryption&partNumber=2&uploadId=u1"),
            "{text}"
        );
        let bucket_only = Signable {
            method: "GET",
            path: "/b",
            query: &[],
            headers: &headers,
        };
        assert!(string_to_sign(&bucket_only, "d", "", "").ends_with("\n/b/"));
    }
}
