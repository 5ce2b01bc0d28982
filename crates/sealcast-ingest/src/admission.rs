//! Publish admission: the one place where a publish request is checked before it reaches the
//! hub (names, later credentials; the binary adds key provisioning).

use std::net::SocketAddr;

use async_trait::async_trait;
use sealcast_rtmp::{status, PublishRequest};

/// Why a publish is refused: an RTMP status code and a description for the publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub description: String,
}

impl Rejection {
    pub fn bad_name(description: impl Into<String>) -> Self {
        Rejection { code: status::PUBLISH_BAD_NAME, description: description.into() }
    }

    pub fn rejected(description: impl Into<String>) -> Self {
        Rejection { code: status::PUBLISH_REJECTED, description: description.into() }
    }
}

/// Decides whether a publish may start.
#[async_trait]
pub trait Admission: Send + Sync {
    async fn admit(&self, req: &PublishRequest, remote: SocketAddr) -> Result<(), Rejection>;
}

/// Admits every publish with valid names.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

#[async_trait]
impl Admission for AllowAll {
    async fn admit(&self, req: &PublishRequest, _remote: SocketAddr) -> Result<(), Rejection> {
        validate_name("app", &req.app)?;
        validate_name("stream", &req.stream)
    }
}

/// App and stream names: 1..=128 of `A-Z a-z 0-9 _ - .`, not `.` or `..` (they become URL
/// path segments).
pub fn validate_name(what: &str, name: &str) -> Result<(), Rejection> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Rejection::bad_name(format!(
            "invalid {what} name {name:?}: use 1-128 characters of A-Z, a-z, 0-9, '_', '-', '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("stream", "cam-1_a.b").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ü", &"x".repeat(129)] {
            assert!(validate_name("stream", bad).is_err(), "{bad:?}");
        }
    }
}
