//! TLS for Sealcast's playback edge.
//!
//! - [`domain`]: playback domain names and wildcard rules (`*.example.com` matches exactly one
//!   label).
//! - [`validate`]: checks an uploaded PEM certificate chain and private key, with a precise
//!   [`CertError`] for each way it can be wrong, and describes it ([`CertInfo`]) without ever
//!   exposing the key.
//! - [`ocsp`]: OCSP requests and response checks for stapling (sans-IO).
//! - [`snapshot`]: the per-domain rustls configurations, chosen by SNI after reading the
//!   ClientHello, held in an atomically swapped snapshot so updates never block handshakes.
#![forbid(unsafe_code)]

pub mod domain;
pub mod ocsp;
pub mod snapshot;
pub mod validate;

#[cfg(any(test, feature = "test-pki"))]
pub mod test_pki;

pub use domain::{DomainError, DomainName, NameMap};
pub use snapshot::{DomainTls, TlsOptions, TlsRegistry, TlsSnapshot, UNRECOGNIZED_NAME_ALERT};
pub use validate::{validate, CertError, CertInfo, ValidatedCert};

/// The crypto provider every Sealcast TLS configuration uses (aws-lc-rs).
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
