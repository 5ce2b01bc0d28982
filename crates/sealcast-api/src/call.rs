//! One API call: authentication of an RPC-style request signed with V1 or V3, and the Alibaba
//! error shape.

use std::collections::HashMap;
use std::sync::Mutex;

use sealcast_openapi::{decode_form, v1, v3, SignatureError};
use serde_json::{json, Value};

use crate::keys::AccessKeys;

/// An error as Alibaba's APIs return it: `{RequestId, HostId, Code, Message}` with a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into() }
    }

    pub fn missing(name: &str) -> Self {
        ApiError::new(
            400,
            "MissingParameter",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    }

    pub fn invalid(name: &str, why: impl std::fmt::Display) -> Self {
        ApiError::new(400, "InvalidParameter", format!("The parameter {name} is invalid: {why}"))
    }

    pub fn body(&self, request_id: &str) -> Value {
        json!({"RequestId": request_id, "HostId": "sealcast", "Code": self.code, "Message": self.message})
    }
}

/// An authenticated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub access_key_id: String,
    pub user: String,
    pub action: String,
    pub version: String,
    /// Business parameters (common ones removed).
    pub params: HashMap<String, String>,
}

impl Call {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing(name))
    }
}

/// The page a list call asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// From 1.
    pub number: usize,
    pub size: usize,
}

impl Paging {
    /// The items of this page.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> impl Iterator<Item = &'a T> {
        items.iter().skip((self.number - 1).saturating_mul(self.size)).take(self.size)
    }
}

impl Call {
    /// Reads the page number (`number_param`, from 1, default 1) and size (`size_param`,
    /// 1..=`max`, default `default`).
    pub fn paging(
        &self,
        number_param: &'static str,
        size_param: &'static str,
        default: usize,
        max: usize,
    ) -> Result<Paging, ApiError> {
        let parse = |name: &'static str, range: std::ops::RangeInclusive<usize>, rule: String| match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, rule)),
        };
        let number = parse(number_param, 1..=usize::MAX, "must be 1 or more".into())?.unwrap_or(1);
        let size = parse(size_param, 1..=max, format!("must be 1 to {max}"))?.unwrap_or(default);
        Ok(Paging { number, size })
    }
}

/// What arrived on the wire.
#[derive(Debug)]
pub struct RawRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// Requests are accepted within this many seconds of their timestamp.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Seen signature nonces, kept for the timestamp window (replays inside it are refused).
#[derive(Debug, Default)]
pub struct Nonces {
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl Nonces {
    /// Records a nonce; false when it was already used.
    fn first_use(&self, ak: &str, nonce: &str, now: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, at| now - *at <= 2 * MAX_SKEW_SECS);
        }
        seen.insert((ak.to_string(), nonce.to_string()), now).is_none()
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` (UTC) as Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    use sealcast_crypto::civil::{days_from_civil, days_in_month};
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

const COMMON_V1: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "Signature",
    "RegionId",
];

fn signature_error(e: SignatureError, string_to_sign: Option<String>) -> ApiError {
    match e {
        SignatureError::Mismatch => ApiError::new(
            400,
            "SignatureDoesNotMatch",
            match string_to_sign {
                Some(s) => {
                    format!("Specified signature is not matched with our calculation. server string to sign is:{s}")
                }
                None => "The request signature does not conform to Aliyun standards.".into(),
            },
        ),
        SignatureError::PayloadHashMismatch => ApiError::new(400, "SignatureDoesNotMatch", e.to_string()),
        other => ApiError::new(400, "IncompleteSignature", other.to_string()),
    }
}

/// Authenticates a request. `now` is Unix seconds.
pub async fn authenticate(
    req: &RawRequest<'_>,
    keys: &AccessKeys,
    nonces: &Nonces,
    now: i64,
) -> Result<Call, ApiError> {
    let mut params = decode_form(req.query).map_err(|e| ApiError::invalid("query string", e))?;
    // V3 signs the query string in the canonical request and a form body by its hash only.
    let query_params = params.clone();
    let form =
        req.headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("application/x-www-form-urlencoded"));
    if form && !req.body.is_empty() {
        let body = std::str::from_utf8(req.body).map_err(|_| ApiError::invalid("body", "not UTF-8"))?;
        params.extend(decode_form(body).map_err(|e| ApiError::invalid("body", e))?);
    }
    let header = |name: &str| req.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (ak, action, version, timestamp, nonce, v3_auth) = match header("authorization") {
        Some(auth) if auth.starts_with("ACS3-") => {
            let a = v3::Authorization::parse(auth).map_err(|e| signature_error(e, None))?;
            (
                a.access_key_id.clone(),
                header("x-acs-action").ok_or_else(|| ApiError::missing("x-acs-action"))?.to_string(),
                header("x-acs-version").ok_or_else(|| ApiError::missing("x-acs-version"))?.to_string(),
                header("x-acs-date").ok_or_else(|| ApiError::missing("x-acs-date"))?.to_string(),
                header("x-acs-signature-nonce").ok_or_else(|| ApiError::missing("x-acs-signature-nonce"))?.to_string(),
                Some(a),
            )
        }
        Some(_) => {
            return Err(ApiError::new(
                400,
                "IncompleteSignature",
                "unsupported Authorization scheme: use ACS3-HMAC-SHA256 or signature V1 parameters",
            ))
        }
        None => {
            let p = |n: &str| param(n).map(str::to_string).ok_or_else(|| ApiError::missing(n));
            if param("SignatureMethod").is_some_and(|m| m != "HMAC-SHA1") {
                return Err(ApiError::new(
                    400,
                    "InvalidSignatureMethod",
                    "Specified signature method is not supported: use HMAC-SHA1",
                ));
            }
            p("Signature")?;
            (p("AccessKeyId")?, p("Action")?, p("Version")?, p("Timestamp")?, p("SignatureNonce")?, None)
        }
    };
    let ts = parse_timestamp(&timestamp).ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted: use YYYY-MM-DDThh:mm:ssZ",
        )
    })?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(ApiError::new(400, "InvalidTimeStamp.Expired", format!("Specified time stamp or date value is expired: {timestamp} is more than 15 minutes from the server time")));
    }
    let (secret, user) = keys
        .secret(&ak)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read an access key");
            ApiError::new(500, "InternalError", "The request processing has failed due to some unknown error.")
        })?
        .ok_or_else(|| ApiError::new(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."))?;
    let secret = std::str::from_utf8(secret.expose())
        .map_err(|_| ApiError::new(500, "InternalError", "stored secret is not text"))?
        .to_string();
    match &v3_auth {
        Some(a) => v3::verify(&secret, a, req.method, req.path, &query_params, &req.headers, req.body)
            .map_err(|e| signature_error(e, None))?,
        None => v1::verify(&secret, req.method, &params)
            .map_err(|e| signature_error(e, Some(v1::string_to_sign(req.method, &params))))?,
    }
    // Only a valid signature may use up a nonce.
    if !nonces.first_use(&ak, &nonce, now) {
        return Err(ApiError::new(400, "SignatureNonceUsed", "Specified signature nonce was used already."));
    }
    let params = params.into_iter().filter(|(k, _)| v3_auth.is_some() || !COMMON_V1.contains(&k.as_str())).collect();
    Ok(Call { access_key_id: ak, user, action, version, params })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sealcast_kms::{BuiltinKms, RootKey};
    use sealcast_openapi::percent_encode;
    use sealcast_store::Store;

    use super::*;

    const NOW: i64 = 1_795_608_000; // 2026-11-25T12:00:00Z

    async fn keys() -> (AccessKeys, crate::keys::NewAccessKey) {
        let store = Store::open_memory().await.expect("store");
        let kms = Arc::new(BuiltinKms::open(store.clone(), RootKey::from_bytes([6; 32])).await.expect("kms"));
        let keys = AccessKeys::new(store, kms);
        let k = keys.create("admin").await.expect("key");
        (keys, k)
    }

    /// A V1 request as aliyun-python-sdk-core sends it (parameters in the query string).
    fn v1_query(id: &str, secret: &str, ts: &str, nonce: &str) -> String {
        let params: Vec<(String, String)> = [
            ("Action", "GenerateDataKey"),
            ("Version", "2016-01-20"),
            ("KeyId", "alias/x"),
            ("Format", "JSON"),
            ("AccessKeyId", id),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce),
            ("Timestamp", ts),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sig = v1::signature(secret, &v1::string_to_sign("POST", &params));
        let mut q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
        q.push(format!("Signature={}", percent_encode(&sig)));
        q.join("&")
    }

    fn raw(query: &str) -> RawRequest<'_> {
        RawRequest { method: "POST", path: "/", query, headers: vec![], body: b"" }
    }

    #[tokio::test]
    async fn v1_requests_authenticate_and_failures_get_alibaba_codes() {
        let (keys, k) = keys().await;
        let nonces = Nonces::default();
        let q = v1_query(&k.access_key_id, &k.access_key_secret, "2026-11-25T12:00:00Z", "n-1");
        let call = authenticate(&raw(&q), &keys, &nonces, NOW + 60).await.expect("valid");
        assert_eq!(
            (call.action.as_str(), call.version.as_str(), call.user.as_str()),
            ("GenerateDataKey", "2016-01-20", "admin")
        );
        assert_eq!(call.get("KeyId"), Some("alias/x"));
        assert_eq!(call.get("Signature"), None, "common parameters are not business parameters");
        let code = |r: Result<Call, ApiError>| r.expect_err("refused").code;
        assert_eq!(code(authenticate(&raw(&q), &keys, &nonces, NOW + 60).await), "SignatureNonceUsed");
        let stale = v1_query(&k.access_key_id, &k.access_key_secret, "2026-11-25T11:40:00Z", "n-2");
        assert_eq!(code(authenticate(&raw(&stale), &keys, &nonces, NOW).await), "InvalidTimeStamp.Expired");
        let wrong = v1_query(&k.access_key_id, "not-the-secret", "2026-11-25T12:00:00Z", "n-3");
        let e = authenticate(&raw(&wrong), &keys, &nonces, NOW).await.expect_err("wrong secret");
        assert_eq!((e.status, e.code.as_str()), (400, "SignatureDoesNotMatch"));
        assert!(e.message.contains("server string to sign is:POST&%2F&"), "{}", e.message);
        // The failed attempt did not use up its nonce.
        let retry = v1_query(&k.access_key_id, &k.access_key_secret, "2026-11-25T12:00:00Z", "n-3");
        assert!(authenticate(&raw(&retry), &keys, &nonces, NOW).await.is_ok());
        let unknown = v1_query("SCAKunknownunknownunk", "whatever-secret", "2026-11-25T12:00:00Z", "n-4");
        let e = authenticate(&raw(&unknown), &keys, &nonces, NOW).await.expect_err("unknown");
        assert_eq!((e.status, e.code.as_str()), (404, "InvalidAccessKeyId.NotFound"));
        assert_eq!(code(authenticate(&raw("Action=X"), &keys, &nonces, NOW).await), "MissingParameter");
        let e = ApiError::missing("KeyId").body("req-1");
        assert_eq!(e["Code"], "MissingParameter");
        assert_eq!(e["RequestId"], "req-1");
    }

    #[tokio::test]
    async fn v3_requests_authenticate() {
        let (keys, k) = keys().await;
        let nonces = Nonces::default();
        let body = b"";
        let payload = sealcast_crypto::sha256(body).iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut headers: Vec<(String, String)> = [
            ("host", "127.0.0.1:8081"),
            ("x-acs-action", "DescribeKey"),
            ("x-acs-version", "2016-01-20"),
            ("x-acs-date", "2026-11-25T12:00:00Z"),
            ("x-acs-signature-nonce", "v3-1"),
            ("x-acs-content-sha256", payload.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let query = vec![("KeyId".to_string(), "alias/x".to_string())];
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let cr = v3::canonical_request("POST", "/", &query, &headers, &signed, &payload);
        let sig = v3::signature(&k.access_key_secret, &v3::string_to_sign(&cr));
        headers.push((
            "authorization".into(),
            format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}",
                k.access_key_id,
                signed.join(";")
            ),
        ));
        let req = RawRequest { method: "POST", path: "/", query: "KeyId=alias%2Fx", headers, body };
        let call = authenticate(&req, &keys, &nonces, NOW).await.expect("valid V3");
        assert_eq!((call.action.as_str(), call.get("KeyId")), ("DescribeKey", Some("alias/x")));
        assert_eq!(authenticate(&req, &keys, &nonces, NOW).await.expect_err("replay").code, "SignatureNonceUsed");
    }

    #[tokio::test]
    async fn v3_form_bodies_are_signed_by_their_hash_only() {
        let (keys, k) = keys().await;
        let nonces = Nonces::default();
        let body = b"KeyId=alias%2Fx&NumberOfBytes=16";
        let out = v3::Outgoing {
            host: "127.0.0.1:8081",
            action: "GenerateDataKey",
            version: "2016-01-20",
            date: "2026-11-25T12:00:00Z",
            nonce: "form-1",
            body,
        };
        let headers = v3::sign(&k.access_key_id, &k.access_key_secret, &out);
        let req = RawRequest { method: "POST", path: "/", query: "", headers: headers.clone(), body };
        let call = authenticate(&req, &keys, &nonces, NOW).await.expect("valid V3 with a form body");
        assert_eq!((call.get("KeyId"), call.get("NumberOfBytes")), (Some("alias/x"), Some("16")));
        let tampered =
            RawRequest { method: "POST", path: "/", query: "", headers, body: b"KeyId=alias%2Fy&NumberOfBytes=16" };
        let e = authenticate(&tampered, &keys, &nonces, NOW).await.expect_err("the body hash no longer matches");
        assert_eq!(e.code, "SignatureDoesNotMatch");
    }

    #[test]
    fn paging_parameters() {
        let call = |pairs: &[(&str, &str)]| Call {
            access_key_id: "AK".into(),
            user: "u".into(),
            action: "ListKeys".into(),
            version: "2016-01-20".into(),
            params: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        let p = call(&[]).paging("PageNumber", "PageSize", 10, 100).expect("defaults");
        assert_eq!(p, Paging { number: 1, size: 10 });
        let p = call(&[("PageNumber", "2"), ("PageSize", "3")]).paging("PageNumber", "PageSize", 10, 100).expect("ok");
        assert_eq!(p.slice(&[1, 2, 3, 4, 5, 6, 7]).copied().collect::<Vec<_>>(), vec![4, 5, 6]);
        assert_eq!(p.slice(&[1, 2]).count(), 0, "past the end is empty");
        for (k, v, why) in [
            ("PageSize", "101", "1 to 100"),
            ("PageSize", "0", "1 to 100"),
            ("PageNumber", "0", "1 or more"),
            ("PageNumber", "x", "1 or more"),
        ] {
            let e = call(&[(k, v)]).paging("PageNumber", "PageSize", 10, 100).expect_err(v);
            assert!(e.code == "InvalidParameter" && e.message.contains(k) && e.message.contains(why), "{e:?}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2026-11-25T12:00:00Z"), Some(1_795_608_000));
        for bad in ["2026-11-25 12:00:00Z", "2026-13-25T12:00:00Z", "2026-02-30T12:00:00Z", "2026-11-25T12:00:00", ""] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        let n = Nonces::default();
        assert!(n.first_use("a", "1", 0));
        assert!(!n.first_use("a", "1", 5));
        assert!(n.first_use("b", "1", 5), "nonces are per access key");
    }
}
