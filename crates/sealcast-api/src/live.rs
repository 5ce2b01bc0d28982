//! Live (2016-11-01) actions: domains and their functions.

use sealcast_domains::{DomainError, DomainService, FUNCTIONS};
use serde_json::{json, Value};

use crate::call::{ApiError, Call};

/// The Live API version.
pub const VERSION: &str = "2016-11-01";

fn domain_error(e: DomainError) -> ApiError {
    match e {
        DomainError::NotFound(d) => {
            ApiError::new(404, "InvalidDomain.NotFound", format!("The domain {d} does not exist."))
        }
        DomainError::Exists(d) => ApiError::new(400, "Domain.AlreadyExist", format!("The domain {d} already exists.")),
        DomainError::InvalidDomain(e) => ApiError::new(400, "InvalidDomainName.Malformed", e.to_string()),
        DomainError::UnknownFunction(_) | DomainError::InvalidArg { .. } | DomainError::Conflict(_) => {
            ApiError::new(400, "InvalidParameter", e.to_string())
        }
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
pub async fn dispatch(domains: &DomainService, call: &Call) -> Result<Value, ApiError> {
    match call.action.as_str() {
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
