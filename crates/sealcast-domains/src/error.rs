use thiserror::Error;

/// Domain and certificate operation errors, each precise enough to act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error(transparent)]
    InvalidDomain(#[from] sealcast_tls::DomainError),
    #[error("domain {0} does not exist")]
    NotFound(String),
    #[error("domain {0} already exists")]
    Exists(String),
    #[error("domain {0} has no HTTPS certificate")]
    NoCertificate(String),
    #[error("certificate {0} does not exist")]
    CertificateNotFound(String),
    #[error("a certificate named {0} already exists; set it with force (ForceSet=1) to overwrite it")]
    CertificateNameExists(String),
    #[error("the certificate name {0} is used by another domain; choose another name")]
    CertificateNameTaken(String),
    #[error("invalid certificate name {0:?}: use 1-128 characters of A-Z, a-z, 0-9, '_', '-', '.'")]
    InvalidCertificateName(String),
    #[error(transparent)]
    Certificate(#[from] sealcast_tls::CertError),
    #[error(
        "unknown function {0}; supported: https_force, http_force, HSTS, https_tls_version, https_option, aliauth"
    )]
    UnknownFunction(String),
    #[error("{function}: {arg}: {reason}")]
    InvalidArg { function: String, arg: String, reason: String },
    #[error("{0}")]
    Conflict(String),
    #[error("invalid encryption setting: {0}")]
    InvalidEncryption(String),
    #[error("invalid transcoding template: {0}")]
    InvalidTemplate(String),
    #[error("the transcoding template {0} already exists; update it instead")]
    TemplateExists(String),
    #[error("the transcoding template {0} does not exist")]
    TemplateNotFound(String),
    #[error("the stream {0} is not forbidden")]
    StreamNotForbidden(String),
    #[error("no encryption setting for app {app} on {domain}")]
    EncryptionNotFound { domain: String, app: String },
    #[error("KMS: {0}")]
    Kms(#[from] sealcast_kms::KmsError),
    #[error("store: {0}")]
    Store(#[from] sealcast_store::StoreError),
    #[error("stored configuration of {domain} is corrupt: {reason}")]
    Corrupt { domain: String, reason: String },
}
