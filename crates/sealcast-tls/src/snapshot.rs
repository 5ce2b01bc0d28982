//! Per-domain TLS configurations, selected by SNI after the ClientHello is read.
//!
//! A [`TlsSnapshot`] is immutable; [`TlsRegistry`] swaps whole snapshots atomically, so a
//! certificate change is seen by the next handshake and never blocks one in progress.

use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::domain::{DomainName, NameMap};
use crate::validate::CertInfo;

/// A fatal TLS 1.2-framed `unrecognized_name` alert (sent before any handshake state exists).
pub const UNRECOGNIZED_NAME_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70];

/// Per-domain handshake options (the `https_tls_version` and `https_option` functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsOptions {
    pub tls12: bool,
    pub tls13: bool,
    pub http2: bool,
    /// Staple OCSP responses (fetched by the caller, attached with [`DomainTls::set_staple`]).
    pub ocsp_stapling: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions { tls12: true, tls13: true, http2: true, ocsp_stapling: false }
    }
}

/// One domain's serving configuration.
pub struct DomainTls {
    pub domain: DomainName,
    pub config: Arc<ServerConfig>,
    pub info: CertInfo,
    pub options: TlsOptions,
    resolver: Arc<Stapled>,
}

impl std::fmt::Debug for DomainTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainTls").field("domain", &self.domain).field("options", &self.options).finish()
    }
}

/// The domain's one certificate, with the OCSP staple of the moment (swapped without
/// rebuilding the configuration, so sessions and tickets are unaffected).
#[derive(Debug)]
struct Stapled(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Stapled {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

impl DomainTls {
    /// Builds the rustls configuration: Mozilla "intermediate" (TLS 1.2 AEAD suites and TLS
    /// 1.3, rustls has no CBC), versions and ALPN from `options`.
    pub fn new(
        domain: DomainName,
        certified: Arc<CertifiedKey>,
        info: CertInfo,
        options: TlsOptions,
    ) -> Result<DomainTls, rustls::Error> {
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        if options.tls13 {
            versions.push(&rustls::version::TLS13);
        }
        if options.tls12 {
            versions.push(&rustls::version::TLS12);
        }
        if versions.is_empty() {
            return Err(rustls::Error::General("at least one of TLS 1.2 and TLS 1.3 must stay enabled".into()));
        }
        let resolver = Arc::new(Stapled(RwLock::new(certified)));
        let mut cfg = ServerConfig::builder_with_provider(crate::provider())
            .with_protocol_versions(&versions)?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // The server's suite order (all AEAD, strongest first) decides, not the client's.
        cfg.ignore_client_order = true;
        // Stateless session tickets (keys rotate every 6 hours), shared by every domain so a
        // configuration reload does not invalidate them.
        if let Some(t) = ticketer() {
            cfg.ticketer = t;
        }
        cfg.alpn_protocols =
            if options.http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
        Ok(DomainTls { domain, config: Arc::new(cfg), info, options, resolver })
    }

    /// The certificate chain served (leaf first).
    pub fn chain(&self) -> Vec<rustls_pki_types::CertificateDer<'static>> {
        self.resolver.0.read().unwrap_or_else(|e| e.into_inner()).cert.clone()
    }

    /// The DER OCSP response stapled to handshakes from now on (`None`: no staple).
    pub fn set_staple(&self, staple: Option<Vec<u8>>) {
        let mut current = self.resolver.0.write().unwrap_or_else(|e| e.into_inner());
        if current.ocsp != staple {
            let mut next = CertifiedKey::clone(&current);
            next.ocsp = staple;
            *current = Arc::new(next);
        }
    }

    /// The staple currently served, if any.
    pub fn staple(&self) -> Option<Vec<u8>> {
        self.resolver.0.read().unwrap_or_else(|e| e.into_inner()).ocsp.clone()
    }
}

/// The process-wide session-ticket producer (`None` if the provider cannot make one: then
/// resumption uses the server's session cache only).
fn ticketer() -> Option<Arc<dyn rustls::server::ProducesTickets>> {
    static TICKETER: std::sync::OnceLock<Option<Arc<dyn rustls::server::ProducesTickets>>> = std::sync::OnceLock::new();
    TICKETER.get_or_init(|| rustls::crypto::aws_lc_rs::Ticketer::new().ok()).clone()
}

/// All HTTPS domains at one moment.
#[derive(Debug, Default)]
pub struct TlsSnapshot {
    names: NameMap<Arc<DomainTls>>,
}

impl TlsSnapshot {
    /// `default_domain`, when it has a certificate, serves handshakes without SNI or with a
    /// name no domain matches.
    pub fn new(domains: Vec<DomainTls>, default_domain: Option<&DomainName>) -> TlsSnapshot {
        let mut names = NameMap::default();
        for d in domains {
            let d = Arc::new(d);
            if default_domain == Some(&d.domain) {
                names.set_default(d.clone());
            }
            names.insert(&d.domain.clone(), d);
        }
        TlsSnapshot { names }
    }

    /// Exact name, then the wildcard one label up, then the default domain.
    pub fn lookup(&self, sni: Option<&str>) -> Option<Arc<DomainTls>> {
        self.names.lookup(sni)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every domain configuration in the snapshot.
    pub fn domains(&self) -> Vec<Arc<DomainTls>> {
        self.names.values()
    }
}

/// The live snapshot, swapped whole.
#[derive(Debug, Default)]
pub struct TlsRegistry {
    current: RwLock<Arc<TlsSnapshot>>,
}

impl TlsRegistry {
    pub fn load(&self) -> Arc<TlsSnapshot> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn store(&self, snapshot: TlsSnapshot) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_pki::{KeyAlg, TestCa};
    use crate::validate::validate;

    fn entry(ca: &TestCa, name: &str, options: TlsOptions) -> DomainTls {
        let d = DomainName::parse(name).expect("domain");
        let leaf = ca.leaf(&[name], KeyAlg::P256);
        let v = validate(&d, &leaf.chain_pem, &leaf.key_pem, Some(1_800_000_000)).expect("valid");
        DomainTls::new(d, v.certified, v.info, options).expect("config")
    }

    #[test]
    fn lookup_order() {
        let ca = TestCa::new("CA");
        let snap = TlsSnapshot::new(
            vec![
                entry(&ca, "play.example.com", TlsOptions::default()),
                entry(&ca, "*.example.com", TlsOptions::default()),
                entry(&ca, "localhost", TlsOptions::default()),
            ],
            DomainName::parse("localhost").ok().as_ref(),
        );
        let name = |sni: Option<&str>| snap.lookup(sni).map(|d| d.domain.to_string());
        assert_eq!(name(Some("PLAY.example.com")).as_deref(), Some("play.example.com"));
        assert_eq!(name(Some("x.example.com")).as_deref(), Some("*.example.com"));
        assert_eq!(name(Some("a.x.example.com")).as_deref(), Some("localhost"), "falls back to the default");
        assert_eq!(name(None).as_deref(), Some("localhost"));
        let no_default = TlsSnapshot::new(vec![entry(&ca, "play.example.com", TlsOptions::default())], None);
        assert!(no_default.lookup(Some("unknown.test")).is_none());
        assert!(no_default.lookup(None).is_none());
    }

    #[test]
    fn staples_swap_without_a_new_configuration() {
        let ca = TestCa::new("CA");
        let e = entry(&ca, "a.example.com", TlsOptions::default());
        assert_eq!(e.staple(), None);
        let config = e.config.clone();
        e.set_staple(Some(vec![0x30, 0x03, 0x0a, 0x01, 0x00]));
        assert_eq!(e.staple().as_deref(), Some(&[0x30, 0x03, 0x0a, 0x01, 0x00][..]));
        assert!(Arc::ptr_eq(&config, &e.config), "same rustls configuration: sessions and tickets stay valid");
        assert_eq!(e.chain().len(), 2, "leaf and CA");
        e.set_staple(None);
        assert_eq!(e.staple(), None);
    }

    #[test]
    fn versions_and_alpn_follow_options() {
        let ca = TestCa::new("CA");
        let e =
            entry(&ca, "a.example.com", TlsOptions { tls12: false, tls13: true, http2: false, ocsp_stapling: false });
        assert_eq!(e.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let d = DomainName::parse("b.example.com").expect("domain");
        let leaf = ca.leaf(&["b.example.com"], KeyAlg::P256);
        let v = validate(&d, &leaf.chain_pem, &leaf.key_pem, Some(1_800_000_000)).expect("valid");
        assert!(DomainTls::new(
            d,
            v.certified,
            v.info,
            TlsOptions { tls12: false, tls13: false, http2: true, ocsp_stapling: false }
        )
        .is_err());
    }
}
