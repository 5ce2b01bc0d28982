use std::time::Duration;

/// How segments are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptionMode {
    /// AES-128-CBC (RFC 8216 METHOD=AES-128) with KMS data keys; the key endpoint returns the
    /// raw 16-byte key to a valid credential. Plays in every HLS player. The default.
    #[default]
    Aes128,
    /// The same segment encryption, but the key is delivered only sealed to one player with
    /// HPKE (KEYFORMAT="com.sealcast.envelope"): SDK players only. Alibaba's `aliyun` type.
    Envelope,
    /// No encryption. For debugging only.
    None,
}

impl EncryptionMode {
    /// The configuration name: `aes-128`, `envelope`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            EncryptionMode::Aes128 => "aes-128",
            EncryptionMode::Envelope => "envelope",
            EncryptionMode::None => "none",
        }
    }

    /// Parses a configuration name; `aliyun` (Alibaba's EncryptType) is `envelope`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "aes-128" => Some(EncryptionMode::Aes128),
            "envelope" | "aliyun" => Some(EncryptionMode::Envelope),
            "none" => Some(EncryptionMode::None),
            _ => None,
        }
    }
}

/// KEYFORMAT of envelope key delivery (docs/key-delivery.md).
pub const ENVELOPE_KEYFORMAT: &str = sealcast_crypto::envelope::KEYFORMAT;
/// KEYFORMATVERSIONS of envelope key delivery.
pub const ENVELOPE_KEYFORMAT_VERSION: &str = sealcast_crypto::envelope::KEYFORMAT_VERSION;

/// How one stream is encrypted (per domain and app; defaults from [`HlsConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEncryption {
    pub mode: EncryptionMode,
    /// CMK for the stream's data keys; `None` is the KMS default key.
    pub kms_key_id: Option<String>,
    /// A new data key is used for segments started after this long (60 s ..= 3600 s).
    pub key_rotation_interval: Duration,
}

/// HLS packaging settings.
#[derive(Debug, Clone)]
pub struct HlsConfig {
    /// Target segment duration; segments are cut at the first keyframe after it.
    pub segment_duration: Duration,
    /// Segments listed in the live playlist.
    pub playlist_length: usize,
    /// Segments kept fetchable after they leave the playlist.
    pub retain_extra: usize,
    /// How long an ended stream's playlist (with EXT-X-ENDLIST) stays available.
    pub ended_retention: Duration,
    /// Default encryption of streams with no per-app setting.
    pub encryption: EncryptionMode,
    /// Default key rotation interval (60 s ..= 3600 s).
    pub key_rotation_interval: Duration,
    /// Hard cap on one segment's size.
    pub max_segment_bytes: usize,
}

impl HlsConfig {
    /// The encryption of a stream with no per-app setting.
    pub fn default_encryption(&self) -> StreamEncryption {
        StreamEncryption { mode: self.encryption, kms_key_id: None, key_rotation_interval: self.key_rotation_interval }
    }
}

impl Default for HlsConfig {
    fn default() -> Self {
        HlsConfig {
            segment_duration: Duration::from_secs(2),
            playlist_length: 6,
            retain_extra: 3,
            ended_retention: Duration::from_secs(120),
            encryption: EncryptionMode::Aes128,
            key_rotation_interval: Duration::from_secs(3600),
            max_segment_bytes: 64 << 20,
        }
    }
}
