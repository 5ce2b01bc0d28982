//! Live (2016-11-01) actions: domains and their functions, certificates, transcoding
//! templates (with EncryptParameters), online streams and forbidding publishers.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use sealcast_domains::{DomainError, DomainService, TemplateKind, TemplateRequest, FUNCTIONS};
use sealcast_tls::CertError;
use serde_json::{json, Value};

use crate::call::{ApiError, Call};

/// A stream being published, as DescribeLiveStreamsOnlineList lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineStream {
    /// The domain entry the publisher matched (its name as configured).
    pub domain: String,
    /// The host the publisher addressed.
    pub publish_host: String,
    pub app: String,
    pub stream: String,
    /// Unix seconds.
    pub started_at: i64,
    pub client: Option<SocketAddr>,
}

/// The live streams of the running server: listing and kicking publishers.
pub trait LiveStreams: Send + Sync + std::fmt::Debug {
    fn online(&self) -> Vec<OnlineStream>;
    /// Ends the publish of `app/stream` when it is live on `domain`; returns whether it was.
    fn kick(&self, domain: &str, app: &str, stream: &str, reason: &str) -> bool;
}

/// What the Live actions act on.
#[derive(Debug, Clone, Copy)]
pub struct LiveContext<'a> {
    pub domains: &'a DomainService,
    pub streams: &'a dyn LiveStreams,
}

/// The Live API version.
pub const VERSION: &str = "2016-11-01";

fn domain_error(e: DomainError) -> ApiError {
    match e {
        DomainError::NotFound(d) => {
            ApiError::new(404, "InvalidDomain.NotFound", format!("The domain {d} does not exist."))
        }
        DomainError::Exists(d) => ApiError::new(400, "Domain.AlreadyExist", format!("The domain {d} already exists.")),
        DomainError::InvalidDomain(e) => ApiError::new(400, "InvalidDomainName.Malformed", e.to_string()),
        DomainError::UnknownFunction(_)
        | DomainError::InvalidArg { .. }
        | DomainError::Conflict(_)
        | DomainError::InvalidEncryption(_)
        | DomainError::InvalidTemplate(_)
        | DomainError::InvalidCertificateName(_) => ApiError::new(400, "InvalidParameter", e.to_string()),
        DomainError::CertificateNameExists(_) | DomainError::CertificateNameTaken(_) => {
            ApiError::new(400, "Certificate.Duplicated", e.to_string())
        }
        DomainError::CertificateNotFound(_) => ApiError::new(404, "InvalidCertName.NotFound", e.to_string()),
        DomainError::NoCertificate(_) => ApiError::new(404, "InvalidCertificate.NotFound", e.to_string()),
        DomainError::Certificate(CertError::KeyMismatch) => ApiError::new(400, "Certificate.MissMatch", e.to_string()),
        DomainError::Certificate(CertError::Expired { .. }) => ApiError::new(400, "Certificate.Expired", e.to_string()),
        DomainError::Certificate(CertError::DomainNotCovered { .. }) => {
            ApiError::new(400, "Certificate.DomainMismatch", e.to_string())
        }
        DomainError::Certificate(_) => ApiError::new(400, "Certificate.FormatError", e.to_string()),
        DomainError::TemplateExists(_) => ApiError::new(400, "ConfigAlreadyExists", e.to_string()),
        DomainError::TemplateNotFound(_) => ApiError::new(404, "ConfigNotFound", e.to_string()),
        DomainError::StreamNotForbidden(_) => ApiError::new(404, "InvalidStream.NotFound", e.to_string()),
        DomainError::Kms(k) => crate::kms::kms_error(k),
        other => {
            tracing::error!(error = %other, "domain operation failed");
            ApiError::new(500, "InternalError", "The request processing has failed due to some unknown error.")
        }
    }
}

/// A function name with its `argName=argValue` pairs.
type Function = (String, Vec<(String, String)>);

/// `Functions`: `[{"functionName":…,"functionArgs":[{"argName":…,"argValue":…}]}]`.
fn parse_functions(text: &str) -> Result<Vec<Function>, ApiError> {
    let bad = |why: &str| ApiError::invalid("Functions", why);
    let v: Value = serde_json::from_str(text).map_err(|e| ApiError::invalid("Functions", e))?;
    let list = v.as_array().ok_or_else(|| bad("must be a JSON array"))?;
    list.iter()
        .map(|f| {
            let name = f["functionName"].as_str().ok_or_else(|| bad("each entry needs functionName"))?;
            let args = f["functionArgs"].as_array().map(Vec::as_slice).unwrap_or_default();
            let args = args
                .iter()
                .map(|a| {
                    let n = a["argName"].as_str().ok_or_else(|| bad("each functionArg needs argName"))?;
                    let v = match &a["argValue"] {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(bad("each functionArg needs argValue")),
                    };
                    Ok((n.to_string(), v))
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok((name.to_string(), args))
        })
        .collect()
}

fn list(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Runs one Live action; returns the response fields (without RequestId).
pub async fn dispatch(ctx: LiveContext<'_>, call: &Call) -> Result<Value, ApiError> {
    let domains = ctx.domains;
    match call.action.as_str() {
        "DescribeLiveUserDomains" => {
            let mut all = domains.list_domains().await.map_err(domain_error)?;
            if let Some(filter) = call.get("DomainName") {
                // DomainSearchType: fuzzy_match (default) or full_match.
                let exact = call.get("DomainSearchType") == Some("full_match");
                let f = filter.to_ascii_lowercase();
                all.retain(|d| if exact { d.name == f } else { d.name.contains(&f) });
            }
            if call.get("DomainStatus").is_some_and(|s| s != "online") {
                all.clear();
            }
            let (page, paging) = crate::kms::page(call, &all)?;
            let rows: Vec<Value> = page
                .iter()
                .map(|d| {
                    json!({
                        "DomainName": d.name,
                        "DomainStatus": "online",
                        "LiveDomainType": "liveVideo",
                        "Cname": d.name,
                        "RegionName": "local",
                        "Description": "",
                        "GmtCreated": sealcast_crypto::civil::rfc3339(d.created_at),
                        "GmtModified": sealcast_crypto::civil::rfc3339(d.created_at),
                    })
                })
                .collect();
            Ok(crate::kms::with_paging(json!({"Domains": {"PageData": rows}}), paging))
        }
        "SetLiveDomainCertificate" => {
            let domain = call.require("DomainName")?;
            match call.require("SSLProtocol")? {
                "off" => {
                    domains.disable_https(domain).await.map_err(domain_error)?;
                    return Ok(json!({}));
                }
                "on" => {}
                other => return Err(ApiError::invalid("SSLProtocol", format!("{other:?}: use on or off"))),
            }
            match call.get("CertType").unwrap_or("upload") {
                "upload" => {}
                other => {
                    return Err(ApiError::invalid(
                        "CertType",
                        format!("{other:?}: only upload is supported (send SSLPub and SSLPri)"),
                    ))
                }
            }
            let force = matches!(call.get("ForceSet"), Some("1") | Some("true"));
            domains
                .set_certificate(
                    domain,
                    call.require("CertName")?,
                    call.require("SSLPub")?,
                    call.require("SSLPri")?,
                    force,
                )
                .await
                .map_err(domain_error)?;
            Ok(json!({}))
        }
        "DescribeLiveCertificateList" => {
            let mut certs = domains.certificates().await.map_err(domain_error)?;
            if let Some(d) = call.get("DomainName") {
                let wanted = sealcast_tls::DomainName::parse(d).map_err(|e| domain_error(e.into()))?;
                certs.retain(|c| c.domain == wanted.as_str());
            }
            let list: Vec<Value> = certs
                .iter()
                .map(|c| {
                    json!({
                        "CertName": c.cert_name,
                        "CertId": c.info.fingerprint_sha256,
                        "Fingerprint": c.info.fingerprint_sha256,
                        "Common": c.info.names.first().cloned().unwrap_or_else(|| c.info.subject.clone()),
                        "Issuer": c.info.issuer,
                        "LastTime": c.created_at * 1000,
                        "DomainName": c.domain,
                    })
                })
                .collect();
            Ok(json!({"CertificateListModel": {"Count": list.len(), "CertList": {"Cert": list}}}))
        }
        "DescribeLiveCertificateDetail" => {
            let c = domains.certificate(call.require("CertName")?).await.map_err(domain_error)?;
            let pem = domains.certificate_pem(&c.cert_name).await.map_err(domain_error)?;
            // Alibaba also returns the private key here; Sealcast never lets a key leave.
            Ok(json!({
                "CertName": c.cert_name,
                "CertId": c.info.fingerprint_sha256,
                "Cert": pem,
                "DomainName": c.domain,
                "Subject": c.info.subject,
                "Issuer": c.info.issuer,
                "Names": c.info.names,
                "NotBefore": sealcast_crypto::civil::rfc3339(c.info.not_before),
                "NotAfter": sealcast_crypto::civil::rfc3339(c.info.not_after),
                "KeyType": c.info.key_type,
                "Serial": c.info.serial,
            }))
        }
        "AddLiveStreamTranscode"
        | "UpdateLiveStreamTranscode"
        | "AddCustomLiveStreamTranscode"
        | "UpdateCustomLiveStreamTranscode" => {
            let custom = call.action.contains("Custom");
            let update = call.action.starts_with("Update");
            let mut params = BTreeMap::new();
            for (k, v) in &call.params {
                if !["Domain", "App", "Template", "EncryptParameters", "OwnerId", "SecurityToken", "RegionId"]
                    .contains(&k.as_str())
                    && !v.is_empty()
                {
                    params.insert(k.clone(), v.clone());
                }
            }
            if custom && !update && call.get("TemplateType").is_none() {
                return Err(ApiError::missing("TemplateType"));
            }
            // Refuse a template that could never transcode now, not at the next publish.
            sealcast_transcode::check_template(call.require("Template")?, custom, &params)
                .map_err(|e| ApiError::invalid("Template", e))?;
            let kind = if custom { TemplateKind::Custom } else { TemplateKind::Standard };
            let req = TemplateRequest {
                domain: call.require("Domain")?,
                app: call.require("App")?,
                template: call.require("Template")?,
                kind,
                params,
                encrypt: call.get("EncryptParameters"),
            };
            domains.put_transcode(req, update).await.map_err(domain_error)?;
            Ok(json!({}))
        }
        "DescribeLiveStreamTranscodeInfo" => {
            let domain = call.require("DomainTranscodeName")?;
            let mut list = domains.transcodes(domain).await.map_err(domain_error)?;
            if let Some(app) = call.get("AppName") {
                list.retain(|t| t.app == app);
            }
            let rows: Vec<Value> = list
                .iter()
                .map(|t| {
                    let mut custom = serde_json::Map::new();
                    for (k, v) in &t.params {
                        custom.insert(k.clone(), Value::String(v.clone()));
                    }
                    let mut row = json!({
                        "TranscodeApp": t.app,
                        "TranscodeName": t.domain,
                        "TranscodeTemplate": t.template,
                        "IsLazy": t.params.get("Lazy").is_some_and(|v| v == "yes"),
                        "CustomTranscodeParameters": Value::Object(custom),
                    });
                    if let (Some(e), Value::Object(m)) = (&t.encrypt, &mut row) {
                        m.insert("EncryptParameters".into(), e.to_json());
                    }
                    row
                })
                .collect();
            Ok(json!({"DomainTranscodeList": {"DomainTranscodeInfo": rows}}))
        }
        "DeleteLiveStreamTranscode" => {
            domains
                .delete_transcode(call.require("Domain")?, call.require("App")?, call.require("Template")?)
                .await
                .map_err(domain_error)?;
            Ok(json!({}))
        }
        "DescribeLiveStreamsOnlineList" => {
            let domain =
                sealcast_tls::DomainName::parse(call.require("DomainName")?).map_err(|e| domain_error(e.into()))?;
            domains.domain_config(domain.as_str()).await.map_err(domain_error)?;
            let mut online: Vec<OnlineStream> =
                ctx.streams.online().into_iter().filter(|s| s.domain == domain.as_str()).collect();
            if let Some(app) = call.get("AppName") {
                online.retain(|s| s.app == app);
            }
            if let Some(stream) = call.get("StreamName") {
                // QueryType: fuzzy (default) or strict.
                let strict = call.get("QueryType") == Some("strict");
                online.retain(|s| if strict { s.stream == stream } else { s.stream.contains(stream) });
            }
            let page = call.paging("PageNum", "PageSize", 2000, 3000)?;
            let total = online.len();
            let rows: Vec<Value> = page
                .slice(&online)
                .map(|s| {
                    json!({
                        "DomainName": s.domain,
                        "AppName": s.app,
                        "StreamName": s.stream,
                        "PublishTime": sealcast_crypto::civil::rfc3339(s.started_at),
                        "PublishUrl": format!("rtmp://{}/{}/{}", s.publish_host, s.app, s.stream),
                        "PublishDomain": s.publish_host,
                        "PublishType": "edge",
                        "ClientIp": s.client.map(|c| c.ip().to_string()).unwrap_or_default(),
                        "Transcoded": "no",
                    })
                })
                .collect();
            Ok(json!({
                "OnlineInfo": {"LiveStreamOnlineInfo": rows},
                "PageNum": page.number,
                "PageSize": page.size,
                "TotalNum": total,
                "TotalPage": total.div_ceil(page.size),
            }))
        }
        "ForbidLiveStream" => {
            let (domain, app, stream) =
                (call.require("DomainName")?, call.require("AppName")?, call.require("StreamName")?);
            if let Some(t) = call.get("LiveStreamType").filter(|t| *t != "publisher") {
                return Err(ApiError::invalid("LiveStreamType", format!("{t:?}: only publisher is supported")));
            }
            let resume_at = match call.get("ResumeTime") {
                None => None,
                Some(t) => Some(
                    crate::call::parse_timestamp(t)
                        .ok_or_else(|| ApiError::invalid("ResumeTime", "use UTC YYYY-MM-DDThh:mm:ssZ"))?,
                ),
            };
            // Oneshot=yes kicks the publisher without blocking a republish.
            let oneshot = call.get("Oneshot") == Some("yes");
            let name = sealcast_tls::DomainName::parse(domain).map_err(|e| domain_error(e.into()))?;
            if oneshot {
                domains.domain_config(name.as_str()).await.map_err(domain_error)?;
            } else {
                domains.forbid_stream(name.as_str(), app, stream, resume_at).await.map_err(domain_error)?;
            }
            let kicked = ctx.streams.kick(name.as_str(), app, stream, "forbidden by ForbidLiveStream");
            tracing::info!(domain = %name, app, stream, kicked, oneshot, "ForbidLiveStream");
            Ok(json!({}))
        }
        "ResumeLiveStream" => {
            let name =
                sealcast_tls::DomainName::parse(call.require("DomainName")?).map_err(|e| domain_error(e.into()))?;
            domains
                .resume_stream(name.as_str(), call.require("AppName")?, call.require("StreamName")?)
                .await
                .map_err(domain_error)?;
            Ok(json!({}))
        }
        "AddLiveDomain" => {
            domains.add_domain(call.require("DomainName")?).await.map_err(domain_error)?;
            Ok(json!({}))
        }
        "DeleteLiveDomain" => {
            domains.remove_domain(call.require("DomainName")?).await.map_err(domain_error)?;
            Ok(json!({}))
        }
        "DescribeLiveDomainDetail" => {
            let name = call.require("DomainName")?;
            let wanted = sealcast_tls::DomainName::parse(name).map_err(|e| domain_error(e.into()))?;
            let all = domains.list_domains().await.map_err(domain_error)?;
            let d = all
                .iter()
                .find(|d| d.name == wanted.as_str())
                .ok_or_else(|| domain_error(DomainError::NotFound(wanted.to_string())))?;
            Ok(json!({"DomainDetail": {
                "DomainName": d.name,
                "DomainStatus": "online",
                "LiveDomainType": "liveVideo",
                "CertName": d.cert_name.clone().unwrap_or_default(),
                "SSLProtocol": if d.cert_name.is_some() { "on" } else { "off" },
                "GmtCreated": sealcast_crypto::civil::rfc3339(d.created_at),
            }}))
        }
        "BatchSetLiveDomainConfigs" => {
            let names = list(Some(call.require("DomainNames")?));
            let functions = parse_functions(call.require("Functions")?)?;
            for name in &names {
                domains.set_functions(name, &functions).await.map_err(domain_error)?;
            }
            Ok(json!({}))
        }
        "BatchDeleteLiveDomainConfigs" => {
            let names = list(Some(call.require("DomainNames")?));
            let functions = list(Some(call.require("FunctionNames")?));
            for name in &names {
                for f in &functions {
                    domains.delete_function(name, f).await.map_err(domain_error)?;
                }
            }
            Ok(json!({}))
        }
        "DescribeLiveDomainConfigs" => {
            let cfg = domains.domain_config(call.require("DomainName")?).await.map_err(domain_error)?;
            let wanted = list(call.get("FunctionNames"));
            let mut out = Vec::new();
            for (i, f) in FUNCTIONS.iter().enumerate() {
                if !wanted.is_empty() && !wanted.iter().any(|w| w == f) {
                    continue;
                }
                let args: Vec<Value> = cfg
                    .describe(f)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(n, v)| json!({"ArgName": n, "ArgValue": v}))
                    .collect();
                out.push(json!({
                    "FunctionName": f,
                    "ConfigId": (i + 1).to_string(),
                    "Status": "success",
                    "FunctionArgs": {"FunctionArg": args},
                }));
            }
            if let Some(unknown) = wanted.iter().find(|w| !FUNCTIONS.contains(&w.as_str())) {
                return Err(ApiError::invalid("FunctionNames", format!("unknown function {unknown}")));
            }
            Ok(json!({"DomainConfigs": {"DomainConfig": out}}))
        }
        other => Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api {other} is not found for version {VERSION}, please check your url and method."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_json() {
        let f = parse_functions(
            r#"[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"},{"argName":"https_rewrite","argValue":301}]}]"#,
        )
        .expect("valid");
        assert_eq!(
            f,
            vec![(
                "https_force".to_string(),
                vec![("enable".into(), "on".into()), ("https_rewrite".into(), "301".into())]
            )]
        );
        for bad in ["{}", "[{}]", r#"[{"functionName":"x","functionArgs":[{"argValue":"1"}]}]"#, "not json"] {
            assert_eq!(parse_functions(bad).expect_err(bad).code, "InvalidParameter");
        }
        assert_eq!(list(Some(" a.com, b.com ,")), vec!["a.com", "b.com"]);
    }
}
