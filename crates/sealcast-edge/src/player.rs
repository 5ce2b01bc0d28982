//! The web player page at `/player/`: static files compiled into the binary. The page plays
//! `envelope` and `aes-128` streams in the browser with hls.js (vendored, Apache-2.0; see
//! `scripts/vendor-hls-js`), opening every content key with HPKE in WebCrypto
//! (docs/key-delivery.md). It is public code with nothing secret in it, so it is served
//! without playback credentials; the streams it plays still need theirs.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::routes::{full, Body};

const INDEX: &[u8] = include_bytes!("../assets/player/index.html");
const PLAYER_JS: &[u8] = include_bytes!("../assets/player/player.js");
const HLS_JS: &[u8] = include_bytes!("../assets/player/hls.light.min.js");
const HLS_JS_LICENSE: &[u8] = include_bytes!("../assets/player/hls.js.LICENSE");

/// The page may run scripts from here only, fetch playlists, segments and keys from any
/// origin (streams may live on another domain), and play what hls.js feeds it.
const CSP: &str = "default-src 'none'; script-src 'self'; worker-src blob:; style-src 'unsafe-inline'; \
                   media-src 'self' blob:; connect-src *; img-src 'self' data:; base-uri 'none'; form-action 'self'";

/// The response for a player path, or `None` for every other path.
pub(crate) fn response(path: &str, query: Option<&str>) -> Option<Response<Body>> {
    let (body, content_type, cache): (&'static [u8], &'static str, &'static str) = match path {
        "/player" => {
            let location = match query {
                Some(q) => format!("/player/?{q}"),
                None => "/player/".to_string(),
            };
            let mut r = Response::new(full(Bytes::from_static(b"moved to /player/\n")));
            *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
            r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).ok()?);
            return Some(r);
        }
        "/player/" | "/player/index.html" => (INDEX, "text/html; charset=utf-8", "no-cache"),
        "/player/player.js" => (PLAYER_JS, "text/javascript; charset=utf-8", "no-cache"),
        "/player/hls.light.min.js" => (HLS_JS, "text/javascript; charset=utf-8", "public, max-age=86400"),
        "/player/hls.js.LICENSE" => (HLS_JS_LICENSE, "text/plain; charset=utf-8", "public, max-age=86400"),
        _ => return None,
    };
    let mut r = Response::new(full(Bytes::from_static(body)));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn player_paths() {
        let r = response("/player/", None).expect("page");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(r.headers()[header::CONTENT_SECURITY_POLICY].to_str().is_ok_and(|c| c.contains("script-src 'self'")));
        assert!(response("/player/hls.light.min.js", None).is_some());
        let r = response("/player", Some("src=%2Flive%2Fa.m3u8")).expect("redirect");
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()[header::LOCATION], "/player/?src=%2Flive%2Fa.m3u8");
        for other in ["/player/x.js", "/live/a.m3u8", "/", "/player/../player.js"] {
            assert!(response(other, None).is_none(), "{other}");
        }
        let page = std::str::from_utf8(INDEX).expect("utf8");
        assert!(page.contains("src=\"hls.light.min.js\"") && page.contains("src=\"player.js\""));
        assert!(!page.contains("<script>"), "no inline script: the CSP forbids it");
    }
}
