//! `sealcast serve`: opens the store and KMS, binds every listener, runs until a signal.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use async_trait::async_trait;
use sealcast_auth::{AuthError, AuthType, Policy};
use sealcast_domains::DomainService;
use sealcast_edge::{Edge, EdgeConfig, PublicPorts};
use sealcast_hls::HlsService;
use sealcast_hub::{Hub, HubConfig, StreamKey};
use sealcast_ingest::{validate_name, Admission, PublishRequest, Rejection};
use sealcast_kms::Kms;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;

pub fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Admission for publishes: valid names, the push domain's credential (aliauth), then the
/// stream's first data key from the KMS (a KMS failure refuses the publish with a clear
/// status instead of producing nothing).
struct PublishAdmission {
    hub: Hub,
    hls: HlsService,
    domains: DomainService,
}

/// Checks an RTMP publish URL (`/{app}/{stream}` plus its query) against the push domain's
/// URL-signing policy. Type B and C path-prefix credentials cannot be carried in RTMP URLs;
/// type C works in its query form (KEY1/KEY2).
fn check_publish_credential(policy: &Policy, req: &PublishRequest, now: i64) -> Result<(), Rejection> {
    if !policy.enabled() {
        return Ok(());
    }
    let path = format!("/{}/{}", req.app, req.stream);
    policy.verify(&path, req.query.as_deref(), now).map(|_| ()).map_err(|e| {
        let hint = match (policy.auth_type, &e) {
            (AuthType::TypeB, AuthError::Missing(_)) => {
                "; type_b credentials are path prefixes that RTMP URLs cannot carry: use type_a or type_c on push domains"
            }
            _ => "",
        };
        Rejection::rejected(format!("publish refused: {e}{hint}"))
    })
}

/// How the streams of `app` on `domain` are encrypted: the app's setting, else the server's.
async fn stream_encryption(
    domains: &DomainService,
    hls: &HlsService,
    domain: &sealcast_domains::DomainEntry,
    app: &str,
) -> Result<sealcast_hls::StreamEncryption, Rejection> {
    match domains.stream_encryption(domain.name.as_str(), app).await {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Ok(hls.config().default_encryption()),
        Err(e) => {
            tracing::error!(domain = %domain.name, app, error = %e, "cannot read the stream encryption setting");
            Err(Rejection::rejected("publish refused: the stream encryption setting cannot be read"))
        }
    }
}

/// Transcoding templates of the publish's domain and app, prepared like the source publish.
struct TemplatePlan {
    domains: DomainService,
    hls: HlsService,
}

#[async_trait]
impl sealcast_transcode::TranscodePlan for TemplatePlan {
    async fn renditions(&self, source: &sealcast_hub::PublishInfo) -> Vec<sealcast_transcode::Rendition> {
        let host = Some(source.domain.as_str()).filter(|h| !h.is_empty());
        let Some(domain) = self.domains.live().lookup(host) else {
            return Vec::new();
        };
        let templates = match self.domains.transcodes(domain.name.as_str()).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(domain = %domain.name, error = %e, "cannot read transcoding templates");
                return Vec::new();
            }
        };
        templates
            .into_iter()
            .filter(|t| t.app == source.key.app)
            .filter_map(|t| {
                let custom = t.kind == sealcast_domains::TemplateKind::Custom;
                sealcast_transcode::check_template(&t.template, custom, &t.params)
                    .map_err(|e| tracing::warn!(stream = %source.key, error = %e, "transcoding template skipped"))
                    .ok()
            })
            .collect()
    }

    async fn prepare_output(&self, source: &sealcast_hub::PublishInfo, output: &StreamKey) -> Result<(), String> {
        let host = Some(source.domain.as_str()).filter(|h| !h.is_empty());
        let enc = match self.domains.live().lookup(host) {
            Some(d) => {
                // ForbidLiveStream on a rendition keeps it off until ResumeLiveStream.
                match self.domains.stream_forbidden(d.name.as_str(), &output.app, &output.stream).await {
                    Ok(None) => {}
                    Ok(Some(_)) => return Err(format!("{output} is forbidden on {}", d.name)),
                    Err(e) => return Err(format!("cannot read forbidden streams: {e}")),
                }
                stream_encryption(&self.domains, &self.hls, &d, &source.key.app).await.map_err(|r| r.description)?
            }
            None => self.hls.config().default_encryption(),
        };
        self.hls
            .prepare_publish(output, &source.domain, enc)
            .await
            .map_err(|e| format!("cannot provision the rendition's encryption key: {e}"))
    }
}

#[async_trait]
impl Admission for PublishAdmission {
    async fn admit(&self, req: &PublishRequest, _remote: SocketAddr) -> Result<(), Rejection> {
        validate_name("app", &req.app)?;
        validate_name("stream", &req.stream)?;
        let mut enc = self.hls.config().default_encryption();
        if let Some(domain) = self.domains.live().lookup(req.host.as_deref()) {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            check_publish_credential(&domain.config.aliauth, req, now)?;
            match self.domains.stream_forbidden(domain.name.as_str(), &req.app, &req.stream).await {
                Ok(None) => {}
                Ok(Some(until)) => {
                    let until = until.map_or_else(
                        || " until resumed".to_string(),
                        |t| format!(" until {}", sealcast_crypto::civil::rfc3339(t)),
                    );
                    return Err(Rejection::rejected(format!(
                        "publish refused: {}/{} is forbidden on {}{until}",
                        req.app, req.stream, domain.name
                    )));
                }
                Err(e) => {
                    tracing::error!(domain = %domain.name, error = %e, "cannot read forbidden streams");
                    return Err(Rejection::rejected("publish refused: forbidden streams cannot be read"));
                }
            }
            enc = stream_encryption(&self.domains, &self.hls, &domain, &req.app).await?;
        }
        let key = StreamKey::new(req.app.clone(), req.stream.clone());
        // Refuse duplicates before asking the KMS (the hub re-checks atomically).
        if self.hub.is_live(&key) {
            return Err(Rejection::bad_name(format!("stream {key} is already publishing")));
        }
        let domain = req.host.clone().unwrap_or_default();
        self.hls
            .prepare_publish(&key, &domain, enc)
            .await
            .map_err(|e| Rejection::rejected(format!("cannot provision the stream encryption key: {e}")))
    }
}

/// The hub's live streams, seen through the domains they were published to.
#[derive(Debug, Clone)]
struct HubStreams {
    hub: Hub,
    domains: DomainService,
}

impl HubStreams {
    fn domain_of(&self, host: &str) -> String {
        self.domains
            .live()
            .lookup(Some(host).filter(|h| !h.is_empty()))
            .map_or_else(|| host.to_string(), |d| d.name.to_string())
    }
}

impl sealcast_api::live::LiveStreams for HubStreams {
    fn online(&self) -> Vec<sealcast_api::live::OnlineStream> {
        self.hub
            .streams()
            .into_iter()
            .map(|s| {
                let info = &s.info;
                sealcast_api::live::OnlineStream {
                    domain: self.domain_of(&info.domain),
                    publish_host: info.domain.clone(),
                    app: info.key.app.clone(),
                    stream: info.key.stream.clone(),
                    started_at: info.started_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64),
                    client: info.remote_addr,
                }
            })
            .collect()
    }

    fn kick(&self, domain: &str, app: &str, stream: &str, reason: &str) -> bool {
        let key = StreamKey::new(app, stream);
        let live_here =
            self.hub.streams().iter().any(|s| s.info.key == key && self.domain_of(&s.info.domain) == domain);
        live_here && self.hub.kick(&key, reason)
    }
}

async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("cannot listen for {what} on {addr}"))
}

/// The KMS for stream data keys: the remote one when configured (checked now: a refusal
/// stops startup; an unreachable KMS is only logged, publishes then fail until it answers).
async fn stream_kms(cfg: &Config, builtin: &Arc<dyn Kms>) -> anyhow::Result<(Arc<dyn Kms>, String)> {
    let Some(remote) = cfg.remote_kms()? else {
        return Ok((builtin.clone(), "builtin".into()));
    };
    let remote = sealcast_kms::RemoteKms::new(remote)?;
    let label = format!("{} key {}", remote.endpoint(), remote.default_key_id());
    match remote.check().await {
        Ok(state) if state == "Enabled" => tracing::info!(kms = %label, "using the remote KMS"),
        Ok(state) => tracing::warn!(kms = %label, state, "the remote KMS's key is not enabled: publishes will fail"),
        Err(e @ sealcast_kms::KmsError::Unavailable(_)) => {
            tracing::error!(kms = %label, error = %e, "the remote KMS is unreachable now; publishes fail until it answers")
        }
        Err(e) => anyhow::bail!("the remote KMS at {label} refused: {e}"),
    }
    Ok((Arc::new(remote), label))
}

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let (store, kms) = crate::state::open(&cfg.data_dir, &cfg.database_url).await?;
    let kms_dyn: Arc<dyn Kms> = kms.clone();
    let (stream_kms, stream_kms_label) = stream_kms(&cfg, &kms_dyn).await?;
    let default_domain = Some(cfg.default_domain.as_str()).filter(|d| !d.is_empty());
    let domains = DomainService::new(store.clone(), kms_dyn.clone(), default_domain)
        .await
        .context("cannot open domains")?
        .with_stream_kms(stream_kms.clone());
    domains.reload().await.context("cannot load domains")?;

    let hub = Hub::new(HubConfig::default());
    if cfg.api_only {
        return run_api_only(cfg, store, kms, domains, hub).await;
    }
    let hls = HlsService::new(cfg.hls(), stream_kms.clone());
    hub.add_consumer(Arc::new(hls.clone()));
    let plan = Arc::new(TemplatePlan { domains: domains.clone(), hls: hls.clone() });
    let transcoder = sealcast_transcode::Transcoder::new(hub.clone(), plan, cfg.transcode());
    hub.add_consumer(Arc::new(transcoder.clone()));
    if cfg.transcode.max_jobs > 0 {
        match transcoder.check_ffmpeg().await {
            Ok(version) => tracing::info!(ffmpeg = %version, "transcoding templates run with ffmpeg"),
            Err(e) => tracing::warn!(
                error = %e,
                "transcoding templates will fail until ffmpeg can run: install it (apt install ffmpeg) or set transcode.ffmpeg"
            ),
        }
    }

    let rtmp = bind("RTMP", cfg.rtmp_listen).await?;
    let http = bind("HTTP", cfg.http_listen).await?;
    let https = bind("HTTPS", cfg.https_listen).await?;
    let api = bind("the API", cfg.api_listen).await?;
    let (rtmp_addr, http_addr, https_addr, api_addr) =
        (rtmp.local_addr()?, http.local_addr()?, https.local_addr()?, api.local_addr()?);
    let ports = PublicPorts { http: http_addr.port(), https: Some(https_addr.port()) };
    let edge =
        Arc::new(Edge::new(hls.clone(), hub.clone(), stream_kms.clone(), domains.live(), ports, cfg.key_limits()));

    let shutdown = CancellationToken::new();
    let ingest_tasks = TaskTracker::new();
    let edge_tasks = TaskTracker::new();
    let ready = sealcast_api::Readiness::default();

    let admission = Arc::new(PublishAdmission { hub: hub.clone(), hls: hls.clone(), domains: domains.clone() });
    let ingest = tokio::spawn(sealcast_ingest::serve(
        rtmp,
        hub.clone(),
        admission,
        cfg.ingest(),
        shutdown.clone(),
        ingest_tasks.clone(),
    ));
    let http_server = tokio::spawn(sealcast_edge::serve(
        http,
        edge.clone(),
        EdgeConfig::default(),
        shutdown.clone(),
        edge_tasks.clone(),
    ));
    let https_server = tokio::spawn(sealcast_edge::serve_tls(
        https,
        edge,
        domains.live(),
        EdgeConfig::default(),
        shutdown.clone(),
        edge_tasks.clone(),
    ));
    // Certificates and domain functions changed by the CLI or the API apply within ~200 ms.
    let watcher = tokio::spawn({
        let domains = domains.clone();
        let s = shutdown.clone();
        async move { domains.run_watcher(Duration::from_millis(200), s).await }
    });
    // OCSP staples for domains with https_option ocsp_stapling=on, refreshed in the background.
    let stapler = tokio::spawn({
        let domains = domains.clone();
        let s = shutdown.clone();
        async move { domains.run_stapler(s).await }
    });
    // The API stops last so /healthz answers until the end.
    let api_shutdown = CancellationToken::new();
    let api_state = api_state(&cfg, &store, &kms, &domains, &hub, &ready).await?;
    let api_server = tokio::spawn(sealcast_api::serve(api, api_state, api_shutdown.clone()));
    let sweeper = tokio::spawn({
        let hls = hls.clone();
        let s = shutdown.clone();
        async move { hls.run_sweeper(s).await }
    });

    ready.set_ready(true);
    tracing::info!(
        rtmp = %rtmp_addr, http = %http_addr, https = %https_addr, api = %api_addr,
        default_domain = %cfg.default_domain, encryption = ?cfg.hls.encryption,
        kms_default_key = kms.default_key_id(), stream_kms = %stream_kms_label,
        "ready"
    );
    if cfg.hls.encryption == crate::config::Encryption::None {
        tracing::warn!("HLS encryption is off (--encryption none): segments are served in the clear");
    }

    wait_for_signal().await;
    tracing::info!("shutting down: ending publishes, finalizing playlists");
    ready.set_ready(false);
    shutdown.cancel();
    let _ = ingest.await;
    ingest_tasks.close();
    if tokio::time::timeout(Duration::from_secs(10), ingest_tasks.wait()).await.is_err() {
        tracing::warn!("some RTMP connections did not close within 10 s");
    }
    if tokio::time::timeout(Duration::from_secs(10), transcoder.wait()).await.is_err() {
        tracing::warn!("some transcoding jobs did not finish within 10 s");
    }
    if tokio::time::timeout(Duration::from_secs(10), hls.wait_idle()).await.is_err() {
        tracing::warn!("some HLS packagers did not finish within 10 s");
    }
    let _ = http_server.await;
    let _ = https_server.await;
    edge_tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(6), edge_tasks.wait()).await;
    let _ = watcher.await;
    let _ = stapler.await;
    let _ = sweeper.await;
    api_shutdown.cancel();
    let _ = api_server.await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn api_state(
    cfg: &Config,
    store: &sealcast_store::Store,
    kms: &Arc<sealcast_kms::BuiltinKms>,
    domains: &DomainService,
    hub: &Hub,
    ready: &sealcast_api::Readiness,
) -> anyhow::Result<sealcast_api::Api> {
    let kms_dyn: Arc<dyn Kms> = kms.clone();
    let iam = sealcast_api::iam::Iam::new(store.clone(), kms_dyn);
    bootstrap_access_key(&iam, &cfg.data_dir).await?;
    Ok(sealcast_api::Api {
        ready: ready.clone(),
        store: store.clone(),
        iam,
        kms: kms.clone(),
        domains: domains.clone(),
        streams: Arc::new(HubStreams { hub: hub.clone(), domains: domains.clone() }),
        nonces: Arc::default(),
    })
}

/// `serve --api-only`: the control API alone, e.g. a standalone KMS for other servers.
async fn run_api_only(
    cfg: Config,
    store: sealcast_store::Store,
    kms: Arc<sealcast_kms::BuiltinKms>,
    domains: DomainService,
    hub: Hub,
) -> anyhow::Result<()> {
    let api = bind("the API", cfg.api_listen).await?;
    let api_addr = api.local_addr()?;
    let ready = sealcast_api::Readiness::default();
    let state = api_state(&cfg, &store, &kms, &domains, &hub, &ready).await?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(sealcast_api::serve(api, state, shutdown.clone()));
    let watcher = tokio::spawn({
        let s = shutdown.clone();
        async move { domains.run_watcher(Duration::from_millis(200), s).await }
    });
    ready.set_ready(true);
    tracing::info!(api = %api_addr, mode = "api-only", kms_default_key = kms.default_key_id(), "ready");
    wait_for_signal().await;
    ready.set_ready(false);
    shutdown.cancel();
    let _ = server.await;
    let _ = watcher.await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The user owning the bootstrap key; it has the AdministratorAccess policy.
const BOOTSTRAP_USER: &str = "admin";

/// The first API access key: from SEALCAST_BOOTSTRAP_ACCESS_KEY_ID/_SECRET when set (imported
/// once), otherwise generated when no key exists and written once to a 0600 file.
async fn bootstrap_access_key(iam: &sealcast_api::iam::Iam, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let keys = iam.keys();
    let id = std::env::var("SEALCAST_BOOTSTRAP_ACCESS_KEY_ID").ok().filter(|v| !v.is_empty());
    let secret = std::env::var("SEALCAST_BOOTSTRAP_ACCESS_KEY_SECRET").ok().filter(|v| !v.is_empty());
    match (id, secret) {
        (Some(id), Some(secret)) => {
            if keys.secret(&id).await.context("cannot read access keys")?.is_none() {
                iam.ensure_admin(BOOTSTRAP_USER).await.context("cannot create the administrator")?;
                keys.import(&id, &secret, BOOTSTRAP_USER).await.context("cannot import the bootstrap access key")?;
                tracing::info!(access_key_id = %id, "imported the bootstrap access key from the environment");
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!(
                "set both SEALCAST_BOOTSTRAP_ACCESS_KEY_ID and SEALCAST_BOOTSTRAP_ACCESS_KEY_SECRET, or neither"
            )
        }
        (None, None) if !keys.any().await.context("cannot read access keys")? => {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            iam.ensure_admin(BOOTSTRAP_USER).await.context("cannot create the administrator")?;
            let k = keys.create(BOOTSTRAP_USER).await.context("cannot create the bootstrap access key")?;
            let path = data_dir.join("bootstrap-access-key");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(f, "AccessKeyId={}\nAccessKeySecret={}", k.access_key_id, k.access_key_secret)
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::warn!(
                path = %path.display(), access_key_id = %k.access_key_id,
                "generated the bootstrap API access key; its secret is in this file only: store it and delete the file"
            );
        }
        (None, None) => {}
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = int.recv() => tracing::info!("received SIGINT"),
    }
}
