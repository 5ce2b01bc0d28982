//! `sealcast`: the self-hosted secure live-streaming server.
//!
//! Thin wiring: configuration and CLI here; the work is in the `sealcast-*` crates.
#![forbid(unsafe_code)]

mod api_cli;
mod cli;
mod config;
mod iam_cli;
mod play;
mod serve;
mod state;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Encryption};

#[derive(Debug, Parser)]
#[command(name = "sealcast", version, about = "Self-hosted secure live streaming: RTMP in, encrypted HLS out")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (RTMP ingest, HLS playback, control API) with an embedded SQLite database
    /// and built-in KMS in --data-dir.
    Serve(Box<ServeArgs>),
    /// Manage playback domains and their functions (https_force, http_force, HSTS,
    /// https_tls_version, https_option, aliauth).
    Domain {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(subcommand)]
        command: cli::DomainCommand,
    },
    /// Manage HTTPS certificates of playback domains.
    Cert {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(subcommand)]
        command: cli::CertCommand,
    },
    /// Per-app stream encryption on a domain (Alibaba EncryptParameters): aes-128, envelope
    /// (alias aliyun) or none, the CMK and the key rotation interval.
    Encryption {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(subcommand)]
        command: cli::EncryptionCommand,
    },
    /// Transcoding templates (Alibaba AddLiveStreamTranscode): renditions `{stream}_{template}`
    /// of an app's streams, with optional EncryptParameters.
    Transcode {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(subcommand)]
        command: cli::TranscodeCommand,
    },
    /// Control API users (access keys belong to users; policies decide what they may do).
    User {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(subcommand)]
        command: iam_cli::UserCommand,
    },
    /// Control API access keys: create (secret shown once), list, enable, disable, delete.
    AccessKey {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(subcommand)]
        command: iam_cli::AccessKeyCommand,
    },
    /// RAM-style policies and their attachment to users (explicit deny wins, default deny).
    Policy {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(subcommand)]
        command: iam_cli::PolicyCommand,
    },
    /// The audit log: every mutating API call and every KMS Encrypt/Decrypt/GenerateDataKey.
    Audit {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(flatten)]
        args: iam_cli::AuditArgs,
    },
    /// Call the control API (or Alibaba Cloud's Live/KMS API) signed like the SDKs:
    /// `sealcast api DescribeLiveDomainDetail --DomainName play.example.com`.
    Api(api_cli::ApiArgs),
    /// Play a stream (HLS or HTTP-FLV; clear, aes-128 or envelope) and write it decrypted to a
    /// file or stdout: `sealcast play https://play.example.com/live/cam.m3u8 | ffplay -`.
    Play(play::PlayArgs),
    /// Sign a playback or publish URL with its domain's aliauth policy (the console's URL
    /// generator): `sealcast sign https://play.example.com/live/cam.m3u8`.
    Sign {
        #[command(flatten)]
        data: cli::DataArgs,
        #[command(flatten)]
        args: cli::SignArgs,
    },
}

/// Flags override the config file; each has a SEALCAST_* environment variable. A flag given
/// twice takes its last value.
#[derive(Debug, Args)]
#[command(args_override_self = true)]
struct ServeArgs {
    /// TOML configuration file (keys documented in docs/configuration.md).
    #[arg(long, env = "SEALCAST_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the database and the root-key file [default: ./sealcast-data].
    #[arg(long, env = "SEALCAST_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database: `postgres://user:password@host:5432/db` [default: SQLite in the data dir].
    #[arg(long, env = "SEALCAST_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// RTMP ingest listener [default: 0.0.0.0:1935].
    #[arg(long, env = "SEALCAST_RTMP_LISTEN")]
    rtmp_listen: Option<std::net::SocketAddr>,
    /// HTTP playback listener [default: 0.0.0.0:8080].
    #[arg(long, env = "SEALCAST_HTTP_LISTEN")]
    http_listen: Option<std::net::SocketAddr>,
    /// HTTPS playback listener [default: 0.0.0.0:8443]; serves once a certificate is configured.
    #[arg(long, env = "SEALCAST_HTTPS_LISTEN")]
    https_listen: Option<std::net::SocketAddr>,
    /// Control API listener [default: 127.0.0.1:8081].
    #[arg(long, env = "SEALCAST_API_LISTEN")]
    api_listen: Option<std::net::SocketAddr>,
    /// HLS encryption [default: aes-128]; `none` is for debugging only.
    #[arg(long, env = "SEALCAST_ENCRYPTION")]
    encryption: Option<Encryption>,
    /// Seconds between data-key rotations, 60..=3600 [default: 3600].
    #[arg(long, env = "SEALCAST_KEY_ROTATION_INTERVAL")]
    key_rotation_interval: Option<u64>,
    /// Target HLS segment duration in seconds [default: 2].
    #[arg(long, env = "SEALCAST_SEGMENT_DURATION")]
    segment_duration: Option<u64>,
    /// Segments listed in a live playlist [default: 6].
    #[arg(long, env = "SEALCAST_PLAYLIST_LENGTH")]
    playlist_length: Option<usize>,
    /// Domain serving hosts that match no domain; empty for none [default: localhost].
    #[arg(long, env = "SEALCAST_DEFAULT_DOMAIN")]
    default_domain: Option<String>,
    /// Log filter, e.g. `info` or `sealcast_ingest=debug` [default: info].
    #[arg(long, env = "SEALCAST_LOG")]
    log: Option<String>,
    /// Serve only the control API: a standalone KMS (and configuration server) for other
    /// Sealcast servers.
    #[arg(long, env = "SEALCAST_API_ONLY")]
    api_only: bool,
    /// Remote KMS for stream data keys (another Sealcast's API, or Alibaba Cloud KMS)
    /// [default: the built-in KMS].
    #[arg(long, env = "SEALCAST_KMS_ENDPOINT")]
    kms_endpoint: Option<String>,
    /// Access key id for the remote KMS.
    #[arg(long, env = "SEALCAST_KMS_ACCESS_KEY_ID")]
    kms_access_key_id: Option<String>,
    /// Access key secret for the remote KMS (prefer the environment variable).
    #[arg(long, env = "SEALCAST_KMS_ACCESS_KEY_SECRET", hide_env_values = true)]
    kms_access_key_secret: Option<String>,
    /// The remote KMS's CMK for apps whose encryption names none.
    #[arg(long, env = "SEALCAST_KMS_KEY_ID")]
    kms_key_id: Option<String>,
    /// The ffmpeg that runs transcoding templates [default: ffmpeg].
    #[arg(long, env = "SEALCAST_TRANSCODE_FFMPEG")]
    transcode_ffmpeg: Option<PathBuf>,
    /// Renditions transcoded at once; 0 turns transcoding off [default: 4].
    #[arg(long, env = "SEALCAST_TRANSCODE_MAX_JOBS")]
    transcode_max_jobs: Option<usize>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        if let Some(v) = self.data_dir {
            c.data_dir = v;
        }
        if let Some(v) = self.database_url {
            c.database_url = v;
        }
        if let Some(v) = self.rtmp_listen {
            c.rtmp_listen = v;
        }
        if let Some(v) = self.http_listen {
            c.http_listen = v;
        }
        if let Some(v) = self.https_listen {
            c.https_listen = v;
        }
        if let Some(v) = self.api_listen {
            c.api_listen = v;
        }
        if let Some(v) = self.encryption {
            c.hls.encryption = v;
        }
        if let Some(v) = self.key_rotation_interval {
            c.hls.key_rotation_interval = v;
        }
        if let Some(v) = self.segment_duration {
            c.hls.segment_duration = v;
        }
        if let Some(v) = self.playlist_length {
            c.hls.playlist_length = v;
        }
        if let Some(v) = self.default_domain {
            c.default_domain = v;
        }
        if let Some(v) = self.log {
            c.log = v;
        }
        c.api_only |= self.api_only;
        if let Some(v) = self.kms_endpoint {
            c.kms.endpoint = v;
        }
        if let Some(v) = self.kms_access_key_id {
            c.kms.access_key_id = v;
        }
        if let Some(v) = self.kms_access_key_secret {
            c.kms.access_key_secret = v;
        }
        if let Some(v) = self.kms_key_id {
            c.kms.key_id = v;
        }
        if let Some(v) = self.transcode_ffmpeg {
            c.transcode.ffmpeg = v;
        }
        if let Some(v) = self.transcode_max_jobs {
            c.transcode.max_jobs = v;
        }
        c.validate()?;
        Ok(c)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, std::process::ExitCode> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        eprintln!("sealcast: cannot start the async runtime: {e}");
        std::process::ExitCode::FAILURE
    })
}

/// Runs a CLI command; errors print one line and exit 1.
fn run_cli(f: impl std::future::Future<Output = anyhow::Result<()>>) -> std::process::ExitCode {
    serve::init_logging("warn");
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(f) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealcast: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Domain { data, command } => run_cli(async move { cli::domain(&data, command).await }),
        Command::Cert { data, command } => run_cli(async move { cli::cert(&data, command).await }),
        Command::Encryption { data, command } => run_cli(async move { cli::encryption(&data, command).await }),
        Command::Transcode { data, command } => run_cli(async move { cli::transcode(&data, command).await }),
        Command::User { data, command } => run_cli(async move { iam_cli::user(&data, command).await }),
        Command::AccessKey { data, command } => run_cli(async move { iam_cli::access_key(&data, command).await }),
        Command::Policy { data, command } => run_cli(async move { iam_cli::policy(&data, command).await }),
        Command::Audit { data, args } => run_cli(async move { iam_cli::audit(&data, args).await }),
        Command::Api(args) => run_cli(async move { api_cli::run(args).await }),
        Command::Play(args) => run_cli(async move { play::run(args).await }),
        Command::Sign { data, args } => run_cli(async move { cli::sign(&data, args).await }),
        Command::Serve(args) => {
            let config = match args.into_config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("sealcast: {e:#}");
                    return std::process::ExitCode::from(2);
                }
            };
            serve::init_logging(&config.log);
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            match rt.block_on(serve::run(config)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("sealcast: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
