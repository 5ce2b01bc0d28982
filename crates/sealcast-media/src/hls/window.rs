//! A live playlist's sliding window, with segment payloads kept a little longer than they are
//! listed so that players a few seconds behind can still fetch them.

use std::collections::VecDeque;

use super::playlist::{rounded_secs, MediaPlaylist, PlaylistSegment};

#[derive(Debug)]
struct Entry<S> {
    seq: u64,
    line: PlaylistSegment,
    payload: S,
}

/// Sliding window of a live media playlist.
#[derive(Debug)]
pub struct LiveWindow<S> {
    playlist_len: usize,
    retain_extra: usize,
    entries: VecDeque<Entry<S>>,
    next_seq: u64,
    /// Discontinuities carried by segments that were evicted entirely.
    evicted_discontinuities: u64,
    pending_discontinuity: bool,
    ended: bool,
    target_duration: u64,
}

impl<S> LiveWindow<S> {
    /// `playlist_len` segments are listed; `retain_extra` more stay fetchable after they slide out.
    pub fn new(playlist_len: usize, retain_extra: usize, target_duration_ms: u64) -> Self {
        LiveWindow {
            playlist_len: playlist_len.max(1),
            retain_extra,
            entries: VecDeque::new(),
            next_seq: 0,
            evicted_discontinuities: 0,
            pending_discontinuity: false,
            ended: false,
            target_duration: rounded_secs(target_duration_ms).max(1),
        }
    }

    /// The media sequence number the next segment gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// Appends a segment; a previous end (if any) is lifted. Returns its sequence number.
    pub fn push(&mut self, mut line: PlaylistSegment, payload: S) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        line.discontinuity |= std::mem::take(&mut self.pending_discontinuity);
        // EXT-X-TARGETDURATION must never shrink under a client: it only grows.
        self.target_duration = self.target_duration.max(rounded_secs(line.duration_ms));
        self.ended = false;
        self.entries.push_back(Entry { seq, line, payload });
        while self.entries.len() > self.playlist_len + self.retain_extra {
            if let Some(e) = self.entries.pop_front() {
                self.evicted_discontinuities += u64::from(e.line.discontinuity);
            }
        }
        seq
    }

    /// The next segment pushed starts with EXT-X-DISCONTINUITY (a republish).
    pub fn mark_discontinuity(&mut self) {
        if !self.entries.is_empty() {
            self.pending_discontinuity = true;
        }
    }

    /// The publisher stopped: the playlist gets EXT-X-ENDLIST.
    pub fn end(&mut self) {
        self.ended = true;
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Segment payload by media sequence number, while it is retained.
    pub fn get(&self, seq: u64) -> Option<&S> {
        let first = self.entries.front()?.seq;
        let idx = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get(idx).map(|e| &e.payload)
    }

    /// Iterates retained payloads (for accounting).
    pub fn payloads(&self) -> impl Iterator<Item = &S> {
        self.entries.iter().map(|e| &e.payload)
    }

    /// The current playlist.
    pub fn playlist(&self) -> MediaPlaylist {
        let skip = self.entries.len().saturating_sub(self.playlist_len);
        let mut pl = MediaPlaylist::new(self.target_duration);
        pl.media_sequence = self.entries.get(skip).map(|e| e.seq).unwrap_or(self.next_seq);
        // RFC 8216 §6.2.1: the discontinuity sequence counts discontinuities that slid out.
        pl.discontinuity_sequence = self.evicted_discontinuities
            + self.entries.iter().take(skip).filter(|e| e.line.discontinuity).count() as u64;
        pl.segments = self.entries.iter().skip(skip).map(|e| e.line.clone()).collect();
        pl.ended = self.ended;
        pl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(n: u64) -> PlaylistSegment {
        PlaylistSegment::new(format!("{n}.ts"), 2000)
    }

    #[test]
    fn slides_and_retains() {
        let mut w = LiveWindow::new(3, 2, 2000);
        for i in 0..10 {
            assert_eq!(w.push(seg(i), i), i);
        }
        let pl = w.playlist();
        assert_eq!(pl.media_sequence, 7);
        assert_eq!(pl.segments.len(), 3);
        assert_eq!(w.get(5), Some(&5), "retained after sliding out");
        assert_eq!(w.get(4), None);
        assert_eq!(w.get(10), None);
    }

    #[test]
    fn discontinuity_sequence_counts_slid_out_discontinuities() {
        let mut w = LiveWindow::new(2, 1, 2000);
        w.push(seg(0), ());
        w.end();
        assert!(w.playlist().ended);
        w.mark_discontinuity();
        w.push(seg(1), ());
        let pl = w.playlist();
        assert!(!pl.ended);
        assert!(pl.segments[1].discontinuity);
        assert_eq!(pl.discontinuity_sequence, 0);
        w.push(seg(2), ());
        w.push(seg(3), ());
        assert_eq!(w.playlist().discontinuity_sequence, 1);
        w.push(seg(4), ());
        assert_eq!(w.playlist().discontinuity_sequence, 1, "evicted entries still count");
    }

    #[test]
    fn target_duration_only_grows() {
        let mut w = LiveWindow::new(2, 0, 2000);
        w.push(PlaylistSegment::new("a", 4600), ());
        w.push(seg(1), ());
        w.push(seg(2), ());
        assert_eq!(w.playlist().target_duration, 5);
    }

    proptest::proptest! {
        /// Whatever happens (pushes of any duration, republishes, ends), the rendered playlist
        /// obeys RFC 8216: every EXTINF rounds to at most the target duration, the target never
        /// shrinks, media and discontinuity sequences never go back, at most `len` are listed.
        #[test]
        fn rendered_playlists_keep_rfc8216_invariants(
            ops in proptest::collection::vec((0u8..4, 100u64..9000), 1..80),
            len in 1usize..8,
            extra in 0usize..4,
        ) {
            let mut w = LiveWindow::new(len, extra, 2000);
            let (mut last_target, mut last_media, mut last_disc) = (0u64, 0u64, 0u64);
            for (op, dur) in ops {
                match op {
                    0 => w.mark_discontinuity(),
                    1 => w.end(),
                    _ => { w.push(PlaylistSegment::new("s.ts", dur), ()); }
                }
                let pl = w.playlist();
                let text = pl.render();
                let mut target = 0;
                let mut listed = 0;
                for line in text.lines() {
                    if let Some(t) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                        target = t.parse::<u64>().expect("integer target");
                    }
                    if let Some(d) = line.strip_prefix("#EXTINF:") {
                        let secs: f64 = d.trim_end_matches(',').parse().expect("decimal duration");
                        proptest::prop_assert!((secs.round() as u64) <= target, "{}", text);
                        listed += 1;
                    }
                }
                proptest::prop_assert!(listed <= len);
                proptest::prop_assert!(target >= last_target);
                proptest::prop_assert!(pl.media_sequence >= last_media);
                proptest::prop_assert!(pl.discontinuity_sequence >= last_disc);
                proptest::prop_assert_eq!(text.contains("#EXT-X-ENDLIST"), w.is_ended());
                last_target = target;
                last_media = pl.media_sequence;
                last_disc = pl.discontinuity_sequence;
            }
        }
    }

    #[test]
    fn discontinuity_needs_a_previous_segment() {
        let mut w: LiveWindow<()> = LiveWindow::new(2, 0, 2000);
        w.mark_discontinuity();
        w.push(seg(0), ());
        assert!(!w.playlist().segments[0].discontinuity);
    }
}
