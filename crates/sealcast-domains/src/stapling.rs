//! OCSP stapling: fetches each stapling domain's OCSP response in the background, keeps it
//! fresh and attaches it to the domain's live TLS configuration.
//!
//! - A response is fetched when a certificate with stapling on appears, then again halfway
//!   through its validity. Only a response that [`OcspTarget::check_response`] accepts (good,
//!   signed by the issuer or its delegate, current) is stapled.
//! - When the responder cannot be reached or answers something unusable, the current staple
//!   keeps serving until its `nextUpdate`, handshakes go on without one after that, every
//!   failure is logged, and retries back off from one minute to fifteen.
//! - Staples are cached by certificate fingerprint in memory, so configuration reloads keep
//!   them; a restart fetches afresh.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use sealcast_tls::ocsp::{OcspError, OcspTarget, Staple};
use sealcast_tls::{DomainTls, TlsRegistry};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Largest OCSP response accepted (real ones are a few KiB).
const MAX_RESPONSE: usize = 64 * 1024;
/// Longest pause between checks, so expiries are noticed even with nothing to fetch.
const MAX_SLEEP: i64 = 60;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("responder URL {0:?} is not http://host[:port]/path")]
    Url(String),
    #[error("cannot reach the responder: {0}")]
    Connect(String),
    #[error("the responder timed out after {0:?}")]
    Timeout(Duration),
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    #[error("the responder answered HTTP {0}")]
    Status(u16),
    #[error("the response is larger than {MAX_RESPONSE} bytes")]
    TooLarge,
    #[error(transparent)]
    Ocsp(#[from] OcspError),
}

#[derive(Debug, Default)]
struct Entry {
    staple: Option<Staple>,
    next_attempt: i64,
    failures: u32,
    last_error: Option<String>,
}

/// Staple cache and refresh scheduling, shared by the reloader and the background task.
#[derive(Debug)]
pub struct Stapler {
    entries: Mutex<HashMap<String, Entry>>,
    wake: Notify,
    timeout: Duration,
}

impl Default for Stapler {
    fn default() -> Self {
        Stapler { entries: Mutex::default(), wake: Notify::new(), timeout: Duration::from_secs(10) }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Stapler {
    /// A still-valid cached staple for the certificate with this fingerprint.
    pub fn cached(&self, fingerprint: &str) -> Option<Vec<u8>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(fingerprint)
            .and_then(|e| e.staple.as_ref())
            .filter(|s| s.valid_until() > now())
            .map(|s| s.der.clone())
    }

    /// Asks the background task to look at the configuration again now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown`: fetches due staples for every domain of `registry` with stapling
    /// on and attaches them.
    pub async fn run(&self, registry: &TlsRegistry, shutdown: CancellationToken) {
        loop {
            let next = self.tick(registry).await;
            let sleep = (next - now()).clamp(1, MAX_SLEEP) as u64;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(sleep)) => {}
            }
        }
    }

    /// One pass over the live domains; returns when the next pass is due (Unix time).
    async fn tick(&self, registry: &TlsRegistry) -> i64 {
        let snapshot = registry.load();
        let mut next = now() + MAX_SLEEP;
        for domain in snapshot.domains() {
            if !domain.options.ocsp_stapling {
                continue;
            }
            let fp = domain.info.fingerprint_sha256.clone();
            let due = {
                let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                entries.get(&fp).is_none_or(|e| e.next_attempt <= now())
            };
            if due {
                let outcome = self.fetch_for(&domain).await;
                self.record(&domain, &fp, outcome);
            }
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let entry = entries.entry(fp).or_default();
            if entry.staple.as_ref().is_some_and(|s| s.valid_until() <= now()) {
                tracing::warn!(domain = %domain.domain, "OCSP staple expired before a new one could be fetched; serving without a staple");
                entry.staple = None;
            }
            domain.set_staple(entry.staple.as_ref().map(|s| s.der.clone()));
            next = next.min(entry.next_attempt);
        }
        next
    }

    async fn fetch_for(&self, domain: &DomainTls) -> Result<(String, Staple), (Option<String>, FetchError)> {
        let target = OcspTarget::for_chain(&domain.chain()).map_err(|e| (None, FetchError::from(e)))?;
        let der = tokio::time::timeout(self.timeout, fetch(&target.responder, target.request_der()))
            .await
            .map_err(|_| (Some(target.responder.clone()), FetchError::Timeout(self.timeout)))?
            .map_err(|e| (Some(target.responder.clone()), e))?;
        let staple = target.check_response(&der, now()).map_err(|e| (Some(target.responder.clone()), e.into()))?;
        Ok((target.responder, staple))
    }

    fn record(&self, domain: &DomainTls, fp: &str, outcome: Result<(String, Staple), (Option<String>, FetchError)>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(fp.to_string()).or_default();
        let t = now();
        match outcome {
            Ok((responder, staple)) => {
                tracing::info!(
                    domain = %domain.domain, responder, this_update = staple.this_update,
                    valid_until = staple.valid_until(), "OCSP staple refreshed"
                );
                entry.next_attempt = staple.refresh_at(t);
                entry.staple = Some(staple);
                entry.failures = 0;
                entry.last_error = None;
            }
            Err((None, e)) => {
                // The certificate itself cannot be stapled: say so once per certificate.
                let msg = e.to_string();
                if entry.last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(domain = %domain.domain, error = %msg, "OCSP stapling is on but cannot work for this certificate");
                }
                entry.last_error = Some(msg);
                entry.next_attempt = t + 3600;
            }
            Err((Some(responder), e)) => {
                entry.failures = entry.failures.saturating_add(1);
                let backoff = (60i64 << entry.failures.saturating_sub(1).min(4)).min(900);
                entry.next_attempt = t + backoff;
                let keeping = entry.staple.as_ref().map(|s| s.valid_until()).filter(|v| *v > t);
                let level_error = matches!(e, FetchError::Ocsp(OcspError::Revoked { .. }));
                let msg = e.to_string();
                match keeping {
                    Some(until) => tracing::warn!(
                        domain = %domain.domain, responder, error = %msg, retry_in_secs = backoff,
                        keep_until = until, "OCSP staple not refreshed; keeping the current one"
                    ),
                    None if level_error => tracing::error!(
                        domain = %domain.domain, responder, error = %msg, "OCSP: certificate revoked; serving without a staple"
                    ),
                    None => tracing::warn!(
                        domain = %domain.domain, responder, error = %msg, retry_in_secs = backoff,
                        "OCSP staple not available; serving without a staple"
                    ),
                }
                entry.last_error = Some(msg);
            }
        }
    }
}

/// `http://host[:port]/path` → (host, port, path and query).
fn split_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &url[7..])?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 80,
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port, path.to_string()))
}

/// POSTs an OCSP request (RFC 6960 appendix A.1) and returns the body.
pub async fn fetch(url: &str, request: Vec<u8>) -> Result<Vec<u8>, FetchError> {
    let (host, port, path) = split_url(url).ok_or_else(|| FetchError::Url(url.to_string()))?;
    let stream =
        tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| FetchError::Connect(e.to_string()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let conn = tokio::spawn(conn);
    let host_header = if port == 80 { host.clone() } else { format!("{host}:{port}") };
    let req = http::Request::post(path)
        .header(http::header::HOST, host_header)
        .header(http::header::CONTENT_TYPE, "application/ocsp-request")
        .header(http::header::ACCEPT, "application/ocsp-response")
        .body(Full::new(Bytes::from(request)))
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(|e| FetchError::Http(e.to_string()))?;
    if resp.status() != http::StatusCode::OK {
        conn.abort();
        return Err(FetchError::Status(resp.status().as_u16()));
    }
    let body = Limited::new(resp.into_body(), MAX_RESPONSE).collect().await.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            FetchError::TooLarge
        } else {
            FetchError::Http(e.to_string())
        }
    })?;
    conn.abort();
    Ok(body.to_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responder_urls() {
        assert_eq!(split_url("http://ocsp.example.com"), Some(("ocsp.example.com".into(), 80, "/".into())));
        assert_eq!(split_url("HTTP://r3.o.lencr.org/"), Some(("r3.o.lencr.org".into(), 80, "/".into())));
        assert_eq!(split_url("http://127.0.0.1:8888/ocsp?x=1"), Some(("127.0.0.1".into(), 8888, "/ocsp?x=1".into())));
        assert_eq!(split_url("http://[::1]:9/"), Some(("::1".into(), 9, "/".into())));
        for bad in ["https://ocsp.example.com", "http://", "http://:80/", "http://a:99999/", "http://u@h/", "ftp://x"] {
            assert_eq!(split_url(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn unreachable_responder_is_a_connect_error() {
        // Bind and drop to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let port = port.expect("port");
        let err = fetch(&format!("http://127.0.0.1:{port}/"), vec![0x30, 0x00]).await.expect_err("nothing listens");
        assert!(matches!(err, FetchError::Connect(_)), "{err}");
    }
}
