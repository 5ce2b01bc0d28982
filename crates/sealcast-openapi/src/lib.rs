//! The Alibaba Cloud OpenAPI wire protocol (RPC style), sans-IO: how the official SDKs sign
//! requests, so Sealcast can verify them byte for byte.
//!
//! - [`v1`]: signature version 1.0 (aliyun-python-sdk-core, the aliyun CLI, older SDKs):
//!   `Signature = base64(HMAC-SHA1(secret + "&", METHOD + "&%2F&" + enc(canonical query)))`.
//! - [`v3`]: `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…` over
//!   the canonical request (the Darabonba/Tea SDKs: alibabacloud-live20161101, the Java SDK).
//!
//! Both are checked against vectors generated with the official SDK code
//! (`tests/vectors/generate.py`). Comparisons of signatures are constant-time.
#![forbid(unsafe_code)]

use thiserror::Error;

/// Why a signature is refused (mapped to Alibaba error codes by the API layer).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Authorization header is malformed: {0}")]
    MalformedAuthorization(&'static str),
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("the signed headers must include {0}")]
    MissingSignedHeader(String),
    #[error("the x-acs-content-sha256 header does not match the body")]
    PayloadHashMismatch,
    #[error("the request signature we calculated does not match the signature you provided")]
    Mismatch,
}

/// RFC 3986 percent-encoding as the SDKs apply it: `A-Z a-z 0-9 - _ . ~` stay, everything
/// else (UTF-8 bytes) becomes `%XX` with upper-case hex.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` (a query string or form body) into pairs, in
/// order. `+` is a space. Invalid escapes or UTF-8 are an error.
pub fn decode_form(s: &str) -> Result<Vec<(String, String)>, &'static str> {
    fn dec(s: &str) -> Result<String, &'static str> {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' => {
                    let h = b.get(i + 1..i + 3).ok_or("truncated percent escape")?;
                    let h = std::str::from_utf8(h).map_err(|_| "invalid percent escape")?;
                    out.push(u8::from_str_radix(h, 16).map_err(|_| "invalid percent escape")?);
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| "parameters must be UTF-8")
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((dec(k)?, dec(v)?))
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub mod v1 {
    //! Signature version 1.0 (HMAC-SHA1).
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use sealcast_crypto::{constant_time_eq, hmac_sha1_for_legacy_signatures};

    use super::{percent_encode, SignatureError};

    /// `METHOD&%2F&enc(k1=v1&k2=v2…)` over every parameter but `Signature`, sorted by name.
    pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
        let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "Signature").collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let canonical: Vec<String> =
            sorted.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
        format!("{method}&%2F&{}", percent_encode(&canonical.join("&")))
    }

    /// The base64 signature for `secret`.
    pub fn signature(secret: &str, string_to_sign: &str) -> String {
        STANDARD.encode(hmac_sha1_for_legacy_signatures(format!("{secret}&").as_bytes(), string_to_sign.as_bytes()))
    }

    /// Checks the `Signature` parameter of a request (query and form parameters together).
    pub fn verify(secret: &str, method: &str, params: &[(String, String)]) -> Result<(), SignatureError> {
        let given = params.iter().find(|(k, _)| k == "Signature").map(|(_, v)| v.as_str()).unwrap_or("");
        let want = signature(secret, &string_to_sign(method, params));
        if constant_time_eq(want.as_bytes(), given.as_bytes()) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

pub mod v3 {
    //! ACS3-HMAC-SHA256.
    use sealcast_crypto::{constant_time_eq, hmac_sha256, sha256};

    use super::{hex, percent_encode, SignatureError};

    pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
    /// Headers a V3 signature must cover.
    pub const REQUIRED_SIGNED_HEADERS: &[&str] =
        &["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"];

    /// A parsed `Authorization` header.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Authorization {
        pub access_key_id: String,
        /// Lower-case header names, as listed.
        pub signed_headers: Vec<String>,
        pub signature: String,
    }

    impl Authorization {
        pub fn parse(header: &str) -> Result<Authorization, SignatureError> {
            let (alg, rest) = header.trim().split_once(' ').ok_or(SignatureError::MalformedAuthorization(
                "expected \"ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…\"",
            ))?;
            if alg != ALGORITHM {
                return Err(SignatureError::UnsupportedAlgorithm(alg.to_string()));
            }
            let (mut cred, mut signed, mut sig) = (None, None, None);
            for part in rest.split(',') {
                let (k, v) = part
                    .trim()
                    .split_once('=')
                    .ok_or(SignatureError::MalformedAuthorization("each part must be name=value"))?;
                match k {
                    "Credential" => cred = Some(v.to_string()),
                    "SignedHeaders" => signed = Some(v.split(';').map(str::to_ascii_lowercase).collect()),
                    "Signature" => sig = Some(v.to_string()),
                    _ => {}
                }
            }
            Ok(Authorization {
                access_key_id: cred
                    .filter(|c| !c.is_empty())
                    .ok_or(SignatureError::MalformedAuthorization("Credential (the AccessKeyId) is missing"))?,
                signed_headers: signed.ok_or(SignatureError::MalformedAuthorization("SignedHeaders is missing"))?,
                signature: sig.ok_or(SignatureError::MalformedAuthorization("Signature is missing"))?,
            })
        }
    }

    /// The canonical request: method, URI, sorted query (values percent-encoded), the signed
    /// headers (`name:value`, values of a repeated header sorted and comma-joined), their names,
    /// and the payload hash.
    pub fn canonical_request(
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        signed_headers: &[String],
        payload_hash: &str,
    ) -> String {
        let mut q: Vec<&(String, String)> = query.iter().collect();
        q.sort_by(|a, b| a.0.cmp(&b.0));
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
        let mut names: Vec<&String> = signed_headers.iter().collect();
        names.sort();
        names.dedup();
        let mut canon_headers = String::new();
        for name in &names {
            let mut values: Vec<&str> =
                headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()).collect();
            values.sort_unstable();
            canon_headers.push_str(&format!("{name}:{}\n", values.join(",")));
        }
        let signed: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        format!(
            "{method}\n{}\n{}\n{canon_headers}\n{}\n{payload_hash}",
            if path.is_empty() { "/" } else { path },
            query.join("&"),
            signed.join(";")
        )
    }

    pub fn string_to_sign(canonical_request: &str) -> String {
        format!("{ALGORITHM}\n{}", hex(&sha256(canonical_request.as_bytes())))
    }

    pub fn signature(secret: &str, string_to_sign: &str) -> String {
        hex(&hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes()))
    }

    /// A request to sign: an RPC-style call with its business parameters in a form body, as
    /// the Darabonba SDKs send POSTs.
    #[derive(Debug, Clone)]
    pub struct Outgoing<'a> {
        pub host: &'a str,
        pub action: &'a str,
        pub version: &'a str,
        /// `YYYY-MM-DDThh:mm:ssZ`.
        pub date: &'a str,
        pub nonce: &'a str,
        /// The form body (already encoded).
        pub body: &'a [u8],
    }

    /// The headers of a signed POST to `/` (Authorization included).
    pub fn sign(access_key_id: &str, secret: &str, req: &Outgoing<'_>) -> Vec<(String, String)> {
        let payload = hex(&sha256(req.body));
        let mut headers: Vec<(String, String)> = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", req.host),
            ("x-acs-action", req.action),
            ("x-acs-content-sha256", payload.as_str()),
            ("x-acs-date", req.date),
            ("x-acs-signature-nonce", req.nonce),
            ("x-acs-version", req.version),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let cr = canonical_request("POST", "/", &[], &headers, &signed, &payload);
        let sig = signature(secret, &string_to_sign(&cr));
        headers.push((
            "authorization".into(),
            format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={sig}", signed.join(";")),
        ));
        headers
    }

    /// Checks a V3 request: required headers signed, the payload hash matches the body, the
    /// signature matches.
    pub fn verify(
        secret: &str,
        auth: &Authorization,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), SignatureError> {
        for required in REQUIRED_SIGNED_HEADERS {
            if !auth.signed_headers.iter().any(|h| h == required) {
                return Err(SignatureError::MissingSignedHeader((*required).to_string()));
            }
        }
        let payload = hex(&sha256(body));
        let declared = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-acs-content-sha256")).map(|(_, v)| v);
        if declared.is_some_and(|d| !d.eq_ignore_ascii_case(&payload)) {
            return Err(SignatureError::PayloadHashMismatch);
        }
        let cr = canonical_request(method, path, query, headers, &auth.signed_headers, &payload);
        let want = signature(secret, &string_to_sign(&cr));
        if constant_time_eq(want.as_bytes(), auth.signature.to_ascii_lowercase().as_bytes()) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests;
