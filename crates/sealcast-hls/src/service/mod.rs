//! The HLS service: a hub consumer that runs one packager task per stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sealcast_crypto::{aes128_cbc_encrypt, random_array};
use sealcast_hub::{Delivery, HubConsumer, PublishInfo, StreamKey, Subscription};
use sealcast_kms::{DataKey, KeySpec, Kms, KmsError};
use sealcast_media::hls::playlist::{KeyTag, PlaylistSegment};
use sealcast_media::hls::segmenter::{Segment, Segmenter, SegmenterConfig};
use tokio_util::task::TaskTracker;

use crate::config::{EncryptionMode, HlsConfig, StreamEncryption, ENVELOPE_KEYFORMAT, ENVELOPE_KEYFORMAT_VERSION};
use crate::keys::key_context;
use crate::output::Output;
use crate::KeyUri;

struct Inner {
    cfg: HlsConfig,
    kms: Arc<dyn Kms>,
    outputs: Mutex<HashMap<StreamKey, Arc<Mutex<Output>>>>,
    /// Encryption settings and first data keys fetched at admission time, waiting for their
    /// packager.
    prepared: Mutex<HashMap<(StreamKey, String), Prepared>>,
    tasks: TaskTracker,
}

/// The HLS service. Cheap to clone.
#[derive(Clone)]
pub struct HlsService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HlsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsService").field("cfg", &self.inner.cfg).finish_non_exhaustive()
    }
}

struct Prepared {
    enc: StreamEncryption,
    key: Option<DataKey>,
    at: Instant,
}

/// A key fetched at admission is used only by a publish that starts within this time.
const PREPARED_KEY_TTL: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HlsService {
    pub fn new(cfg: HlsConfig, kms: Arc<dyn Kms>) -> Self {
        HlsService {
            inner: Arc::new(Inner {
                cfg,
                kms,
                outputs: Mutex::default(),
                prepared: Mutex::default(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    pub fn config(&self) -> &HlsConfig {
        &self.inner.cfg
    }

    /// Called before a publish is accepted, with the stream's encryption settings (per domain
    /// and app, or [`HlsConfig::default_encryption`]): fetches the first data key so that a KMS
    /// failure (disabled key, outage) refuses the publish instead of producing no output.
    pub async fn prepare_publish(&self, key: &StreamKey, domain: &str, enc: StreamEncryption) -> Result<(), KmsError> {
        let dk = match enc.mode {
            EncryptionMode::None => None,
            EncryptionMode::Aes128 | EncryptionMode::Envelope => Some(self.new_data_key(key, domain, &enc).await?),
        };
        let mut prepared = lock(&self.inner.prepared);
        // Keys of publishes that were refused after admission are never used: drop them.
        prepared.retain(|_, p| p.at.elapsed() < PREPARED_KEY_TTL);
        prepared.insert((key.clone(), domain.to_string()), Prepared { enc, key: dk, at: Instant::now() });
        Ok(())
    }

    async fn new_data_key(&self, key: &StreamKey, domain: &str, enc: &StreamEncryption) -> Result<DataKey, KmsError> {
        let ctx = key_context(domain, &key.app, &key.stream, enc.mode);
        self.inner.kms.generate_data_key(enc.kms_key_id.as_deref(), KeySpec::Aes128, &ctx).await
    }

    /// The encryption mode and key rotation interval of a stream's current (or last)
    /// publish session.
    pub fn encryption(&self, key: &StreamKey) -> Option<(EncryptionMode, Duration)> {
        self.stream_encryption(key).map(|e| (e.mode, e.key_rotation_interval))
    }

    /// The encryption settings of a stream's current (or last) publish session.
    pub fn stream_encryption(&self, key: &StreamKey) -> Option<StreamEncryption> {
        let out = lock(&self.inner.outputs).get(key).cloned()?;
        let o = lock(&out);
        Some(o.enc.clone())
    }

    /// The encryption settings of one publish session, once its packager has started: `None`
    /// while it has not (another output, e.g. HTTP-FLV, must then wait rather than guess).
    pub fn session_encryption(&self, key: &StreamKey, session_id: u64) -> Option<StreamEncryption> {
        let out = lock(&self.inner.outputs).get(key).cloned()?;
        let o = lock(&out);
        (o.session_id == session_id).then(|| o.enc.clone())
    }

    /// The rendered playlist of a stream, once it has a segment.
    pub fn playlist(&self, key: &StreamKey) -> Option<Bytes> {
        let out = lock(&self.inner.outputs).get(key).cloned()?;
        let o = lock(&out);
        o.playlist()
    }

    /// An (encrypted) segment by name (`{epoch}-{seq}` without `.ts`).
    pub fn segment(&self, key: &StreamKey, name: &str) -> Option<Bytes> {
        let out = lock(&self.inner.outputs).get(key).cloned()?;
        let o = lock(&out);
        o.segment(name)
    }

    /// Bytes of segments held in memory, over all streams.
    pub fn retained_bytes(&self) -> usize {
        let outs: Vec<_> = lock(&self.inner.outputs).values().cloned().collect();
        outs.iter().map(|o| lock(o).retained_bytes()).sum()
    }

    /// Drops outputs whose stream ended longer ago than the retention. Returns how many.
    pub fn sweep(&self) -> usize {
        let keep = self.inner.cfg.ended_retention;
        let mut outs = lock(&self.inner.outputs);
        let before = outs.len();
        outs.retain(|_, o| lock(o).ended_at.is_none_or(|t| t.elapsed() < keep));
        before - outs.len()
    }

    /// Runs [`Self::sweep`] periodically until `shutdown` fires.
    pub async fn run_sweeper(&self, shutdown: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    let n = self.sweep();
                    if n > 0 {
                        tracing::debug!(removed = n, "removed ended HLS outputs");
                    }
                }
            }
        }
    }

    /// Waits for every packager to finish (after publishers have gone).
    pub async fn wait_idle(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    fn output_for(&self, info: &PublishInfo, enc: &StreamEncryption) -> Arc<Mutex<Output>> {
        let mut outs = lock(&self.inner.outputs);
        if let Some(o) = outs.get(&info.key) {
            let mut g = lock(o);
            g.republish(info.session_id);
            g.enc = enc.clone();
            drop(g);
            return o.clone();
        }
        let cfg = &self.inner.cfg;
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let o = Arc::new(Mutex::new(Output::new(
            cfg.playlist_length,
            cfg.retain_extra,
            cfg.segment_duration.as_millis() as u64,
            format!("{epoch:x}"),
            info.session_id,
            enc.clone(),
        )));
        outs.insert(info.key.clone(), o.clone());
        o
    }
}

impl HubConsumer for HlsService {
    fn on_publish(&self, info: Arc<PublishInfo>, sub: Subscription) {
        let svc = self.clone();
        self.inner.tasks.spawn(async move { svc.package(info, sub).await });
    }
}

/// The current data key of a publish session.
struct KeyPeriod {
    key: DataKey,
    started: Instant,
    /// Media time (ms) of the first segment under this key; set when first used.
    media_start: Option<u64>,
    uri: String,
}

impl KeyPeriod {
    /// A period covers at most the rotation interval of wall-clock time *and* of media time
    /// (a publisher pushing faster than real time still gets its keys rotated).
    fn expired(&self, interval: Duration, media_ms: u64) -> bool {
        self.started.elapsed() >= interval
            || self.media_start.is_some_and(|s| media_ms.saturating_sub(s) >= interval.as_millis() as u64)
    }
}

impl HlsService {
    async fn package(&self, info: Arc<PublishInfo>, mut sub: Subscription) {
        let key = &info.key;
        let cfg = &self.inner.cfg;
        let prepared = lock(&self.inner.prepared).remove(&(key.clone(), info.domain.clone()));
        let (enc, first_key) = match prepared.filter(|p| p.at.elapsed() < PREPARED_KEY_TTL) {
            Some(p) => (p.enc, p.key),
            None => (cfg.default_encryption(), None),
        };
        let output = self.output_for(&info, &enc);
        let mut segmenter = Segmenter::new(SegmenterConfig {
            target_duration_ms: cfg.segment_duration.as_millis() as u64,
            max_bytes: cfg.max_segment_bytes,
            ..SegmenterConfig::default()
        });
        let mut period = first_key.map(|k| self.period(k, &info));
        let mut bad_frames = 0u64;
        tracing::info!(stream = %key, session = info.session_id, encryption = enc.mode.name(), "HLS packaging started");
        while let Some(d) = sub.recv().await {
            let frame = match d {
                Delivery::Frame(f) => f,
                Delivery::Resync { skipped } => {
                    tracing::warn!(stream = %key, skipped, "HLS packager fell behind; resynchronising at a keyframe");
                    if let Some(seg) = segmenter.finish() {
                        self.store(&info, &enc, &output, seg, &mut period).await;
                    }
                    lock(&output).discontinuity();
                    continue;
                }
            };
            match segmenter.push(&frame) {
                Ok(Some(seg)) => self.store(&info, &enc, &output, seg, &mut period).await,
                Ok(None) => {}
                Err(e) => {
                    bad_frames += 1;
                    if bad_frames.is_power_of_two() {
                        tracing::warn!(stream = %key, error = %e, bad_frames, "skipping a malformed frame");
                    }
                }
            }
        }
        if let Some(seg) = segmenter.finish() {
            self.store(&info, &enc, &output, seg, &mut period).await;
        }
        let mut o = lock(&output);
        if o.session_id == info.session_id {
            o.end();
        }
        tracing::info!(stream = %key, session = info.session_id, "HLS packaging ended");
    }

    fn period(&self, key: DataKey, info: &PublishInfo) -> KeyPeriod {
        let uri = KeyUri { domain: info.domain.clone(), ciphertext_blob: key.ciphertext_blob.clone() }
            .render(&info.key.stream);
        KeyPeriod { key, started: Instant::now(), media_start: None, uri }
    }

    /// Encrypts and publishes one segment. Never stores plaintext: with encryption on and no
    /// key available, the segment is dropped (and logged) rather than served in the clear.
    async fn store(
        &self,
        info: &PublishInfo,
        enc: &StreamEncryption,
        output: &Mutex<Output>,
        seg: Segment,
        period: &mut Option<KeyPeriod>,
    ) {
        let Segment { start_ms, duration_ms, mut data, .. } = seg;
        let mut line = PlaylistSegment::new(String::new(), duration_ms);
        if enc.mode != EncryptionMode::None {
            let due = period.as_ref().is_none_or(|p| p.expired(enc.key_rotation_interval, start_ms));
            if due {
                match self.new_data_key(&info.key, &info.domain, enc).await {
                    Ok(k) => {
                        tracing::info!(stream = %info.key, key_id = %k.key_id, "new data key period");
                        *period = Some(self.period(k, info));
                    }
                    Err(e) => {
                        tracing::error!(stream = %info.key, error = %e, "cannot get a data key from the KMS")
                    }
                }
            }
            let Some(p) = period.as_mut() else {
                tracing::error!(stream = %info.key, "dropping a segment: no data key is available");
                return;
            };
            p.media_start.get_or_insert(start_ms);
            let (Ok(iv), Ok(k)) = (random_array::<16>(), p.key.plaintext.as_aes128()) else {
                tracing::error!(stream = %info.key, "dropping a segment: random IV or key unavailable");
                return;
            };
            if let Err(e) = aes128_cbc_encrypt(k, &iv, &mut data) {
                tracing::error!(stream = %info.key, error = %e, "dropping a segment: encryption failed");
                return;
            }
            let (keyformat, keyformat_versions) = match enc.mode {
                EncryptionMode::Envelope => {
                    (Some(ENVELOPE_KEYFORMAT.to_string()), Some(ENVELOPE_KEYFORMAT_VERSION.to_string()))
                }
                _ => (None, None),
            };
            line.key = Some(KeyTag { uri: p.uri.clone(), iv: Some(iv), keyformat, keyformat_versions });
        }
        let mut o = lock(output);
        if o.session_id != info.session_id {
            return; // a newer publish session owns this output
        }
        line.uri = o.next_segment_uri(&info.key.stream);
        o.push(line, Bytes::from(data));
    }
}

#[cfg(test)]
mod tests;
