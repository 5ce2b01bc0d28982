//! The playback credential check seam.

use std::net::SocketAddr;

/// What is being fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Playlist,
    Segment,
    Key,
}

/// A playback request as the guard sees it.
#[derive(Debug, Clone)]
pub struct PlaybackRequest<'a> {
    pub resource: Resource,
    /// Host header (or :authority) without port.
    pub host: Option<&'a str>,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub app: &'a str,
    pub stream: &'a str,
    pub remote: SocketAddr,
    /// Arrived over TLS.
    pub secure: bool,
}

/// Why a request is refused (sent as a 403 body; must never contain a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

/// Decides whether a playback request may proceed.
pub trait PlaybackGuard: Send + Sync {
    fn check(&self, req: &PlaybackRequest<'_>) -> Result<(), Denied>;
}

/// No credentials required (until playback credentials are configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl PlaybackGuard for AllowAll {
    fn check(&self, _req: &PlaybackRequest<'_>) -> Result<(), Denied> {
        Ok(())
    }
}
