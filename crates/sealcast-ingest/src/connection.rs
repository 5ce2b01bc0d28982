//! One RTMP connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sealcast_hub::{Hub, HubError, Publisher, StreamKey};
use sealcast_media::flv::{check_audio_codec, video_codec, VideoCodec};
use sealcast_media::frame::{FrameKind, MediaFrame};
use sealcast_rtmp::{status, Event, PublishRequest, ServerSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use sealcast_media::frame::TimestampExtender;

use crate::admission::Admission;
use crate::IngestConfig;

struct Publishing {
    publisher: Publisher,
    ts: TimestampExtender,
    key: StreamKey,
}

pub(crate) struct Connection {
    socket: TcpStream,
    peer: SocketAddr,
    hub: Hub,
    admission: Arc<dyn Admission>,
    cfg: Arc<IngestConfig>,
    session: ServerSession,
    publishing: HashMap<u32, Publishing>,
}

/// Why a connection loop ended.
enum End {
    PeerClosed,
    Shutdown,
    Error(String),
}

impl Connection {
    pub(crate) fn new(
        socket: TcpStream,
        peer: SocketAddr,
        hub: Hub,
        admission: Arc<dyn Admission>,
        cfg: Arc<IngestConfig>,
        seed: u64,
    ) -> Self {
        let session = ServerSession::new(cfg.rtmp.clone(), seed);
        Connection { socket, peer, hub, admission, cfg, session, publishing: HashMap::new() }
    }

    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        let end = self.serve(&shutdown).await;
        match &end {
            End::PeerClosed => tracing::debug!(peer = %self.peer, "RTMP connection closed by peer"),
            End::Shutdown => {
                for sid in self.publishing.keys().copied().collect::<Vec<_>>() {
                    self.session.end_publish(sid, "status", status::UNPUBLISH_SUCCESS, "server is shutting down");
                }
                let _ = self.flush().await;
            }
            End::Error(reason) => {
                tracing::warn!(peer = %self.peer, %reason, "closing RTMP connection")
            }
        }
        for (_, p) in self.publishing.drain() {
            tracing::info!(peer = %self.peer, stream = %p.key, "publish ended");
        }
        let _ = self.socket.shutdown().await;
    }

    async fn serve(&mut self, shutdown: &CancellationToken) -> End {
        let mut buf = vec![0u8; 64 * 1024];
        let handshake_deadline = tokio::time::Instant::now() + self.cfg.handshake_timeout;
        loop {
            let timeout = if self.session.handshake_done() {
                self.cfg.idle_timeout
            } else {
                handshake_deadline.saturating_duration_since(tokio::time::Instant::now())
            };
            let kicked = async {
                match self.publishing.values_mut().next() {
                    Some(p) => p.publisher.kicked().await,
                    None => std::future::pending().await,
                }
            };
            let n = tokio::select! {
                _ = shutdown.cancelled() => return End::Shutdown,
                reason = kicked => return End::Error(format!("stream ended by the server: {reason}")),
                r = tokio::time::timeout(timeout, self.socket.read(&mut buf)) => match r {
                    Err(_) if self.session.handshake_done() => return End::Error(format!("idle for {:?}", self.cfg.idle_timeout)),
                    Err(_) => return End::Error(format!("handshake not completed within {:?}", self.cfg.handshake_timeout)),
                    Ok(Ok(0)) => return End::PeerClosed,
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => return End::Error(format!("read error: {e}")),
                },
            };
            if let Err(e) = self.session.feed(&buf[..n]) {
                let _ = self.flush().await;
                return End::Error(format!("protocol error: {e}"));
            }
            while let Some(ev) = self.session.poll_event() {
                self.event(ev).await;
            }
            if let Err(e) = self.flush().await {
                return End::Error(e);
            }
        }
    }

    async fn flush(&mut self) -> Result<(), String> {
        let out = self.session.take_output();
        if out.is_empty() {
            return Ok(());
        }
        match tokio::time::timeout(self.cfg.write_timeout, self.socket.write_all(&out)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write error: {e}")),
            Err(_) => Err(format!("peer did not read for {:?}", self.cfg.write_timeout)),
        }
    }

    async fn event(&mut self, ev: Event) {
        match ev {
            Event::Connected { app, tc_url } => {
                // Without the query: it may carry a publish credential.
                let tc_url = tc_url.as_deref().map_or("", |u| u.split('?').next().unwrap_or(u));
                tracing::debug!(peer = %self.peer, %app, tc_url, "RTMP connect");
            }
            Event::Publish(req) => self.publish(req).await,
            Event::Media { stream_id, kind, timestamp, data } => self.media(stream_id, kind, timestamp, data),
            Event::Unpublish { stream_id } => {
                if let Some(p) = self.publishing.remove(&stream_id) {
                    tracing::info!(peer = %self.peer, stream = %p.key, "publisher unpublished");
                }
            }
        }
    }

    async fn publish(&mut self, req: PublishRequest) {
        let sid = req.stream_id;
        let key = StreamKey::new(req.app.clone(), req.stream.clone());
        if let Err(r) = self.admission.admit(&req, self.peer).await {
            tracing::warn!(peer = %self.peer, stream = %key, code = r.code, reason = %r.description, "publish refused");
            self.session.reject_publish(sid, r.code, &r.description);
            return;
        }
        let domain = req.host.clone().unwrap_or_default();
        match self.hub.publish(key.clone(), domain, req.query.clone(), Some(self.peer)) {
            Ok(publisher) => {
                tracing::info!(peer = %self.peer, stream = %key, "publish started");
                self.session.accept_publish(sid, &format!("{key} is now published"));
                self.publishing.insert(sid, Publishing { publisher, ts: TimestampExtender::default(), key });
            }
            Err(HubError::AlreadyPublishing(_)) => {
                tracing::warn!(peer = %self.peer, stream = %key, "publish refused: stream is already live");
                self.session.reject_publish(
                    sid,
                    status::PUBLISH_BAD_NAME,
                    &format!("stream {key} is already publishing"),
                );
            }
            Err(e) => {
                self.session.reject_publish(sid, status::PUBLISH_REJECTED, &e.to_string());
            }
        }
    }

    fn media(&mut self, sid: u32, kind: FrameKind, timestamp: u32, data: bytes::Bytes) {
        let Some(p) = self.publishing.get_mut(&sid) else {
            return;
        };
        let refused = match kind {
            FrameKind::Video => match video_codec(&data) {
                Ok(VideoCodec::Avc) => None,
                Ok(VideoCodec::Other(name)) => {
                    Some(format!("unsupported video codec {name}; Sealcast accepts H.264 (AVC) video and AAC audio"))
                }
                Err(e) => Some(e.to_string()),
            },
            FrameKind::Audio => check_audio_codec(&data).err().map(|e| e.to_string()),
            FrameKind::Script => None,
        };
        if let Some(reason) = refused {
            tracing::warn!(peer = %self.peer, stream = %p.key, %reason, "ending publish");
            self.session.end_publish(sid, "error", status::CODEC_UNSUPPORTED, &reason);
            self.publishing.remove(&sid);
            return;
        }
        let ts = p.ts.extend(timestamp);
        p.publisher.send(MediaFrame::new(kind, ts, data));
    }
}
