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

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use sealcast_hub::{Delivery, Hub, HubConsumer, LagPolicy, PublishInfo, StreamKey, Subscription};
use sealcast_media::flv_stream::{self, FlvReader};
use sealcast_media::frame::{MediaFrame, TimestampExtender};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

pub use rendition::{check_template, standard_names, Rendition, RenditionError, VideoSpec};

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
    /// Streams this transcoder publishes (never transcoded again), with the job that owns each.
    outputs: Mutex<HashMap<StreamKey, u64>>,
    next_job: AtomicU64,
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
            inner: Arc::new(Inner {
                hub,
                plan,
                cfg,
                jobs,
                outputs: Mutex::default(),
                next_job: AtomicU64::new(1),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Whether the configured ffmpeg runs (`ffmpeg -version`); the error says why not.
    pub async fn check_ffmpeg(&self) -> Result<String, String> {
        let ffmpeg = &self.inner.cfg.ffmpeg;
        let out = tokio::process::Command::new(ffmpeg)
            .arg("-version")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", ffmpeg.display()))?;
        if !out.status.success() {
            return Err(format!("{} -version exited with {}", ffmpeg.display(), out.status));
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string())
    }

    /// Waits for every job to end (their sources end at shutdown).
    pub async fn wait(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    fn is_output(&self, key: &StreamKey) -> bool {
        self.inner.outputs.lock().unwrap_or_else(|e| e.into_inner()).contains_key(key)
    }

    /// Forgets an output, if `job` still owns it (a newer job may have taken the name over).
    fn release(&self, key: &StreamKey, job: u64) {
        let mut outputs = self.inner.outputs.lock().unwrap_or_else(|e| e.into_inner());
        if outputs.get(key) == Some(&job) {
            outputs.remove(key);
        }
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
                    let job = this.inner.next_job.fetch_add(1, Ordering::Relaxed);
                    match this.run(&info, &r, &output, job).await {
                        Ok(end) => tracing::info!(stream = %info.key, output = %output, end, "transcoding ended"),
                        Err(e) => {
                            tracing::warn!(stream = %info.key, output = %output, error = %e, "transcoding failed")
                        }
                    }
                    this.release(&output, job);
                    drop(permit);
                });
            }
        });
    }
}

/// The last `MAX_STDERR` bytes ffmpeg wrote: its final, fatal message is at the end.
const MAX_STDERR: usize = 8 << 10;

/// How long a new session waits for the previous session's rendition of the same name to end
/// (a publisher reconnecting while the old ffmpeg flushes).
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

impl Transcoder {
    /// Publishes a rendition, waiting a little for a previous session's to end.
    async fn publish_output(
        &self,
        info: &PublishInfo,
        output: &StreamKey,
        job: u64,
    ) -> Result<sealcast_hub::Publisher, String> {
        self.inner.plan.prepare_output(info, output).await?;
        let deadline = tokio::time::Instant::now() + TAKEOVER_WAIT;
        loop {
            self.inner.outputs.lock().unwrap_or_else(|e| e.into_inner()).insert(output.clone(), job);
            match self.inner.hub.publish(output.clone(), info.domain.clone(), None, None) {
                Ok(p) => return Ok(p),
                Err(sealcast_hub::HubError::AlreadyPublishing(_))
                    if tokio::time::Instant::now() < deadline && self.inner.hub.is_live(&info.key) =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("cannot publish the rendition: {e}")),
            }
        }
    }

    /// One rendition, from the source's current GOP until the source ends, the rendition is
    /// kicked or ffmpeg stops. Returns how it ended.
    async fn run(
        &self,
        info: &PublishInfo,
        r: &Rendition,
        output: &StreamKey,
        job: u64,
    ) -> Result<&'static str, String> {
        let Some(sub) = self.inner.hub.subscribe(&info.key, LagPolicy::Resync) else {
            return Ok("source already ended");
        };
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
        // Drained to the end (a full pipe would stall ffmpeg); the tail is kept.
        let errors = tokio::spawn(async move {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > MAX_STDERR {
                    tail.drain(..tail.len() - MAX_STDERR);
                }
            }
            String::from_utf8_lossy(&tail).trim().to_string()
        });
        let mut reader = FlvReader::new();
        let mut timestamps = TimestampExtender::default();
        let mut buf = vec![0u8; 64 << 10];
        // Published on ffmpeg's first tag: a rendition that never starts is never listed.
        let mut publisher: Option<sealcast_hub::Publisher> = None;
        let outcome: Result<&'static str, String> = 'job: loop {
            let n = tokio::select! {
                reason = async {
                    match publisher.as_mut() {
                        Some(p) => p.kicked().await,
                        None => std::future::pending().await,
                    }
                } => {
                    tracing::info!(output = %output, reason, "rendition ended by the server");
                    break 'job Ok("kicked");
                }
                read = stdout.read(&mut buf) => match read {
                    Ok(0) => break 'job Ok("source ended"),
                    Ok(n) => n,
                    Err(e) => break 'job Err(format!("reading ffmpeg's output: {e}")),
                },
            };
            reader.push(&buf[..n]);
            loop {
                let tag = match reader.next_tag() {
                    Ok(Some(tag)) => tag,
                    Ok(None) => break,
                    Err(e) => break 'job Err(format!("ffmpeg's output is not FLV: {e}")),
                };
                let Some(kind) = flv_stream::frame_kind(tag.tag_type) else { continue };
                if publisher.is_none() {
                    match self.publish_output(info, output, job).await {
                        Ok(p) => publisher = Some(p),
                        Err(e) => break 'job Err(e),
                    }
                }
                if let Some(p) = &publisher {
                    p.send(MediaFrame::new(kind, timestamps.extend(tag.timestamp), tag.body));
                }
            }
        };
        let published = publisher.is_some();
        drop(publisher);
        feed.abort();
        // Unless ffmpeg ended by itself, it may be blocked writing output nobody reads now.
        if !outcome.as_ref().is_ok_and(|end| *end == "source ended") {
            drop(stdout);
            let _ = child.start_kill();
        }
        let status = child.wait().await.map_err(|e| format!("waiting for ffmpeg: {e}"))?;
        let stderr = errors.await.unwrap_or_default();
        let end = outcome?;
        if end == "source ended" && !status.success() {
            let what = if published { "stopped" } else { "produced nothing" };
            return Err(format!("ffmpeg {what} and exited with {status}: {stderr}"));
        }
        Ok(end)
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
    fn output_names() {
        assert_eq!(output_key(&StreamKey::new("live", "cam"), "lld"), StreamKey::new("live", "cam_lld"));
    }
}
