use std::time::Duration;

/// How segments are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptionMode {
    /// AES-128-CBC (RFC 8216 METHOD=AES-128) with KMS data keys. The default.
    #[default]
    Aes128,
    /// No encryption. For debugging only.
    None,
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
    pub encryption: EncryptionMode,
    /// A new data key is used for segments started after this long (60 s ..= 3600 s).
    pub key_rotation_interval: Duration,
    /// Hard cap on one segment's size.
    pub max_segment_bytes: usize,
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
