//! Transcoding templates of a push domain's apps (Alibaba's AddLiveStreamTranscode family) and
//! forbidden streams (ForbidLiveStream / ResumeLiveStream).
//!
//! A template's `EncryptParameters` become the app's stream encryption (see
//! [`DomainService::set_stream_encryption`]) from the next publish on; its rendition is run by
//! `sealcast-transcode`, which reads the templates from here.

use std::collections::BTreeMap;

use sealcast_hls::EncryptionMode;
use sealcast_store::{StreamBlockRecord, TranscodeRecord};
use serde_json::{Map, Value};

use crate::error::DomainError;
use crate::service::{now, DomainService};

/// Standard (`AddLiveStreamTranscode`) or custom (`AddCustomLiveStreamTranscode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Standard,
    Custom,
}

impl TemplateKind {
    pub fn name(self) -> &'static str {
        match self {
            TemplateKind::Standard => "standard",
            TemplateKind::Custom => "custom",
        }
    }
}

/// `EncryptParameters`: `{"EncryptType":"aliyun"|"aes-128","KmsKeyID":"…","KmsKeyExpireInterval":"3600"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptParameters {
    pub mode: EncryptionMode,
    pub kms_key_id: Option<String>,
    pub rotation_secs: u64,
}

impl EncryptParameters {
    /// Parses the JSON text Alibaba's SDKs send.
    pub fn parse(text: &str) -> Result<EncryptParameters, DomainError> {
        let bad = |why: String| DomainError::InvalidEncryption(format!("EncryptParameters: {why}"));
        let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let Value::Object(m) = v else {
            return Err(bad("must be a JSON object".into()));
        };
        let text_of = |k: &str| -> Result<Option<String>, DomainError> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(bad(format!("{k} must be a string"))),
            }
        };
        let mode = match text_of("EncryptType")?.as_deref() {
            Some("aliyun") => EncryptionMode::Envelope,
            Some("aes-128") => EncryptionMode::Aes128,
            Some("none") => EncryptionMode::None,
            Some(other) => return Err(bad(format!("EncryptType {other:?}: use aliyun, aes-128 or none"))),
            None => return Err(bad("EncryptType is required (aliyun, aes-128 or none)".into())),
        };
        let rotation_secs = match text_of("KmsKeyExpireInterval")? {
            None => 3600,
            Some(s) => s.parse::<u64>().map_err(|_| bad(format!("KmsKeyExpireInterval {s:?} is not a number")))?,
        };
        if !crate::ROTATION_RANGE.contains(&rotation_secs) {
            return Err(bad(format!("KmsKeyExpireInterval must be 60 to 3600 seconds, not {rotation_secs}")));
        }
        Ok(EncryptParameters { mode, kms_key_id: text_of("KmsKeyID")?, rotation_secs })
    }

    /// The wire form, as DescribeLiveStreamTranscodeInfo returns it.
    pub fn to_json(&self) -> Value {
        let kind = match self.mode {
            EncryptionMode::Envelope => "aliyun",
            other => other.name(),
        };
        serde_json::json!({
            "EncryptType": kind,
            "KmsKeyID": self.kms_key_id.clone().unwrap_or_default(),
            "KmsKeyExpireInterval": self.rotation_secs.to_string(),
        })
    }
}

/// A template as stored and listed.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeTemplate {
    pub domain: String,
    pub app: String,
    pub template: String,
    pub kind: TemplateKind,
    /// Custom parameters (Height, Width, FPS, VideoBitrate, …) as given; `Lazy` too.
    pub params: BTreeMap<String, String>,
    pub encrypt: Option<EncryptParameters>,
    pub created_at: i64,
}

/// An AddLiveStreamTranscode-family request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRequest<'a> {
    pub domain: &'a str,
    pub app: &'a str,
    pub template: &'a str,
    pub kind: TemplateKind,
    /// Custom parameters (Height, Width, FPS, VideoBitrate, Lazy, …).
    pub params: BTreeMap<String, String>,
    /// `EncryptParameters` JSON, when given.
    pub encrypt: Option<&'a str>,
}

fn valid_template(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
}

fn from_record(r: TranscodeRecord) -> Result<TranscodeTemplate, DomainError> {
    let corrupt = |why: String| DomainError::Corrupt { domain: r.domain.clone(), reason: why };
    let v: Value = serde_json::from_str(&r.params).map_err(|e| corrupt(format!("template {}: {e}", r.template)))?;
    let mut params = BTreeMap::new();
    let mut encrypt = None;
    if let Value::Object(m) = v {
        for (k, v) in m {
            match (k.as_str(), v) {
                ("EncryptParameters", Value::String(s)) => encrypt = Some(EncryptParameters::parse(&s)?),
                (_, Value::String(s)) => {
                    params.insert(k, s);
                }
                _ => return Err(corrupt(format!("template {}: parameter {k} is not text", r.template))),
            }
        }
    }
    let kind = if r.kind == "custom" { TemplateKind::Custom } else { TemplateKind::Standard };
    Ok(TranscodeTemplate {
        domain: r.domain,
        app: r.app,
        template: r.template,
        kind,
        params,
        encrypt,
        created_at: r.created_at,
    })
}

impl DomainService {
    /// Adds (`update == false`) or updates a template. Its EncryptParameters become the app's
    /// stream encryption; a KmsKeyID, once set for an app, cannot change.
    pub async fn put_transcode(&self, req: TemplateRequest<'_>, update: bool) -> Result<(), DomainError> {
        let TemplateRequest { domain, app, template, kind, params, encrypt } = req;
        let (d, _) = self.record(domain).await?;
        if !valid_template(template) {
            return Err(DomainError::InvalidTemplate(format!(
                "template name {template:?}: use 1-64 characters of A-Z, a-z, 0-9, '_', '-'"
            )));
        }
        let existing = self.store().transcode_list(Some(d.as_str())).await?;
        let current = existing.iter().find(|t| t.app == app && t.template == template);
        match (current, update) {
            (Some(_), false) => {
                return Err(DomainError::TemplateExists(format!("{template} for app {app} on {d}")));
            }
            (None, true) => return Err(DomainError::TemplateNotFound(format!("{template} for app {app} on {d}"))),
            _ => {}
        }
        let parsed = encrypt.map(EncryptParameters::parse).transpose()?;
        // An update without EncryptParameters keeps the template's current ones.
        let keep = current.and_then(|c| {
            let v: Value = serde_json::from_str(&c.params).ok()?;
            v.get("EncryptParameters")?.as_str().map(str::to_string)
        });
        let encrypt_text = encrypt.map(str::to_string).or(if update { keep } else { None });
        if let Some(p) = parsed.as_ref() {
            self.set_stream_encryption(d.as_str(), app, p.mode, p.kms_key_id.as_deref(), p.rotation_secs).await?;
        }
        let mut m: Map<String, Value> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        if let Some(e) = encrypt_text {
            m.insert("EncryptParameters".into(), Value::String(e));
        }
        let rec = TranscodeRecord {
            domain: d.to_string(),
            app: app.to_string(),
            template: template.to_string(),
            kind: kind.name().to_string(),
            params: Value::Object(m).to_string(),
            created_at: current.map_or_else(now, |c| c.created_at),
        };
        self.store().transcode_put(&rec).await?;
        tracing::info!(domain = %d, app, template, kind = kind.name(), encrypted = parsed.is_some(), "transcode template saved");
        Ok(())
    }

    /// The templates of a domain.
    pub async fn transcodes(&self, domain: &str) -> Result<Vec<TranscodeTemplate>, DomainError> {
        let (d, _) = self.record(domain).await?;
        self.store().transcode_list(Some(d.as_str())).await?.into_iter().map(from_record).collect()
    }

    /// Deletes a template. When it carried EncryptParameters and no other template of the app
    /// does, the app's streams go back to the server defaults from their next publish.
    pub async fn delete_transcode(&self, domain: &str, app: &str, template: &str) -> Result<(), DomainError> {
        let (d, _) = self.record(domain).await?;
        let all = self.transcodes(d.as_str()).await?;
        let Some(gone) = all.iter().find(|t| t.app == app && t.template == template) else {
            return Err(DomainError::TemplateNotFound(format!("{template} for app {app} on {d}")));
        };
        self.store().transcode_delete(d.as_str(), app, template).await?;
        if gone.encrypt.is_some() {
            let other = all.iter().find(|t| t.app == app && t.template != template && t.encrypt.is_some());
            match other.and_then(|t| t.encrypt.as_ref()) {
                Some(p) => {
                    self.set_stream_encryption(d.as_str(), app, p.mode, p.kms_key_id.as_deref(), p.rotation_secs)
                        .await?
                }
                None => {
                    self.store().encryption_delete(d.as_str(), app).await?;
                }
            }
        }
        Ok(())
    }

    /// Forbids publishing `app/stream` on `domain` until `resume_at` (Unix seconds; `None`:
    /// until [`DomainService::resume_stream`]).
    pub async fn forbid_stream(
        &self,
        domain: &str,
        app: &str,
        stream: &str,
        resume_at: Option<i64>,
    ) -> Result<(), DomainError> {
        let (d, _) = self.record(domain).await?;
        let rec = StreamBlockRecord {
            domain: d.to_string(),
            app: app.to_string(),
            stream: stream.to_string(),
            resume_at,
            created_at: now(),
        };
        self.store().block_put(&rec).await?;
        tracing::info!(domain = %d, app, stream, ?resume_at, "stream forbidden");
        Ok(())
    }

    /// Lets a forbidden stream publish again.
    pub async fn resume_stream(&self, domain: &str, app: &str, stream: &str) -> Result<(), DomainError> {
        let (d, _) = self.record(domain).await?;
        if !self.store().block_delete(d.as_str(), app, stream).await? {
            return Err(DomainError::StreamNotForbidden(format!("{app}/{stream} on {d}")));
        }
        tracing::info!(domain = %d, app, stream, "stream resumed");
        Ok(())
    }

    /// When publishing is forbidden, until when (`Some(None)`: until resumed).
    pub async fn stream_forbidden(
        &self,
        domain: &str,
        app: &str,
        stream: &str,
    ) -> Result<Option<Option<i64>>, DomainError> {
        let Some(b) = self.store().block_get(domain, app, stream).await? else {
            return Ok(None);
        };
        match b.resume_at {
            Some(at) if at <= now() => {
                // Expired: forget it.
                self.store().block_delete(domain, app, stream).await?;
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sealcast_kms::{BuiltinKms, RootKey};

    use super::*;

    fn req<'a>(
        template: &'a str,
        kind: TemplateKind,
        params: BTreeMap<String, String>,
        encrypt: Option<&'a str>,
    ) -> TemplateRequest<'a> {
        TemplateRequest { domain: "push.example.com", app: "live", template, kind, params, encrypt }
    }

    #[test]
    fn encrypt_parameters() {
        let p = EncryptParameters::parse(r#"{"EncryptType":"aliyun","KmsKeyID":"k1","KmsKeyExpireInterval":"600"}"#)
            .expect("valid");
        assert_eq!(
            p,
            EncryptParameters { mode: EncryptionMode::Envelope, kms_key_id: Some("k1".into()), rotation_secs: 600 }
        );
        assert_eq!(p.to_json()["EncryptType"], "aliyun");
        let p = EncryptParameters::parse(r#"{"EncryptType":"aes-128","KmsKeyExpireInterval":120}"#).expect("number");
        assert_eq!((p.mode, p.rotation_secs, p.kms_key_id), (EncryptionMode::Aes128, 120, None));
        for (bad, why) in [
            (r#"{"EncryptType":"rot13"}"#, "rot13"),
            (r#"{"KmsKeyID":"k"}"#, "required"),
            (r#"{"EncryptType":"aliyun","KmsKeyExpireInterval":"59"}"#, "60 to 3600"),
            (r#"{"EncryptType":"aliyun","KmsKeyExpireInterval":"soon"}"#, "not a number"),
            ("[]", "object"),
        ] {
            let e = EncryptParameters::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_encrypt_parameters_never_panic(text in "\\PC{0,200}") {
            let _ = EncryptParameters::parse(&text);
        }
    }

    #[tokio::test]
    async fn templates_drive_stream_encryption_and_blocks_expire() {
        for store in sealcast_store::testing::every_backend().await {
            let kms = Arc::new(BuiltinKms::open(store.clone(), RootKey::from_bytes([9; 32])).await.expect("kms"));
            let cmk = kms.create_key("t").await.expect("cmk").key_id;
            let svc = DomainService::new(store, kms, None).await.expect("service");
            svc.add_domain("push.example.com").await.expect("domain");
            let enc =
                |id: &str| format!(r#"{{"EncryptType":"aliyun","KmsKeyID":"{id}","KmsKeyExpireInterval":"300"}}"#);
            let none = BTreeMap::new();
            svc.put_transcode(req("lld", TemplateKind::Standard, none.clone(), Some(&enc(&cmk))), false)
                .await
                .expect("add");
            let e = svc.stream_encryption("push.example.com", "live").await.expect("read").expect("set");
            assert_eq!((e.mode, e.kms_key_id.as_deref()), (EncryptionMode::Envelope, Some(cmk.as_str())));
            assert!(matches!(
                svc.put_transcode(req("lld", TemplateKind::Standard, none.clone(), None), false).await,
                Err(DomainError::TemplateExists(_))
            ));
            assert!(matches!(
                svc.put_transcode(req("lsd", TemplateKind::Standard, none.clone(), None), true).await,
                Err(DomainError::TemplateNotFound(_))
            ));
            let other =
                svc.stream_kms().generate_data_key(None, sealcast_kms::KeySpec::Aes128, &Default::default()).await;
            let other_key = other.expect("default key").key_id;
            let e = svc
                .put_transcode(req("lld", TemplateKind::Standard, none.clone(), Some(&enc(&other_key))), true)
                .await
                .expect_err("KmsKeyID is fixed once set");
            assert!(e.to_string().contains("cannot be changed"), "{e}");
            let mut custom = BTreeMap::new();
            custom.insert("Height".to_string(), "720".to_string());
            svc.put_transcode(req("my720", TemplateKind::Custom, custom, None), false).await.expect("custom");
            let list = svc.transcodes("push.example.com").await.expect("list");
            assert_eq!(list.len(), 2);
            let lld = list.iter().find(|t| t.template == "lld").expect("lld");
            assert_eq!(lld.encrypt.as_ref().map(|e| e.rotation_secs), Some(300));
            svc.delete_transcode("push.example.com", "live", "lld").await.expect("delete");
            assert!(
                svc.stream_encryption("push.example.com", "live").await.expect("read").is_none(),
                "back to defaults"
            );
            assert!(matches!(
                svc.delete_transcode("push.example.com", "live", "lld").await,
                Err(DomainError::TemplateNotFound(_))
            ));
            assert!(svc
                .put_transcode(
                    TemplateRequest { domain: "nowhere.example.com", ..req("lld", TemplateKind::Standard, none, None) },
                    false
                )
                .await
                .is_err());

            assert_eq!(svc.stream_forbidden("push.example.com", "live", "cam").await.expect("read"), None);
            svc.forbid_stream("push.example.com", "live", "cam", None).await.expect("forbid");
            assert_eq!(svc.stream_forbidden("push.example.com", "live", "cam").await.expect("read"), Some(None));
            svc.forbid_stream("push.example.com", "live", "cam", Some(1)).await.expect("forbid until the past");
            assert_eq!(svc.stream_forbidden("push.example.com", "live", "cam").await.expect("read"), None, "expired");
            svc.forbid_stream("push.example.com", "live", "cam", None).await.expect("forbid");
            svc.resume_stream("push.example.com", "live", "cam").await.expect("resume");
            assert!(matches!(
                svc.resume_stream("push.example.com", "live", "cam").await,
                Err(DomainError::StreamNotForbidden(_))
            ));
        }
    }
}
