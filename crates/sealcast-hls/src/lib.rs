//! Live HLS service: consumes hub streams, packages them with the sans-IO segmenter, encrypts
//! every segment and keeps playlists and segments in bounded memory for the edge to serve.
//!
//! Plaintext media and plaintext data keys exist only in memory: segments are encrypted
//! before they are stored, and data keys come from the KMS per publish session and key
//! period; the playlist carries only the KMS *ciphertext* blob in its key URI.
#![forbid(unsafe_code)]

mod config;
mod keys;
mod output;
mod service;

pub use config::{EncryptionMode, HlsConfig, StreamEncryption, ENVELOPE_KEYFORMAT, ENVELOPE_KEYFORMAT_VERSION};
pub use keys::key_context;
pub use sealcast_media::hls::key_uri::KeyUri;
pub use service::HlsService;
