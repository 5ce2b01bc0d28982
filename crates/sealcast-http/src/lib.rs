//! The HTTP(S) client Sealcast's own clients share: the player SDK following live streams and
//! the OpenAPI client calling a remote KMS or the control API. HTTP/1.1 on hyper with rustls
//! (aws-lc-rs), one kept-alive connection per origin, timeouts and body limits.
#![forbid(unsafe_code)]

mod client;
pub mod openapi;
mod url;

pub use client::{tls_config, Fetched, HttpClient, HttpConfig};
pub use openapi::{Credentials, OpenApiClient, OpenApiError};
pub use url::Url;

/// Client failures, each with the URL or reason to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP: {0}")]
    Http(String),
}
