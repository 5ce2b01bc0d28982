//! `sealcast api ACTION --Param value …`: calls the control API (or Alibaba Cloud) signed like
//! the SDKs, for people without one.

use std::time::Duration;

use anyhow::Context as _;
use sealcast_http::{Credentials, OpenApiClient, OpenApiError};

/// The KMS actions (everything else goes to Live unless `--product` says otherwise).
const KMS_ACTIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateKeyVersion",
    "ListKeyVersions",
    "GenerateDataKey",
    "Encrypt",
    "Decrypt",
    "CreateAlias",
    "DeleteAlias",
    "ListAliases",
];

#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// API endpoint: `http://127.0.0.1:8081` (Sealcast's default api_listen) or a host name
    /// (HTTPS), e.g. `kms.cn-hangzhou.aliyuncs.com`.
    #[arg(long, env = "SEALCAST_API_ENDPOINT", default_value = "http://127.0.0.1:8081")]
    endpoint: String,
    /// Access key id [default: SEALCAST_ACCESS_KEY_ID].
    #[arg(long, env = "SEALCAST_ACCESS_KEY_ID")]
    access_key_id: String,
    /// Access key secret; prefer the environment variable, which stays out of shell history.
    #[arg(long, env = "SEALCAST_ACCESS_KEY_SECRET", hide_env_values = true)]
    access_key_secret: String,
    /// `live` (2016-11-01) or `kms` (2016-01-20) [default: kms for KMS actions, else live].
    #[arg(long, value_parser = ["live", "kms"])]
    product: Option<String>,
    /// Extra PEM CA certificates to trust for an HTTPS endpoint.
    #[arg(long)]
    cacert: Option<std::path::PathBuf>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
    /// The action, e.g. `DescribeLiveDomainDetail`, then its parameters as `--Name value`
    /// or `--Name=value`: `sealcast api DescribeLiveDomainDetail --DomainName play.example.com`.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
    call: Vec<String>,
}

/// `ACTION --A 1 --B=2` into the action and its parameters.
fn parse_call(call: &[String]) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let (action, rest) = call.split_first().context("name the action, e.g. DescribeLiveUserDomains")?;
    anyhow::ensure!(
        !action.is_empty() && action.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{action:?} is not an action name (e.g. DescribeLiveDomainDetail)"
    );
    let mut params = Vec::new();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let name = arg.strip_prefix("--").with_context(|| format!("expected --Name before {arg:?}"))?;
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (name.to_string(), it.next().with_context(|| format!("--{name} needs a value"))?.clone()),
        };
        anyhow::ensure!(!name.is_empty(), "empty parameter name in {arg:?}");
        params.push((name, value));
    }
    Ok((action.clone(), params))
}

pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let (action, params) = parse_call(&args.call)?;
    let product = args
        .product
        .clone()
        .unwrap_or_else(|| if KMS_ACTIONS.contains(&action.as_str()) { "kms" } else { "live" }.to_string());
    let version = if product == "kms" { "2016-01-20" } else { "2016-11-01" };
    let ca = match &args.cacert {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?),
        None => None,
    };
    let client = OpenApiClient::new(
        &args.endpoint,
        Credentials::new(&args.access_key_id, &args.access_key_secret),
        ca.as_deref(),
        Duration::from_secs(args.timeout),
    )?;
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match client.call(version, &action, &pairs).await {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        Err(OpenApiError::Api { status, code, message, request_id }) => {
            let v =
                serde_json::json!({"Code": code, "Message": message, "RequestId": request_id, "HttpStatus": status});
            println!("{}", serde_json::to_string_pretty(&v)?);
            anyhow::bail!("{action} failed: {code}: {message}")
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (a, p) = parse_call(&v(&["GenerateDataKey", "--KeyId", "alias/x", "--NumberOfBytes=16"])).expect("ok");
        assert_eq!(a, "GenerateDataKey");
        assert_eq!(p, vec![("KeyId".into(), "alias/x".into()), ("NumberOfBytes".into(), "16".into())]);
        let (_, p) = parse_call(&v(&["Encrypt", "--Plaintext", "--not-a-flag"])).expect("values may start with --");
        assert_eq!(p[0].1, "--not-a-flag");
        assert!(parse_call(&v(&["Describe", "--KeyId"])).is_err(), "missing value");
        assert!(parse_call(&v(&["Describe", "KeyId"])).is_err(), "missing --");
        assert!(parse_call(&v(&["bad action"])).is_err());
    }
}
