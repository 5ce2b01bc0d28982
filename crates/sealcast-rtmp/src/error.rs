use thiserror::Error;

/// Why an RTMP connection is closed. Each variant names what the peer did wrong.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtmpError {
    #[error("unsupported RTMP version {0} in C0 (only plain RTMP version 3 is supported)")]
    BadVersion(u8),
    #[error("invalid chunk size {0} (must be 1..=2147483647)")]
    BadChunkSize(u32),
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge { len: usize, max: usize },
    #[error("more than {0} chunk streams in use")]
    TooManyChunkStreams(usize),
    #[error("chunk of type {fmt} on chunk stream {csid} without a preceding full header")]
    MissingHeader { fmt: u8, csid: u32 },
    #[error("more than {0} message streams created")]
    TooManyStreams(usize),
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl From<sealcast_media::MediaError> for RtmpError {
    fn from(e: sealcast_media::MediaError) -> Self {
        RtmpError::Malformed { what: "AMF0 data", detail: e.to_string() }
    }
}
