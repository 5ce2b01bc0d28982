//! HPKE (RFC 9180) base mode with the suite DHKEM(P-256, HKDF-SHA256), HKDF-SHA256,
//! AES-128-GCM (KEM 0x0010, KDF 0x0001, AEAD 0x0001): how content keys are sealed to one
//! player. The implementation is rustls' HPKE on aws-lc-rs (the same provider as everything
//! else); this module fixes the suite and the encodings: public keys and `enc` are 65-byte
//! uncompressed SEC1 points, private keys 32-byte scalars.

use rustls::crypto::aws_lc_rs::hpke::DH_KEM_P256_HKDF_SHA256_AES_128 as SUITE;
use rustls::crypto::hpke::{EncapsulatedSecret, Hpke as _, HpkePrivateKey, HpkePublicKey};
use thiserror::Error;

use crate::SecretBytes;

/// Length of a P-256 public key and of `enc`: `0x04 || X || Y`.
pub const HPKE_PUBLIC_KEY_LEN: usize = 65;
/// AES-128-GCM tag length added by sealing.
pub const HPKE_TAG_LEN: usize = 16;
/// The suite's name in key-delivery messages.
pub const HPKE_SUITE_NAME: &str = "DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM";

/// HPKE failures, deliberately coarse.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum HpkeError {
    #[error("not an uncompressed P-256 public key (65 bytes starting with 0x04, on the curve)")]
    PublicKey,
    #[error("HPKE open failed: wrong key, info or aad, or tampered data")]
    Open,
    #[error("HPKE key generation failed")]
    KeyGeneration,
}

/// A recipient (player) key pair. The private key is zeroized on drop.
pub struct HpkeKeyPair {
    pub public: Vec<u8>,
    private: HpkePrivateKey,
}

impl std::fmt::Debug for HpkeKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpkeKeyPair").field("public", &self.public.len()).finish_non_exhaustive()
    }
}

impl HpkeKeyPair {
    /// A fresh key pair.
    pub fn generate() -> Result<Self, HpkeError> {
        let (pk, sk) = SUITE.generate_key_pair().map_err(|_| HpkeError::KeyGeneration)?;
        Ok(HpkeKeyPair { public: pk.0, private: sk })
    }

    /// From a 32-byte private scalar and its public key (for test vectors and stored keys).
    pub fn from_private(private: &[u8], public: &[u8]) -> Self {
        HpkeKeyPair { public: public.to_vec(), private: HpkePrivateKey::from(private.to_vec()) }
    }

    /// Opens what [`seal`] produced for this key pair.
    pub fn open(&self, enc: &[u8], info: &[u8], aad: &[u8], ciphertext: &[u8]) -> Result<SecretBytes, HpkeError> {
        SUITE
            .open(&EncapsulatedSecret(enc.to_vec()), info, aad, ciphertext, &self.private)
            .map(SecretBytes::new)
            .map_err(|_| HpkeError::Open)
    }
}

/// Seals `plaintext` to `recipient` (single-shot base mode). Returns `(enc, ciphertext)`;
/// the ciphertext is the plaintext length plus [`HPKE_TAG_LEN`].
pub fn seal(recipient: &[u8], info: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), HpkeError> {
    if recipient.len() != HPKE_PUBLIC_KEY_LEN || recipient[0] != 0x04 {
        return Err(HpkeError::PublicKey);
    }
    let (enc, ct) =
        SUITE.seal(info, aad, plaintext, &HpkePublicKey(recipient.to_vec())).map_err(|_| HpkeError::PublicKey)?;
    Ok((enc.0, ct))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    /// RFC 9180 Appendix A.3.1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
    #[test]
    fn rfc9180_a31_vectors_open() {
        let sk_r = h("f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2");
        let pk_r = h("04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0");
        let enc = h("04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4");
        let info = h("4f6465206f6e2061204772656369616e2055726e");
        let pt = h("4265617574792069732074727574682c20747275746820626561757479");
        let ct = h("5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f39513434");
        let aad = h("436f756e742d30");
        let kp = HpkeKeyPair::from_private(&sk_r, &pk_r);
        assert_eq!(kp.open(&enc, &info, &aad, &ct).expect("vector opens").expose(), pt.as_slice());
        // Any change to info, aad or the ciphertext fails.
        assert_eq!(kp.open(&enc, b"other", &aad, &ct).map(|_| ()), Err(HpkeError::Open));
        assert_eq!(kp.open(&enc, &info, b"", &ct).map(|_| ()), Err(HpkeError::Open));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(kp.open(&enc, &info, &aad, &bad).map(|_| ()), Err(HpkeError::Open));
        // Sealing to the vector's recipient opens with its private key.
        let (enc2, ct2) = seal(&pk_r, &info, &aad, &pt).expect("seal");
        assert_eq!(enc2.len(), HPKE_PUBLIC_KEY_LEN);
        assert_eq!(ct2.len(), pt.len() + HPKE_TAG_LEN);
        assert_eq!(kp.open(&enc2, &info, &aad, &ct2).expect("open").expose(), pt.as_slice());
    }

    #[test]
    fn sealed_keys_open_only_for_their_recipient() {
        let player = HpkeKeyPair::generate().expect("key pair");
        let other = HpkeKeyPair::generate().expect("key pair");
        assert_eq!(player.public.len(), HPKE_PUBLIC_KEY_LEN);
        let (enc, ct) = seal(&player.public, b"info", b"", &[7u8; 16]).expect("seal");
        assert_eq!(player.open(&enc, b"info", b"", &ct).expect("open").expose(), &[7u8; 16]);
        assert_eq!(other.open(&enc, b"info", b"", &ct).map(|_| ()), Err(HpkeError::Open));
        // Fresh ephemeral keys: sealing twice gives different output.
        assert_ne!(seal(&player.public, b"info", b"", &[7u8; 16]).expect("seal").0, enc);
        // Not a point.
        let mut off_curve = player.public.clone();
        off_curve[64] ^= 1;
        assert_eq!(seal(&off_curve, b"i", b"", b"k"), Err(HpkeError::PublicKey));
        assert_eq!(seal(&player.public[..33], b"i", b"", b"k"), Err(HpkeError::PublicKey));
        assert!(!format!("{player:?}").contains("private:"));
    }
}
