use thiserror::Error;

/// KMS errors, each mapped once to the wire by its caller (HTTP status, RTMP status, Alibaba
/// `Code`). Messages never contain key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KmsError {
    #[error("the specified key {0} does not exist")]
    KeyNotFound(String),
    #[error("the specified key {0} is disabled")]
    KeyDisabled(String),
    #[error("the specified key {0} is pending deletion")]
    KeyPendingDeletion(String),
    #[error("the alias {0} already exists")]
    AliasExists(String),
    #[error("invalid ciphertext blob: {0}")]
    InvalidCiphertext(&'static str),
    #[error("the encryption context does not match the one the ciphertext was created with")]
    ContextMismatch,
    #[error("the ciphertext blob was tampered with or corrupted (authentication failed)")]
    Tampered,
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("root key: {0}")]
    RootKey(String),
    #[error("store: {0}")]
    Store(#[from] sealcast_store::StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] sealcast_crypto::CryptoError),
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
    #[error("the remote KMS refused: {code}: {message}")]
    Remote { code: String, message: String },
}
