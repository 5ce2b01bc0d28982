//! `sealcast domain …` and `sealcast cert …`: the console's HTTPS settings as commands. They
//! work on the data directory directly; a running server applies the change within a second.

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sealcast_domains::{CertificateView, DomainService, FUNCTIONS};

/// Where the data lives (the same directory `serve` uses).
#[derive(Debug, Args)]
pub struct DataArgs {
    /// TOML configuration file (only `data_dir` is used here).
    #[arg(long, env = "SEALCAST_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory [default: ./sealcast-data].
    #[arg(long, env = "SEALCAST_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL [default: `database_url` from the config file, else SQLite in the data dir].
    #[arg(long, env = "SEALCAST_DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
}

impl DataArgs {
    fn dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        Ok(match &self.config {
            Some(p) => crate::config::Config::from_file(p)?.data_dir,
            None => crate::config::Config::default().data_dir,
        })
    }

    /// The configured default domain (`default_domain`, "localhost" unless changed).
    fn default_domain(&self) -> anyhow::Result<Option<String>> {
        let d = match &self.config {
            Some(p) => crate::config::Config::from_file(p)?.default_domain,
            None => crate::config::Config::default().default_domain,
        };
        Ok(Some(d).filter(|d| !d.is_empty()))
    }

    fn database_url(&self) -> anyhow::Result<String> {
        if let Some(u) = &self.database_url {
            return Ok(u.clone());
        }
        Ok(match &self.config {
            Some(p) => crate::config::Config::from_file(p)?.database_url,
            None => String::new(),
        })
    }

    /// The store and built-in KMS `serve` uses.
    pub async fn open(&self) -> anyhow::Result<(sealcast_store::Store, std::sync::Arc<sealcast_kms::BuiltinKms>)> {
        crate::state::open(&self.dir()?, &self.database_url()?).await
    }

    async fn service(&self) -> anyhow::Result<DomainService> {
        let (store, kms) = self.open().await?;
        Ok(DomainService::new(store, kms, None).await?)
    }
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Add a playback domain (`play.example.com` or `*.example.com`).
    Add { name: String },
    /// Remove a domain with its certificate and settings.
    Remove { name: String },
    /// List domains, their certificate and functions.
    List,
    /// Show a domain's functions with their arguments.
    Show { name: String },
    /// Set a function: `sealcast domain set play.example.com https_force enable=on https_rewrite=301`.
    /// Functions: https_force, http_force, HSTS, https_tls_version, https_option, aliauth
    /// (`auth_type=type_a auth_key1=… auth_key2=… ali_auth_delta=1800`).
    Set {
        name: String,
        function: String,
        /// argName=argValue pairs.
        args: Vec<String>,
    },
    /// Reset a function to its defaults.
    Unset { name: String, function: String },
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Upload a certificate chain (PEM, leaf first) and its unencrypted private key for a
    /// domain; HTTPS is on from the next handshake.
    Set(CertSetArgs),
    /// Same as `set`: turning HTTPS on again always needs an upload, since disabling deletes
    /// the certificate and key.
    Enable(CertSetArgs),
    /// Turn HTTPS off for a domain: its certificate and key are deleted.
    Disable {
        #[arg(long)]
        domain: String,
    },
    /// List certificates (never keys).
    List,
    /// Show one certificate by name (never its key).
    Show { name: String },
}

#[derive(Debug, Args)]
pub struct CertSetArgs {
    #[arg(long)]
    domain: String,
    /// Certificate name (CertName).
    #[arg(long)]
    name: String,
    /// PEM certificate chain file.
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key file (PKCS#8, SEC1 or PKCS#1; not password-protected).
    #[arg(long)]
    key: PathBuf,
    /// Overwrite a certificate of the same name (ForceSet).
    #[arg(long)]
    force: bool,
}

fn date(ts: i64) -> String {
    sealcast_crypto::civil::rfc3339(ts.max(0))
}

fn print_cert(c: &CertificateView) {
    let i = &c.info;
    println!("name:        {}", c.cert_name);
    println!("domain:      {}", c.domain);
    println!("subject:     {}", i.subject);
    println!("names:       {}", i.names.join(", "));
    println!("issuer:      {}", i.issuer);
    println!("serial:      {}", i.serial);
    println!("not before:  {}", date(i.not_before));
    println!("not after:   {}", date(i.not_after));
    println!("sha256:      {}", i.fingerprint_sha256);
    println!("key type:    {}", i.key_type);
    println!("chain:       {} certificate(s)", i.chain_length);
}

fn pairs(args: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("argument {a:?} is not argName=argValue"))
        })
        .collect()
}

pub async fn domain(data: &DataArgs, cmd: DomainCommand) -> anyhow::Result<()> {
    let svc = data.service().await?;
    match cmd {
        DomainCommand::Add { name } => println!("added {}", svc.add_domain(&name).await?),
        DomainCommand::Remove { name } => {
            svc.remove_domain(&name).await?;
            println!("removed {name}");
        }
        DomainCommand::List => {
            for d in svc.list_domains().await? {
                let c = &d.config;
                println!(
                    "{}\thttps={}\thttps_force={}\thttp_force={}\thsts={}\ttls12={}\ttls13={}\thttp2={}",
                    d.name,
                    d.cert_name.as_deref().map_or("off".to_string(), |n| format!("on({n})")),
                    c.https_force.enable,
                    c.http_force.enable,
                    c.hsts.enabled,
                    c.tls.tls12,
                    c.tls.tls13,
                    c.tls.http2
                );
            }
        }
        DomainCommand::Show { name } => {
            let cfg = svc.domain_config(&name).await?;
            for f in FUNCTIONS {
                let args = cfg.describe(f).unwrap_or_default();
                let line: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("{f}\t{}", line.join(" "));
            }
        }
        DomainCommand::Set { name, function, args } => {
            svc.set_function(&name, &function, &pairs(&args)?).await?;
            println!("{function} set on {name}");
        }
        DomainCommand::Unset { name, function } => {
            svc.delete_function(&name, &function).await?;
            println!("{function} reset on {name}");
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum EncryptionCommand {
    /// Set how the streams of an app published to a domain are encrypted (from their next
    /// publish): `sealcast encryption set --domain localhost --app vip --type envelope`.
    Set {
        #[arg(long)]
        domain: String,
        #[arg(long)]
        app: String,
        /// aes-128 (any HLS player), envelope (alias aliyun: keys sealed to SDK players only)
        /// or none.
        #[arg(long = "type")]
        encrypt_type: String,
        /// CMK for the data keys (KmsKeyID); cannot change once set [default: the KMS default key].
        #[arg(long)]
        kms_key_id: Option<String>,
        /// Key rotation interval in seconds, 60-3600 (KmsKeyExpireInterval).
        #[arg(long, default_value_t = 3600)]
        rotation: u64,
    },
    /// List the per-app settings.
    List,
    /// Remove a setting: the app's streams use the server defaults.
    Unset {
        #[arg(long)]
        domain: String,
        #[arg(long)]
        app: String,
    },
}

pub async fn encryption(data: &DataArgs, cmd: EncryptionCommand) -> anyhow::Result<()> {
    let svc = data.service().await?;
    match cmd {
        EncryptionCommand::Set { domain, app, encrypt_type, kms_key_id, rotation } => {
            let mode = sealcast_hls::EncryptionMode::from_name(&encrypt_type)
                .with_context(|| format!("unknown type {encrypt_type:?}: use aes-128, envelope (aliyun) or none"))?;
            svc.set_stream_encryption(&domain, &app, mode, kms_key_id.as_deref(), rotation).await?;
            println!("{app} on {domain}: {} with keys rotated every {rotation} s", mode.name());
        }
        EncryptionCommand::List => {
            for v in svc.stream_encryptions().await? {
                let e = &v.encryption;
                println!(
                    "{}\t{}\ttype={}\tkms_key_id={}\trotation={}",
                    v.domain,
                    v.app,
                    e.mode.name(),
                    e.kms_key_id.as_deref().unwrap_or("default"),
                    e.key_rotation_interval.as_secs()
                );
            }
        }
        EncryptionCommand::Unset { domain, app } => {
            svc.delete_stream_encryption(&domain, &app).await?;
            println!("{app} on {domain} uses the server defaults");
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// `rtmp://`, `http://` or `https://` URL, e.g. `https://play.example.com/live/cam.m3u8`.
    url: String,
    /// Domain whose policy signs (default: the domain serving the URL's host, matched as the
    /// server does: exact, wildcard, then the default domain).
    #[arg(long)]
    domain: Option<String>,
    /// Signing time, Unix seconds (default: now). The URL is valid until this plus the
    /// domain's ali_auth_delta.
    #[arg(long)]
    at: Option<i64>,
    /// Type A `rand` (Alibaba: "0" or a UUID without hyphens).
    #[arg(long, default_value = "0")]
    rand: String,
    /// Type A `uid`.
    #[arg(long, default_value = "0")]
    uid: String,
}

/// Signs a URL as `sign_url` would for `policy`, keeping its scheme, authority and query.
fn sign_url(policy: &sealcast_auth::Policy, url: &str, at: i64, rand: &str, uid: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url.split_once("://").context("give a whole URL: scheme://host/path")?;
    let (authority, path_query) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    anyhow::ensure!(!rand.contains('-') && !uid.contains('-'), "rand and uid cannot contain '-'");
    Ok(format!("{scheme}://{authority}{}", policy.sign(path, at, rand, uid).with_query(query)))
}

pub async fn sign(data: &DataArgs, args: SignArgs) -> anyhow::Result<()> {
    let host = args
        .url
        .split_once("://")
        .map(|(_, r)| r.split(['/', '?']).next().unwrap_or(""))
        .map(|h| h.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(h, |(h, _)| h))
        .unwrap_or("");
    let svc = data.service().await?;
    let (domain, cfg) = match args.domain.as_deref() {
        Some(d) => (d.to_string(), svc.domain_config(d).await?),
        None => {
            // As the server matches a Host: exact, wildcard, then the default domain.
            let wildcard = host.split_once('.').map(|(_, rest)| format!("*.{rest}"));
            let fallback = data.default_domain()?;
            let mut found = None;
            for d in [Some(host.to_string()), wildcard, fallback].into_iter().flatten() {
                match svc.domain_config(&d).await {
                    Ok(c) => {
                        found = Some((d, c));
                        break;
                    }
                    Err(
                        sealcast_domains::DomainError::NotFound(_) | sealcast_domains::DomainError::InvalidDomain(_),
                    ) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            found.with_context(|| format!("no domain serves {host:?} and there is no default domain: give --domain"))?
        }
    };
    anyhow::ensure!(cfg.aliauth.enabled(), "domain {domain} has no URL signing (aliauth auth_type is no_auth)");
    let at = args
        .at
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64));
    println!("{}", sign_url(&cfg.aliauth, &args.url, at, &args.rand, &args.uid)?);
    Ok(())
}

pub async fn cert(data: &DataArgs, cmd: CertCommand) -> anyhow::Result<()> {
    let svc = data.service().await?;
    match cmd {
        CertCommand::Set(a) | CertCommand::Enable(a) => {
            let cert = std::fs::read_to_string(&a.cert).with_context(|| format!("cannot read {}", a.cert.display()))?;
            let key = zeroize::Zeroizing::new(
                std::fs::read_to_string(&a.key).with_context(|| format!("cannot read {}", a.key.display()))?,
            );
            let info = svc.set_certificate(&a.domain, &a.name, &cert, &key, a.force).await?;
            println!(
                "HTTPS on for {} with certificate {} ({}, sha256 {})",
                a.domain, a.name, info.key_type, info.fingerprint_sha256
            );
        }
        CertCommand::Disable { domain } => {
            svc.disable_https(&domain).await?;
            println!("HTTPS off for {domain}; its certificate and key were deleted");
        }
        CertCommand::List => {
            for c in svc.certificates().await? {
                println!(
                    "{}\t{}\t{}\tnot after {}\t{}",
                    c.cert_name,
                    c.domain,
                    c.info.key_type,
                    date(c.info.not_after),
                    c.info.fingerprint_sha256
                );
            }
        }
        CertCommand::Show { name } => print_cert(&svc.certificate(&name).await?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_keep_scheme_host_and_query() {
        let p = sealcast_auth::Policy::new(sealcast_auth::AuthType::TypeA, "secretkey1", None, 1800).expect("policy");
        let u = sign_url(&p, "rtmp://push.example.com:1935/live/cam?x=1", 100, "0", "0").expect("sign");
        let want = sealcast_crypto::md5_hex(b"/live/cam-100-0-0-secretkey1");
        assert_eq!(u, format!("rtmp://push.example.com:1935/live/cam?x=1&auth_key=100-0-0-{want}"));
        let p = sealcast_auth::Policy::new(sealcast_auth::AuthType::TypeC, "secretkey1", None, 1800).expect("policy");
        let u = sign_url(&p, "https://play.example.com/live/cam.m3u8", 0x10, "0", "0").expect("sign");
        let want = sealcast_crypto::md5_hex(b"secretkey1/live/cam.m3u810");
        assert_eq!(u, format!("https://play.example.com/{want}/10/live/cam.m3u8"));
        assert!(sign_url(&p, "play.example.com/x", 0, "0", "0").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::date(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::date(951_782_400), "2000-02-29T00:00:00Z");
    }
}

#[derive(Debug, Subcommand)]
pub enum TranscodeCommand {
    /// Add or replace a template of an app on a (push) domain: its rendition
    /// `{stream}_{template}` runs from the next publish. Standard: `--template lld` (lld, lsd,
    /// lhd, lud, ld, sd, hd, ud); custom: `--custom --template mine --param Height=480
    /// --param VideoBitrate=800` (TemplateType, Height, Width, FPS, VideoBitrate, Gop, Profile,
    /// AudioBitrate).
    Set {
        #[command(flatten)]
        id: TemplateArgs,
        /// A custom template (AddCustomLiveStreamTranscode) instead of a standard one.
        #[arg(long)]
        custom: bool,
        /// Name=Value parameters of a custom template.
        #[arg(long = "param")]
        params: Vec<String>,
        /// EncryptParameters JSON: `{"EncryptType":"aliyun","KmsKeyExpireInterval":"600"}`.
        #[arg(long)]
        encrypt: Option<String>,
    },
    /// List the templates of a domain.
    List {
        #[arg(long)]
        domain: String,
    },
    /// Remove a template.
    Remove {
        #[command(flatten)]
        id: TemplateArgs,
    },
}

/// Which template: `--domain … --app … --template …`.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    #[arg(long)]
    domain: String,
    #[arg(long)]
    app: String,
    #[arg(long)]
    template: String,
}

pub async fn transcode(data: &DataArgs, cmd: TranscodeCommand) -> anyhow::Result<()> {
    let svc = data.service().await?;
    match cmd {
        TranscodeCommand::Set { id: TemplateArgs { domain, app, template }, custom, params, encrypt } => {
            let mut map = std::collections::BTreeMap::new();
            for p in &params {
                let (k, v) = p.split_once('=').with_context(|| format!("--param {p:?}: use Name=Value"))?;
                map.insert(k.to_string(), v.to_string());
            }
            sealcast_transcode::check_template(&template, custom, &map)?;
            let kind =
                if custom { sealcast_domains::TemplateKind::Custom } else { sealcast_domains::TemplateKind::Standard };
            let exists = svc.transcodes(&domain).await?.iter().any(|t| t.app == app && t.template == template);
            let req = sealcast_domains::TemplateRequest {
                domain: &domain,
                app: &app,
                template: &template,
                kind,
                params: map,
                encrypt: encrypt.as_deref(),
            };
            svc.put_transcode(req, exists).await?;
            println!("{app} on {domain}: template {template}; streams get a {{stream}}_{template} rendition from their next publish");
        }
        TranscodeCommand::List { domain } => {
            for t in svc.transcodes(&domain).await? {
                let params: Vec<String> = t.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let enc = t.encrypt.as_ref().map_or("-".to_string(), |e| e.to_json().to_string());
                println!("{}\t{}\t{}\t{}\tencrypt={enc}", t.app, t.template, t.kind.name(), params.join(","));
            }
        }
        TranscodeCommand::Remove { id: TemplateArgs { domain, app, template } } => {
            svc.delete_transcode(&domain, &app, &template).await?;
            println!("removed template {template} of {app} on {domain}");
        }
    }
    Ok(())
}
