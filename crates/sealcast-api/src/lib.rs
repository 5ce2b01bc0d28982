//! The control API listener. Today it serves `GET /healthz`; the Alibaba Cloud compatible
//! Live/KMS API mounts here: [`keys`] holds the access keys (secrets sealed by the KMS) and
//! [`call`] authenticates RPC-style requests signed with signature V1 or V3.
#![forbid(unsafe_code)]

pub mod call;
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
use call::{ApiError, Nonces, RawRequest};
use keys::AccessKeys;
use sealcast_kms::BuiltinKms;
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
    pub keys: AccessKeys,
    pub kms: Arc<BuiltinKms>,
    pub domains: sealcast_domains::DomainService,
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

/// The RPC endpoint: every action of every supported version, signed with V1 or V3.
async fn rpc(State(api): State<Api>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
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
    let result = match call::authenticate(&raw, &api.keys, &api.nonces, now()).await {
        Ok(c) => {
            let r = match c.version.as_str() {
                kms::VERSION => kms::dispatch(&api.kms, &c).await,
                live::VERSION => live::dispatch(&api.domains, &c).await,
                v => Err(ApiError::new(
                    400,
                    "InvalidVersion",
                    format!("Specified parameter Version {v} is not valid: use 2016-11-01 (Live) or 2016-01-20 (KMS)"),
                )),
            };
            let outcome = r.as_ref().map_or_else(|e| e.code.as_str(), |_| "OK");
            tracing::info!(request_id, access_key_id = %c.access_key_id, user = %c.user, action = %c.action, outcome, "API call");
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
    axum::serve(listener, router(api)).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}
