//! HTTP-FLV: one hub subscription per viewer, written as a chunked FLV body, encrypted per
//! docs/flv-encryption.md for streams whose app is encrypted.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use sealcast_auth::Token;
use sealcast_crypto::envelope::{self, key_id};
use sealcast_crypto::{aes128_ctr_apply, random_array, SecretBytes};
use sealcast_hls::{key_context, EncryptionMode, KeyUri, StreamEncryption};
use sealcast_hub::{Delivery, PublishInfo, StreamKey, Subscription};
use sealcast_kms::{KeySpec, Kms, KmsError};
use sealcast_media::flv_crypt::{ctr_iv, encrypted_from, KeyAnnouncement};
use sealcast_media::flv_stream::{file_header, tag_type, write_tag, TAG_SCRIPT};
use sealcast_media::frame::FrameKind;
use tokio::sync::mpsc;

use crate::routes::sign_uri;

/// Chunks queued for one viewer's connection; a viewer whose queue stays full for
/// [`SEND_TIMEOUT`] has fallen behind and is dropped.
const QUEUE_CHUNKS: usize = 256;
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// A streaming body fed by the viewer task.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
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
    ChannelBody { rx }
}

struct Encryptor {
    period: Arc<Period>,
    nonce: [u8; 8],
    counter: u32,
}

async fn send(tx: &mpsc::Sender<Bytes>, out: &mut BytesMut) -> Result<(), &'static str> {
    if out.is_empty() {
        return Ok(());
    }
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(out.split().freeze())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("closed"),
        Err(_) => Err("fell behind"),
    }
}

async fn run(v: Viewer, mut sub: Subscription, tx: mpsc::Sender<Bytes>) {
    let info = sub.info().clone();
    let mut out = BytesMut::from(&file_header(true, true)[..]);
    let mut base: Option<u64> = None;
    let mut enc: Option<Encryptor> = None;
    let mut frames = 0u64;
    tracing::debug!(stream = %info.key, remote = %v.remote, encrypted = v.enc.is_some(), "HTTP-FLV viewer started");
    let end = loop {
        let Some(delivery) = sub.recv().await else {
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
                if write_tag(&mut out, TAG_SCRIPT, ts, &announce.to_script_body()).is_err() {
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
        if write_tag(&mut out, tt, ts, &body).is_err() {
            continue;
        }
        frames += 1;
        if let Err(why) = send(&tx, &mut out).await {
            break if why == "closed" { "the viewer left" } else { "fell behind: its connection did not drain" };
        }
    };
    // What is queued still goes out (e.g. the end of the stream).
    let _ = send(&tx, &mut out).await;
    if end.starts_with("fell behind") {
        tracing::warn!(stream = %info.key, remote = %v.remote, frames, "HTTP-FLV viewer {end}; dropped");
    } else {
        tracing::debug!(stream = %info.key, remote = %v.remote, frames, "HTTP-FLV viewer ended: {end}");
    }
}
