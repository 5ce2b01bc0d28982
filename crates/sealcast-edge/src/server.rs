//! The HTTP and HTTPS listeners: HTTP/1.1 and HTTP/2, bounded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use rustls::server::{Accepted, Acceptor};
use sealcast_domains::LiveDomains;
use sealcast_tls::UNRECOGNIZED_NAME_ALERT;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::StartHandshake;
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
    /// A TLS handshake must complete within this.
    pub handshake_timeout: Duration,
    /// TLS handshakes in progress at once; more wait for a slot (bounded by the timeout).
    pub max_handshakes: usize,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 512,
        }
    }
}

async fn accept(listener: &TcpListener, shutdown: &CancellationToken, what: &str) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            r = listener.accept() => match r {
                Ok(x) => return Some(x),
                Err(e) => {
                    tracing::warn!(error = %e, "{what} accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Serves HTTP/1.1 and HTTP/2 on one connection until it ends or `shutdown` (then gracefully).
async fn serve_connection<IO>(
    io: IO,
    edge: Arc<Edge>,
    remote: SocketAddr,
    secure: bool,
    cfg: &EdgeConfig,
    shutdown: CancellationToken,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        .max_buf_size(cfg.max_header_bytes.max(8192));
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
    let svc = service_fn(move |req| {
        let edge = edge.clone();
        async move { Ok::<_, Infallible>(edge.handle(req, remote, secure).await) }
    });
    let conn = builder.serve_connection(TokioIo::new(io), svc);
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
    while let Some((stream, remote)) = accept(&listener, &shutdown, "HTTP").await {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%remote, "refusing HTTP connection: connection limit reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (edge, shutdown, cfg) = (edge.clone(), shutdown.clone(), cfg.clone());
        tasks.spawn(async move {
            serve_connection(stream, edge, remote, false, &cfg, shutdown).await;
            drop(permit);
        });
    }
}

/// Reads the ClientHello without committing to a configuration.
async fn read_client_hello(stream: &mut TcpStream) -> Result<Option<Accepted>, String> {
    let mut acceptor = Acceptor::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        let mut rd = &buf[..n];
        while !rd.is_empty() {
            acceptor.read_tls(&mut rd).map_err(|e| format!("bad TLS record: {e}"))?;
        }
        match acceptor.accept() {
            Ok(Some(a)) => return Ok(Some(a)),
            Ok(None) => continue,
            Err((e, mut alert)) => {
                let mut out = Vec::new();
                let _ = alert.write(&mut out);
                let _ = stream.write_all(&out).await;
                return Err(format!("invalid ClientHello: {e}"));
            }
        }
    }
}

/// Serves HTTPS until `shutdown`. The domain's configuration is chosen by SNI after reading
/// the ClientHello, from the live snapshot.
pub async fn serve_tls(
    listener: TcpListener,
    edge: Arc<Edge>,
    domains: Arc<LiveDomains>,
    cfg: EdgeConfig,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let handshakes = Arc::new(Semaphore::new(cfg.max_handshakes));
    while let Some((mut stream, remote)) = accept(&listener, &shutdown, "HTTPS").await {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%remote, "refusing HTTPS connection: connection limit reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (edge, domains, shutdown, cfg, handshakes) =
            (edge.clone(), domains.clone(), shutdown.clone(), cfg.clone(), handshakes.clone());
        tasks.spawn(async move {
            let handshake = async {
                let _slot = handshakes.acquire().await.map_err(|_| "shutting down".to_string())?;
                let Some(accepted) = read_client_hello(&mut stream).await? else {
                    return Err("closed before the ClientHello".to_string());
                };
                let sni = accepted.client_hello().server_name().map(str::to_string);
                let Some(domain) = domains.tls.load().lookup(sni.as_deref()) else {
                    let _ = stream.write_all(&UNRECOGNIZED_NAME_ALERT).await;
                    return Err(format!("no certificate for server name {:?}", sni.unwrap_or_default()));
                };
                let mut tls = StartHandshake::from_parts(accepted, stream)
                    .into_stream(domain.config.clone())
                    .await
                    .map_err(|e| format!("handshake failed: {e}"))?;
                // Send what the handshake left queued (TLS 1.3 session tickets) right away,
                // not with the first response.
                tls.flush().await.map_err(|e| format!("flush after handshake failed: {e}"))?;
                Ok(tls)
            };
            match tokio::time::timeout(cfg.handshake_timeout, handshake).await {
                Ok(Ok(tls)) => serve_connection(tls, edge, remote, true, &cfg, shutdown).await,
                Ok(Err(reason)) => tracing::debug!(%remote, %reason, "TLS connection closed"),
                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
            }
            drop(permit);
        });
    }
}
