//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge on plain TCP), bounded.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::routes::Edge;

/// Listener limits.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Request headers must arrive within this.
    pub header_read_timeout: Duration,
    /// Largest request head accepted (HTTP/1.1 buffer).
    pub max_header_bytes: usize,
    pub max_connections: usize,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
        }
    }
}

/// Serves plain HTTP until `shutdown`; open connections finish their requests gracefully.
pub async fn serve(
    listener: TcpListener,
    edge: Arc<Edge>,
    cfg: EdgeConfig,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%remote, "refusing HTTP connection: connection limit reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let edge = edge.clone();
        let shutdown = shutdown.clone();
        let cfg = cfg.clone();
        tasks.spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(cfg.header_read_timeout)
                .max_buf_size(cfg.max_header_bytes.max(8192));
            builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
            let svc = service_fn(move |req| {
                let edge = edge.clone();
                async move { Ok::<_, Infallible>(edge.handle(req, remote, false).await) }
            });
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%remote, error = %e, "HTTP connection error");
                    }
                }
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
            drop(permit);
        });
    }
}
