//! RTMP ingest server: the tokio adapter between sockets, the sans-IO RTMP core
//! (`sealcast-rtmp`) and the stream hub.
//!
//! Every connection is bounded: handshake and idle timeouts, a write timeout for peers that
//! stop reading, a connection cap, and the protocol limits of [`ServerConfig`]. Malformed input
//! closes only that connection, with the reason logged.
#![forbid(unsafe_code)]

mod admission;
mod connection;

pub use admission::{validate_name, Admission, AllowAll, Rejection};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sealcast_hub::Hub;
pub use sealcast_rtmp::{PublishRequest, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Ingest limits.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub rtmp: ServerConfig,
    /// The handshake and `connect` must finish within this.
    pub handshake_timeout: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A peer that does not read our output for this long is closed.
    pub write_timeout: Duration,
    /// Concurrent RTMP connections.
    pub max_connections: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            rtmp: ServerConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Accepts RTMP connections until `shutdown` fires; connection tasks are spawned on `tasks`
/// and end their publishes cleanly on shutdown.
pub async fn serve(
    listener: TcpListener,
    hub: Hub,
    admission: Arc<dyn Admission>,
    cfg: IngestConfig,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let cfg = Arc::new(cfg);
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let mut seed: u64 = std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    loop {
        let (socket, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "RTMP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = cfg.max_connections, "refusing RTMP connection: connection limit reached");
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let conn = connection::Connection::new(socket, peer, hub.clone(), admission.clone(), cfg.clone(), seed);
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            conn.run(shutdown).await;
            drop(permit);
        });
    }
}
