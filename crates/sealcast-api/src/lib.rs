//! The control API listener. Today it serves `GET /healthz`; the Alibaba Cloud compatible
//! Live/KMS API mounts here: [`keys`] holds the access keys (secrets sealed by the KMS) and
//! [`call`] authenticates RPC-style requests signed with signature V1 or V3.
#![forbid(unsafe_code)]

pub mod call;
pub mod keys;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
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

async fn healthz(State(r): State<Readiness>) -> (StatusCode, &'static str) {
    if r.is_ready() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

/// The API router.
pub fn router(ready: Readiness) -> Router {
    Router::new().route("/healthz", get(healthz)).with_state(ready)
}

/// Serves the API until `shutdown`.
pub async fn serve(listener: TcpListener, ready: Readiness, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(ready)).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}
