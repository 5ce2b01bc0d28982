//! The encryption context of stream data keys.

use sealcast_kms::EncryptionContext;

use crate::config::EncryptionMode;

/// The KMS encryption context of a stream's data keys: `{domain, app, stream}`, plus
/// `delivery: envelope` for envelope streams. The delivery mode is bound into the ciphertext:
/// an envelope key cannot be unwrapped by the raw-key path, whatever the request says.
pub fn key_context(domain: &str, app: &str, stream: &str, mode: EncryptionMode) -> EncryptionContext {
    let ctx = EncryptionContext::new().with("domain", domain).with("app", app).with("stream", stream);
    match mode {
        EncryptionMode::Envelope => ctx.with("delivery", "envelope"),
        EncryptionMode::Aes128 | EncryptionMode::None => ctx,
    }
}
