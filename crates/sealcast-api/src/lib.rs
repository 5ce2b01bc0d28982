//! The control API listener. Today it serves `GET /healthz`; the Alibaba Cloud compatible
//! Live/KMS API mounts here: [`keys`] holds the access keys (secrets sealed by the KMS) and
//! [`call`] authenticates RPC-style requests signed with signature V1 or V3.
#![forbid(unsafe_code)]

pub mod call;
pub mod iam;
pub mod keys;
pub mod kms;
pub mod live;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{any, get};
use axum::Router;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use call::{ApiError, Call, Nonces, RawRequest};
use iam::{Decision, Iam, ARN_PREFIX_KMS, ARN_PREFIX_LIVE};
use sealcast_kms::BuiltinKms;
use sealcast_store::{AuditRecord, Store};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Readiness flag shared with the binary: set once every listener is up.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set_ready(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

async fn healthz(State(api): State<Api>) -> (StatusCode, &'static str) {
    if api.ready.is_ready() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

/// What the API serves from.
#[derive(Clone)]
pub struct Api {
    pub ready: Readiness,
    pub store: Store,
    pub iam: Iam,
    pub kms: Arc<BuiltinKms>,
    pub domains: sealcast_domains::DomainService,
    pub streams: Arc<dyn live::LiveStreams>,
    pub nonces: Arc<Nonces>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

fn request_id() -> String {
    let b = sealcast_crypto::random_array::<16>().unwrap_or_default();
    let h: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The RAM service prefix of an API version.
fn service(version: &str) -> Option<(&'static str, &'static str)> {
    match version {
        kms::VERSION => Some(("kms", ARN_PREFIX_KMS)),
        live::VERSION => Some(("live", ARN_PREFIX_LIVE)),
        _ => None,
    }
}

/// Makes caller-supplied text safe in a resource name and the audit log: control characters
/// (newlines, tabs) become `?`.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// A domain as the actions will see it (normalised as [`sealcast_tls::DomainName`] does, so a
/// trailing dot or upper case cannot slip past a policy naming the domain).
fn domain_resource(prefix: &str, d: &str) -> String {
    let name = sealcast_tls::DomainName::parse(d.trim())
        .map_or_else(|_| d.trim().to_ascii_lowercase(), |n| n.as_str().to_string());
    format!("{prefix}domain/{}", clean(&name))
}

/// A `KeyId` as a resource: the key itself and, for an alias, the alias too (a policy on the
/// key applies whichever way it is named).
async fn key_resources(api: &Api, prefix: &str, key: &str, out: &mut Vec<String>) {
    if key.starts_with("alias/") {
        out.push(format!("{prefix}{}", clean(key)));
        if let Ok(k) = api.kms.describe_key(key).await {
            out.push(format!("{prefix}key/{}", k.key_id));
        }
    } else {
        out.push(format!("{prefix}key/{}", clean(key)));
    }
}

/// The resources a call acts on, as RAM names (`acs:live:local:sealcast:domain/NAME`,
/// `acs:kms:local:sealcast:key/ID`, `…:alias/NAME`, `…:certificate/NAME`); calls on no
/// particular resource (listing, creating a key) act on `…:*`.
pub async fn resources(api: &Api, call: &Call) -> Vec<String> {
    let Some((_, prefix)) = service(&call.version) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // DescribeLiveUserDomains filters by substring: it reads the whole collection.
    if call.action != "DescribeLiveUserDomains" {
        for name in ["DomainName", "Domain", "DomainTranscodeName"] {
            if let Some(d) = call.get(name) {
                out.push(domain_resource(prefix, d));
            }
        }
        for d in call.get("DomainNames").unwrap_or("").split(',').filter(|d| !d.trim().is_empty()) {
            out.push(domain_resource(prefix, d));
        }
        if let Some(c) = call.get("CertName") {
            out.push(format!("{prefix}certificate/{}", clean(c)));
        }
    }
    if let Some(k) = call.get("KeyId") {
        key_resources(api, prefix, k, &mut out).await;
    }
    if let Some(a) = call.get("AliasName") {
        out.push(format!("{prefix}{}", clean(a)));
    }
    if let Some(blob) = call.get("CiphertextBlob") {
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .ok()
            .and_then(|b| sealcast_kms::blob::parse(&b).ok().map(|p| clean(p.key_id)));
        // An unreadable blob fails in the action itself; authorise it as "some key".
        out.push(format!("{prefix}key/{}", key.unwrap_or_else(|| "*".into())));
    }
    if out.is_empty() {
        out.push(format!("{prefix}*"));
    }
    out
}

/// The CMK an `EncryptParameters` names: binding streams to it needs `kms:GenerateDataKey`
/// on it, as the server will generate data keys under it on the caller's behalf.
async fn encrypt_key_resources(api: &Api, call: &Call) -> Vec<String> {
    let mut out = Vec::new();
    let key = call
        .get("EncryptParameters")
        .and_then(|p| sealcast_domains::EncryptParameters::parse(p).ok())
        .and_then(|p| p.kms_key_id);
    if let Some(k) = key {
        key_resources(api, ARN_PREFIX_KMS, &k, &mut out).await;
    }
    out
}

/// Read-only actions are not audited; every other call is (KMS Encrypt, Decrypt and
/// GenerateDataKey included).
pub fn audited(action: &str) -> bool {
    !["Describe", "List", "Get"].iter().any(|p| action.starts_with(p))
}

fn forbidden(decision: Decision, action: &str, resources: &[String]) -> ApiError {
    ApiError::new(
        403,
        "Forbidden.RAM",
        format!(
            "User not authorized to operate on the specified resource: {} {action} ({})",
            if decision == Decision::ExplicitDeny { "a policy denies" } else { "no policy allows" },
            resources.join(", ")
        ),
    )
}

async fn authorize_and_dispatch(api: &Api, c: &Call, resources: &[String]) -> Result<Value, ApiError> {
    let (svc, _) = service(&c.version).ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidVersion",
            format!(
                "Specified parameter Version {} is not valid: use 2016-11-01 (Live) or 2016-01-20 (KMS)",
                c.version
            ),
        )
    })?;
    let action = format!("{svc}:{}", c.action);
    let internal = |e: iam::IamError| {
        tracing::error!(error = %e, user = %c.user, "cannot evaluate policies");
        ApiError::new(500, "InternalError", "The request processing has failed due to some unknown error.")
    };
    let policies = api.iam.documents(&c.user).await.map_err(internal)?;
    let decision = iam::evaluate(&policies, &action, resources);
    if decision != Decision::Allow {
        return Err(forbidden(decision, &action, resources));
    }
    let keys = encrypt_key_resources(api, c).await;
    if !keys.is_empty() {
        let decision = iam::evaluate(&policies, "kms:GenerateDataKey", &keys);
        if decision != Decision::Allow {
            return Err(forbidden(decision, "kms:GenerateDataKey", &keys));
        }
    }
    match svc {
        "kms" => kms::dispatch(&api.kms, c).await,
        _ => live::dispatch(live::LiveContext { domains: &api.domains, streams: api.streams.as_ref() }, c).await,
    }
}

/// The RPC endpoint: every action of every supported version, signed with V1 or V3.
async fn rpc(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id();
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
        .collect();
    let raw = RawRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        body: &body,
    };
    let result = match call::authenticate(&raw, api.iam.keys(), &api.nonces, now()).await {
        Ok(c) => {
            let resources = resources(&api, &c).await;
            let r = authorize_and_dispatch(&api, &c, &resources).await;
            let outcome = r.as_ref().map_or_else(|e| e.code.as_str(), |_| "OK");
            tracing::info!(request_id, access_key_id = %c.access_key_id, user = %c.user, action = %c.action, outcome, "API call");
            if audited(&c.action) {
                let record = AuditRecord {
                    id: 0,
                    at: now(),
                    request_id: request_id.clone(),
                    access_key_id: c.access_key_id.clone(),
                    user_name: c.user.clone(),
                    action: format!("{}:{}", service(&c.version).map_or("?", |s| s.0), c.action),
                    resource: resources.join(","),
                    result: outcome.to_string(),
                    source_ip: peer.ip().to_string(),
                };
                if let Err(e) = api.store.audit_insert(&record).await {
                    tracing::error!(error = %e, request_id, "cannot write the audit record");
                }
            }
            r
        }
        Err(e) => {
            tracing::info!(request_id, outcome = %e.code, "API call refused");
            Err(e)
        }
    };
    let (status, body) = match result {
        Ok(mut v) => {
            if let Value::Object(m) = &mut v {
                m.insert("RequestId".into(), Value::String(request_id));
            }
            (StatusCode::OK, v)
        }
        Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.body(&request_id)),
    };
    (status, [(header::CONTENT_TYPE, "application/json;charset=utf-8")], body.to_string()).into_response()
}

/// The API router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/", any(rpc))
        .layer(DefaultBodyLimit::max(1 << 20))
        .with_state(api)
}

/// Serves the API until `shutdown`.
pub async fn serve(listener: TcpListener, api: Api, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(api).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
