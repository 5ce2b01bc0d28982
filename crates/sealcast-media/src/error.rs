use thiserror::Error;

/// Errors from parsing or muxing media. Each names what was wrong with the input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaError {
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated { what: &'static str, need: usize, have: usize },
    #[error("invalid AMF0: {0}")]
    Amf0(String),
    #[error("AMF0 nesting deeper than {0} levels")]
    Amf0TooDeep(usize),
    #[error("unsupported video codec {0}; Sealcast accepts H.264 (AVC) video")]
    UnsupportedVideoCodec(String),
    #[error("unsupported audio codec {0}; Sealcast accepts AAC audio")]
    UnsupportedAudioCodec(String),
    #[error("invalid AVC decoder configuration: {0}")]
    InvalidAvcConfig(&'static str),
    #[error("invalid AAC AudioSpecificConfig: {0}")]
    InvalidAacConfig(&'static str),
    #[error("invalid AVC NAL unit framing: {0}")]
    InvalidNalu(&'static str),
    #[error("invalid FLV stream: {0}")]
    InvalidFlv(&'static str),
}

pub(crate) fn need(what: &'static str, buf: &[u8], n: usize) -> Result<(), MediaError> {
    if buf.len() < n {
        Err(MediaError::Truncated { what, need: n, have: buf.len() })
    } else {
        Ok(())
    }
}
