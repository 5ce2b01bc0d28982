//! `sealcast play`: the player SDK as a command.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sealcast_player::{play, PlayOptions, Progress};

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Playlist or HTTP-FLV URL, e.g. `https://play.example.com/live/cam.m3u8?auth_key=…` or
    /// `…/live/cam.flv` (clear, aes-128 and envelope streams).
    url: String,
    /// Where the MPEG-TS (or, for .flv URLs, the FLV) goes: a file, or `-` for stdout (pipe
    /// it into ffplay).
    #[arg(long, default_value = "-")]
    out: String,
    /// Stop after this many seconds of media.
    #[arg(long)]
    duration: Option<u64>,
    /// Extra PEM CA certificate(s) to trust besides the system's.
    #[arg(long)]
    cacert: Option<PathBuf>,
}

fn progress_line(p: &Progress) -> String {
    let units = if p.tags > 0 { format!("{} FLV tags", p.tags) } else { format!("{} segments", p.segments) };
    format!(
        "{units}, {:.1} s of media, {} kbit/s, {} key period{}{}",
        p.media_ms as f64 / 1000.0,
        p.kbps(),
        p.key_periods,
        if p.key_periods == 1 { "" } else { "s" },
        if p.skipped > 0 { format!(", {} skipped", p.skipped) } else { String::new() }
    )
}

pub async fn run(args: PlayArgs) -> anyhow::Result<()> {
    let mut opts = PlayOptions::new(args.url);
    opts.duration = args.duration.map(Duration::from_secs);
    if let Some(p) = &args.cacert {
        opts.extra_ca_pem = Some(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?);
    }
    let tty = std::io::stderr().is_terminal();
    let show = |p: &Progress| {
        if tty {
            let mut e = std::io::stderr();
            let _ = write!(e, "\r\x1b[K{}", progress_line(p));
            let _ = e.flush();
        }
    };
    let summary = if args.out == "-" {
        play(&opts, &mut tokio::io::stdout(), show).await
    } else {
        let mut f = tokio::fs::File::create(&args.out).await.with_context(|| format!("cannot create {}", args.out))?;
        play(&opts, &mut f, show).await
    };
    if tty {
        eprintln!();
    }
    let summary = summary?;
    eprintln!("played {}", progress_line(&summary));
    Ok(())
}
