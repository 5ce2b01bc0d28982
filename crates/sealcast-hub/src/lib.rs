//! The stream hub: a registry of live streams that decouples ingest from consumers.
//!
//! A publisher gets a [`Publisher`] from [`Hub::publish`] and pushes frames with
//! [`Publisher::send`], which never blocks: every subscriber has a bounded queue, and one that
//! falls behind is either resynchronised at the next keyframe ([`LagPolicy::Resync`]) or
//! dropped ([`LagPolicy::Disconnect`]) without affecting the publisher or other subscribers.
//!
//! Consumers that want every stream (HLS packaging, later transcoding) register a
//! [`HubConsumer`]; it is handed a subscription synchronously inside `publish`, so it sees the
//! stream from its first frame. Viewers that join later ([`Hub::subscribe`]) start with the
//! cached metadata, sequence headers and the last GOP, so they start at a keyframe.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use sealcast_media::frame::{FrameKind, MediaFrame};
use thiserror::Error;
use tokio::sync::{mpsc, watch};

/// Identifies a live stream: `{app}/{stream}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub app: String,
    pub stream: String,
}

impl StreamKey {
    pub fn new(app: impl Into<String>, stream: impl Into<String>) -> Self {
        StreamKey { app: app.into(), stream: stream.into() }
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.stream)
    }
}

/// What is known about a publish session.
#[derive(Debug, Clone)]
pub struct PublishInfo {
    pub key: StreamKey,
    /// Domain the publisher addressed (host of the RTMP URL), lower-case.
    pub domain: String,
    /// Query string of the publish URL (credentials arrive here).
    pub query: Option<String>,
    /// Unique per publish session within this process.
    pub session_id: u64,
    pub started_at: SystemTime,
    pub remote_addr: Option<std::net::SocketAddr>,
}

/// Hub errors.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HubError {
    #[error("stream {0} is already being published")]
    AlreadyPublishing(StreamKey),
}

/// What a slow subscriber gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagPolicy {
    /// Frames are skipped until the next keyframe, announced by [`Delivery::Resync`].
    Resync,
    /// The subscription is closed; [`Subscription::was_dropped`] tells why.
    Disconnect,
}

/// Hub limits.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Frames queued per subscriber before it counts as lagging.
    pub queue_frames: usize,
    /// GOP cache bound in frames.
    pub gop_max_frames: usize,
    /// GOP cache bound in bytes.
    pub gop_max_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig { queue_frames: 1024, gop_max_frames: 4096, gop_max_bytes: 32 << 20 }
    }
}

/// An item a subscriber receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    Frame(MediaFrame),
    /// Frames were skipped because the subscriber fell behind; the next frame is a keyframe.
    Resync {
        skipped: u64,
    },
}

/// A consumer that gets every published stream (e.g. the HLS packager).
pub trait HubConsumer: Send + Sync {
    /// Called inside [`Hub::publish`]; must not block (spawn a task to drain `sub`).
    fn on_publish(&self, info: Arc<PublishInfo>, sub: Subscription);
}

struct SubSender {
    tx: mpsc::Sender<Delivery>,
    policy: LagPolicy,
    lagging: bool,
    skipped: u64,
    dropped: Arc<AtomicBool>,
}

#[derive(Default)]
struct StreamState {
    subscribers: Vec<SubSender>,
    metadata: Option<MediaFrame>,
    video_header: Option<MediaFrame>,
    audio_header: Option<MediaFrame>,
    gop: Vec<MediaFrame>,
    gop_bytes: usize,
    /// GOP overflowed its bounds: stop caching until the next keyframe.
    gop_overflow: bool,
}

struct LiveStream {
    info: Arc<PublishInfo>,
    state: Mutex<StreamState>,
    frames: AtomicU64,
    bytes: AtomicU64,
    kick: watch::Sender<Option<String>>,
}

impl LiveStream {
    fn lock(&self) -> MutexGuard<'_, StreamState> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters more than dropping the stream would; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct Registry {
    streams: HashMap<StreamKey, Arc<LiveStream>>,
    consumers: Vec<Arc<dyn HubConsumer>>,
}

/// The hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    cfg: HubConfig,
    registry: Arc<Mutex<Registry>>,
    next_session: Arc<AtomicU64>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").field("cfg", &self.cfg).field("streams", &self.streams().len()).finish()
    }
}

/// A snapshot of one live stream, for listings.
#[derive(Debug, Clone)]
pub struct StreamStats {
    pub info: Arc<PublishInfo>,
    pub frames: u64,
    pub bytes: u64,
    pub subscribers: usize,
}

impl Hub {
    pub fn new(cfg: HubConfig) -> Self {
        Hub { cfg, registry: Arc::default(), next_session: Arc::new(AtomicU64::new(1)) }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a consumer for every stream published from now on.
    pub fn add_consumer(&self, c: Arc<dyn HubConsumer>) {
        self.registry().consumers.push(c);
    }

    /// Starts a publish session; fails when the stream is already live.
    pub fn publish(
        &self,
        key: StreamKey,
        domain: String,
        query: Option<String>,
        remote_addr: Option<std::net::SocketAddr>,
    ) -> Result<Publisher, HubError> {
        let mut reg = self.registry();
        if reg.streams.contains_key(&key) {
            return Err(HubError::AlreadyPublishing(key));
        }
        let info = Arc::new(PublishInfo {
            key: key.clone(),
            domain,
            query,
            session_id: self.next_session.fetch_add(1, Ordering::Relaxed),
            started_at: SystemTime::now(),
            remote_addr,
        });
        let (kick, kicked) = watch::channel(None);
        let stream = Arc::new(LiveStream {
            info: info.clone(),
            state: Mutex::default(),
            frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            kick,
        });
        reg.streams.insert(key, stream.clone());
        let consumers = reg.consumers.clone();
        drop(reg);
        for c in consumers {
            let sub = self.attach(&stream, LagPolicy::Resync, false);
            c.on_publish(info.clone(), sub);
        }
        Ok(Publisher { hub: self.clone(), stream, kicked })
    }

    /// Subscribes to a live stream, starting at its last keyframe.
    pub fn subscribe(&self, key: &StreamKey, policy: LagPolicy) -> Option<Subscription> {
        let stream = self.registry().streams.get(key).cloned()?;
        Some(self.attach(&stream, policy, true))
    }

    fn attach(&self, stream: &Arc<LiveStream>, policy: LagPolicy, replay: bool) -> Subscription {
        let mut st = stream.lock();
        let cached: Vec<MediaFrame> = if replay {
            st.metadata.iter().chain(&st.video_header).chain(&st.audio_header).chain(&st.gop).cloned().collect()
        } else {
            Vec::new()
        };
        let (tx, rx) = mpsc::channel(self.cfg.queue_frames + cached.len());
        for f in cached {
            // Capacity was sized for the backlog: this cannot fail.
            let _ = tx.try_send(Delivery::Frame(f));
        }
        let dropped = Arc::new(AtomicBool::new(false));
        st.subscribers.push(SubSender { tx, policy, lagging: false, skipped: 0, dropped: dropped.clone() });
        Subscription { rx, info: stream.info.clone(), dropped }
    }

    /// Ends a live stream from the server side (e.g. a forbidden stream). Returns whether it
    /// was live.
    pub fn kick(&self, key: &StreamKey, reason: &str) -> bool {
        match self.registry().streams.get(key) {
            Some(s) => {
                s.kick.send_replace(Some(reason.to_string()));
                true
            }
            None => false,
        }
    }

    /// Live streams, sorted by key.
    pub fn streams(&self) -> Vec<StreamStats> {
        let reg = self.registry();
        let mut v: Vec<StreamStats> = reg
            .streams
            .values()
            .map(|s| StreamStats {
                info: s.info.clone(),
                frames: s.frames.load(Ordering::Relaxed),
                bytes: s.bytes.load(Ordering::Relaxed),
                subscribers: s.lock().subscribers.len(),
            })
            .collect();
        v.sort_by(|a, b| a.info.key.cmp(&b.info.key));
        v
    }

    pub fn is_live(&self, key: &StreamKey) -> bool {
        self.registry().streams.contains_key(key)
    }
}

/// The publishing side of a live stream. Dropping it ends the stream.
pub struct Publisher {
    hub: Hub,
    stream: Arc<LiveStream>,
    kicked: watch::Receiver<Option<String>>,
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher").field("key", &self.stream.info.key).finish()
    }
}

impl Publisher {
    pub fn info(&self) -> &Arc<PublishInfo> {
        &self.stream.info
    }

    /// Resolves with the reason when the server ends this stream ([`Hub::kick`]).
    pub async fn kicked(&mut self) -> String {
        loop {
            if let Some(r) = self.kicked.borrow_and_update().clone() {
                return r;
            }
            if self.kicked.changed().await.is_err() {
                // The sender lives in the stream we hold: unreachable in practice; never resolve.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Fans a frame out to every subscriber. Never blocks.
    pub fn send(&self, frame: MediaFrame) {
        let s = &self.stream;
        s.frames.fetch_add(1, Ordering::Relaxed);
        s.bytes.fetch_add(frame.data.len() as u64, Ordering::Relaxed);
        let cfg = self.hub.cfg;
        let mut st = s.lock();
        st.cache(&frame, &cfg);
        let random_access = frame.keyframe || (frame.kind == FrameKind::Audio && st.video_header.is_none());
        st.subscribers.retain_mut(|sub| {
            if sub.lagging {
                if !random_access || sub.tx.capacity() < 2 {
                    sub.skipped += 1;
                    return !sub.tx.is_closed();
                }
                sub.lagging = false;
                let _ = sub.tx.try_send(Delivery::Resync { skipped: std::mem::take(&mut sub.skipped) });
            }
            match sub.tx.try_send(Delivery::Frame(frame.clone())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
                Err(mpsc::error::TrySendError::Full(_)) => match sub.policy {
                    LagPolicy::Resync => {
                        sub.lagging = true;
                        sub.skipped = 1;
                        true
                    }
                    LagPolicy::Disconnect => {
                        sub.dropped.store(true, Ordering::Relaxed);
                        false
                    }
                },
            }
        });
    }
}

impl StreamState {
    fn cache(&mut self, frame: &MediaFrame, cfg: &HubConfig) {
        match frame.kind {
            FrameKind::Script => {
                self.metadata = Some(frame.clone());
                return;
            }
            FrameKind::Video if frame.sequence_header => {
                self.video_header = Some(frame.clone());
                return;
            }
            FrameKind::Audio if frame.sequence_header => {
                self.audio_header = Some(frame.clone());
                return;
            }
            _ => {}
        }
        if frame.keyframe {
            self.gop.clear();
            self.gop_bytes = 0;
            self.gop_overflow = false;
        } else if self.gop.is_empty() || self.gop_overflow {
            return; // nothing to cache before the first keyframe
        }
        if self.gop.len() >= cfg.gop_max_frames || self.gop_bytes + frame.data.len() > cfg.gop_max_bytes {
            self.gop.clear();
            self.gop_bytes = 0;
            self.gop_overflow = true;
            return;
        }
        self.gop_bytes += frame.data.len();
        self.gop.push(frame.clone());
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let mut reg = self.hub.registry();
        if reg.streams.get(&self.stream.info.key).is_some_and(|s| Arc::ptr_eq(s, &self.stream)) {
            reg.streams.remove(&self.stream.info.key);
        }
        drop(reg);
        // Closing the senders ends every subscription.
        self.stream.lock().subscribers.clear();
    }
}

/// The receiving side of a subscription.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
    info: Arc<PublishInfo>,
    dropped: Arc<AtomicBool>,
}

impl Subscription {
    /// Next item; `None` when the stream ended or this subscriber was dropped for lagging.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    pub fn info(&self) -> &Arc<PublishInfo> {
        &self.info
    }

    /// True when the hub closed this subscription because it fell behind.
    pub fn was_dropped(&self) -> bool {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
