//! Validation and inspection of uploaded certificates and keys.

use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sealcast_crypto::{sha256, SecretBytes};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::domain::{cert_name_covers, DomainName};

/// Why an upload is rejected. Each case says exactly what to fix; none echoes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("the certificate is not PEM: expected one or more '-----BEGIN CERTIFICATE-----' blocks")]
    CertificateNotPem,
    #[error("the private key is not PEM: expected a '-----BEGIN PRIVATE KEY-----', 'EC PRIVATE KEY' or 'RSA PRIVATE KEY' block")]
    KeyNotPem,
    #[error(
        "the private key is password-protected; upload it unencrypted (e.g. `openssl pkey -in key.pem -out plain.pem`)"
    )]
    EncryptedKey,
    #[error("certificate {index} in the chain cannot be parsed: {reason}")]
    BadCertificate { index: usize, reason: String },
    #[error("unsupported key: {0}; use ECDSA P-256/P-384 or RSA with at least 2048 bits")]
    UnsupportedKey(String),
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    #[error("the certificate expired at {not_after} (Unix time)")]
    Expired { not_after: i64 },
    #[error("the certificate is not valid before {not_before} (Unix time)")]
    NotYetValid { not_before: i64 },
    #[error("the certificate does not cover {domain}: its names are {names:?}")]
    DomainNotCovered { domain: String, names: Vec<String> },
    #[error("the chain is out of order: certificate {index} was not issued by certificate {next} (put the leaf first, then each issuer)")]
    ChainOrder { index: usize, next: usize },
}

/// What can be shown about a certificate: never the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// DNS subject alternative names (or the common name when there are none).
    pub names: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the leaf certificate DER, lower-case hex.
    pub fingerprint_sha256: String,
    /// e.g. "ECDSA P-256" or "RSA 2048".
    pub key_type: String,
    /// Certificates in the chain, leaf included.
    pub chain_length: usize,
}

/// A validated certificate chain and key, ready to serve.
#[derive(Clone)]
pub struct ValidatedCert {
    pub info: CertInfo,
    pub certified: Arc<CertifiedKey>,
    /// The key PEM as uploaded, for sealing at rest. Zeroized on drop.
    pub key_pem: SecretBytes,
    /// The chain PEM as uploaded (public).
    pub cert_pem: String,
}

impl std::fmt::Debug for ValidatedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatedCert").field("info", &self.info).finish_non_exhaustive()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key_type(cert: &X509Certificate<'_>) -> Result<String, CertError> {
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let modulus = rsa.modulus.iter().skip_while(|b| **b == 0).count();
            let bits = modulus * 8;
            if bits < 2048 {
                return Err(CertError::UnsupportedKey(format!("RSA key of {bits} bits")));
            }
            Ok(format!("RSA {bits}"))
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                "1.2.840.10045.3.1.7" => Ok("ECDSA P-256".into()),
                "1.3.132.0.34" => Ok("ECDSA P-384".into()),
                other => Err(CertError::UnsupportedKey(format!("ECDSA on curve {other}"))),
            }
        }
        Ok(_) => Err(CertError::UnsupportedKey(format!("public key algorithm {}", spki.algorithm.algorithm))),
        Err(e) => Err(CertError::UnsupportedKey(format!("unparsable public key ({e})"))),
    }
}

/// Validates a PEM chain (leaf first) and key for `domain` at Unix time `now`. With `now` =
/// `None` the validity window is not checked (reloading a stored certificate: one that expired
/// since its upload keeps serving, with a warning from the caller, rather than vanishing).
pub fn validate(
    domain: &DomainName,
    cert_pem: &str,
    key_pem: &str,
    now: Option<i64>,
) -> Result<ValidatedCert, CertError> {
    if key_pem.contains("ENCRYPTED PRIVATE KEY") || key_pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(CertError::EncryptedKey);
    }
    let chain = pem_chain(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| CertError::KeyNotPem)?;
    let parsed = parse_chain(&chain)?;
    let info = info(&parsed, &chain)?;

    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .map_err(|e| CertError::UnsupportedKey(format!("private key not usable ({e})")))?;
    let certified = CertifiedKey::new(chain.clone(), signing);
    certified.keys_match().map_err(|_| CertError::KeyMismatch)?;

    let (not_before, not_after) = (info.not_before, info.not_after);
    if let Some(now) = now {
        if now < not_before {
            return Err(CertError::NotYetValid { not_before });
        }
        if now > not_after {
            return Err(CertError::Expired { not_after });
        }
    }

    if !info.names.iter().any(|n| cert_name_covers(n, domain)) {
        return Err(CertError::DomainNotCovered { domain: domain.to_string(), names: info.names });
    }

    for i in 0..parsed.len().saturating_sub(1) {
        if parsed[i].issuer().as_raw() != parsed[i + 1].subject().as_raw() {
            return Err(CertError::ChainOrder { index: i, next: i + 1 });
        }
    }

    Ok(ValidatedCert {
        info,
        certified: Arc::new(certified),
        key_pem: SecretBytes::new(key_pem.as_bytes().to_vec()),
        cert_pem: cert_pem.to_string(),
    })
}

fn pem_chain(cert_pem: &str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| CertError::CertificateNotPem)?;
    if chain.is_empty() {
        return Err(CertError::CertificateNotPem);
    }
    Ok(chain)
}

fn parse_chain<'a>(chain: &'a [CertificateDer<'static>]) -> Result<Vec<X509Certificate<'a>>, CertError> {
    chain
        .iter()
        .enumerate()
        .map(|(index, der)| {
            X509Certificate::from_der(der.as_ref())
                .map(|(_, c)| c)
                .map_err(|e| CertError::BadCertificate { index, reason: e.to_string() })
        })
        .collect()
}

fn info(parsed: &[X509Certificate<'_>], chain: &[CertificateDer<'static>]) -> Result<CertInfo, CertError> {
    let leaf = &parsed[0];
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for gn in &san.value.general_names {
            if let GeneralName::DNSName(n) = gn {
                names.push(n.to_string());
            }
        }
    }
    if names.is_empty() {
        names.extend(leaf.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).map(str::to_string));
    }
    Ok(CertInfo {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        serial: hex(leaf.raw_serial()),
        names,
        not_before: leaf.validity().not_before.timestamp(),
        not_after: leaf.validity().not_after.timestamp(),
        fingerprint_sha256: hex(&sha256(chain[0].as_ref())),
        key_type: key_type(leaf)?,
        chain_length: chain.len(),
    })
}

/// Describes a stored (public) certificate chain: no key involved.
pub fn describe(cert_pem: &str) -> Result<CertInfo, CertError> {
    let chain = pem_chain(cert_pem)?;
    let parsed = parse_chain(&chain)?;
    info(&parsed, &chain)
}

#[cfg(test)]
pub(crate) mod tests;
