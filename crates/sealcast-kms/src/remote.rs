//! A KMS reached over its API (2016-01-20): another Sealcast (`sealcast serve --api-only` is a
//! standalone KMS) or Alibaba Cloud KMS. Calls are signed with the configured access key;
//! data keys come back in plaintext over the connection (use HTTPS beyond loopback) and live in
//! memory only.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sealcast_crypto::SecretBytes;
use sealcast_http::{Credentials, OpenApiClient, OpenApiError};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::error::KmsError;
use crate::{DataKey, Decrypted, KeySpec, Kms};

const VERSION: &str = "2016-01-20";

/// Where the remote KMS is and how to sign for it.
#[derive(Debug, Clone)]
pub struct RemoteKmsConfig {
    /// `http://127.0.0.1:8081`, `https://kms.example.com` or a bare host (HTTPS).
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The CMK used when a caller names none.
    pub default_key_id: String,
    /// Extra PEM CA certificates for an HTTPS endpoint.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// The remote KMS client.
pub struct RemoteKms {
    client: OpenApiClient,
    default_key_id: String,
}

impl std::fmt::Debug for RemoteKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKms")
            .field("endpoint", &self.client.endpoint())
            .field("default_key_id", &self.default_key_id)
            .finish_non_exhaustive()
    }
}

/// Maps a failed call onto [`KmsError`]: unreachable or failing servers are `Unavailable`
/// (cached keys keep serving), refusals keep their meaning.
fn map_error(e: OpenApiError) -> KmsError {
    match e {
        OpenApiError::Transport(t) => KmsError::Unavailable(t.to_string()),
        OpenApiError::Api { status, code, message, .. } => match code.as_str() {
            "Forbidden.KeyNotFound" => KmsError::KeyNotFound(message),
            "Rejected.Disabled" => KmsError::KeyDisabled(message),
            "Rejected.PendingDeletion" => KmsError::KeyPendingDeletion(message),
            // Alibaba-style KMSs answer InvalidCiphertext for a context that does not match as
            // for a damaged blob; callers that try another context (the key endpoint) rely on
            // seeing a mismatch.
            "InvalidCiphertext" => KmsError::ContextMismatch,
            "InvalidParameter" => KmsError::InvalidParameter(message),
            _ if status >= 500 || status == 429 => KmsError::Unavailable(format!("{code}: {message}")),
            _ => KmsError::Remote { code, message },
        },
        OpenApiError::Response { status, reason } => {
            KmsError::Unavailable(format!("unreadable answer (HTTP {status}): {reason}"))
        }
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, KmsError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| KmsError::Unavailable(format!("the remote KMS answer has no {name}")))
}

fn secret(v: &Value) -> Result<SecretBytes, KmsError> {
    let b64 = Zeroizing::new(field(v, "Plaintext")?.to_string());
    let raw =
        STANDARD.decode(b64.as_bytes()).map_err(|_| KmsError::Unavailable("the Plaintext is not Base64".into()))?;
    Ok(SecretBytes::new(raw))
}

fn context_json(ctx: &EncryptionContext) -> String {
    let map: serde_json::Map<String, Value> = ctx.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Value::Object(map).to_string()
}

impl RemoteKms {
    pub fn new(cfg: RemoteKmsConfig) -> Result<RemoteKms, KmsError> {
        if cfg.default_key_id.is_empty() {
            return Err(KmsError::InvalidParameter("a remote KMS needs the id of the CMK to use (kms.key_id)".into()));
        }
        let client = OpenApiClient::new(
            &cfg.endpoint,
            Credentials::new(&cfg.access_key_id, &cfg.access_key_secret),
            cfg.extra_ca_pem.as_deref(),
            cfg.timeout,
        )
        .map_err(|e| KmsError::InvalidParameter(format!("remote KMS endpoint: {e}")))?;
        Ok(RemoteKms { client, default_key_id: cfg.default_key_id })
    }

    pub fn endpoint(&self) -> String {
        self.client.endpoint()
    }

    pub fn default_key_id(&self) -> &str {
        &self.default_key_id
    }

    /// DescribeKey on the default CMK: proves the endpoint, the credentials and the key.
    pub async fn check(&self) -> Result<String, KmsError> {
        let v =
            self.client.call(VERSION, "DescribeKey", &[("KeyId", &self.default_key_id)]).await.map_err(map_error)?;
        let state = v.pointer("/KeyMetadata/KeyState").and_then(Value::as_str).unwrap_or("unknown");
        Ok(state.to_string())
    }
}

#[async_trait]
impl Kms for RemoteKms {
    async fn generate_data_key(
        &self,
        key_id: Option<&str>,
        spec: KeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let key_id = key_id.unwrap_or(&self.default_key_id);
        let spec = match spec {
            KeySpec::Aes128 => "AES_128",
            KeySpec::Aes256 => "AES_256",
        };
        let ctx = context_json(context);
        let v = self
            .client
            .call(VERSION, "GenerateDataKey", &[("KeyId", key_id), ("KeySpec", spec), ("EncryptionContext", &ctx)])
            .await
            .map_err(map_error)?;
        let blob = STANDARD
            .decode(field(&v, "CiphertextBlob")?)
            .map_err(|_| KmsError::Unavailable("the CiphertextBlob is not Base64".into()))?;
        Ok(DataKey {
            key_id: field(&v, "KeyId")?.to_string(),
            key_version_id: v.get("KeyVersionId").and_then(Value::as_str).unwrap_or_default().to_string(),
            plaintext: secret(&v)?,
            ciphertext_blob: blob,
        })
    }

    async fn decrypt(&self, ciphertext_blob: &[u8], context: &EncryptionContext) -> Result<Decrypted, KmsError> {
        let blob = STANDARD.encode(ciphertext_blob);
        let ctx = context_json(context);
        let v = self
            .client
            .call(VERSION, "Decrypt", &[("CiphertextBlob", &blob), ("EncryptionContext", &ctx)])
            .await
            .map_err(map_error)?;
        Ok(Decrypted {
            key_id: field(&v, "KeyId")?.to_string(),
            key_version_id: v.get("KeyVersionId").and_then(Value::as_str).unwrap_or_default().to_string(),
            plaintext: secret(&v)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_meaning() {
        let api = |status: u16, code: &str| OpenApiError::Api {
            status,
            code: code.into(),
            message: "m".into(),
            request_id: "r".into(),
        };
        assert!(matches!(map_error(api(404, "Forbidden.KeyNotFound")), KmsError::KeyNotFound(_)));
        assert!(matches!(map_error(api(400, "Rejected.Disabled")), KmsError::KeyDisabled(_)));
        assert!(matches!(map_error(api(400, "InvalidCiphertext")), KmsError::ContextMismatch));
        assert!(matches!(map_error(api(503, "ServiceUnavailable")), KmsError::Unavailable(_)));
        assert!(matches!(map_error(api(403, "Forbidden.RAM")), KmsError::Remote { .. }));
        let t = OpenApiError::Transport(sealcast_http::HttpError::Http("connection refused".into()));
        assert!(matches!(map_error(t), KmsError::Unavailable(_)));
        let ctx = EncryptionContext::new().with("b", "2").with("a", "1");
        assert_eq!(context_json(&ctx), r#"{"a":"1","b":"2"}"#);
    }
}
