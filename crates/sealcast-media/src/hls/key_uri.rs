//! Key URIs as Sealcast lists them in `EXT-X-KEY`: `{stream}/key?d={domain}&ct={ciphertext
//! key}`, relative to the playlist at `/{app}/{stream}.m3u8`. The ciphertext key is the KMS
//! blob (opaque here), base64url without padding; the domain is percent-encoded.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The parts of a key URI: `{stream}/key?d={domain}&ct={base64url ciphertext blob}`,
/// relative to the playlist at `/{app}/{stream}.m3u8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUri {
    pub domain: String,
    pub ciphertext_blob: Vec<u8>,
}

impl KeyUri {
    /// Renders the playlist-relative URI.
    pub fn render(&self, stream: &str) -> String {
        format!("{stream}/key?d={}&ct={}", percent_encode(&self.domain), URL_SAFE_NO_PAD.encode(&self.ciphertext_blob))
    }

    /// Parses the query string of a key request (other parameters, such as credentials, are
    /// ignored).
    pub fn from_query(query: &str) -> Result<KeyUri, &'static str> {
        let mut domain = None;
        let mut ct = None;
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "d" => domain = Some(percent_decode(v).ok_or("the d parameter is not valid percent-encoding")?),
                "ct" => ct = Some(URL_SAFE_NO_PAD.decode(v).map_err(|_| "the ct parameter is not base64url")?),
                _ => {}
            }
        }
        Ok(KeyUri {
            domain: domain.ok_or("missing d (domain) parameter")?,
            ciphertext_blob: ct.ok_or("missing ct (ciphertext key) parameter")?,
        })
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_uri_roundtrip() {
        let k = KeyUri { domain: "play.example.com".into(), ciphertext_blob: vec![0, 255, 3, 4, 5] };
        let uri = k.render("cam");
        let (path, query) = uri.split_once('?').expect("query");
        assert_eq!(path, "cam/key");
        assert_eq!(KeyUri::from_query(query), Ok(k));
        assert!(KeyUri::from_query("d=a").is_err());
        assert!(KeyUri::from_query("d=a&ct=***").is_err());
        assert_eq!(KeyUri::from_query("ct=AA&d=%5B%3A%3A1%5D").map(|k| k.domain), Ok("[::1]".to_string()));
    }
}
