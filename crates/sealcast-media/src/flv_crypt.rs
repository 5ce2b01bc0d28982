//! Sealcast FLV encryption, version 1 (docs/flv-encryption.md): which bytes of a tag are
//! encrypted, the AES-128-CTR counter block of each tag, and the `onSealcastKey` script tag
//! that announces a key period. The cipher itself is applied by the caller.

use crate::amf0::{decode_all, encode_all, Amf0Value};
use crate::flv_stream::{TAG_AUDIO, TAG_VIDEO};

/// The script-data name of a key announcement.
pub const KEY_TAG_NAME: &str = "onSealcastKey";
/// The only method of version 1.
pub const METHOD: &str = "AES-128-CTR";

/// Where the encrypted part of a tag body starts, or `None` when the tag stays clear: script
/// tags, sequence headers, end-of-sequence and anything too short to carry coded data.
/// AVC video keeps its 5-byte header (frame type/codec, AVC packet type, composition time)
/// clear; AAC audio its 2-byte header (sound format, AAC packet type).
pub fn encrypted_from(tag_type: u8, body: &[u8]) -> Option<usize> {
    match tag_type {
        TAG_VIDEO if body.len() > 5 && body[0] & 0x0f == 7 && body[1] == 1 => Some(5),
        TAG_AUDIO if body.len() > 2 && body[0] >> 4 == 10 && body[1] == 1 => Some(2),
        _ => None,
    }
}

/// The initial counter block of the `counter`-th encrypted tag of a key period:
/// `nonce (8 bytes) || counter (4 bytes, big-endian) || 0x00000000`. The low 32 bits count the
/// 16-byte blocks inside the tag, so tags never share keystream.
pub fn ctr_iv(nonce: &[u8; 8], counter: u32) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(nonce);
    iv[8..12].copy_from_slice(&counter.to_be_bytes());
    iv
}

/// A key period as announced in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAnnouncement {
    /// Key URI (absolute path or URL), fetched like an HLS key URI.
    pub key_uri: String,
    /// `identity` (raw 16-byte key) or `com.sealcast.envelope` (HPKE-sealed key).
    pub keyformat: String,
    /// Key id: first 32 hex digits of SHA-256 of the ciphertext key.
    pub kid: String,
    /// Random per viewer and key period.
    pub nonce: [u8; 8],
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl KeyAnnouncement {
    /// The script tag body: AMF0 string `onSealcastKey`, then an ECMA array.
    pub fn to_script_body(&self) -> Vec<u8> {
        encode_all(&[
            Amf0Value::String(KEY_TAG_NAME.into()),
            Amf0Value::EcmaArray(vec![
                ("version".into(), Amf0Value::Number(1.0)),
                ("method".into(), Amf0Value::String(METHOD.into())),
                ("keyUri".into(), Amf0Value::String(self.key_uri.clone())),
                ("keyFormat".into(), Amf0Value::String(self.keyformat.clone())),
                ("kid".into(), Amf0Value::String(self.kid.clone())),
                ("nonce".into(), Amf0Value::String(hex(&self.nonce))),
            ]),
        ])
    }

    /// Reads a script tag body: `Ok(None)` for other script tags (such as `onMetaData`), an
    /// error for an `onSealcastKey` tag that is malformed or of another version or method.
    pub fn from_script_body(body: &[u8]) -> Result<Option<KeyAnnouncement>, String> {
        let Ok(values) = decode_all(body) else { return Ok(None) };
        match values.first() {
            Some(Amf0Value::String(name)) if name == KEY_TAG_NAME => {}
            _ => return Ok(None),
        }
        let props = match values.get(1) {
            Some(Amf0Value::EcmaArray(p) | Amf0Value::Object(p)) => p,
            _ => return Err("onSealcastKey without properties".into()),
        };
        let get = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let text = |k: &str| match get(k) {
            Some(Amf0Value::String(s)) => Ok(s.clone()),
            _ => Err(format!("onSealcastKey without {k}")),
        };
        if !matches!(get("version"), Some(Amf0Value::Number(v)) if *v == 1.0) {
            return Err("unsupported onSealcastKey version".into());
        }
        let method = text("method")?;
        if method != METHOD {
            return Err(format!("unsupported method {method}"));
        }
        let nonce_hex = text("nonce")?;
        let mut nonce = [0u8; 8];
        if nonce_hex.len() != 16 {
            return Err("the nonce must be 16 hex digits".into());
        }
        for (b, pair) in nonce.iter_mut().zip(nonce_hex.as_bytes().chunks_exact(2)) {
            *b = std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or("the nonce must be 16 hex digits")?;
        }
        Ok(Some(KeyAnnouncement { key_uri: text("keyUri")?, keyformat: text("keyFormat")?, kid: text("kid")?, nonce }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_and_encrypted_parts() {
        assert_eq!(encrypted_from(TAG_VIDEO, &[0x17, 1, 0, 0, 0, 0xaa]), Some(5));
        assert_eq!(encrypted_from(TAG_VIDEO, &[0x17, 0, 0, 0, 0, 0xaa]), None, "sequence header");
        assert_eq!(encrypted_from(TAG_VIDEO, &[0x27, 2, 0, 0, 0, 0]), None, "end of sequence");
        assert_eq!(encrypted_from(TAG_VIDEO, &[0x17, 1, 0, 0, 0]), None, "no payload");
        assert_eq!(encrypted_from(TAG_AUDIO, &[0xaf, 1, 0x21]), Some(2));
        assert_eq!(encrypted_from(TAG_AUDIO, &[0xaf, 0, 0x12, 0x10]), None, "AudioSpecificConfig");
        assert_eq!(encrypted_from(18, b"onMetaData"), None);
        assert_eq!(ctr_iv(&[1; 8], 0x0102_0304), [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 0, 0, 0, 0]);
    }

    #[test]
    fn announcements_round_trip() {
        let a = KeyAnnouncement {
            key_uri: "/live/cam/key?d=x&ct=AA".into(),
            keyformat: "com.sealcast.envelope".into(),
            kid: "00ff".repeat(8),
            nonce: [9, 8, 7, 6, 5, 4, 3, 2],
        };
        let body = a.to_script_body();
        assert_eq!(KeyAnnouncement::from_script_body(&body), Ok(Some(a)));
        let meta = encode_all(&[Amf0Value::String("onMetaData".into()), Amf0Value::EcmaArray(vec![])]);
        assert_eq!(KeyAnnouncement::from_script_body(&meta), Ok(None));
        let bad = encode_all(&[Amf0Value::String(KEY_TAG_NAME.into()), Amf0Value::Null]);
        assert!(KeyAnnouncement::from_script_body(&bad).is_err());
    }
}
