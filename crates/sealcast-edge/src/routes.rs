//! Request routing and responses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited as LimitedBody};
use sealcast_auth::Token;
use sealcast_domains::{DomainEntry, LiveDomains};
use sealcast_hls::{key_context, EncryptionMode, HlsService, KeyUri};
use sealcast_hub::{Hub, LagPolicy};
use sealcast_kms::{Kms, KmsError};

use sealcast_crypto::envelope;

use crate::flv::{self, FlvKeys, Viewer};
use crate::keys::{KeyLimits, KeyService, Limited};
use sealcast_media::hls::playlist::rewrite_uris;

pub(crate) type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

pub(crate) fn full(b: Bytes) -> Body {
    Full::new(b).boxed()
}

/// Public ports used in redirect `Location`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicPorts {
    pub http: u16,
    /// `None` when HTTPS is not served.
    pub https: Option<u16>,
}

/// The edge's shared state.
pub struct Edge {
    pub(crate) hls: HlsService,
    pub(crate) hub: Hub,
    pub(crate) kms: Arc<dyn Kms>,
    pub(crate) flv_keys: Arc<FlvKeys>,
    pub(crate) keys: KeyService,
    pub(crate) domains: Arc<LiveDomains>,
    pub(crate) ports: PublicPorts,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge").finish_non_exhaustive()
    }
}

/// A parsed playback path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Playlist { app: &'a str, stream: &'a str },
    Segment { app: &'a str, stream: &'a str, name: &'a str },
    Key { app: &'a str, stream: &'a str },
    Flv { app: &'a str, stream: &'a str },
}

fn route(path: &str) -> Option<Route<'_>> {
    let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let valid = |s: &&str| !s.is_empty() && *s != "." && *s != "..";
    match parts.as_slice() {
        [app, file] if valid(app) => match file.strip_suffix(".flv").filter(valid) {
            Some(stream) => Some(Route::Flv { app, stream }),
            None => Some(Route::Playlist { app, stream: file.strip_suffix(".m3u8").filter(valid)? }),
        },
        [app, stream, "key"] if valid(app) && valid(stream) => Some(Route::Key { app, stream }),
        [app, stream, file] if valid(app) && valid(stream) => {
            Some(Route::Segment { app, stream, name: file.strip_suffix(".ts").filter(valid)? })
        }
        _ => None,
    }
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response<Body> {
    let mut body = msg.into();
    body.push('\n');
    let mut r = Response::new(full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn ok(body: Bytes, content_type: &'static str, cache: &'static str) -> Response<Body> {
    let mut r = Response::new(full(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

impl Edge {
    pub fn new(
        hls: HlsService,
        hub: Hub,
        kms: Arc<dyn Kms>,
        domains: Arc<LiveDomains>,
        ports: PublicPorts,
        limits: KeyLimits,
    ) -> Self {
        Edge { hls, hub, keys: KeyService::new(kms.clone(), limits), kms, flv_keys: Arc::default(), domains, ports }
    }

    /// Handles one request.
    pub async fn handle<B>(&self, req: Request<B>, remote: SocketAddr, secure: bool) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (req, body) = req.into_parts();
        let host = request_host(&req);
        let Some(domain) = self.domains.lookup(host) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("no playback domain serves host {:?}; add it with `sealcast domain add`", host.unwrap_or("")),
            );
        };
        let mut resp = match self.redirect(&req, host, &domain, secure) {
            Some(r) => r,
            None => self.dispatch(&req, body, &domain, remote, secure).await,
        };
        let h = resp.headers_mut();
        if secure && domain.config.hsts.enabled {
            let mut v = format!("max-age={}", domain.config.hsts.max_age);
            if domain.config.hsts.include_subdomains {
                v.push_str("; includeSubDomains");
            }
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(header::STRICT_TRANSPORT_SECURITY, v);
            }
        }
        // Web players (hls.js) fetch cross-origin.
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        if req.method == Method::HEAD {
            let len = resp.headers().get(header::CONTENT_LENGTH).cloned();
            let (parts, _) = resp.into_parts();
            let mut r = Response::from_parts(parts, full(Bytes::new()));
            if let Some(l) = len {
                r.headers_mut().insert(header::CONTENT_LENGTH, l);
            }
            return r;
        }
        resp
    }

    /// https_force on plain HTTP, http_force on HTTPS: same host, path and query, the other
    /// scheme's public port.
    fn redirect(&self, req: &Parts, host: Option<&str>, d: &DomainEntry, secure: bool) -> Option<Response<Body>> {
        let (scheme, port, status) = if !secure && d.config.https_force.enable && d.https {
            ("https", self.ports.https?, d.config.https_force.status)
        } else if secure && d.config.http_force.enable {
            ("http", self.ports.http, d.config.http_force.status)
        } else {
            return None;
        };
        let host = host?;
        let default_port = if scheme == "https" { 443 } else { 80 };
        let authority = match (host.contains(':'), port == default_port) {
            (true, true) => format!("[{host}]"),
            (true, false) => format!("[{host}]:{port}"),
            (false, true) => host.to_string(),
            (false, false) => format!("{host}:{port}"),
        };
        let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
        let location = format!("{scheme}://{authority}{pq}");
        let mut r =
            text(StatusCode::from_u16(status).unwrap_or(StatusCode::MOVED_PERMANENTLY), format!("moved to {location}"));
        r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).ok()?);
        Some(r)
    }

    async fn dispatch<B>(
        &self,
        req: &Parts,
        body: B,
        domain: &DomainEntry,
        remote: SocketAddr,
        secure: bool,
    ) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        match req.method {
            Method::GET | Method::HEAD | Method::POST => {}
            Method::OPTIONS => {
                let mut r = text(StatusCode::NO_CONTENT, "");
                *r.body_mut() = full(Bytes::new());
                r.headers_mut()
                    .insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, POST, OPTIONS"));
                r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
                r.headers_mut().insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
                return r;
            }
            _ => {
                let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: use GET or HEAD (POST for keys)");
                r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST, OPTIONS"));
                return r;
            }
        }
        if req.method != Method::POST {
            if let Some(r) = crate::player::response(req.uri.path(), req.uri.query()) {
                return r;
            }
        }
        // The playback credential (the domain's aliauth policy) is checked before anything is
        // looked up; type B and C credentials carried in the path are stripped here.
        let verified = match domain.config.aliauth.verify(req.uri.path(), req.uri.query(), unix_now()) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(%remote, domain = %domain.name, error = %e, "playback credential refused");
                return text(StatusCode::FORBIDDEN, format!("forbidden: {e}"));
            }
        };
        let path = verified.path.as_str();
        let Some(route) = route(path) else {
            return text(
                StatusCode::NOT_FOUND,
                "not found: playback paths are /{app}/{stream}.m3u8 (and the URIs it lists) and /{app}/{stream}.flv",
            );
        };
        let (app, stream) = match &route {
            Route::Playlist { app, stream }
            | Route::Segment { app, stream, .. }
            | Route::Key { app, stream }
            | Route::Flv { app, stream } => (*app, *stream),
        };
        if req.method == Method::POST && !matches!(route, Route::Key { .. }) {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: POST is only for keys");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            return r;
        }
        let key = sealcast_hub::StreamKey::new(app, stream);
        match route {
            Route::Playlist { .. } => match self.hls.playlist(&key) {
                Some(body) => match &verified.token {
                    // Each listed URI is signed for the same expiry, so any player fetches
                    // segments and keys as listed; such a playlist is for this viewer only.
                    Some(token) => ok(sign_playlist(&body, path, token), "application/vnd.apple.mpegurl", "no-store"),
                    None => {
                        let cache = if body.ends_with(b"#EXT-X-ENDLIST\n") { "max-age=10" } else { "max-age=1" };
                        ok(body, "application/vnd.apple.mpegurl", cache)
                    }
                },
                None => text(StatusCode::NOT_FOUND, format!("stream {key} is not live or has no segment yet")),
            },
            Route::Segment { name, .. } => match self.hls.segment(&key, name) {
                Some(body) if verified.token.is_some() => ok(body, "video/mp2t", "private, max-age=86400, immutable"),
                Some(body) => ok(body, "video/mp2t", "max-age=86400, immutable"),
                None => text(StatusCode::NOT_FOUND, format!("segment {name} of {key} is not available")),
            },
            Route::Flv { .. } => {
                if req.method == Method::HEAD {
                    return if self.hub.is_live(&key) && self.hls.stream_encryption(&key).is_some() {
                        ok(Bytes::new(), "video/x-flv", "no-store")
                    } else {
                        text(StatusCode::NOT_FOUND, format!("stream {key} is not live"))
                    };
                }
                let Some(sub) = self.hub.subscribe(&key, LagPolicy::Disconnect) else {
                    return text(StatusCode::NOT_FOUND, format!("stream {key} is not live"));
                };
                // Fail closed: a stream whose encryption is not known yet is never served clear.
                let Some(enc) = self.hls.session_encryption(&key, sub.info().session_id) else {
                    let mut r = text(StatusCode::SERVICE_UNAVAILABLE, format!("stream {key} is starting; retry"));
                    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return r;
                };
                let enc = Some(enc).filter(|e| e.mode != EncryptionMode::None);
                let viewer = Viewer {
                    kms: self.kms.clone(),
                    keys: self.flv_keys.clone(),
                    enc,
                    token: verified.token.clone(),
                    remote,
                };
                let mut r = Response::new(flv::start(viewer, sub).boxed());
                let h = r.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/x-flv"));
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Route::Key { .. } if !secure && !remote.ip().is_loopback() => {
                text(StatusCode::FORBIDDEN, "forbidden: keys are served only over HTTPS")
            }
            Route::Key { .. } => {
                if let Err(l) = self.keys.admit(remote.ip(), &key.to_string()) {
                    let what = match l {
                        Limited::Ip => "from this address",
                        Limited::Stream => "for this stream",
                    };
                    tracing::debug!(%remote, stream = %key, "key request rate-limited {what}");
                    let mut r =
                        text(StatusCode::TOO_MANY_REQUESTS, format!("too many key requests {what}; retry shortly"));
                    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return r;
                }
                let exp = verified.token.as_ref().map_or(unix_now() + 3600, |_| verified.expires);
                self.key(req, body, &key, exp).await
            }
        }
    }

    /// The key endpoint. GET returns the raw key of an `aes-128` stream; POST returns the key
    /// sealed with HPKE to the public key in the body (required for `envelope` streams).
    async fn key<B>(&self, req: &Parts, body: B, key: &sealcast_hub::StreamKey, exp: i64) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let ku = match KeyUri::from_query(req.uri.query().unwrap_or("")) {
            Ok(k) => k,
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("invalid key request: {e}")),
        };
        let current = self.hls.encryption(key);
        let ttl = current.map_or(std::time::Duration::from_secs(60), |(_, rotation)| rotation);
        let ctx = |mode| key_context(&ku.domain, &key.app, &key.stream, mode);
        if req.method != Method::POST {
            return match self.keys.unwrap(&ku.ciphertext_blob, &ctx(EncryptionMode::Aes128), ttl).await {
                Ok(k) if k.len() == 16 => {
                    let mut r = ok(Bytes::copy_from_slice(k.expose()), "application/octet-stream", "no-store");
                    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
                    r
                }
                Ok(_) => text(StatusCode::BAD_REQUEST, "invalid key request: not a content key"),
                // An envelope key is bound to its delivery mode: the raw-key context cannot
                // unwrap it. Say so precisely instead of reporting a context mismatch.
                Err(KmsError::ContextMismatch)
                    if self.keys.unwrap(&ku.ciphertext_blob, &ctx(EncryptionMode::Envelope), ttl).await.is_ok() =>
                {
                    text(
                        StatusCode::FORBIDDEN,
                        "forbidden: this stream's keys are delivered only sealed to a player: \
                         POST {\"pk\": P-256 public key} to this URI (see docs/key-delivery.md)",
                    )
                }
                Err(e) => kms_failure(key, e),
            };
        }
        let body = match LimitedBody::new(body, MAX_KEY_REQUEST_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("key request body over {MAX_KEY_REQUEST_BYTES} bytes or unreadable"),
                )
            }
        };
        let pk = match envelope::parse_request(&body) {
            Ok(pk) => pk,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        };
        // Keys of aes-128 streams may be fetched sealed too. Try the stream's own mode first, so
        // the usual request is one cache hit, not a failed KMS call before it.
        let (first, second) = match current {
            Some((EncryptionMode::Aes128, _)) => (EncryptionMode::Aes128, EncryptionMode::Envelope),
            _ => (EncryptionMode::Envelope, EncryptionMode::Aes128),
        };
        let mut unwrapped = self.keys.unwrap(&ku.ciphertext_blob, &ctx(first), ttl).await;
        if matches!(unwrapped, Err(KmsError::ContextMismatch)) {
            unwrapped = self.keys.unwrap(&ku.ciphertext_blob, &ctx(second), ttl).await;
        }
        let content_key = match unwrapped {
            Ok(k) if k.len() == 16 => k,
            Ok(_) => return text(StatusCode::BAD_REQUEST, "invalid key request: not a content key"),
            Err(e) => return kms_failure(key, e),
        };
        let binding = envelope::Binding { domain: &ku.domain, app: &key.app, stream: &key.stream };
        match envelope::seal(&pk, &content_key, binding, &ku.ciphertext_blob, exp) {
            Ok(resp) => match serde_json::to_vec(&resp) {
                Ok(json) => ok(Bytes::from(json), "application/json", "no-store"),
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the key response"),
            },
            Err(e) => text(StatusCode::BAD_REQUEST, format!("invalid key request: {e}")),
        }
    }
}

/// Largest key request body (a JSON object with one public key).
const MAX_KEY_REQUEST_BYTES: usize = 4096;

fn kms_failure(key: &sealcast_hub::StreamKey, e: KmsError) -> Response<Body> {
    let status = match e {
        KmsError::InvalidCiphertext(_) | KmsError::ContextMismatch | KmsError::Tampered => StatusCode::BAD_REQUEST,
        KmsError::KeyNotFound(_) => StatusCode::NOT_FOUND,
        KmsError::KeyDisabled(_) | KmsError::KeyPendingDeletion(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    tracing::warn!(stream = %key, error = %e, "key request failed");
    let mut r = text(status, format!("key request failed: {e}"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    r
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Signs an absolute URI (path plus optional query) with the request's credential.
pub(crate) fn sign_uri(token: &Token, uri: &str) -> String {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    token.sign(path).with_query(query)
}

/// Signs every URI of a playlist served at `playlist_path` with the request's credential.
/// The playlist's URIs are relative to its directory; the signed ones are absolute paths,
/// since type B and C credentials are path prefixes.
fn sign_playlist(body: &[u8], playlist_path: &str, token: &Token) -> Bytes {
    let dir = playlist_path.rsplit_once('/').map_or("", |(d, _)| d);
    let text = String::from_utf8_lossy(body);
    let signed = rewrite_uris(&text, |uri| {
        let abs = if uri.starts_with('/') { uri.to_string() } else { format!("{dir}/{uri}") };
        sign_uri(token, &abs)
    });
    Bytes::from(signed)
}

/// Host of the request (HTTP/2 :authority or the Host header), without port.
fn request_host(req: &Parts) -> Option<&str> {
    req.uri.host().or_else(|| req.headers.get(header::HOST).and_then(|h| h.to_str().ok())).map(strip_port)
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/live/a.m3u8"), Some(Route::Playlist { app: "live", stream: "a" }));
        assert_eq!(route("/live/a/18f-3.ts"), Some(Route::Segment { app: "live", stream: "a", name: "18f-3" }));
        assert_eq!(route("/live/a/key"), Some(Route::Key { app: "live", stream: "a" }));
        assert_eq!(route("/live/a.flv"), Some(Route::Flv { app: "live", stream: "a" }));
        assert_eq!(route("/live/.flv"), None);
        for bad in
            ["/", "/live", "/live/.m3u8", "/live/a.ts", "/../a.m3u8", "/a/b/c/d.ts", "live/a.m3u8", "/live/a/x.mp4"]
        {
            assert_eq!(route(bad), None, "{bad}");
        }
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
    }
}
