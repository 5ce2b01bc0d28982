//! Absolute URLs and RFC 3986 reference resolution, for the URIs playlists list.

use http::Uri;

use crate::HttpError;

/// An absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, HttpError> {
        let uri: Uri = s.parse().map_err(|e| HttpError::Url(format!("{s}: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(HttpError::Url(format!("{s}: only http:// and https:// URLs can be played"))),
        };
        let host = uri.host().ok_or_else(|| HttpError::Url(format!("{s}: no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path_and_query = uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
        Ok(Url { https, host, port, path_and_query })
    }

    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("/")
    }

    pub fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == if self.https { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves a playlist reference against this URL (absolute URL, absolute path or
    /// relative path; dot segments are removed).
    pub fn join(&self, reference: &str) -> Result<Url, HttpError> {
        if reference.contains("://") {
            return Url::parse(reference);
        }
        if reference.starts_with("//") {
            return Url::parse(&format!("{}:{reference}", if self.https { "https" } else { "http" }));
        }
        let (ref_path, ref_query) = match reference.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (reference, None),
        };
        let merged = if ref_path.starts_with('/') {
            ref_path.to_string()
        } else if ref_path.is_empty() {
            self.path().to_string()
        } else {
            let base = self.path();
            format!("{}/{ref_path}", &base[..base.rfind('/').unwrap_or(0)])
        };
        let mut out: Vec<&str> = Vec::new();
        for seg in merged.split('/').skip(1) {
            match seg {
                "." => {}
                ".." => {
                    out.pop();
                }
                s => out.push(s),
            }
        }
        let mut path_and_query = format!("/{}", out.join("/"));
        let query = if ref_path.is_empty() && ref_query.is_none() { self.query() } else { ref_query };
        if let Some(q) = query {
            path_and_query.push('?');
            path_and_query.push_str(q);
        }
        Ok(Url { path_and_query, ..self.clone() })
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", if self.https { "https" } else { "http" }, self.authority(), self.path_and_query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_playlist_references() {
        let base = Url::parse("https://play.example.com:8443/live/cam.m3u8?auth_key=1-0-0-x").expect("url");
        assert_eq!(base.authority(), "play.example.com:8443");
        let j = |r: &str| base.join(r).expect("join").to_string();
        assert_eq!(j("cam/1-2.ts"), "https://play.example.com:8443/live/cam/1-2.ts");
        assert_eq!(j("/live/cam/key?d=a&ct=b"), "https://play.example.com:8443/live/cam/key?d=a&ct=b");
        assert_eq!(j("../x/./y.ts"), "https://play.example.com:8443/x/y.ts");
        assert_eq!(j("http://other/a.ts"), "http://other/a.ts");
        assert_eq!(j("//cdn.example.com/a.ts"), "https://cdn.example.com/a.ts");
        assert_eq!(Url::parse("http://[::1]:80/a").expect("v6").authority(), "[::1]");
        assert!(Url::parse("rtmp://x/live/cam").is_err());
        assert!(Url::parse("not a url").is_err());
    }
}
