//! The envelope key-delivery exchange (docs/key-delivery.md), shared by the server and the
//! player SDK: a player POSTs its P-256 public key to a key URI; the server answers with the
//! content key sealed to it with HPKE, bound by `info` to the domain, app, stream, key id and
//! expiry.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::hpke::{self, HpkeKeyPair, HPKE_PUBLIC_KEY_LEN, HPKE_SUITE_NAME};
use crate::{sha256, SecretBytes};

/// KEYFORMAT of envelope keys in EXT-X-KEY.
pub const KEYFORMAT: &str = "com.sealcast.envelope";
/// KEYFORMATVERSIONS of this exchange.
pub const KEYFORMAT_VERSION: &str = "1";

/// The body of a key request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeRequest {
    /// The player's P-256 public key, uncompressed SEC1 (65 bytes), base64url.
    pub pk: String,
}

/// The body of a key response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvelopeResponse {
    /// HPKE suite name.
    pub suite: String,
    /// HPKE encapsulated key (65 bytes), base64url.
    pub enc: String,
    /// The sealed 16-byte content key (32 bytes with the GCM tag), base64url.
    pub key: String,
    /// Key id: the first 32 hex digits of SHA-256 of the ciphertext blob.
    pub kid: String,
    /// Unix time after which the player must not use the key.
    pub exp: i64,
}

/// Where a key belongs; part of what the seal is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The `d` parameter of the key URI.
    pub domain: &'a str,
    pub app: &'a str,
    pub stream: &'a str,
}

/// Envelope exchange failures.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("invalid key request: {0}")]
    Request(String),
    #[error("invalid key response: {0}")]
    Response(String),
    #[error("the key response is for key {got}, not {want}")]
    WrongKey { got: String, want: String },
    #[error("the key expired at {0} (Unix time)")]
    Expired(i64),
    #[error(transparent)]
    Hpke(#[from] hpke::HpkeError),
}

/// The key id of a ciphertext blob.
pub fn key_id(ciphertext_blob: &[u8]) -> String {
    sha256(ciphertext_blob)[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The HPKE `info`: `"sealcast-envelope-v1" 0x00 domain 0x00 app 0x00 stream 0x00 kid 0x00 exp`.
pub fn info(b: Binding<'_>, kid: &str, exp: i64) -> Vec<u8> {
    format!("sealcast-envelope-v1\0{}\0{}\0{}\0{kid}\0{exp}", b.domain, b.app, b.stream).into_bytes()
}

/// A request body for `pair`.
pub fn request(pair: &HpkeKeyPair) -> EnvelopeRequest {
    EnvelopeRequest { pk: URL_SAFE_NO_PAD.encode(&pair.public) }
}

/// Server side: the public key of a request body.
pub fn parse_request(body: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let req: EnvelopeRequest = serde_json::from_slice(body)
        .map_err(|e| EnvelopeError::Request(format!("the body must be JSON {{\"pk\": \"…\"}}: {e}")))?;
    let pk = URL_SAFE_NO_PAD
        .decode(req.pk.trim_end_matches('='))
        .map_err(|_| EnvelopeError::Request("pk is not base64url".into()))?;
    if pk.len() != HPKE_PUBLIC_KEY_LEN || pk[0] != 0x04 {
        return Err(EnvelopeError::Request(
            "pk must be an uncompressed P-256 public key (65 bytes, 0x04 first)".into(),
        ));
    }
    Ok(pk)
}

/// Server side: seals `key` to `pk`.
pub fn seal(
    pk: &[u8],
    key: &SecretBytes,
    binding: Binding<'_>,
    ciphertext_blob: &[u8],
    exp: i64,
) -> Result<EnvelopeResponse, EnvelopeError> {
    let kid = key_id(ciphertext_blob);
    let (enc, sealed) = hpke::seal(pk, &info(binding, &kid, exp), b"", key.expose())?;
    Ok(EnvelopeResponse {
        suite: HPKE_SUITE_NAME.to_string(),
        enc: URL_SAFE_NO_PAD.encode(enc),
        key: URL_SAFE_NO_PAD.encode(sealed),
        kid,
        exp,
    })
}

/// Player side: opens a response for the key URI's ciphertext blob and binding, checking
/// the suite, key id and expiry.
pub fn open(
    pair: &HpkeKeyPair,
    resp: &EnvelopeResponse,
    binding: Binding<'_>,
    ciphertext_blob: &[u8],
    now: i64,
) -> Result<SecretBytes, EnvelopeError> {
    if resp.suite != HPKE_SUITE_NAME {
        return Err(EnvelopeError::Response(format!("unsupported suite {:?}", resp.suite)));
    }
    let want = key_id(ciphertext_blob);
    if resp.kid != want {
        return Err(EnvelopeError::WrongKey { got: resp.kid.clone(), want });
    }
    if resp.exp < now {
        return Err(EnvelopeError::Expired(resp.exp));
    }
    let b64 = |v: &str, what: &str| {
        URL_SAFE_NO_PAD.decode(v).map_err(|_| EnvelopeError::Response(format!("{what} is not base64url")))
    };
    let key = pair.open(&b64(&resp.enc, "enc")?, &info(binding, &want, resp.exp), b"", &b64(&resp.key, "key")?)?;
    if key.len() != 16 {
        return Err(EnvelopeError::Response("the content key is not 16 bytes".into()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Binding<'static> = Binding { domain: "play.example.com", app: "live", stream: "cam" };

    #[test]
    fn exchange_round_trip_and_bindings() {
        let player = HpkeKeyPair::generate().expect("key pair");
        let body = serde_json::to_vec(&request(&player)).expect("json");
        let pk = parse_request(&body).expect("valid request");
        let key = SecretBytes::new(vec![9; 16]);
        let resp = seal(&pk, &key, B, b"blob", 1_700_000_000).expect("seal");
        assert_eq!(resp.kid.len(), 32);
        assert_eq!(open(&player, &resp, B, b"blob", 1_699_999_999).expect("open").expose(), &[9; 16]);
        // Bound to the stream, the key id and the expiry; useless to another key pair.
        let other_stream = Binding { stream: "other", ..B };
        assert!(matches!(open(&player, &resp, other_stream, b"blob", 0), Err(EnvelopeError::Hpke(_))));
        assert!(matches!(open(&player, &resp, B, b"other blob", 0), Err(EnvelopeError::WrongKey { .. })));
        assert_eq!(
            open(&player, &resp, B, b"blob", 1_700_000_001).map(|_| ()),
            Err(EnvelopeError::Expired(1_700_000_000))
        );
        let extended = EnvelopeResponse { exp: resp.exp + 3600, ..resp.clone() };
        assert!(matches!(open(&player, &extended, B, b"blob", 0), Err(EnvelopeError::Hpke(_))));
        let stranger = HpkeKeyPair::generate().expect("key pair");
        assert!(matches!(open(&stranger, &resp, B, b"blob", 0), Err(EnvelopeError::Hpke(_))));
    }

    #[test]
    fn bad_requests_are_refused() {
        for bad in ["", "{}", "{\"pk\":\"***\"}", "{\"pk\":\"AAAA\"}", "{\"pk\":\"x\",\"ct\":\"y\"}"] {
            assert!(matches!(parse_request(bad.as_bytes()), Err(EnvelopeError::Request(_))), "{bad}");
        }
    }
}
