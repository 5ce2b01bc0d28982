//! Key management for Sealcast.
//!
//! [`Kms`] is what the rest of Sealcast uses: `GenerateDataKey` and `Decrypt` with an
//! encryption context, in the shape of Alibaba Cloud KMS (2016-01-20). [`BuiltinKms`]
//! implements it locally: customer master keys (CMKs) are 256-bit AES keys stored in the
//! database sealed by a root key ([`RootKey`]); data keys are returned in plaintext (in
//! memory only, zeroized on drop) and as a self-describing ciphertext blob ([`blob`]).
//!
//! [`RemoteKms`] plugs a KMS speaking the same API (another Sealcast, Alibaba Cloud KMS) in
//! behind the same trait.
#![forbid(unsafe_code)]

pub mod blob;
mod builtin;
mod context;
mod error;
mod remote;
mod root_key;

pub use builtin::BuiltinKms;
pub use context::EncryptionContext;
pub use error::KmsError;
pub use remote::{RemoteKms, RemoteKmsConfig};
pub use root_key::{RootKey, RootKeySource};

use async_trait::async_trait;
use sealcast_crypto::SecretBytes;

/// Data key sizes, as KMS `KeySpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Aes128,
    Aes256,
}

impl KeySpec {
    pub fn key_len(self) -> usize {
        match self {
            KeySpec::Aes128 => 16,
            KeySpec::Aes256 => 32,
        }
    }
}

/// A GenerateDataKey result.
#[derive(Debug, Clone)]
pub struct DataKey {
    pub key_id: String,
    pub key_version_id: String,
    /// Plaintext data key: memory only, zeroized on drop, redacted in Debug.
    pub plaintext: SecretBytes,
    /// Self-describing ciphertext blob; safe to store and to publish.
    pub ciphertext_blob: Vec<u8>,
}

/// A Decrypt result.
#[derive(Debug, Clone)]
pub struct Decrypted {
    pub key_id: String,
    pub key_version_id: String,
    pub plaintext: SecretBytes,
}

/// The key-management operations Sealcast needs.
#[async_trait]
pub trait Kms: Send + Sync + std::fmt::Debug {
    /// Generates a data key under `key_id` (an id or `alias/...`; `None` = the default CMK).
    async fn generate_data_key(
        &self,
        key_id: Option<&str>,
        spec: KeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError>;

    /// Decrypts a ciphertext blob; the context must equal the one used to create it.
    async fn decrypt(&self, ciphertext_blob: &[u8], context: &EncryptionContext) -> Result<Decrypted, KmsError>;
}
