//! A small HTTP/1.1 client on hyper: one kept-alive connection per origin, TLS with rustls
//! (system roots plus any extra CA), timeouts and body limits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::url::Url;
use crate::HttpError;

/// A response, fully read.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Connect plus the whole response.
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_body: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { timeout: Duration::from_secs(15), max_body: 64 << 20 }
    }
}

/// The TLS roots: the system's, plus PEM CA certificates given by the caller.
pub fn tls_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, HttpError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if let Some(pem) = extra_ca_pem {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| HttpError::Tls(format!("the CA file is not PEM: {e}")))?;
            roots.add(cert).map_err(|e| HttpError::Tls(format!("unusable CA certificate: {e}")))?;
            n += 1;
        }
        if n == 0 {
            return Err(HttpError::Tls("the CA file holds no certificate".into()));
        }
    } else if added == 0 {
        return Err(HttpError::Tls("no system CA certificates found; give one with --cacert".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Keeps one HTTP/1.1 connection per origin.
pub struct HttpClient {
    tls: Arc<ClientConfig>,
    cfg: HttpConfig,
    conns: HashMap<(bool, String, u16), SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("cfg", &self.cfg).field("connections", &self.conns.len()).finish()
    }
}

impl HttpClient {
    pub fn new(tls: Arc<ClientConfig>, cfg: HttpConfig) -> Self {
        HttpClient { tls, cfg, conns: HashMap::new() }
    }

    async fn connect(&self, url: &Url) -> Result<SendRequest<Full<Bytes>>, HttpError> {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| HttpError::Http(format!("cannot connect to {}: {e}", url.authority())))?;
        let _ = tcp.set_nodelay(true);
        if url.https {
            let name = ServerName::try_from(url.host.clone())
                .map_err(|_| HttpError::Url(format!("{} is not a valid server name", url.host)))?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::Tls(format!("TLS with {}: {e}", url.authority())))?;
            handshake(tls).await
        } else {
            handshake(tcp).await
        }
    }

    /// Sends a request and reads the whole response (within the timeout and size limit).
    pub async fn send(
        &mut self,
        method: Method,
        url: &Url,
        body: Option<(Bytes, &'static str)>,
    ) -> Result<Fetched, HttpError> {
        self.send_with_headers(method, url, body, &[]).await
    }

    /// [`HttpClient::send`] with extra request headers (a `content-type` among them wins
    /// over the body's).
    pub async fn send_with_headers(
        &mut self,
        method: Method,
        url: &Url,
        body: Option<(Bytes, &'static str)>,
        headers: &[(String, String)],
    ) -> Result<Fetched, HttpError> {
        let timeout = self.cfg.timeout;
        match tokio::time::timeout(timeout, self.send_inner(method, url, body, headers)).await {
            Ok(r) => r,
            Err(_) => {
                self.conns.remove(&(url.https, url.host.clone(), url.port));
                Err(HttpError::Http(format!("{url}: no response within {} s", timeout.as_secs())))
            }
        }
    }

    async fn send_inner(
        &mut self,
        method: Method,
        url: &Url,
        body: Option<(Bytes, &'static str)>,
        headers: &[(String, String)],
    ) -> Result<Fetched, HttpError> {
        let origin = (url.https, url.host.clone(), url.port);
        // A kept-alive connection may have been closed by the server: retry once on a new one.
        for attempt in 0..2 {
            let mut sender = match self.conns.remove(&origin) {
                Some(s) if !s.is_closed() => s,
                _ => self.connect(url).await?,
            };
            if sender.ready().await.is_err() {
                if attempt == 0 {
                    continue;
                }
                return Err(HttpError::Http(format!("{url}: connection closed")));
            }
            let mut req = Request::builder()
                .method(method.clone())
                .uri(&url.path_and_query)
                .header(header::HOST, url.authority())
                .header(header::USER_AGENT, concat!("sealcast/", env!("CARGO_PKG_VERSION")));
            let payload = match &body {
                Some((b, ct)) => {
                    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                        req = req.header(header::CONTENT_TYPE, *ct);
                    }
                    b.clone()
                }
                None => Bytes::new(),
            };
            for (k, v) in headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("host")) {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req.body(Full::new(payload)).map_err(|e| HttpError::Url(format!("{url}: {e}")))?;
            let resp = match sender.send_request(req).await {
                Ok(r) => r,
                Err(e) if attempt == 0 && (e.is_closed() || e.is_incomplete_message()) => continue,
                Err(e) => return Err(HttpError::Http(format!("{url}: {e}"))),
            };
            let status = resp.status();
            let body = Limited::new(resp.into_body(), self.cfg.max_body)
                .collect()
                .await
                .map_err(|e| HttpError::Http(format!("{url}: reading the body: {e}")))?
                .to_bytes();
            self.conns.insert(origin, sender);
            return Ok(Fetched { status, body });
        }
        Err(HttpError::Http(format!("{url}: connection closed")))
    }
}

impl HttpClient {
    /// Opens a streaming GET on its own connection (for HTTP-FLV); the body is read by the
    /// caller as it arrives. Only the response head is bounded by the timeout.
    pub async fn open_stream(&self, url: &Url) -> Result<(StatusCode, hyper::body::Incoming), HttpError> {
        let head = async {
            let mut sender = self.connect(url).await?;
            sender.ready().await.map_err(|e| HttpError::Http(format!("{url}: {e}")))?;
            let req = Request::builder()
                .method(Method::GET)
                .uri(&url.path_and_query)
                .header(header::HOST, url.authority())
                .header(header::USER_AGENT, concat!("sealcast/", env!("CARGO_PKG_VERSION")))
                .body(Full::new(Bytes::new()))
                .map_err(|e| HttpError::Url(format!("{url}: {e}")))?;
            let resp = sender.send_request(req).await.map_err(|e| HttpError::Http(format!("{url}: {e}")))?;
            Ok((resp.status(), resp.into_body()))
        };
        tokio::time::timeout(self.cfg.timeout, head)
            .await
            .map_err(|_| HttpError::Http(format!("{url}: no response within {} s", self.cfg.timeout.as_secs())))?
    }

    pub fn timeout(&self) -> Duration {
        self.cfg.timeout
    }
}

async fn handshake<S>(io: S) -> Result<SendRequest<Full<Bytes>>, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| HttpError::Http(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "HTTP client connection ended");
        }
    });
    Ok(sender)
}
