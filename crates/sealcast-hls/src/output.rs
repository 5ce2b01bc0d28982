//! One stream's HLS output: the playlist window and its encrypted segments.

use std::time::Instant;

use bytes::Bytes;
use sealcast_media::hls::playlist::PlaylistSegment;
use sealcast_media::hls::window::LiveWindow;

use crate::config::StreamEncryption;

/// Shared state of one stream's output (guarded by a mutex in the service).
#[derive(Debug)]
pub(crate) struct Output {
    window: LiveWindow<Bytes>,
    /// Prefix of segment names, unique per output instance so cached URLs never collide.
    epoch: String,
    /// The rendered playlist, refreshed on every change.
    rendered: Bytes,
    /// The publish session currently feeding this output.
    pub(crate) session_id: u64,
    pub(crate) ended_at: Option<Instant>,
    /// Encryption of the current publish session.
    pub(crate) enc: StreamEncryption,
}

impl Output {
    pub(crate) fn new(
        playlist_length: usize,
        retain_extra: usize,
        target_ms: u64,
        epoch: String,
        session_id: u64,
        enc: StreamEncryption,
    ) -> Self {
        let window = LiveWindow::new(playlist_length, retain_extra, target_ms);
        let mut o = Output { window, epoch, rendered: Bytes::new(), session_id, ended_at: None, enc };
        o.render();
        o
    }

    fn render(&mut self) {
        self.rendered = Bytes::from(self.window.playlist().render());
    }

    /// A new publish session continues this output after a discontinuity.
    pub(crate) fn republish(&mut self, session_id: u64) {
        self.session_id = session_id;
        self.ended_at = None;
        self.window.mark_discontinuity();
    }

    /// A gap inside one session (frames were skipped).
    pub(crate) fn discontinuity(&mut self) {
        self.window.mark_discontinuity();
    }

    pub(crate) fn next_segment_uri(&self, stream: &str) -> String {
        format!("{stream}/{}-{}.ts", self.epoch, self.window.next_sequence())
    }

    pub(crate) fn push(&mut self, line: PlaylistSegment, data: Bytes) {
        self.window.push(line, data);
        self.render();
    }

    pub(crate) fn end(&mut self) {
        self.window.end();
        self.ended_at = Some(Instant::now());
        self.render();
    }

    pub(crate) fn playlist(&self) -> Option<Bytes> {
        // An output with no segment yet has nothing playable: report "not yet".
        (self.window.next_sequence() > 0).then(|| self.rendered.clone())
    }

    /// Segment by its file name without `.ts` (`{epoch}-{seq}`).
    pub(crate) fn segment(&self, name: &str) -> Option<Bytes> {
        let (epoch, seq) = name.rsplit_once('-')?;
        if epoch != self.epoch {
            return None;
        }
        self.window.get(seq.parse().ok()?).cloned()
    }

    pub(crate) fn retained_bytes(&self) -> usize {
        self.window.payloads().map(Bytes::len).sum()
    }
}
