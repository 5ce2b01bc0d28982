//! Live transcoding: for every template of a published stream's app (Alibaba's
//! AddLiveStreamTranscode family), an ffmpeg process turns the stream into a rendition that is
//! published back into the hub as `{app}/{stream}_{template}` — packaged, encrypted and served
//! like any other stream.
//!
//! ```text
//! hub ──subscription──▶ FLV writer ──stdin──▶ ffmpeg ──stdout──▶ FLV reader ──▶ hub.publish(stream_template)
//! ```
//!
//! [`TranscodePlan`] (supplied by the binary) says which renditions a publish gets and
//! prepares each output (its encryption keys) before it is published. Jobs are bounded
//! (`max_jobs`), end with their source, and are killed with it; an ffmpeg failure ends that
//! rendition with a log line and never touches the source.
#![forbid(unsafe_code)]

mod rendition;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use sealcast_hub::{Delivery, Hub, HubConsumer, LagPolicy, PublishInfo, StreamKey, Subscription};
use sealcast_media::flv_stream::{self, FlvReader};
use sealcast_media::frame::{FrameKind, MediaFrame};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

pub use rendition::{standard_names, Rendition, RenditionError, VideoSpec};

/// Transcoder settings.
#[derive(Debug, Clone)]
pub struct TranscodeConfig {
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
    /// Renditions transcoded at once (across all streams); more are skipped with a warning.
    pub max_jobs: usize,
    /// x264 preset (`ultrafast` … `veryslow`).
    pub preset: String,
}

impl Default for TranscodeConfig {
    fn default() -> Self {
        TranscodeConfig { ffmpeg: PathBuf::from("ffmpeg"), max_jobs: 4, preset: "veryfast".into() }
    }
}

/// What the transcoder needs from the rest of the server.
#[async_trait]
pub trait TranscodePlan: Send + Sync {
    /// The renditions of a publish (none when its app has no templates).
    async fn renditions(&self, source: &PublishInfo) -> Vec<Rendition>;
    /// Readies an output before it is published (its encryption keys); an error skips it.
    async fn prepare_output(&self, source: &PublishInfo, output: &StreamKey) -> Result<(), String>;
}

/// The hub consumer that runs transcoding jobs.
#[derive(Clone)]
pub struct Transcoder {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Hub,
    plan: Arc<dyn TranscodePlan>,
    cfg: TranscodeConfig,
    jobs: Arc<Semaphore>,
    /// Streams this transcoder publishes: never transcoded again.
    outputs: Mutex<HashSet<StreamKey>>,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder").field("cfg", &self.inner.cfg).finish_non_exhaustive()
    }
}

/// The output stream of a rendition: `{stream}_{template}` in the same app.
pub fn output_key(source: &StreamKey, template: &str) -> StreamKey {
    StreamKey::new(source.app.clone(), format!("{}_{template}", source.stream))
}

impl Transcoder {
    pub fn new(hub: Hub, plan: Arc<dyn TranscodePlan>, cfg: TranscodeConfig) -> Transcoder {
        let jobs = Arc::new(Semaphore::new(cfg.max_jobs));
        Transcoder {
            inner: Arc::new(Inner { hub, plan, cfg, jobs, outputs: Mutex::default(), tasks: TaskTracker::new() }),
        }
    }

    /// Waits for every job to end (their sources end at shutdown).
    pub async fn wait(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    fn is_output(&self, key: &StreamKey) -> bool {
        self.inner.outputs.lock().unwrap_or_else(|e| e.into_inner()).contains(key)
    }
}

impl HubConsumer for Transcoder {
    fn on_publish(&self, info: Arc<PublishInfo>, sub: Subscription) {
        // Transcoding is off, or this is one of the transcoder's own outputs.
        if self.inner.cfg.max_jobs == 0 || self.is_output(&info.key) {
            return;
        }
        drop(sub); // each job subscribes itself, starting at the cached GOP
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            let renditions = this.inner.plan.renditions(&info).await;
            for r in renditions {
                let Ok(permit) = this.inner.jobs.clone().try_acquire_owned() else {
                    tracing::warn!(stream = %info.key, template = %r.template, max_jobs = this.inner.cfg.max_jobs,
                        "transcoding skipped: all transcoding slots are busy");
                    continue;
                };
                let this = this.clone();
                let info = info.clone();
                this.inner.tasks.clone().spawn(async move {
                    let output = output_key(&info.key, &r.template);
                    match this.run(&info, &r, &output).await {
                        Ok(()) => tracing::info!(stream = %info.key, output = %output, "transcoding ended"),
                        Err(e) => {
                            tracing::warn!(stream = %info.key, output = %output, error = %e, "transcoding failed")
                        }
                    }
                    this.inner.outputs.lock().unwrap_or_else(|e| e.into_inner()).remove(&output);
                    drop(permit);
                });
            }
        });
    }
}

/// Tag type of an FLV tag from ffmpeg.
fn frame_kind(tag_type: u8) -> Option<FrameKind> {
    match tag_type {
        8 => Some(FrameKind::Audio),
        9 => Some(FrameKind::Video),
        18 => Some(FrameKind::Script),
        _ => None,
    }
}

/// Extends ffmpeg's 32-bit FLV timestamps past their wrap.
#[derive(Debug, Default)]
struct Unwrap {
    last: u32,
    high: u64,
}

impl Unwrap {
    fn next(&mut self, ts: u32) -> u64 {
        if ts < self.last && self.last - ts > 1 << 31 {
            self.high += 1 << 32;
        }
        self.last = ts;
        self.high + u64::from(ts)
    }
}

impl Transcoder {
    async fn run(&self, info: &PublishInfo, r: &Rendition, output: &StreamKey) -> Result<(), String> {
        let Some(sub) = self.inner.hub.subscribe(&info.key, LagPolicy::Resync) else {
            return Ok(()); // the source already ended
        };
        self.inner.plan.prepare_output(info, output).await?;
        self.inner.outputs.lock().unwrap_or_else(|e| e.into_inner()).insert(output.clone());
        let publisher = self
            .inner
            .hub
            .publish(output.clone(), info.domain.clone(), None, None)
            .map_err(|e| format!("cannot publish the rendition: {e}"))?;
        let mut child = tokio::process::Command::new(&self.inner.cfg.ffmpeg)
            .args(r.ffmpeg_args(&self.inner.cfg.preset))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.inner.cfg.ffmpeg.display()))?;
        let (Some(stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("ffmpeg's pipes are missing".into());
        };
        tracing::info!(stream = %info.key, output = %output, template = %r.template, "transcoding started");
        let feed = tokio::spawn(feed(sub, stdin));
        let errors = tokio::spawn(async move {
            let mut text = Vec::new();
            let _ = (&mut stderr).take(64 << 10).read_to_end(&mut text).await;
            String::from_utf8_lossy(&text).trim().to_string()
        });
        let mut reader = FlvReader::new();
        let mut unwrap = Unwrap::default();
        let mut buf = vec![0u8; 64 << 10];
        let mut frames = 0u64;
        let read_result: Result<(), String> = loop {
            let n = match stdout.read(&mut buf).await {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) => break Err(format!("reading ffmpeg's output: {e}")),
            };
            reader.push(&buf[..n]);
            loop {
                match reader.next_tag() {
                    Ok(Some(tag)) => {
                        if let Some(kind) = frame_kind(tag.tag_type) {
                            publisher.send(MediaFrame::new(kind, unwrap.next(tag.timestamp), tag.body));
                            frames += 1;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Err(format!("ffmpeg's output is not FLV: {e}")),
                }
            }
        };
        drop(publisher);
        feed.abort();
        let status = child.wait().await.map_err(|e| format!("waiting for ffmpeg: {e}"))?;
        let stderr = errors.await.unwrap_or_default();
        read_result?;
        if !status.success() && frames == 0 {
            return Err(format!("ffmpeg exited with {status}: {stderr}"));
        }
        Ok(())
    }
}

/// Writes the source as FLV to ffmpeg's stdin until the source ends (then closes stdin, so
/// ffmpeg flushes and exits).
async fn feed(mut sub: Subscription, mut stdin: tokio::process::ChildStdin) {
    if stdin.write_all(&flv_stream::file_header(true, true)).await.is_err() {
        return;
    }
    let mut out = BytesMut::new();
    while let Some(d) = sub.recv().await {
        let Delivery::Frame(f) = d else { continue };
        // FLV timestamps are 32-bit milliseconds; ffmpeg unwraps them itself.
        let ts = f.timestamp & 0xffff_ffff;
        if flv_stream::write_tag(&mut out, flv_stream::tag_type(f.kind), ts, &f.data).is_err() {
            continue;
        }
        let chunk: Bytes = out.split().freeze();
        if stdin.write_all(&chunk).await.is_err() {
            return; // ffmpeg ended
        }
    }
    let _ = stdin.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_and_timestamps() {
        assert_eq!(output_key(&StreamKey::new("live", "cam"), "lld"), StreamKey::new("live", "cam_lld"));
        let mut u = Unwrap::default();
        assert_eq!(u.next(10), 10);
        assert_eq!(u.next(u32::MAX - 5), u64::from(u32::MAX - 5));
        assert_eq!(u.next(3), (1u64 << 32) + 3, "wraps forward");
        assert_eq!(frame_kind(9), Some(FrameKind::Video));
        assert_eq!(frame_kind(7), None);
    }
}
