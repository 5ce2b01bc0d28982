//! A client for Alibaba-compatible RPC OpenAPIs (Live 2016-11-01, KMS 2016-01-20): calls
//! signed with signature V3 as the current SDKs sign them, against Sealcast's control API or
//! Alibaba Cloud itself.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::Value;
use std::sync::Mutex;

use crate::{tls_config, HttpClient, HttpConfig, HttpError, Url};

/// Idle connections kept for reuse; calls beyond them run on connections of their own.
const MAX_IDLE: usize = 8;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    #[error(transparent)]
    Transport(#[from] HttpError),
    /// The service answered with an error (`Code`, `Message` as Alibaba's APIs return them).
    #[error("{code}: {message} (HTTP {status}, RequestId {request_id})")]
    Api { status: u16, code: String, message: String, request_id: String },
    #[error("unreadable response (HTTP {status}): {reason}")]
    Response { status: u16, reason: String },
}

impl OpenApiError {
    /// The Alibaba error code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            OpenApiError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// An access key. The secret is kept only in memory and never printed (Debug is redacted).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    access_key_secret: Arc<str>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, access_key_secret: &str) -> Credentials {
        Credentials { access_key_id: access_key_id.into(), access_key_secret: Arc::from(access_key_secret) }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// A signing client for one endpoint (`https://kms.cn-hangzhou.aliyuncs.com` or
/// `http://127.0.0.1:8081`).
#[derive(Debug)]
pub struct OpenApiClient {
    endpoint: Url,
    credentials: Credentials,
    tls: Arc<rustls::ClientConfig>,
    http: HttpConfig,
    /// Kept-alive clients not in use: concurrent calls never wait for each other.
    idle: Mutex<Vec<HttpClient>>,
}

/// A bare `host[:port]` means HTTPS, as in the SDKs' endpoint setting.
fn endpoint_url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}/")
    }
}

fn encode_form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", sealcast_openapi::percent_encode(k), sealcast_openapi::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    sealcast_crypto::civil::rfc3339(secs)
}

fn nonce() -> Result<String, HttpError> {
    let b: [u8; 16] =
        sealcast_crypto::random_array().map_err(|e| HttpError::Http(format!("no randomness for a nonce: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl OpenApiClient {
    /// `endpoint` is a URL or a bare `host[:port]` (then HTTPS). `extra_ca_pem` adds trusted
    /// CAs besides the system's.
    pub fn new(
        endpoint: &str,
        credentials: Credentials,
        extra_ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<OpenApiClient, HttpError> {
        let endpoint = Url::parse(&endpoint_url(endpoint))?;
        let tls = tls_config(extra_ca_pem)?;
        let http = HttpConfig { timeout, max_body: 1 << 20 };
        Ok(OpenApiClient { endpoint, credentials, tls, http, idle: Mutex::default() })
    }

    /// The endpoint as configured.
    pub fn endpoint(&self) -> String {
        format!("{}://{}", if self.endpoint.https { "https" } else { "http" }, self.endpoint.authority())
    }

    /// Calls `action` of API `version` with business parameters; returns the JSON body.
    pub async fn call(&self, version: &str, action: &str, params: &[(&str, &str)]) -> Result<Value, OpenApiError> {
        let body = encode_form(params);
        let (date, nonce) = (utc_now(), nonce()?);
        let host = self.endpoint.authority();
        let out = sealcast_openapi::v3::Outgoing {
            host: &host,
            action,
            version,
            date: &date,
            nonce: &nonce,
            body: body.as_bytes(),
        };
        let headers =
            sealcast_openapi::v3::sign(&self.credentials.access_key_id, &self.credentials.access_key_secret, &out);
        let mut url = self.endpoint.clone();
        url.path_and_query = "/".into();
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut client = idle.unwrap_or_else(|| HttpClient::new(self.tls.clone(), self.http.clone()));
        let form = Some((Bytes::from(body), "application/x-www-form-urlencoded"));
        let fetched = client.send_with_headers(Method::POST, &url, form, &headers).await?;
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(client);
            }
        }
        let status = fetched.status.as_u16();
        let v: Value = serde_json::from_slice(&fetched.body).map_err(|e| OpenApiError::Response {
            status,
            reason: format!("{e}: {}", String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(200)])),
        })?;
        if fetched.status.is_success() {
            return Ok(v);
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Err(OpenApiError::Api { status, code: text("Code"), message: text("Message"), request_id: text("RequestId") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_secrets() {
        assert_eq!(
            encode_form(&[("KeyId", "alias/a b"), ("Ctx", "{\"a\":1}")]),
            "KeyId=alias%2Fa%20b&Ctx=%7B%22a%22%3A1%7D"
        );
        let c = Credentials::new("AK1", "the-secret");
        assert!(!format!("{c:?}").contains("the-secret"));
        assert_eq!(endpoint_url("kms.cn-hangzhou.aliyuncs.com"), "https://kms.cn-hangzhou.aliyuncs.com/");
        assert_eq!(endpoint_url("http://127.0.0.1:8081"), "http://127.0.0.1:8081");
    }
}
