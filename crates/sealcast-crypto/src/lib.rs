//! Content encryption and secret handling for Sealcast, on aws-lc-rs.
//!
//! - [`SecretBytes`]: key material that is zeroized on drop and never printed.
//! - [`aes128_cbc_encrypt`] / [`aes128_cbc_decrypt`]: HLS segment encryption (RFC 8216
//!   METHOD=AES-128: whole-segment CBC with PKCS#7 padding).
//! - [`seal_aes256_gcm`] / [`open_aes256_gcm`]: authenticated sealing for the KMS and for
//!   data at rest.
//!
//! ```
//! use sealcast_crypto::{aes128_cbc_decrypt, aes128_cbc_encrypt};
//! let key = [7u8; 16];
//! let iv = [9u8; 16];
//! let mut seg = b"188-byte packets...".to_vec();
//! aes128_cbc_encrypt(&key, &iv, &mut seg).unwrap();
//! assert_eq!(aes128_cbc_decrypt(&key, &iv, &mut seg).unwrap(), b"188-byte packets...");
//! ```
#![forbid(unsafe_code)]

use std::fmt;

pub mod civil;
pub mod envelope;
pub mod hpke;
mod md5;
pub use md5::{md5, md5_hex};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
    UnboundCipherKey, AES_128,
};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

/// Crypto failures. Deliberately coarse: they never say more than an attacker may learn.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("key has the wrong length")]
    KeyLength,
    #[error("authentication failed: the data was tampered with or the key/associated data is wrong")]
    Authentication,
    #[error("invalid padding or ciphertext length")]
    Padding,
    #[error("the system random number generator failed")]
    Random,
}

/// Secret key material: zeroized on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// Fresh random secret of `len` bytes.
    pub fn random(len: usize) -> Result<Self, CryptoError> {
        let mut v = vec![0u8; len];
        fill_random(&mut v)?;
        Ok(SecretBytes::new(v))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first 16 bytes as an AES-128 key.
    pub fn as_aes128(&self) -> Result<&[u8; 16], CryptoError> {
        self.0.as_slice().try_into().map_err(|_| CryptoError::KeyLength)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

/// Fills `buf` from the system CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(buf).map_err(|_| CryptoError::Random)
}

/// A random array.
pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut a = [0u8; N];
    fill_random(&mut a)?;
    Ok(a)
}

/// Encrypts `data` in place with AES-128-CBC and PKCS#7 padding (it grows by 1..=16 bytes).
pub fn aes128_cbc_encrypt(key: &[u8; 16], iv: &[u8; 16], data: &mut Vec<u8>) -> Result<(), CryptoError> {
    let k = UnboundCipherKey::new(&AES_128, key).map_err(|_| CryptoError::KeyLength)?;
    let enc = PaddedBlockEncryptingKey::cbc_pkcs7(k).map_err(|_| CryptoError::KeyLength)?;
    enc.less_safe_encrypt(data, EncryptionContext::Iv128(iv.into())).map_err(|_| CryptoError::Padding)?;
    Ok(())
}

/// AES-128-CTR in place (encryption and decryption are the same operation). The 16-byte
/// counter block starts at `iv` and is incremented as a 128-bit big-endian number.
pub fn aes128_ctr_apply(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) -> Result<(), CryptoError> {
    let k = UnboundCipherKey::new(&AES_128, key).map_err(|_| CryptoError::KeyLength)?;
    let dec = DecryptingKey::ctr(k).map_err(|_| CryptoError::KeyLength)?;
    dec.decrypt(data, DecryptionContext::Iv128(iv.into())).map_err(|_| CryptoError::Padding)?;
    Ok(())
}

/// Decrypts AES-128-CBC/PKCS#7 in place; returns the plaintext slice.
pub fn aes128_cbc_decrypt<'a>(key: &[u8; 16], iv: &[u8; 16], data: &'a mut [u8]) -> Result<&'a mut [u8], CryptoError> {
    let k = UnboundCipherKey::new(&AES_128, key).map_err(|_| CryptoError::KeyLength)?;
    let dec = PaddedBlockDecryptingKey::cbc_pkcs7(k).map_err(|_| CryptoError::KeyLength)?;
    dec.decrypt(data, DecryptionContext::Iv128(iv.into())).map_err(|_| CryptoError::Padding)
}

/// AES-256-GCM: returns ciphertext || 16-byte tag.
pub fn seal_aes256_gcm(key: &[u8], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::KeyLength)?);
    let mut out = plaintext.to_vec();
    k.seal_in_place_append_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut out)
        .map_err(|_| CryptoError::KeyLength)?;
    Ok(out)
}

/// Opens AES-256-GCM ciphertext || tag into a zeroizing buffer.
pub fn open_aes256_gcm(key: &[u8], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
    let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::KeyLength)?);
    let mut buf = sealed.to_vec();
    let res = k.open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut buf).map(|p| p.len());
    match res {
        Ok(n) => {
            buf.truncate(n);
            Ok(SecretBytes::new(buf))
        }
        Err(_) => {
            buf.zeroize();
            Err(CryptoError::Authentication)
        }
    }
}

/// SHA-256 digest.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-1 digest. Only for identifiers that standards fix to SHA-1 (OCSP CertID hashes, which
/// responders universally expect); never for anything an attacker could exploit collisions in.
pub fn sha1_for_identifiers(data: &[u8]) -> [u8; 20] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

/// Signature algorithms Sealcast verifies (X.509 / OCSP signatures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureAlg {
    /// ECDSA (DER-encoded signature) with the named curve and hash.
    EcdsaP256Sha256,
    EcdsaP256Sha384,
    EcdsaP384Sha256,
    EcdsaP384Sha384,
    /// RSA PKCS#1 v1.5, keys of 2048 to 8192 bits.
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
}

/// Verifies `signature` over `message`. `public_key` is the SubjectPublicKeyInfo's key bits:
/// the uncompressed EC point, or the DER `RSAPublicKey`.
pub fn verify_signature(alg: SignatureAlg, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use aws_lc_rs::signature as sig;
    let params: &'static dyn sig::VerificationAlgorithm = match alg {
        SignatureAlg::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
        SignatureAlg::EcdsaP256Sha384 => &sig::ECDSA_P256_SHA384_ASN1,
        SignatureAlg::EcdsaP384Sha256 => &sig::ECDSA_P384_SHA256_ASN1,
        SignatureAlg::EcdsaP384Sha384 => &sig::ECDSA_P384_SHA384_ASN1,
        SignatureAlg::RsaPkcs1Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        SignatureAlg::RsaPkcs1Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        SignatureAlg::RsaPkcs1Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
    };
    sig::UnparsedPublicKey::new(params, public_key).verify(message, signature).is_ok()
}

/// HMAC-SHA256 (API request signatures, ACS3-HMAC-SHA256).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::hmac::sign(&k, message).as_ref());
    out
}

/// HMAC-SHA1, only for Alibaba Cloud's signature V1 (HMAC-SHA1 is what those SDKs send).
pub fn hmac_sha1_for_legacy_signatures(key: &[u8], message: &[u8]) -> [u8; 20] {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut out = [0u8; 20];
    out.copy_from_slice(aws_lc_rs::hmac::sign(&k, message).as_ref());
    out
}

/// Compares two byte strings in time that depends only on their lengths (for MACs and
/// signatures received from clients).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod ctr_tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    /// NIST SP 800-38A, F.5.1 CTR-AES128.Encrypt.
    #[test]
    fn sp800_38a_vector() {
        let key: [u8; 16] = h("2b7e151628aed2a6abf7158809cf4f3c").try_into().expect("16");
        let iv: [u8; 16] = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().expect("16");
        let mut data = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        aes128_ctr_apply(&key, &iv, &mut data).expect("ctr");
        assert_eq!(data, h("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"));
        // Odd lengths work, and applying again decrypts.
        let mut odd = b"seventeen bytes!!".to_vec();
        aes128_ctr_apply(&key, &iv, &mut odd).expect("ctr");
        aes128_ctr_apply(&key, &iv, &mut odd).expect("ctr");
        assert_eq!(odd, b"seventeen bytes!!");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    #[test]
    fn aes128_cbc_nist_vector() {
        // NIST SP 800-38A F.2.1, first block; PKCS#7 adds one block of padding.
        let key: [u8; 16] = hex("2b7e151628aed2a6abf7158809cf4f3c").try_into().expect("16");
        let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().expect("16");
        let mut data = hex("6bc1bee22e409f96e93d7e117393172a");
        aes128_cbc_encrypt(&key, &iv, &mut data).expect("encrypt");
        assert_eq!(data.len(), 32);
        assert_eq!(data[..16], hex("7649abac8119b246cee98e9b12e9197d")[..]);
        let pt = aes128_cbc_decrypt(&key, &iv, &mut data).expect("decrypt");
        assert_eq!(pt, &hex("6bc1bee22e409f96e93d7e117393172a")[..]);
    }

    #[test]
    fn gcm_detects_tampering_and_wrong_aad() {
        let key = [1u8; 32];
        let nonce = [2u8; 12];
        let sealed = seal_aes256_gcm(&key, &nonce, b"ctx", b"secret").expect("seal");
        assert_eq!(open_aes256_gcm(&key, &nonce, b"ctx", &sealed).expect("open").expose(), b"secret");
        assert_eq!(open_aes256_gcm(&key, &nonce, b"other", &sealed), Err(CryptoError::Authentication));
        let mut t = sealed.clone();
        t[0] ^= 1;
        assert_eq!(open_aes256_gcm(&key, &nonce, b"ctx", &t), Err(CryptoError::Authentication));
        assert_eq!(seal_aes256_gcm(&[0; 5], &nonce, b"", b"").err(), Some(CryptoError::KeyLength));
    }

    #[test]
    fn sha1_vector_and_signatures() {
        // FIPS 180 "abc".
        assert_eq!(sha1_for_identifiers(b"abc")[..], hex("a9993e364706816aba3e25717850c26c9cd0d89d")[..]);
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("keygen");
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("key");
        let sig = kp.sign(&rng, b"message").expect("sign");
        let public = kp.public_key().as_ref();
        assert!(verify_signature(SignatureAlg::EcdsaP256Sha256, public, b"message", sig.as_ref()));
        assert!(!verify_signature(SignatureAlg::EcdsaP256Sha256, public, b"messagE", sig.as_ref()));
        assert!(!verify_signature(SignatureAlg::EcdsaP384Sha384, public, b"message", sig.as_ref()));
        assert!(!verify_signature(SignatureAlg::RsaPkcs1Sha256, public, b"message", sig.as_ref()));
    }

    #[test]
    fn secrets_are_redacted() {
        let s = SecretBytes::new(vec![0xab; 16]);
        assert_eq!(format!("{s:?}"), "SecretBytes([REDACTED; 16])");
        assert!(SecretBytes::random(16).expect("rng").as_aes128().is_ok());
    }
}
