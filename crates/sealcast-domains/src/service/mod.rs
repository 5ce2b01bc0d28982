//! The domain service and the live snapshots it maintains.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sealcast_crypto::{open_aes256_gcm, random_array, seal_aes256_gcm};
use sealcast_kms::{EncryptionContext, KeySpec, Kms};
use sealcast_store::{CertificateRecord, DomainRecord, Store};
use sealcast_tls::{validate, CertInfo, DomainName, DomainTls, NameMap, TlsOptions, TlsRegistry, TlsSnapshot};
use tokio_util::sync::CancellationToken;

use crate::config::DomainConfig;
use crate::error::DomainError;
use crate::stapling::Stapler;

pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// One domain as the edge sees it.
#[derive(Debug, Clone)]
pub struct DomainEntry {
    pub name: DomainName,
    pub config: DomainConfig,
    /// Has a certificate that loaded.
    pub https: bool,
}

/// The snapshots the edge reads, swapped whole on every reload.
#[derive(Debug, Default)]
pub struct LiveDomains {
    pub tls: TlsRegistry,
    pub stapler: Stapler,
    table: RwLock<Arc<NameMap<Arc<DomainEntry>>>>,
    generation: AtomicI64,
}

impl LiveDomains {
    /// The domain serving `host` (exact, wildcard, then the default domain).
    pub fn lookup(&self, host: Option<&str>) -> Option<Arc<DomainEntry>> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).lookup(host)
    }

    /// The store generation the snapshots were built from.
    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// A domain as listed.
#[derive(Debug, Clone)]
pub struct DomainView {
    pub name: String,
    pub config: DomainConfig,
    pub cert_name: Option<String>,
    pub created_at: i64,
}

/// A certificate as shown: never the key.
#[derive(Debug, Clone)]
pub struct CertificateView {
    pub cert_name: String,
    pub domain: String,
    pub info: CertInfo,
    pub created_at: i64,
}

/// The domain and certificate service.
#[derive(Clone)]
pub struct DomainService {
    store: Store,
    /// Seals this server's own secrets (certificate keys).
    kms: Arc<dyn Kms>,
    /// Issues stream data keys (CMKs named by EncryptParameters live here).
    stream_kms: Arc<dyn Kms>,
    default_domain: Option<DomainName>,
    live: Arc<LiveDomains>,
}

impl std::fmt::Debug for DomainService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainService").field("default_domain", &self.default_domain).finish_non_exhaustive()
    }
}

fn key_context(domain: &str, cert_name: &str) -> EncryptionContext {
    EncryptionContext::new().with("purpose", "tls-private-key").with("domain", domain).with("cert_name", cert_name)
}

fn key_aad(domain: &str, cert_name: &str) -> Vec<u8> {
    format!("sealcast-tls-key-v1|{domain}|{cert_name}").into_bytes()
}

fn valid_cert_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

impl DomainService {
    /// Opens the service; `default_domain` (when given) is created if missing and serves hosts
    /// that match no domain.
    pub async fn new(store: Store, kms: Arc<dyn Kms>, default_domain: Option<&str>) -> Result<Self, DomainError> {
        let default_domain = default_domain.filter(|d| !d.is_empty()).map(DomainName::parse).transpose()?;
        let svc = DomainService { store, stream_kms: kms.clone(), kms, default_domain, live: Arc::default() };
        if let Some(d) = &svc.default_domain {
            if svc.store.domain_get(d.as_str()).await?.is_none() {
                svc.add_domain(d.as_str()).await?;
            }
        }
        Ok(svc)
    }

    /// Uses `kms` for stream data keys (a remote KMS); certificate keys stay with the KMS
    /// given to [`DomainService::new`].
    pub fn with_stream_kms(mut self, kms: Arc<dyn Kms>) -> Self {
        self.stream_kms = kms;
        self
    }

    pub(crate) fn stream_kms(&self) -> &Arc<dyn Kms> {
        &self.stream_kms
    }

    pub fn live(&self) -> Arc<LiveDomains> {
        self.live.clone()
    }

    pub fn default_domain(&self) -> Option<&DomainName> {
        self.default_domain.as_ref()
    }

    pub async fn add_domain(&self, name: &str) -> Result<DomainName, DomainError> {
        let d = DomainName::parse(name)?;
        let config =
            serde_json::to_string(&DomainConfig::default()).map_err(|e| DomainError::Conflict(e.to_string()))?;
        let rec = DomainRecord { name: d.to_string(), config, created_at: now() };
        match self.store.domain_insert(&rec).await {
            Err(sealcast_store::StoreError::Conflict(_)) => Err(DomainError::Exists(d.to_string())),
            other => other.map(|()| d).map_err(DomainError::from),
        }
    }

    pub async fn remove_domain(&self, name: &str) -> Result<(), DomainError> {
        let d = DomainName::parse(name)?;
        if self.store.domain_delete(d.as_str()).await? {
            Ok(())
        } else {
            Err(DomainError::NotFound(d.to_string()))
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) async fn record(&self, name: &str) -> Result<(DomainName, DomainRecord), DomainError> {
        let d = DomainName::parse(name)?;
        let rec = self.store.domain_get(d.as_str()).await?.ok_or_else(|| DomainError::NotFound(d.to_string()))?;
        Ok((d, rec))
    }

    fn parse_config(rec: &DomainRecord) -> Result<DomainConfig, DomainError> {
        serde_json::from_str(&rec.config)
            .map_err(|e| DomainError::Corrupt { domain: rec.name.clone(), reason: e.to_string() })
    }

    pub async fn domain_config(&self, name: &str) -> Result<DomainConfig, DomainError> {
        let (_, rec) = self.record(name).await?;
        Self::parse_config(&rec)
    }

    pub async fn list_domains(&self) -> Result<Vec<DomainView>, DomainError> {
        let certs = self.store.cert_list().await?;
        let mut out = Vec::new();
        for rec in self.store.domain_list().await? {
            out.push(DomainView {
                config: Self::parse_config(&rec)?,
                cert_name: certs.iter().find(|c| c.domain == rec.name).map(|c| c.cert_name.clone()),
                name: rec.name,
                created_at: rec.created_at,
            });
        }
        Ok(out)
    }

    /// Sets one function (Alibaba name and `argName`/`argValue` pairs) on a domain.
    pub async fn set_function(
        &self,
        domain: &str,
        function: &str,
        args: &[(String, String)],
    ) -> Result<(), DomainError> {
        let (d, rec) = self.record(domain).await?;
        let mut cfg = Self::parse_config(&rec)?;
        cfg.apply(function, args)?;
        if cfg.https_force.enable && self.store.cert_for_domain(d.as_str()).await?.is_none() {
            return Err(DomainError::Conflict(format!("https_force needs an HTTPS certificate on {d}: set one first")));
        }
        self.save_config(&d, &cfg).await
    }

    /// Applies several functions to a domain at once: all of them or, on any error, none.
    pub async fn set_functions(
        &self,
        domain: &str,
        functions: &[(String, Vec<(String, String)>)],
    ) -> Result<(), DomainError> {
        let (d, rec) = self.record(domain).await?;
        let mut cfg = Self::parse_config(&rec)?;
        for (function, args) in functions {
            cfg.apply(function, args)?;
        }
        self.save_config(&d, &cfg).await
    }

    /// Resets one function to its defaults.
    pub async fn delete_function(&self, domain: &str, function: &str) -> Result<(), DomainError> {
        let (d, rec) = self.record(domain).await?;
        let mut cfg = Self::parse_config(&rec)?;
        cfg.reset(function)?;
        self.save_config(&d, &cfg).await
    }

    async fn save_config(&self, d: &DomainName, cfg: &DomainConfig) -> Result<(), DomainError> {
        let json = serde_json::to_string(cfg).map_err(|e| DomainError::Conflict(e.to_string()))?;
        self.store.domain_set_config(d.as_str(), &json).await?;
        Ok(())
    }

    /// Uploads a certificate and key for a domain under `cert_name`. Validation failures change
    /// nothing. An existing certificate of the same name is replaced only with `force`.
    pub async fn set_certificate(
        &self,
        domain: &str,
        cert_name: &str,
        cert_pem: &str,
        key_pem: &str,
        force: bool,
    ) -> Result<CertInfo, DomainError> {
        let (d, _) = self.record(domain).await?;
        if !valid_cert_name(cert_name) {
            return Err(DomainError::InvalidCertificateName(cert_name.to_string()));
        }
        let validated = validate(&d, cert_pem, key_pem, Some(now()))?;
        match self.store.cert_by_name(cert_name).await? {
            Some(c) if c.domain != d.as_str() => {
                return Err(DomainError::CertificateNameTaken(cert_name.to_string()));
            }
            Some(_) if !force => return Err(DomainError::CertificateNameExists(cert_name.to_string())),
            _ => {}
        }
        let dk = self.kms.generate_data_key(None, KeySpec::Aes256, &key_context(d.as_str(), cert_name)).await?;
        let nonce: [u8; 12] = random_array().map_err(sealcast_kms::KmsError::from)?;
        let sealed =
            seal_aes256_gcm(dk.plaintext.expose(), &nonce, &key_aad(d.as_str(), cert_name), validated.key_pem.expose())
                .map_err(sealcast_kms::KmsError::from)?;
        let put = self
            .store
            .cert_put(&CertificateRecord {
                cert_name: cert_name.to_string(),
                domain: d.to_string(),
                cert_pem: validated.cert_pem.clone(),
                key_blob: dk.ciphertext_blob,
                key_nonce: nonce.to_vec(),
                key_sealed: sealed,
                created_at: now(),
            })
            .await;
        if let Err(sealcast_store::StoreError::Conflict(_)) = put {
            // Another domain took the name between the check and the write.
            return Err(DomainError::CertificateNameTaken(cert_name.to_string()));
        }
        put?;
        tracing::info!(domain = %d, cert_name, fingerprint = %validated.info.fingerprint_sha256, "certificate set");
        Ok(validated.info)
    }

    /// Turns HTTPS off for a domain: the certificate and key are deleted (a new upload is
    /// needed to turn it on again) and https_force is switched off with it.
    pub async fn disable_https(&self, domain: &str) -> Result<(), DomainError> {
        let (d, rec) = self.record(domain).await?;
        if !self.store.cert_delete_for_domain(d.as_str()).await? {
            return Err(DomainError::NoCertificate(d.to_string()));
        }
        let mut cfg = Self::parse_config(&rec)?;
        if cfg.https_force.enable {
            cfg.https_force.enable = false;
            self.save_config(&d, &cfg).await?;
        }
        tracing::info!(domain = %d, "HTTPS disabled; certificate and key deleted");
        Ok(())
    }

    fn view(rec: &CertificateRecord) -> Result<CertificateView, DomainError> {
        // Describe the public chain only: the key stays sealed.
        let info = sealcast_tls::validate::describe(&rec.cert_pem)?;
        Ok(CertificateView {
            cert_name: rec.cert_name.clone(),
            domain: rec.domain.clone(),
            info,
            created_at: rec.created_at,
        })
    }

    pub async fn certificate(&self, cert_name: &str) -> Result<CertificateView, DomainError> {
        let rec = self
            .store
            .cert_by_name(cert_name)
            .await?
            .ok_or_else(|| DomainError::CertificateNotFound(cert_name.to_string()))?;
        Self::view(&rec)
    }

    /// The public chain of a certificate, as uploaded.
    pub async fn certificate_pem(&self, cert_name: &str) -> Result<String, DomainError> {
        let rec = self
            .store
            .cert_by_name(cert_name)
            .await?
            .ok_or_else(|| DomainError::CertificateNotFound(cert_name.to_string()))?;
        Ok(rec.cert_pem)
    }

    pub async fn certificates(&self) -> Result<Vec<CertificateView>, DomainError> {
        self.store.cert_list().await?.iter().map(Self::view).collect()
    }

    async fn load_tls(&self, rec: &CertificateRecord, cfg: &DomainConfig) -> Result<DomainTls, DomainError> {
        let d = DomainName::parse(&rec.domain)?;
        let dk = self.kms.decrypt(&rec.key_blob, &key_context(&rec.domain, &rec.cert_name)).await?;
        let nonce: [u8; 12] = rec
            .key_nonce
            .as_slice()
            .try_into()
            .map_err(|_| DomainError::Corrupt { domain: rec.domain.clone(), reason: "bad key nonce".into() })?;
        let key_pem =
            open_aes256_gcm(dk.plaintext.expose(), &nonce, &key_aad(&rec.domain, &rec.cert_name), &rec.key_sealed)
                .map_err(|_| DomainError::Corrupt {
                    domain: rec.domain.clone(),
                    reason: "sealed private key does not open".into(),
                })?;
        let key_pem = std::str::from_utf8(key_pem.expose()).map_err(|_| DomainError::Corrupt {
            domain: rec.domain.clone(),
            reason: "private key is not text".into(),
        })?;
        let v = validate(&d, &rec.cert_pem, key_pem, None)?;
        if v.info.not_after < now() {
            tracing::warn!(domain = %d, cert_name = %rec.cert_name, "serving an expired certificate; upload a new one");
        }
        let opts = TlsOptions {
            tls12: cfg.tls.tls12,
            tls13: cfg.tls.tls13,
            http2: cfg.tls.http2,
            ocsp_stapling: cfg.tls.ocsp_stapling,
        };
        let tls = DomainTls::new(d, v.certified, v.info, opts)
            .map_err(|e| DomainError::Corrupt { domain: rec.domain.clone(), reason: e.to_string() })?;
        if opts.ocsp_stapling {
            // Keep serving the staple fetched for this certificate before the reload.
            tls.set_staple(self.live.stapler.cached(&tls.info.fingerprint_sha256));
        }
        Ok(tls)
    }

    /// Rebuilds both snapshots from the store and swaps them in.
    pub async fn reload(&self) -> Result<(), DomainError> {
        let generation = self.store.config_generation().await?;
        let domains = self.store.domain_list().await?;
        let certs = self.store.cert_list().await?;
        let mut table = NameMap::default();
        let mut tls = Vec::new();
        for rec in &domains {
            let name = DomainName::parse(&rec.name)?;
            let config = match Self::parse_config(rec) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(domain = %rec.name, error = %e, "using default functions");
                    DomainConfig::default()
                }
            };
            let mut https = false;
            if let Some(c) = certs.iter().find(|c| c.domain == rec.name) {
                match self.load_tls(c, &config).await {
                    Ok(t) => {
                        tls.push(t);
                        https = true;
                    }
                    Err(e) => {
                        tracing::error!(domain = %rec.name, error = %e, "certificate not loaded; HTTPS off for this domain")
                    }
                }
            }
            let entry = Arc::new(DomainEntry { name: name.clone(), config, https });
            if self.default_domain.as_ref() == Some(&name) {
                table.set_default(entry.clone());
            }
            table.insert(&name, entry);
        }
        let n = tls.len();
        self.live.tls.store(TlsSnapshot::new(tls, self.default_domain.as_ref()));
        *self.live.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        self.live.generation.store(generation, Ordering::SeqCst);
        self.live.stapler.wake();
        tracing::debug!(generation, domains = domains.len(), https = n, "domain snapshots reloaded");
        Ok(())
    }

    /// Keeps OCSP staples fresh for the domains with `ocsp_stapling` on, until `shutdown`.
    pub async fn run_stapler(&self, shutdown: CancellationToken) {
        self.live.stapler.run(&self.live.tls, shutdown).await
    }

    /// Reloads whenever the store generation changes (polled every `every`) until `shutdown`.
    pub async fn run_watcher(&self, every: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.store.config_generation().await {
                Ok(g) if g != self.live.generation() => {
                    if let Err(e) = self.reload().await {
                        tracing::error!(error = %e, "reloading domains failed; keeping the previous configuration");
                    } else {
                        tracing::info!(generation = g, "domain configuration reloaded");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the configuration generation"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
