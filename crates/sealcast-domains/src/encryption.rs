//! Per-app stream encryption on a domain (Alibaba: a transcoding template's
//! `EncryptParameters` — EncryptType, KmsKeyID, KmsKeyExpireInterval).

use std::time::Duration;

use sealcast_hls::{EncryptionMode, StreamEncryption};
use sealcast_kms::{EncryptionContext, KeySpec};
use sealcast_store::StreamEncryptionRecord;

use crate::error::DomainError;
use crate::service::{now, DomainService};

/// Rotation bounds (Alibaba's KmsKeyExpireInterval: 60–3600 s).
pub const ROTATION_RANGE: std::ops::RangeInclusive<u64> = 60..=3600;

/// One app's setting, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEncryptionView {
    pub domain: String,
    pub app: String,
    pub encryption: StreamEncryption,
    pub created_at: i64,
}

fn valid_app(app: &str) -> bool {
    !app.is_empty()
        && app.len() <= 128
        && app != "."
        && app != ".."
        && app.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

fn from_record(r: StreamEncryptionRecord) -> Result<StreamEncryptionView, DomainError> {
    let mode = EncryptionMode::from_name(&r.encrypt_type).ok_or_else(|| DomainError::Corrupt {
        domain: r.domain.clone(),
        reason: format!("unknown encrypt_type {:?} for app {}", r.encrypt_type, r.app),
    })?;
    Ok(StreamEncryptionView {
        encryption: StreamEncryption {
            mode,
            kms_key_id: r.kms_key_id,
            key_rotation_interval: Duration::from_secs(r.key_rotation.max(0) as u64),
        },
        domain: r.domain,
        app: r.app,
        created_at: r.created_at,
    })
}

impl DomainService {
    /// Sets how the streams of `app` published to `domain` are encrypted, from their next
    /// publish on. A CMK, once set, cannot be changed (as in Alibaba); it must be usable now.
    pub async fn set_stream_encryption(
        &self,
        domain: &str,
        app: &str,
        mode: EncryptionMode,
        kms_key_id: Option<&str>,
        rotation_secs: u64,
    ) -> Result<(), DomainError> {
        let (d, _) = self.record(domain).await?;
        if !valid_app(app) {
            return Err(DomainError::InvalidEncryption(format!(
                "invalid app name {app:?}: use 1-128 characters of A-Z, a-z, 0-9, '_', '-', '.'"
            )));
        }
        if !ROTATION_RANGE.contains(&rotation_secs) {
            return Err(DomainError::InvalidEncryption(format!(
                "the key rotation interval (KmsKeyExpireInterval) must be 60 to 3600 seconds, not {rotation_secs}"
            )));
        }
        let existing = self.store().encryption_get(d.as_str(), app).await?;
        let kms_key_id = match (existing.as_ref().and_then(|e| e.kms_key_id.as_deref()), kms_key_id) {
            (Some(old), Some(new)) if old != new => {
                return Err(DomainError::InvalidEncryption(format!(
                    "the KMS key of {app} on {d} is {old} and cannot be changed once set"
                )))
            }
            (Some(old), _) => Some(old.to_string()),
            (None, new) => new.map(str::to_string),
        };
        if let Some(id) = kms_key_id.as_deref().filter(|_| mode != EncryptionMode::None) {
            // Proves the key exists, is enabled and usable before any publish depends on it.
            let ctx = EncryptionContext::new().with("purpose", "check").with("domain", d.as_str());
            self.stream_kms().generate_data_key(Some(id), KeySpec::Aes128, &ctx).await?;
        }
        let rec = StreamEncryptionRecord {
            domain: d.to_string(),
            app: app.to_string(),
            encrypt_type: mode.name().to_string(),
            kms_key_id,
            key_rotation: rotation_secs as i64,
            created_at: now(),
        };
        self.store().encryption_put(&rec).await?;
        Ok(())
    }

    /// The encryption of `app` on `domain`, when one is set.
    pub async fn stream_encryption(&self, domain: &str, app: &str) -> Result<Option<StreamEncryption>, DomainError> {
        let rec = self.store().encryption_get(domain, app).await?;
        rec.map(|r| from_record(r).map(|v| v.encryption)).transpose()
    }

    pub async fn stream_encryptions(&self) -> Result<Vec<StreamEncryptionView>, DomainError> {
        self.store().encryption_list().await?.into_iter().map(from_record).collect()
    }

    /// Removes a setting: the app's streams use the server defaults from their next publish.
    pub async fn delete_stream_encryption(&self, domain: &str, app: &str) -> Result<(), DomainError> {
        let (d, _) = self.record(domain).await?;
        if self.store().encryption_delete(d.as_str(), app).await? {
            Ok(())
        } else {
            Err(DomainError::EncryptionNotFound { domain: d.to_string(), app: app.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sealcast_kms::{BuiltinKms, RootKey};
    use sealcast_store::Store;

    use super::*;

    #[tokio::test]
    async fn per_app_encryption_settings() {
        let store = Store::open_memory().await.expect("store");
        let kms = Arc::new(BuiltinKms::open(store.clone(), RootKey::from_bytes([5; 32])).await.expect("kms"));
        let svc = DomainService::new(store, kms.clone(), None).await.expect("service");
        let e = svc.set_stream_encryption("play.example.com", "vip", EncryptionMode::Envelope, None, 600).await;
        assert!(matches!(e, Err(DomainError::NotFound(_))), "{e:?}");
        svc.add_domain("play.example.com").await.expect("add");
        for (app, rot) in [("a/b", 600), ("vip", 59), ("vip", 3601)] {
            let e = svc.set_stream_encryption("play.example.com", app, EncryptionMode::Envelope, None, rot).await;
            assert!(matches!(e, Err(DomainError::InvalidEncryption(_))), "{app} {rot}: {e:?}");
        }
        let e = svc.set_stream_encryption("play.example.com", "vip", EncryptionMode::Envelope, Some("nope"), 600).await;
        assert!(matches!(e, Err(DomainError::Kms(_))), "an unknown CMK is refused: {e:?}");
        let cmk = kms.create_key("vip content").await.expect("cmk").key_id;
        svc.set_stream_encryption("play.example.com", "vip", EncryptionMode::Envelope, Some(&cmk), 600)
            .await
            .expect("set");
        let got = svc.stream_encryption("play.example.com", "vip").await.expect("get").expect("set");
        assert_eq!(got.mode, EncryptionMode::Envelope);
        assert_eq!(got.kms_key_id.as_deref(), Some(cmk.as_str()));
        assert_eq!(got.key_rotation_interval, Duration::from_secs(600));
        // The CMK sticks: omitted keeps it, another one is refused.
        svc.set_stream_encryption("play.example.com", "vip", EncryptionMode::Aes128, None, 60).await.expect("change");
        let got = svc.stream_encryption("play.example.com", "vip").await.expect("get").expect("set");
        assert_eq!((got.mode, got.kms_key_id.as_deref()), (EncryptionMode::Aes128, Some(cmk.as_str())));
        let other = kms.create_key("other").await.expect("cmk").key_id;
        let e = svc.set_stream_encryption("play.example.com", "vip", EncryptionMode::Aes128, Some(&other), 60).await;
        assert!(e.expect_err("changed CMK").to_string().contains("cannot be changed once set"));
        assert_eq!(svc.stream_encryptions().await.expect("list").len(), 1);
        svc.delete_stream_encryption("play.example.com", "vip").await.expect("delete");
        assert!(matches!(
            svc.delete_stream_encryption("play.example.com", "vip").await,
            Err(DomainError::EncryptionNotFound { .. })
        ));
        assert!(svc.stream_encryption("play.example.com", "vip").await.expect("get").is_none());
    }
}
