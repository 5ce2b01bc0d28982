//! Playback domains: the service behind `sealcast domain …` / `sealcast cert …` and, later, the
//! Alibaba-compatible domain actions.
//!
//! Domains and certificates live in the store; private keys only sealed (AES-256-GCM under a
//! KMS data key whose ciphertext is stored beside them). [`DomainService::reload`] turns the
//! stored state into immutable snapshots — the per-domain rustls configurations and the
//! per-domain HTTP functions — swapped atomically into [`LiveDomains`], which the edge reads
//! on every handshake and request. A watcher reloads within a fraction of a second of any
//! change, whichever process made it. [`stapling::Stapler`] keeps OCSP staples fresh for
//! domains that turn `ocsp_stapling` on.
#![forbid(unsafe_code)]

mod config;
mod encryption;
mod error;
mod live;
mod service;
pub mod stapling;

pub use config::{DomainConfig, ForceRedirect, Hsts, Tls, FUNCTIONS};
pub use encryption::{StreamEncryptionView, ROTATION_RANGE};
pub use error::DomainError;
pub use live::{EncryptParameters, TemplateKind, TemplateRequest, TranscodeTemplate};
pub use service::{CertificateView, DomainEntry, DomainService, DomainView, LiveDomains};
