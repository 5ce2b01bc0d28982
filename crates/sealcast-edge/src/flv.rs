//! HTTP-FLV: one hub subscription per viewer, written as a chunked FLV body, encrypted per
//! docs/flv-encryption.md for streams whose app is encrypted.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use sealcast_auth::Token;
use sealcast_crypto::envelope::{self, key_id};
use sealcast_crypto::{aes128_ctr_apply, random_array, SecretBytes};
use sealcast_hls::{key_context, EncryptionMode, KeyUri, StreamEncryption};
use sealcast_hub::{Delivery, PublishInfo, StreamKey, Subscription};
use sealcast_kms::{KeySpec, Kms, KmsError};
use sealcast_media::flv_crypt::{ctr_iv, encrypted_from, KeyAnnouncement};
use sealcast_media::flv_stream::{file_header, previous_tag_size, tag_header, tag_type, TAG_SCRIPT};
use sealcast_media::frame::FrameKind;
use tokio::sync::mpsc;

use crate::routes::sign_uri;

/// Batches queued for one viewer's connection; a viewer whose queue stays full for
/// [`SEND_TIMEOUT`] has fallen behind and is dropped.
const QUEUE_CHUNKS: usize = 64;
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Tags are written in batches at most this old (or of [`MERGE_BYTES`]): one write per batch
/// instead of one per tag, which is most of a viewer's cost (as SRS's merged writes).
const MERGE_WRITE: Duration = Duration::from_millis(100);
const MERGE_BYTES: usize = 64 * 1024;

/// A streaming body fed by the viewer task, batch by batch.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Vec<Bytes>>,
    batch: std::vec::IntoIter<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        loop {
            if let Some(b) = self.batch.next() {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => self.batch = batch.into_iter(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Tags waiting to be written, as shared pieces: media data is never copied per viewer
/// (only encrypted payloads are, being per viewer). Each tag adds one small piece holding the
/// previous tag's PreviousTagSize and its own header.
struct Batch {
    parts: Vec<Bytes>,
    len: usize,
    prev: Option<[u8; 4]>,
}

impl Batch {
    fn new() -> Batch {
        Batch { parts: vec![Bytes::copy_from_slice(&file_header(true, true))], len: 13, prev: None }
    }

    fn tag(&mut self, tag_type: u8, ts: u64, body: Bytes) -> bool {
        let Ok(head) = tag_header(tag_type, ts, body.len()) else { return false };
        let mut piece = Vec::with_capacity(15);
        if let Some(p) = self.prev.take() {
            piece.extend_from_slice(&p);
        }
        piece.extend_from_slice(&head);
        self.len += piece.len() + body.len();
        self.prev = Some(previous_tag_size(body.len()));
        self.parts.push(Bytes::from(piece));
        self.parts.push(body);
        true
    }

    /// The last tag's PreviousTagSize (at the end of the stream).
    fn finish(&mut self) {
        if let Some(p) = self.prev.take() {
            self.len += 4;
            self.parts.push(Bytes::copy_from_slice(&p));
        }
    }

    fn take(&mut self) -> Vec<Bytes> {
        self.len = 0;
        std::mem::take(&mut self.parts)
    }
}

/// One key period of a stream's FLV output, shared by its viewers.
struct Period {
    key: SecretBytes,
    blob: Vec<u8>,
    started: Instant,
}

/// The current FLV data key of each live stream (per publish session).
#[derive(Default)]
pub(crate) struct FlvKeys {
    periods: tokio::sync::Mutex<HashMap<(StreamKey, u64), Arc<Period>>>,
}

impl FlvKeys {
    async fn current(
        &self,
        kms: &dyn Kms,
        info: &PublishInfo,
        enc: &StreamEncryption,
    ) -> Result<Arc<Period>, KmsError> {
        let mut periods = self.periods.lock().await;
        let id = (info.key.clone(), info.session_id);
        if let Some(p) = periods.get(&id).filter(|p| p.started.elapsed() < enc.key_rotation_interval) {
            return Ok(p.clone());
        }
        let ctx = key_context(&info.domain, &info.key.app, &info.key.stream, enc.mode);
        let dk = kms.generate_data_key(enc.kms_key_id.as_deref(), KeySpec::Aes128, &ctx).await?;
        tracing::info!(stream = %info.key, key_id = %dk.key_id, "new FLV data key period");
        let p = Arc::new(Period { key: dk.plaintext, blob: dk.ciphertext_blob, started: Instant::now() });
        // Periods of ended sessions are not looked up again.
        periods.retain(|_, p| p.started.elapsed() < Duration::from_secs(7200));
        periods.insert(id, p.clone());
        Ok(p)
    }
}

/// What a viewer task needs.
pub(crate) struct Viewer {
    pub kms: Arc<dyn Kms>,
    pub keys: Arc<FlvKeys>,
    /// `None`: clear FLV.
    pub enc: Option<StreamEncryption>,
    /// The viewer's credential, to sign the key URIs it is told about.
    pub token: Option<Token>,
    pub remote: std::net::SocketAddr,
}

/// Starts the viewer task; returns the body it feeds.
pub(crate) fn start(viewer: Viewer, sub: Subscription) -> ChannelBody {
    let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
    tokio::spawn(run(viewer, sub, tx));
    ChannelBody { rx, batch: Vec::new().into_iter() }
}

struct Encryptor {
    period: Arc<Period>,
    nonce: [u8; 8],
    counter: u32,
}

async fn send(tx: &mpsc::Sender<Vec<Bytes>>, out: &mut Batch) -> Result<(), &'static str> {
    if out.parts.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(out.take())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("closed"),
        Err(_) => Err("fell behind"),
    }
}

async fn run(v: Viewer, mut sub: Subscription, tx: mpsc::Sender<Vec<Bytes>>) {
    let info = sub.info().clone();
    let mut out = Batch::new();
    let mut base: Option<u64> = None;
    let mut enc: Option<Encryptor> = None;
    let mut frames = 0u64;
    tracing::debug!(stream = %info.key, remote = %v.remote, encrypted = v.enc.is_some(), "HTTP-FLV viewer started");
    // One timer per viewer, re-armed per batch (not per tag).
    let flush = tokio::time::sleep(MERGE_WRITE);
    tokio::pin!(flush);
    let mut armed = false;
    let end = loop {
        let next = tokio::select! {
            biased;
            // Something is waiting to go out and the batch is due.
            () = &mut flush, if armed => {
                armed = false;
                if let Err(why) = send(&tx, &mut out).await {
                    break if why == "closed" { "the viewer left" } else { "fell behind: its connection did not drain" };
                }
                continue;
            }
            d = sub.recv() => d,
        };
        let Some(delivery) = next else {
            break if sub.was_dropped() { "fell behind the live stream" } else { "the stream ended" };
        };
        let Delivery::Frame(f) = delivery else { continue };
        let tt = tag_type(f.kind);
        let clear_header = f.sequence_header || f.kind == FrameKind::Script;
        let ts = if clear_header { 0 } else { f.timestamp.saturating_sub(*base.get_or_insert(f.timestamp)) };
        let mut body = f.data.clone();
        if let (Some(settings), Some(from)) = (&v.enc, encrypted_from(tt, &f.data)) {
            let due = match &enc {
                None => true,
                Some(e) => {
                    (f.keyframe && e.period.started.elapsed() >= settings.key_rotation_interval)
                        || e.counter == u32::MAX
                }
            };
            if due {
                let period = match v.keys.current(v.kms.as_ref(), &info, settings).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(stream = %info.key, error = %e, "cannot get an FLV data key; ending the viewer");
                        break "no data key";
                    }
                };
                let Ok(nonce) = random_array::<8>() else { break "no randomness" };
                let uri = format!(
                    "/{}/{}",
                    info.key.app,
                    KeyUri { domain: info.domain.clone(), ciphertext_blob: period.blob.clone() }
                        .render(&info.key.stream)
                );
                let announce = KeyAnnouncement {
                    key_uri: match &v.token {
                        Some(t) => sign_uri(t, &uri),
                        None => uri,
                    },
                    keyformat: match settings.mode {
                        EncryptionMode::Envelope => envelope::KEYFORMAT.to_string(),
                        _ => "identity".to_string(),
                    },
                    kid: key_id(&period.blob),
                    nonce,
                };
                if !out.tag(TAG_SCRIPT, ts, Bytes::from(announce.to_script_body())) {
                    break "key announcement too large";
                }
                enc = Some(Encryptor { period, nonce, counter: 0 });
            }
            let Some(e) = enc.as_mut() else { break "no data key" };
            let mut data = f.data.to_vec();
            let iv = ctr_iv(&e.nonce, e.counter);
            e.counter += 1;
            let Ok(k) = e.period.key.as_aes128() else { break "bad data key" };
            if aes128_ctr_apply(k, &iv, &mut data[from..]).is_err() {
                break "encryption failed";
            }
            body = Bytes::from(data);
        }
        if !out.tag(tt, ts, body) {
            continue;
        }
        frames += 1;
        if out.len >= MERGE_BYTES {
            armed = false;
            if let Err(why) = send(&tx, &mut out).await {
                break if why == "closed" { "the viewer left" } else { "fell behind: its connection did not drain" };
            }
        } else if !armed {
            armed = true;
            flush.as_mut().reset(tokio::time::Instant::now() + MERGE_WRITE);
        }
    };
    // What is queued still goes out (e.g. the end of the stream).
    out.finish();
    let _ = send(&tx, &mut out).await;
    if end.starts_with("fell behind") {
        tracing::warn!(stream = %info.key, remote = %v.remote, frames, "HTTP-FLV viewer {end}; dropped");
    } else {
        tracing::debug!(stream = %info.key, remote = %v.remote, frames, "HTTP-FLV viewer ended: {end}");
    }
}
