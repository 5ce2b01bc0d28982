//! Configuration: defaults, then the TOML file (`--config`), then `SEALCAST_*` environment
//! variables and command-line flags. Every key is documented in docs/configuration.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Encryption of HLS output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Encryption {
    /// AES-128 (RFC 8216) with per-stream KMS data keys.
    #[default]
    #[value(name = "aes-128")]
    #[serde(rename = "aes-128")]
    Aes128,
    /// AES-128 segments whose keys are delivered only sealed to each player (HPKE); SDK
    /// players only. Alibaba's EncryptType `aliyun`.
    Envelope,
    /// No encryption (debugging only).
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Empty: SQLite in `data_dir`. Or `postgres://user:password@host:5432/db`.
    pub database_url: String,
    pub rtmp_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub https_listen: SocketAddr,
    pub api_listen: SocketAddr,
    /// Domain serving requests whose Host (or SNI) matches no domain; empty for none.
    pub default_domain: String,
    /// tracing filter, e.g. `info` or `sealcast=debug`.
    pub log: String,
    /// Serve only the control API (a standalone KMS and configuration server).
    pub api_only: bool,
    pub hls: HlsSection,
    pub rtmp: RtmpSection,
    pub keys: KeysSection,
    pub kms: KmsSection,
    pub transcode: TranscodeSection,
}

/// Live transcoding (the templates of AddLiveStreamTranscode and friends).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscodeSection {
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
    /// Renditions transcoded at once, all streams together; 0 turns transcoding off.
    pub max_jobs: usize,
    /// x264 preset.
    pub preset: String,
}

impl Default for TranscodeSection {
    fn default() -> Self {
        let d = sealcast_transcode::TranscodeConfig::default();
        TranscodeSection { ffmpeg: d.ffmpeg, max_jobs: d.max_jobs, preset: d.preset }
    }
}

/// Where stream data keys come from: the built-in KMS (default) or a remote one speaking the
/// KMS API (another Sealcast, Alibaba Cloud KMS).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KmsSection {
    /// Empty: built-in. Else `http://host:port`, `https://…` or a bare host (HTTPS).
    pub endpoint: String,
    pub access_key_id: String,
    /// Prefer SEALCAST_KMS_ACCESS_KEY_SECRET over the file.
    pub access_key_secret: String,
    /// CMK for apps whose encryption names none.
    pub key_id: String,
    /// Extra PEM CA certificates for an HTTPS endpoint.
    pub ca_file: Option<PathBuf>,
    /// Seconds per call.
    pub timeout: u64,
}

impl Default for KmsSection {
    fn default() -> Self {
        KmsSection {
            endpoint: String::new(),
            access_key_id: String::new(),
            access_key_secret: String::new(),
            key_id: String::new(),
            ca_file: None,
            timeout: 5,
        }
    }
}

/// The key endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysSection {
    /// Key requests per second from one client IP (bursts of twice this); 0 = unlimited.
    pub rate_per_ip: u32,
    /// Key requests per second for one stream (bursts of twice this); 0 = unlimited.
    pub rate_per_stream: u32,
    /// Unwrapped data keys kept in memory (each for its stream's key rotation interval).
    pub cache_entries: usize,
}

impl Default for KeysSection {
    fn default() -> Self {
        let d = sealcast_edge::KeyLimits::default();
        KeysSection { rate_per_ip: d.per_ip, rate_per_stream: d.per_stream, cache_entries: d.cache_entries }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HlsSection {
    pub encryption: Encryption,
    /// Seconds; 60..=3600.
    pub key_rotation_interval: u64,
    /// Seconds; 1..=30.
    pub segment_duration: u64,
    /// 2..=30.
    pub playlist_length: usize,
    /// Seconds an ended stream's playlist stays available.
    pub ended_retention: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RtmpSection {
    /// Bytes; largest RTMP message accepted.
    pub max_message_size: usize,
    pub max_chunk_streams: usize,
    pub max_connections: usize,
    /// Seconds.
    pub handshake_timeout: u64,
    /// Seconds.
    pub idle_timeout: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./sealcast-data"),
            database_url: String::new(),
            rtmp_listen: ([0, 0, 0, 0], 1935).into(),
            http_listen: ([0, 0, 0, 0], 8080).into(),
            https_listen: ([0, 0, 0, 0], 8443).into(),
            api_listen: ([127, 0, 0, 1], 8081).into(),
            default_domain: "localhost".into(),
            log: "info".into(),
            api_only: false,
            hls: HlsSection::default(),
            rtmp: RtmpSection::default(),
            keys: KeysSection::default(),
            kms: KmsSection::default(),
            transcode: TranscodeSection::default(),
        }
    }
}

impl Default for HlsSection {
    fn default() -> Self {
        HlsSection {
            encryption: Encryption::Aes128,
            key_rotation_interval: 3600,
            segment_duration: 2,
            playlist_length: 6,
            ended_retention: 120,
        }
    }
}

impl Default for RtmpSection {
    fn default() -> Self {
        RtmpSection {
            max_message_size: 8 << 20,
            max_chunk_streams: 64,
            max_connections: 1024,
            handshake_timeout: 10,
            idle_timeout: 30,
        }
    }
}

/// A configuration value out of range, named by its key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key} = {value} is out of range: {rule}")]
    Range { key: &'static str, value: String, rule: &'static str },
    #[error("{key} is required when {when}")]
    Missing { key: &'static str, when: &'static str },
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
}

fn range<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    v: T,
    lo: T,
    hi: T,
    rule: &'static str,
) -> Result<(), ConfigError> {
    if v < lo || v > hi {
        return Err(ConfigError::Range { key, value: v.to_string(), rule });
    }
    Ok(())
}

/// `database_url` is empty (SQLite in the data directory) or names a supported database.
pub fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    if url.is_empty() || ["postgres://", "postgresql://", "sqlite://"].iter().any(|p| url.starts_with(p)) {
        return Ok(());
    }
    Err(ConfigError::Range {
        key: "database_url",
        value: url.split('@').next_back().unwrap_or_default().to_string(),
        rule: "must be empty (SQLite in data_dir), postgres://… or sqlite://…",
    })
}

impl Config {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), source: Box::new(e) })
    }

    /// Checks every bounded value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_database_url(&self.database_url)?;
        if !self.default_domain.is_empty() {
            sealcast_tls::DomainName::parse(&self.default_domain).map_err(|e| ConfigError::Range {
                key: "default_domain",
                value: self.default_domain.clone(),
                rule: e.reason,
            })?;
        }
        let h = &self.hls;
        range("hls.key_rotation_interval", h.key_rotation_interval, 60, 3600, "must be 60..=3600 seconds")?;
        range("hls.segment_duration", h.segment_duration, 1, 30, "must be 1..=30 seconds")?;
        range("hls.playlist_length", h.playlist_length, 2, 30, "must be 2..=30 segments")?;
        range("hls.ended_retention", h.ended_retention, 0, 86_400, "must be 0..=86400 seconds")?;
        let r = &self.rtmp;
        range(
            "rtmp.max_message_size",
            r.max_message_size,
            64 << 10,
            0xff_ffff,
            "must be 64 KiB..=16777215 bytes (RTMP lengths are 24-bit)",
        )?;
        range("rtmp.max_chunk_streams", r.max_chunk_streams, 4, 1024, "must be 4..=1024")?;
        range("rtmp.max_connections", r.max_connections, 1, 100_000, "must be 1..=100000")?;
        range("rtmp.handshake_timeout", r.handshake_timeout, 1, 300, "must be 1..=300 seconds")?;
        range("rtmp.idle_timeout", r.idle_timeout, 1, 3600, "must be 1..=3600 seconds")?;
        let k = &self.keys;
        range("keys.rate_per_ip", k.rate_per_ip, 0, 1_000_000, "must be 0..=1000000 per second (0 = unlimited)")?;
        range(
            "keys.rate_per_stream",
            k.rate_per_stream,
            0,
            1_000_000,
            "must be 0..=1000000 per second (0 = unlimited)",
        )?;
        range("keys.cache_entries", k.cache_entries, 1, 1_000_000, "must be 1..=1000000")?;
        let t = &self.transcode;
        range("transcode.max_jobs", t.max_jobs, 0, 256, "must be 0..=256 (0 = no transcoding)")?;
        const PRESETS: &[&str] =
            &["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"];
        if !PRESETS.contains(&t.preset.as_str()) {
            return Err(ConfigError::Range {
                key: "transcode.preset",
                value: t.preset.clone(),
                rule: "must be an x264 preset: ultrafast … veryslow",
            });
        }
        let m = &self.kms;
        if !m.endpoint.is_empty() {
            for (key, v) in [
                ("kms.access_key_id", &m.access_key_id),
                ("kms.access_key_secret", &m.access_key_secret),
                ("kms.key_id", &m.key_id),
            ] {
                if v.is_empty() {
                    return Err(ConfigError::Missing { key, when: "kms.endpoint is set" });
                }
            }
            range("kms.timeout", m.timeout, 1, 60, "must be 1..=60 seconds")?;
        }
        Ok(())
    }

    /// The remote KMS settings, when one is configured.
    pub fn remote_kms(&self) -> Result<Option<sealcast_kms::RemoteKmsConfig>, ConfigError> {
        let m = &self.kms;
        if m.endpoint.is_empty() {
            return Ok(None);
        }
        let extra_ca_pem = match &m.ca_file {
            Some(p) => Some(std::fs::read(p).map_err(|source| ConfigError::Read { path: p.clone(), source })?),
            None => None,
        };
        Ok(Some(sealcast_kms::RemoteKmsConfig {
            endpoint: m.endpoint.clone(),
            access_key_id: m.access_key_id.clone(),
            access_key_secret: m.access_key_secret.clone(),
            default_key_id: m.key_id.clone(),
            extra_ca_pem,
            timeout: Duration::from_secs(m.timeout),
        }))
    }

    pub fn key_limits(&self) -> sealcast_edge::KeyLimits {
        sealcast_edge::KeyLimits {
            per_ip: self.keys.rate_per_ip,
            per_stream: self.keys.rate_per_stream,
            cache_entries: self.keys.cache_entries,
        }
    }

    pub fn hls(&self) -> sealcast_hls::HlsConfig {
        sealcast_hls::HlsConfig {
            segment_duration: Duration::from_secs(self.hls.segment_duration),
            playlist_length: self.hls.playlist_length,
            ended_retention: Duration::from_secs(self.hls.ended_retention),
            encryption: match self.hls.encryption {
                Encryption::Aes128 => sealcast_hls::EncryptionMode::Aes128,
                Encryption::Envelope => sealcast_hls::EncryptionMode::Envelope,
                Encryption::None => sealcast_hls::EncryptionMode::None,
            },
            key_rotation_interval: Duration::from_secs(self.hls.key_rotation_interval),
            ..sealcast_hls::HlsConfig::default()
        }
    }

    pub fn transcode(&self) -> sealcast_transcode::TranscodeConfig {
        let t = &self.transcode;
        sealcast_transcode::TranscodeConfig { ffmpeg: t.ffmpeg.clone(), max_jobs: t.max_jobs, preset: t.preset.clone() }
    }

    pub fn ingest(&self) -> sealcast_ingest::IngestConfig {
        let r = &self.rtmp;
        let rtmp = sealcast_ingest::ServerConfig {
            max_message_size: r.max_message_size,
            max_chunk_streams: r.max_chunk_streams,
            max_buffered: r.max_message_size + (1 << 20),
            ..sealcast_ingest::ServerConfig::default()
        };
        sealcast_ingest::IngestConfig {
            rtmp,
            handshake_timeout: Duration::from_secs(r.handshake_timeout),
            idle_timeout: Duration::from_secs(r.idle_timeout),
            max_connections: r.max_connections,
            ..sealcast_ingest::IngestConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_file_overrides() {
        Config::default().validate().expect("defaults are valid");
        let c: Config =
            toml::from_str("rtmp_listen = \"127.0.0.1:1\"\n[hls]\nencryption = \"none\"\nkey_rotation_interval = 60\n")
                .expect("parse");
        assert_eq!(c.hls.encryption, Encryption::None);
        assert_eq!(c.rtmp_listen.port(), 1);
        assert_eq!(c.hls.playlist_length, 6, "unset keys keep defaults");
        c.validate().expect("valid");
        let mut bad = Config::default();
        bad.hls.key_rotation_interval = 59;
        assert!(bad.validate().expect_err("too short").to_string().contains("hls.key_rotation_interval"));
        assert!(toml::from_str::<Config>("nonsense_key = 1").is_err(), "unknown keys are rejected");
    }
}
