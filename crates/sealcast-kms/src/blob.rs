//! The built-in KMS ciphertext blob, version 1.
//!
//! ```text
//! magic    4 bytes  "SCK1"
//! kid_len  1 byte   length of the CMK id (1..=255)
//! kid      kid_len  CMK id, ASCII
//! ver_len  1 byte   length of the CMK version id (1..=255)
//! ver      ver_len  CMK version id, ASCII
//! ctx_tag  8 bytes  first 8 bytes of SHA-256(canonical encryption context)
//! nonce   12 bytes  AES-256-GCM nonce, random
//! sealed   n + 16   AES-256-GCM(CMK version material, nonce, aad, data key) || tag
//! aad = every byte before the nonce || canonical encryption context
//! ```
//!
//! The context tag lets Decrypt tell "wrong encryption context" apart from "tampered blob"
//! without trusting it: the tag is covered by the AEAD like the rest of the header.

use crate::error::KmsError;

pub const MAGIC: &[u8; 4] = b"SCK1";
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Largest data key the built-in KMS issues (NumberOfBytes up to 1024).
pub const MAX_PLAINTEXT: usize = 1024;

/// A parsed blob, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob<'a> {
    pub key_id: &'a str,
    pub version_id: &'a str,
    pub context_tag: [u8; 8],
    pub nonce: [u8; NONCE_LEN],
    pub sealed: &'a [u8],
    /// Header bytes before the nonce (part of the AAD).
    pub header: &'a [u8],
}

/// Header bytes for a new blob.
pub fn header(key_id: &str, version_id: &str, context_tag: [u8; 8]) -> Result<Vec<u8>, KmsError> {
    if key_id.is_empty() || key_id.len() > 255 || version_id.is_empty() || version_id.len() > 255 {
        return Err(KmsError::InvalidParameter("key and version ids must be 1..=255 bytes".into()));
    }
    let mut h = Vec::with_capacity(4 + 2 + key_id.len() + version_id.len() + 8);
    h.extend_from_slice(MAGIC);
    h.push(key_id.len() as u8);
    h.extend_from_slice(key_id.as_bytes());
    h.push(version_id.len() as u8);
    h.extend_from_slice(version_id.as_bytes());
    h.extend_from_slice(&context_tag);
    Ok(h)
}

/// Parses a blob. Never panics; every failure says which part is wrong.
pub fn parse(b: &[u8]) -> Result<Blob<'_>, KmsError> {
    let rest = b
        .strip_prefix(MAGIC.as_slice())
        .ok_or(KmsError::InvalidCiphertext("not a Sealcast KMS ciphertext (bad magic)"))?;
    let (key_id, rest) = take_str(rest)?;
    let (version_id, rest) = take_str(rest)?;
    let tag = rest.get(..8).ok_or(KmsError::InvalidCiphertext("truncated context tag"))?;
    let rest = &rest[8..];
    let nonce = rest.get(..NONCE_LEN).ok_or(KmsError::InvalidCiphertext("truncated nonce"))?;
    let sealed = &rest[NONCE_LEN..];
    if sealed.len() <= TAG_LEN || sealed.len() > MAX_PLAINTEXT + TAG_LEN {
        return Err(KmsError::InvalidCiphertext("sealed key has an impossible length"));
    }
    let header_len = b.len() - rest.len();
    let mut context_tag = [0u8; 8];
    context_tag.copy_from_slice(tag);
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    Ok(Blob { key_id, version_id, context_tag, nonce: n, sealed, header: &b[..header_len] })
}

fn take_str(b: &[u8]) -> Result<(&str, &[u8]), KmsError> {
    let (&len, rest) = b.split_first().ok_or(KmsError::InvalidCiphertext("truncated header"))?;
    let len = len as usize;
    if len == 0 {
        return Err(KmsError::InvalidCiphertext("empty id in header"));
    }
    let s = rest.get(..len).ok_or(KmsError::InvalidCiphertext("truncated id in header"))?;
    let s = std::str::from_utf8(s).map_err(|_| KmsError::InvalidCiphertext("id is not UTF-8"))?;
    Ok((s, &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes_and_rejects_truncation() {
        let mut b = header("key-1", "v-1", [9; 8]).expect("header");
        let hlen = b.len();
        b.extend_from_slice(&[1; NONCE_LEN]);
        b.extend_from_slice(&[2; 32]);
        let p = parse(&b).expect("parse");
        assert_eq!((p.key_id, p.version_id, p.context_tag), ("key-1", "v-1", [9; 8]));
        assert_eq!(p.header.len(), hlen);
        // Up to a minimal sealed part, truncation is a parse error; past that the AEAD catches it.
        for n in 0..=hlen + NONCE_LEN + TAG_LEN {
            assert!(parse(&b[..n]).is_err(), "truncated at {n}");
        }
        assert!(parse(b"XXXX").is_err());
    }
}
