//! Playback and publish credentials, sans-IO: Alibaba Cloud URL signing (the `aliauth` domain
//! function), types A, B and C, with a primary and a backup key.
//!
//! | type | carried as | signed string (MD5, lower-case hex) |
//! |---|---|---|
//! | A | `{path}?auth_key={timestamp}-{rand}-{uid}-{md5hash}` | `{path}-{timestamp}-{rand}-{uid}-{key}` |
//! | B | `/{YYYYMMDDHHMM}/{md5hash}{path}` (UTC+8) | `{key}{YYYYMMDDHHMM}{path}` |
//! | C | `/{md5hash}/{hexTimestamp}{path}` or `{path}?KEY1={md5hash}&KEY2={hexTimestamp}` | `{key}{path}{hexTimestamp}` |
//!
//! The timestamp is when the URL was signed; it is valid until `timestamp + delta` (the
//! domain's `ali_auth_delta`). [`Policy::verify`] checks a request and returns the canonical
//! path (without a type B/C prefix) and a [`Token`] that signs further paths for the same
//! expiry, so a playlist can list segment and key URIs that any player fetches as they are.
//! Comparisons are constant-time and errors never contain a key.
//!
//! ```
//! use sealcast_auth::{AuthType, Policy};
//! let policy = Policy::new(AuthType::TypeA, "aliyuncdnexp1234", None, 1800).unwrap();
//! let url = policy.sign("/live/cam.m3u8", 1_700_000_000, "0", "0");
//! let ok = policy.verify(&url.path, url.query.as_deref(), 1_700_000_100).unwrap();
//! assert_eq!(ok.path, "/live/cam.m3u8");
//! assert_eq!(ok.expires, 1_700_001_800);
//! assert!(policy.verify(&url.path, url.query.as_deref(), 1_700_001_801).is_err());
//! ```
#![forbid(unsafe_code)]

use std::fmt;

use sealcast_crypto::{constant_time_eq, md5, md5_hex};
use serde::{Deserialize, Serialize};
use thiserror::Error;

mod time;

/// The signing scheme of a domain (`auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// No credential required.
    #[default]
    NoAuth,
    TypeA,
    TypeB,
    TypeC,
}

impl AuthType {
    /// The Alibaba name: `no_auth`, `type_a`, `type_b`, `type_c`.
    pub fn name(self) -> &'static str {
        match self {
            AuthType::NoAuth => "no_auth",
            AuthType::TypeA => "type_a",
            AuthType::TypeB => "type_b",
            AuthType::TypeC => "type_c",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        [AuthType::NoAuth, AuthType::TypeA, AuthType::TypeB, AuthType::TypeC].into_iter().find(|t| t.name() == s)
    }
}

/// Why a policy cannot be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("{0} must be 6 to 128 letters and digits")]
    BadKey(&'static str),
    #[error("auth_key1 is required when auth_type is {0}")]
    MissingKey(&'static str),
    #[error("ali_auth_delta must be 1 to 31536000 seconds")]
    BadDelta,
}

/// Why a request's credential is refused. Shown to clients: never contains a key or the
/// expected hash.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing credential: this domain requires {0} URL signing")]
    Missing(&'static str),
    #[error("malformed credential: {0}")]
    Malformed(&'static str),
    #[error("credential expired at {expired} (Unix time)")]
    Expired { expired: i64 },
    #[error("credential signature does not match")]
    Mismatch,
}

/// Longest accepted validity, in seconds (a year).
pub const MAX_DELTA: u64 = 31_536_000;
/// Alibaba's default `ali_auth_delta`.
pub const DEFAULT_DELTA: u64 = 1800;

/// A domain's signing policy: type, primary and backup keys, validity.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    pub auth_type: AuthType,
    /// Primary key (`auth_key1`).
    pub key1: String,
    /// Backup key (`auth_key2`), empty when unset. Both keys are accepted: rotate by moving
    /// the new key in as the backup, then promoting it.
    pub key2: String,
    /// Validity after the signing time (`ali_auth_delta`).
    pub delta: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { auth_type: AuthType::NoAuth, key1: String::new(), key2: String::new(), delta: DEFAULT_DELTA }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("auth_type", &self.auth_type)
            .field("key1", &if self.key1.is_empty() { "" } else { "<redacted>" })
            .field("key2", &if self.key2.is_empty() { "" } else { "<redacted>" })
            .field("delta", &self.delta)
            .finish()
    }
}

fn valid_key(k: &str) -> bool {
    (6..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A path plus the query to append, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPath {
    pub path: String,
    /// `name=value` pairs to add to the URL's query (already URL-safe).
    pub query: Option<String>,
}

impl SignedPath {
    /// The signed URI with the request's own query (if any) kept before the credential's.
    pub fn with_query(&self, query: Option<&str>) -> String {
        match (query.filter(|q| !q.is_empty()), self.query.as_deref()) {
            (Some(q), Some(a)) => format!("{}?{q}&{a}", self.path),
            (Some(q), None) | (None, Some(q)) => format!("{}?{q}", self.path),
            (None, None) => self.path.clone(),
        }
    }
}

impl fmt::Display for SignedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_query(None))
    }
}

/// How the verified credential was carried: reused to sign further paths the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    A { rand: String, uid: String },
    B,
    CPath,
    CQuery,
}

/// A verified credential, able to sign other paths for the same expiry with the key that
/// verified it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    form: Form,
    /// The timestamp exactly as received (the expiry follows from it).
    ts: String,
    key: String,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("form", &self.form).field("ts", &self.ts).finish_non_exhaustive()
    }
}

/// A request that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The request path without a type B/C credential prefix.
    pub path: String,
    /// Unix time after which the credential is refused.
    pub expires: i64,
    /// `None` under `no_auth`.
    pub token: Option<Token>,
}

impl Token {
    /// Signs `path` (absolute, without query) for the same expiry as this credential.
    pub fn sign(&self, path: &str) -> SignedPath {
        let key = &self.key;
        let ts = &self.ts;
        match &self.form {
            Form::A { rand, uid } => {
                let h = md5_hex(format!("{path}-{ts}-{rand}-{uid}-{key}").as_bytes());
                SignedPath { path: path.into(), query: Some(format!("auth_key={ts}-{rand}-{uid}-{h}")) }
            }
            Form::B => {
                let h = md5_hex(format!("{key}{ts}{path}").as_bytes());
                SignedPath { path: format!("/{ts}/{h}{path}"), query: None }
            }
            Form::CPath => {
                let h = md5_hex(format!("{key}{path}{ts}").as_bytes());
                SignedPath { path: format!("/{h}/{ts}{path}"), query: None }
            }
            Form::CQuery => {
                let h = md5_hex(format!("{key}{path}{ts}").as_bytes());
                SignedPath { path: path.into(), query: Some(format!("KEY1={h}&KEY2={ts}")) }
            }
        }
    }
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|p| p.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

fn parse_hash(h: &str) -> Option<[u8; 16]> {
    if h.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(h.as_bytes().chunks_exact(2)) {
        *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// Splits `/{a}/{b}{rest}` with `rest` starting with `/`.
fn two_segments(path: &str) -> Option<(&str, &str, &str)> {
    let p = path.strip_prefix('/')?;
    let (a, p) = p.split_once('/')?;
    let (b, rest) = p.split_once('/')?;
    let rest = &path[path.len() - rest.len() - 1..];
    Some((a, b, rest)).filter(|(_, _, r)| r.len() > 1)
}

impl Policy {
    /// A validated policy.
    pub fn new(auth_type: AuthType, key1: &str, key2: Option<&str>, delta: u64) -> Result<Policy, PolicyError> {
        let p = Policy { auth_type, key1: key1.into(), key2: key2.unwrap_or("").into(), delta };
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.delta == 0 || self.delta > MAX_DELTA {
            return Err(PolicyError::BadDelta);
        }
        if !self.key1.is_empty() && !valid_key(&self.key1) {
            return Err(PolicyError::BadKey("auth_key1"));
        }
        if !self.key2.is_empty() && !valid_key(&self.key2) {
            return Err(PolicyError::BadKey("auth_key2"));
        }
        if self.auth_type != AuthType::NoAuth && self.key1.is_empty() {
            return Err(PolicyError::MissingKey(self.auth_type.name()));
        }
        Ok(())
    }

    /// Credentials are required.
    pub fn enabled(&self) -> bool {
        self.auth_type != AuthType::NoAuth
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        [self.key1.as_str(), self.key2.as_str()].into_iter().filter(|k| !k.is_empty())
    }

    /// Signs `path` with the primary key at `now` (Unix seconds). `rand` and `uid` are used
    /// by type A only (Alibaba: `rand` "0" or a UUID without hyphens, `uid` "0"). Type C is
    /// signed in its path form.
    pub fn sign(&self, path: &str, now: i64, rand: &str, uid: &str) -> SignedPath {
        let (form, ts) = match self.auth_type {
            AuthType::NoAuth => return SignedPath { path: path.into(), query: None },
            AuthType::TypeA => (Form::A { rand: rand.into(), uid: uid.into() }, now.to_string()),
            AuthType::TypeB => (Form::B, time::format_type_b(now)),
            AuthType::TypeC => (Form::CPath, format!("{now:X}")),
        };
        Token { form, ts, key: self.key1.clone() }.sign(path)
    }

    /// Checks the credential of a request for `path` (raw, as requested) at `now`.
    pub fn verify(&self, path: &str, query: Option<&str>, now: i64) -> Result<Verified, AuthError> {
        let (form, ts, signed_at, hash, canonical) = match self.auth_type {
            AuthType::NoAuth => return Ok(Verified { path: path.into(), expires: i64::MAX, token: None }),
            AuthType::TypeA => {
                let v = query_param(query, "auth_key").ok_or(AuthError::Missing("type_a"))?;
                let parts: Vec<&str> = v.split('-').collect();
                let [ts, rand, uid, hash] = parts.as_slice() else {
                    return Err(AuthError::Malformed("auth_key must be timestamp-rand-uid-md5hash"));
                };
                let signed_at = (!ts.is_empty() && ts.len() <= 12 && ts.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| ts.parse::<i64>().ok())
                    .flatten()
                    .ok_or(AuthError::Malformed("the auth_key timestamp must be Unix seconds"))?;
                let form = Form::A { rand: rand.to_string(), uid: uid.to_string() };
                (form, *ts, signed_at, *hash, path)
            }
            AuthType::TypeB => {
                let (ts, hash, rest) = two_segments(path)
                    .filter(|(ts, h, _)| ts.len() == 12 && ts.bytes().all(|b| b.is_ascii_digit()) && h.len() == 32)
                    .ok_or(AuthError::Missing("type_b"))?;
                let signed_at =
                    time::parse_type_b(ts).ok_or(AuthError::Malformed("the timestamp is not a valid YYYYMMDDHHMM"))?;
                (Form::B, ts, signed_at, hash, rest)
            }
            AuthType::TypeC => {
                let (form, hash, ts, rest) = match (query_param(query, "KEY1"), query_param(query, "KEY2")) {
                    (Some(h), Some(ts)) => (Form::CQuery, h, ts, path),
                    (Some(_), None) | (None, Some(_)) => {
                        return Err(AuthError::Malformed("KEY1 and KEY2 must be given together"))
                    }
                    (None, None) => {
                        let (h, ts, rest) = two_segments(path)
                            .filter(|(h, ts, _)| {
                                h.len() == 32 && !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_hexdigit())
                            })
                            .ok_or(AuthError::Missing("type_c"))?;
                        (Form::CPath, h, ts, rest)
                    }
                };
                let signed_at = (ts.len() <= 15)
                    .then(|| i64::from_str_radix(ts, 16).ok())
                    .flatten()
                    .ok_or(AuthError::Malformed("the timestamp must be Unix seconds in hexadecimal"))?;
                (form, ts, signed_at, hash, rest)
            }
        };
        let given = parse_hash(hash).ok_or(AuthError::Malformed("the hash must be 32 hexadecimal digits"))?;
        let expires = signed_at.saturating_add(self.delta as i64);
        // Check the signature first: an expiry report must not help anyone probe keys.
        let mut matched = None;
        for key in self.keys() {
            let token = Token { form: form.clone(), ts: ts.to_string(), key: key.to_string() };
            let expect = match &token.form {
                Form::A { rand, uid } => md5(format!("{canonical}-{ts}-{rand}-{uid}-{key}").as_bytes()),
                Form::B => md5(format!("{key}{ts}{canonical}").as_bytes()),
                Form::CPath | Form::CQuery => md5(format!("{key}{canonical}{ts}").as_bytes()),
            };
            // Both keys are always tried, so the time taken does not say which one matched.
            if constant_time_eq(&expect, &given) && matched.is_none() {
                matched = Some(token);
            }
        }
        let token = matched.ok_or(AuthError::Mismatch)?;
        if now > expires {
            return Err(AuthError::Expired { expired: expires });
        }
        Ok(Verified { path: canonical.to_string(), expires, token: Some(token) })
    }
}

#[cfg(test)]
mod tests;
