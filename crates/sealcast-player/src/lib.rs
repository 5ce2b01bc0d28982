//! Player SDK for Sealcast streams. HLS: follows a live (or ended) playlist, fetches each key
//! period's content key — the raw key of `aes-128` streams, or, for `envelope` streams
//! (`KEYFORMAT="com.sealcast.envelope"`), the key sealed to this player's own P-256 key pair
//! with HPKE (docs/key-delivery.md) — decrypts every segment and writes one continuous
//! MPEG-TS stream. HTTP-FLV (`.flv` URLs): reads the live FLV, fetches the key of each
//! announced key period the same way, decrypts the tags (docs/flv-encryption.md) and writes a
//! plain FLV.
//!
//! ```no_run
//! # async fn run() -> Result<(), sealcast_player::PlayerError> {
//! let opts = sealcast_player::PlayOptions::new("https://play.example.com/live/cam.m3u8?auth_key=…");
//! let mut out = tokio::io::stdout();
//! let summary = sealcast_player::play(&opts, &mut out, |p| eprintln!("{} segments", p.segments)).await?;
//! eprintln!("{} bytes of MPEG-TS, {} key periods", summary.bytes, summary.key_periods);
//! # Ok(()) }
//! ```
//!
//! Signed URLs work as given: the playlist lists its segment and key URIs already signed.
//! The HPKE key pair is generated per play session and never leaves memory.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::http::{Method, StatusCode};
use bytes::Bytes;
use bytes::BytesMut;
use http_body_util::{BodyExt as _, Limited};
use sealcast_crypto::envelope::{self, Binding, EnvelopeResponse};
use sealcast_crypto::hpke::HpkeKeyPair;
use sealcast_crypto::{aes128_cbc_decrypt, aes128_ctr_apply, SecretBytes};
use sealcast_media::flv_crypt::{ctr_iv, encrypted_from, KeyAnnouncement};
use sealcast_media::flv_stream::{file_header, write_tag, FlvReader, TAG_SCRIPT};
use sealcast_media::hls::key_uri::KeyUri;
use sealcast_media::hls::parse::{parse_playlist, MediaSegment, ParsedPlaylist, SegmentKey};
use thiserror::Error;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use sealcast_http::HttpClient;
pub use sealcast_http::{tls_config, HttpConfig, HttpError, Url};

/// Why playback stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlayerError {
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("{url} answered {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("playlist {url}: {reason}")]
    Playlist { url: String, reason: String },
    #[error("key {url}: {reason}")]
    Key { url: String, reason: String },
    #[error("segment {url}: {reason}")]
    Segment { url: String, reason: String },
    #[error("the stream stalled: no new segment for {0} s")]
    Stalled(u64),
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
    #[error("cannot create the player key pair: {0}")]
    KeyPair(String),
}

impl From<HttpError> for PlayerError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Url(m) => PlayerError::Url(m),
            HttpError::Tls(m) => PlayerError::Tls(m),
            HttpError::Http(m) => PlayerError::Http(m),
        }
    }
}

/// What to play.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// Playlist URL (media or master; the first variant of a master is played).
    pub url: String,
    /// Stop after this much media has been written.
    pub duration: Option<Duration>,
    /// Extra PEM CA certificates to trust besides the system's.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub http: HttpConfig,
    /// Give up when a live playlist lists nothing new for this many target durations.
    pub stall_target_durations: u32,
}

impl PlayOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PlayOptions {
            url: url.into(),
            duration: None,
            extra_ca_pem: None,
            http: HttpConfig::default(),
            stall_target_durations: 10,
        }
    }
}

/// Progress so far (also the final summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// HLS segments written.
    pub segments: u64,
    /// FLV tags written (HTTP-FLV).
    pub tags: u64,
    /// MPEG-TS bytes written.
    pub bytes: u64,
    /// Media time written, from the playlists' EXTINF durations.
    pub media_ms: u64,
    /// Distinct content keys used.
    pub key_periods: u64,
    /// Segments that left the server before they could be fetched.
    pub skipped: u64,
}

impl Progress {
    /// Average bitrate of what was written, in kbit/s.
    pub fn kbps(&self) -> u64 {
        (self.bytes * 8).checked_div(self.media_ms).unwrap_or(0)
    }
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn query_param<'a>(url: &'a Url, name: &str) -> Option<&'a str> {
    url.query()?.split('&').find_map(|p| p.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

struct Session<'a, W> {
    client: HttpClient,
    out: &'a mut W,
    pair: HpkeKeyPair,
    /// Content keys by key URL.
    keys: HashMap<String, SecretBytes>,
    periods: HashSet<String>,
    progress: Progress,
}

impl<W: AsyncWrite + Unpin> Session<'_, W> {
    async fn get_ok(&mut self, url: &Url) -> Result<Bytes, PlayerError> {
        let r = self.client.send(Method::GET, url, None).await?;
        if r.status != StatusCode::OK {
            return Err(status_error(url, r.status, &r.body));
        }
        Ok(r.body)
    }

    async fn content_key(&mut self, key: &SegmentKey, key_url: &Url) -> Result<SecretBytes, PlayerError> {
        let id = key_url.to_string();
        if let Some(k) = self.keys.get(&id) {
            return Ok(k.clone());
        }
        let fail = |reason: String| PlayerError::Key { url: key_url.path().to_string(), reason };
        if key.method != "AES-128" {
            return Err(fail(format!("METHOD={} is not supported (AES-128 only)", key.method)));
        }
        let k = match key.keyformat.as_str() {
            "identity" => {
                let body = self.get_ok(key_url).await?;
                if body.len() != 16 {
                    return Err(fail(format!("expected a 16-byte key, got {} bytes", body.len())));
                }
                SecretBytes::new(body.to_vec())
            }
            envelope::KEYFORMAT => {
                let KeyUri { domain, ciphertext_blob: ct } =
                    KeyUri::from_query(key_url.query().unwrap_or("")).map_err(|e| fail(e.to_string()))?;
                // /…/{app}/{stream}/key, possibly behind a type B/C credential prefix.
                let parts: Vec<&str> = key_url.path().rsplit('/').take(3).collect();
                let [_, stream, app] = parts.as_slice() else {
                    return Err(fail("the key URI path is not /{app}/{stream}/key".into()));
                };
                let body = serde_json::to_vec(&envelope::request(&self.pair))
                    .map_err(|e| fail(format!("cannot encode the request: {e}")))?;
                let r = self.client.send(Method::POST, key_url, Some((Bytes::from(body), "application/json"))).await?;
                if r.status != StatusCode::OK {
                    return Err(status_error(key_url, r.status, &r.body));
                }
                let resp: EnvelopeResponse =
                    serde_json::from_slice(&r.body).map_err(|e| fail(format!("not a key response: {e}")))?;
                let binding = Binding { domain: &domain, app, stream };
                envelope::open(&self.pair, &resp, binding, &ct, now_unix()).map_err(|e| fail(e.to_string()))?
            }
            other => return Err(fail(format!("KEYFORMAT {other:?} is not supported"))),
        };
        self.periods.insert(query_param(key_url, "ct").unwrap_or(&id).to_string());
        self.progress.key_periods = self.periods.len() as u64;
        self.keys.insert(id, k.clone());
        Ok(k)
    }

    /// Fetches, decrypts and writes one segment. Returns false when it is gone (404).
    async fn segment(&mut self, base: &Url, seg: &MediaSegment) -> Result<bool, PlayerError> {
        let url = base.join(&seg.uri)?;
        let r = self.client.send(Method::GET, &url, None).await?;
        if r.status == StatusCode::NOT_FOUND {
            tracing::warn!(segment = %url.path(), "segment left the server before it was fetched; skipping");
            self.progress.skipped += 1;
            return Ok(false);
        }
        if r.status != StatusCode::OK {
            return Err(status_error(&url, r.status, &r.body));
        }
        let mut data = r.body.to_vec();
        let plain_len = match &seg.key {
            Some(key) => {
                let key_url = base.join(&key.uri)?;
                let k = self.content_key(key, &key_url).await?;
                let iv = key.iv.unwrap_or_else(|| {
                    let mut iv = [0u8; 16];
                    iv[8..].copy_from_slice(&seg.sequence.to_be_bytes());
                    iv
                });
                let k: &[u8; 16] = k
                    .as_aes128()
                    .map_err(|e| PlayerError::Key { url: key_url.path().to_string(), reason: e.to_string() })?;
                aes128_cbc_decrypt(k, &iv, &mut data)
                    .map_err(|e| PlayerError::Segment {
                        url: url.path().to_string(),
                        reason: format!("decryption: {e}"),
                    })?
                    .len()
            }
            None => data.len(),
        };
        data.truncate(plain_len);
        if data.first() != Some(&0x47) {
            return Err(PlayerError::Segment {
                url: url.path().to_string(),
                reason: "not MPEG-TS after decryption (wrong key?)".into(),
            });
        }
        self.out.write_all(&data).await?;
        self.progress.segments += 1;
        self.progress.bytes += data.len() as u64;
        self.progress.media_ms += seg.duration_ms;
        Ok(true)
    }
}

fn status_error(url: &Url, status: StatusCode, body: &[u8]) -> PlayerError {
    let message = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string();
    PlayerError::Status { url: url.path().to_string(), status: status.as_u16(), message }
}

/// Plays `opts.url` into `out` until the stream ends, `opts.duration` of media is written,
/// or an error. An `.flv` URL is HTTP-FLV (written out as a plain FLV, decrypted per
/// docs/flv-encryption.md); anything else is an HLS playlist (written out as MPEG-TS).
/// `on_progress` is called after every segment or FLV tag.
pub async fn play<W: AsyncWrite + Unpin>(
    opts: &PlayOptions,
    out: &mut W,
    on_progress: impl FnMut(&Progress),
) -> Result<Progress, PlayerError> {
    let tls = tls_config(opts.extra_ca_pem.as_deref())?;
    let pair = HpkeKeyPair::generate().map_err(|e| PlayerError::KeyPair(e.to_string()))?;
    let url = Url::parse(&opts.url)?;
    let tls2 = tls.clone();
    let s = Session {
        client: HttpClient::new(tls, opts.http.clone()),
        out,
        pair,
        keys: HashMap::new(),
        periods: HashSet::new(),
        progress: Progress::default(),
    };
    if url.path().ends_with(".flv") {
        let stream = HttpClient::new(tls2, opts.http.clone());
        return play_flv(s, stream, url, opts, on_progress).await;
    }
    play_hls(s, url, opts, on_progress).await
}

async fn play_flv<W: AsyncWrite + Unpin>(
    mut s: Session<'_, W>,
    stream: HttpClient,
    url: Url,
    opts: &PlayOptions,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Progress, PlayerError> {
    let (status, mut body) = stream.open_stream(&url).await?;
    if status != StatusCode::OK {
        let text = Limited::new(body, 4096).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        return Err(status_error(&url, status, &text));
    }
    let bad = |reason: String| PlayerError::Segment { url: url.path().to_string(), reason };
    s.out.write_all(&file_header(true, true)).await?;
    let mut reader = FlvReader::new();
    let mut cipher: Option<(SecretBytes, [u8; 8], u32)> = None;
    let mut first_ts: Option<u32> = None;
    let limit_ms = opts.duration.map(|d| d.as_millis() as u64);
    let idle = stream.timeout().max(Duration::from_secs(30));
    let mut out = BytesMut::new();
    loop {
        let chunk = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(PlayerError::Stalled(idle.as_secs())),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(PlayerError::Http(format!("{url}: {e}"))),
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        reader.push(&chunk);
        while let Some(tag) = reader.next_tag().map_err(|e| bad(e.to_string()))? {
            if tag.tag_type == TAG_SCRIPT {
                if let Some(a) = KeyAnnouncement::from_script_body(&tag.body).map_err(bad)? {
                    let key_url = url.join(&a.key_uri)?;
                    let seg_key = SegmentKey {
                        method: "AES-128".into(),
                        uri: a.key_uri.clone(),
                        iv: None,
                        keyformat: a.keyformat,
                    };
                    let ct = KeyUri::from_query(key_url.query().unwrap_or(""))
                        .map_err(|e| PlayerError::Key { url: key_url.path().into(), reason: e.to_string() })?
                        .ciphertext_blob;
                    if envelope::key_id(&ct) != a.kid {
                        return Err(PlayerError::Key {
                            url: key_url.path().into(),
                            reason: "the announced key id does not match the key URI".into(),
                        });
                    }
                    let key = s.content_key(&seg_key, &key_url).await?;
                    cipher = Some((key, a.nonce, 0));
                    continue;
                }
            }
            let mut data = tag.body.to_vec();
            if let (Some((key, nonce, counter)), Some(from)) = (cipher.as_mut(), encrypted_from(tag.tag_type, &data)) {
                let k = key.as_aes128().map_err(|e| bad(e.to_string()))?;
                aes128_ctr_apply(k, &ctr_iv(nonce, *counter), &mut data[from..]).map_err(|e| bad(e.to_string()))?;
                *counter += 1;
            }
            write_tag(&mut out, tag.tag_type, u64::from(tag.timestamp), &data).map_err(|e| bad(e.to_string()))?;
            s.out.write_all(&out.split()).await?;
            s.progress.tags += 1;
            s.progress.bytes += data.len() as u64;
            if tag.tag_type != TAG_SCRIPT && !(tag.timestamp == 0 && first_ts.is_none()) {
                let first = *first_ts.get_or_insert(tag.timestamp);
                s.progress.media_ms = u64::from(tag.timestamp.saturating_sub(first));
            }
            on_progress(&s.progress);
            if limit_ms.is_some_and(|l| s.progress.media_ms >= l) {
                s.out.flush().await?;
                return Ok(s.progress);
            }
        }
    }
    s.out.flush().await?;
    Ok(s.progress)
}

async fn play_hls<W: AsyncWrite + Unpin>(
    mut s: Session<'_, W>,
    mut url: Url,
    opts: &PlayOptions,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Progress, PlayerError> {
    let mut last: Option<u64> = None;
    let mut last_new = Instant::now();
    let limit_ms = opts.duration.map(|d| d.as_millis() as u64);
    for _hops in 0.. {
        let body = s.get_ok(&url).await?;
        let text = String::from_utf8_lossy(&body);
        let media = match parse_playlist(&text) {
            Ok(ParsedPlaylist::Media(m)) => m,
            Ok(ParsedPlaylist::Master(variants)) if _hops < 3 => {
                url = url.join(&variants[0])?;
                continue;
            }
            Ok(ParsedPlaylist::Master(_)) => {
                return Err(PlayerError::Playlist {
                    url: url.path().into(),
                    reason: "master playlists nest too deep".into(),
                })
            }
            Err(e) => return Err(PlayerError::Playlist { url: url.path().into(), reason: e.to_string() }),
        };
        if let Some(l) = last {
            if media.media_sequence > l + 1 {
                tracing::warn!(missed = media.media_sequence - l - 1, "fell behind the live window; segments skipped");
            }
        }
        let done = last;
        for seg in media.segments.iter().filter(|seg| done.is_none_or(|l| seg.sequence > l)) {
            s.segment(&url, seg).await?;
            last = Some(seg.sequence);
            last_new = Instant::now();
            on_progress(&s.progress);
            if limit_ms.is_some_and(|l| s.progress.media_ms >= l) {
                s.out.flush().await?;
                return Ok(s.progress);
            }
        }
        if media.ended {
            break;
        }
        let target = Duration::from_secs(media.target_duration.max(1));
        let stall = target * opts.stall_target_durations;
        if last_new.elapsed() > stall {
            return Err(PlayerError::Stalled(stall.as_secs()));
        }
        // RFC 8216 §6.3.4: reload no sooner than half a target duration when nothing changed.
        tokio::time::sleep(target / 2).await;
    }
    s.out.flush().await?;
    Ok(s.progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let u = Url::parse("https://h/live/cam/key?d=x&ct=AA").expect("url");
        assert_eq!(query_param(&u, "ct"), Some("AA"));
        assert_eq!(query_param(&u, "c"), None);
        assert_eq!(Progress { bytes: 1000, media_ms: 8, ..Progress::default() }.kbps(), 1000);
    }
}
