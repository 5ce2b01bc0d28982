//! Turns [`MediaFrame`]s into MPEG-TS segments cut at keyframes near a target duration.

use crate::error::MediaError;
use crate::flv::{avcc_nalus, parse_aac_packet, parse_avc_packet, AacConfig, AvcConfig};
use crate::frame::{FrameKind, MediaFrame};
use crate::ts::{Pes, Tracks, TsMuxer};

/// Segmenter settings.
#[derive(Debug, Clone, Copy)]
pub struct SegmenterConfig {
    /// Target segment duration in milliseconds; cuts happen at the first keyframe past it.
    pub target_duration_ms: u64,
    /// Hard cap: a segment is cut at this duration even without a keyframe (broken GOPs).
    pub max_duration_ms: u64,
    /// Hard cap on one segment's size in bytes.
    pub max_bytes: usize,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        SegmenterConfig { target_duration_ms: 2000, max_duration_ms: 30_000, max_bytes: 64 << 20 }
    }
}

/// A finished, plaintext MPEG-TS segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Decode time of the first frame, ms.
    pub start_ms: u64,
    pub duration_ms: u64,
    pub data: Vec<u8>,
    /// Starts with a video keyframe (or is audio-only).
    pub independent: bool,
}

struct Building {
    start_ms: u64,
    last_ms: u64,
    data: Vec<u8>,
    independent: bool,
    frames: u64,
}

/// The segmenter state machine. Feed frames in decode order with [`Segmenter::push`].
pub struct Segmenter {
    cfg: SegmenterConfig,
    mux: TsMuxer,
    avc: Option<AvcConfig>,
    aac: Option<AacConfig>,
    cur: Option<Building>,
    /// Reused buffer for Annex B conversion.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter").field("cfg", &self.cfg).field("has_video", &self.avc.is_some()).finish()
    }
}

/// Timestamps are shifted by this much (90 kHz) so PCR (which leads DTS) never goes negative.
const TS_OFFSET: u64 = 90_000;
const AUD: [u8; 6] = [0, 0, 0, 1, 0x09, 0xf0];

impl Segmenter {
    pub fn new(cfg: SegmenterConfig) -> Segmenter {
        Segmenter {
            cfg,
            mux: TsMuxer::new(Tracks { video: false, audio: false }),
            avc: None,
            aac: None,
            cur: None,
            scratch: Vec::new(),
        }
    }

    /// True once a video sequence header was seen: cuts then wait for keyframes.
    pub fn has_video(&self) -> bool {
        self.avc.is_some()
    }

    /// Feeds one frame; returns a segment when this frame closed one.
    pub fn push(&mut self, frame: &MediaFrame) -> Result<Option<Segment>, MediaError> {
        match frame.kind {
            FrameKind::Script => Ok(None),
            FrameKind::Video => self.push_video(frame),
            FrameKind::Audio => self.push_audio(frame),
        }
    }

    /// Closes the segment in progress (publisher stopped).
    pub fn finish(&mut self) -> Option<Segment> {
        let b = self.cur.take()?;
        // Estimate the last frame's duration from the average frame spacing.
        let span = b.last_ms.saturating_sub(b.start_ms);
        let tail = if b.frames > 1 { span / (b.frames - 1) } else { 0 };
        Some(Segment { start_ms: b.start_ms, duration_ms: span + tail, data: b.data, independent: b.independent })
    }

    fn tracks(&self) -> Tracks {
        Tracks { video: self.avc.is_some(), audio: self.aac.is_some() }
    }

    /// Cuts when due. Returns the closed segment, and opens a new one starting at `ts`.
    fn maybe_cut(&mut self, ts: u64, random_access: bool) -> Option<Segment> {
        let due = match &self.cur {
            None => return self.open(ts, random_access),
            Some(b) => {
                let dur = ts.saturating_sub(b.start_ms);
                (random_access && dur >= self.cfg.target_duration_ms)
                    || dur >= self.cfg.max_duration_ms
                    || b.data.len() >= self.cfg.max_bytes
            }
        };
        if !due {
            return None;
        }
        let done = self.cur.take().map(|b| Segment {
            start_ms: b.start_ms,
            duration_ms: ts.saturating_sub(b.start_ms),
            data: b.data,
            independent: b.independent,
        });
        self.open(ts, random_access);
        done
    }

    fn open(&mut self, ts: u64, random_access: bool) -> Option<Segment> {
        let tracks = self.tracks();
        if tracks != self.mux.tracks() {
            self.mux.set_tracks(tracks);
        }
        let mut data = Vec::with_capacity(256 * 1024);
        self.mux.write_tables(&mut data);
        self.cur = Some(Building { start_ms: ts, last_ms: ts, data, independent: random_access, frames: 0 });
        None
    }

    fn push_video(&mut self, frame: &MediaFrame) -> Result<Option<Segment>, MediaError> {
        let pkt = parse_avc_packet(&frame.data)?;
        match pkt.packet_type {
            0 => {
                let cfg = AvcConfig::parse(pkt.data)?;
                let new_track = self.avc.is_none();
                self.avc = Some(cfg);
                if new_track && self.cur.is_some() {
                    // Video appeared in an audio-only stream: wait for a keyframe to restart.
                    self.cur = None;
                }
                return Ok(None);
            }
            1 => {}
            _ => return Ok(None),
        }
        let Some(avc) = &self.avc else {
            // Coded video before its sequence header cannot be decoded: drop it.
            return Ok(None);
        };
        if self.cur.is_none() && !pkt.keyframe {
            return Ok(None); // segments start at a keyframe
        }
        // Build the Annex B access unit: AUD, SPS/PPS before IDR, then the NAL units.
        self.scratch.clear();
        self.scratch.extend_from_slice(&AUD);
        let mut has_idr = false;
        let mut has_ps = false;
        let mut nalus = Vec::new();
        for nalu in avcc_nalus(pkt.data, avc.nalu_length_size) {
            let nalu = nalu?;
            let Some(&h) = nalu.first() else { continue };
            match h & 0x1f {
                5 => has_idr = true,
                7 | 8 => has_ps = true,
                9 => continue, // our own AUD goes first
                _ => {}
            }
            nalus.push(nalu);
        }
        if nalus.is_empty() {
            return Ok(None);
        }
        if (has_idr || pkt.keyframe) && !has_ps {
            for ps in avc.sps.iter().chain(avc.pps.iter()) {
                self.scratch.extend_from_slice(&[0, 0, 0, 1]);
                self.scratch.extend_from_slice(ps);
            }
        }
        for n in nalus {
            self.scratch.extend_from_slice(&[0, 0, 0, 1]);
            self.scratch.extend_from_slice(n);
        }
        let done = self.maybe_cut(frame.timestamp, pkt.keyframe);
        let dts = frame.timestamp * 90 + TS_OFFSET;
        let pts = (dts as i64 + pkt.composition_time as i64 * 90).max(0) as u64;
        let au = std::mem::take(&mut self.scratch);
        if let Some(b) = self.cur.as_mut() {
            self.mux.write_pes(&mut b.data, &Pes { video: true, pts, dts, random_access: pkt.keyframe, payload: &au });
            b.last_ms = frame.timestamp;
            b.frames += 1;
        }
        self.scratch = au;
        Ok(done)
    }

    fn push_audio(&mut self, frame: &MediaFrame) -> Result<Option<Segment>, MediaError> {
        let pkt = parse_aac_packet(&frame.data)?;
        if pkt.packet_type == 0 {
            let cfg = AacConfig::parse(pkt.data)?;
            let new_track = self.aac.is_none();
            self.aac = Some(cfg);
            if new_track && self.cur.is_some() {
                // PMT must announce the new track: restart at the next random access point.
                self.cur = None;
            }
            return Ok(None);
        }
        let Some(aac) = self.aac else { return Ok(None) };
        if pkt.data.is_empty() {
            return Ok(None);
        }
        let done = if self.avc.is_some() {
            // With video, audio never opens a segment; it joins the current one.
            if self.cur.is_none() {
                return Ok(None);
            }
            None
        } else {
            self.maybe_cut(frame.timestamp, true)
        };
        let ts = frame.timestamp * 90 + TS_OFFSET;
        let mut payload = Vec::with_capacity(pkt.data.len() + 7);
        payload.extend_from_slice(&aac.adts_header(pkt.data.len()));
        payload.extend_from_slice(pkt.data);
        if let Some(b) = self.cur.as_mut() {
            self.mux.write_pes(
                &mut b.data,
                &Pes { video: false, pts: ts, dts: ts, random_access: false, payload: &payload },
            );
            if self.avc.is_none() {
                b.last_ms = frame.timestamp;
                b.frames += 1;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const AVC_RECORD: &[u8] = &[
        0x01, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0x00, 0x0a, 0x67, 0x42, 0xc0, 0x0d, 0xda, 0x05, 0x07, 0xe8, 0x40, 0x00,
        0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
    ];

    fn video(ts: u64, key: bool, seq: bool) -> MediaFrame {
        let mut b = vec![if key { 0x17 } else { 0x27 }, u8::from(!seq), 0, 0, 0];
        if seq {
            b.extend_from_slice(AVC_RECORD);
        } else {
            b.extend_from_slice(&[0, 0, 0, 3, if key { 0x65 } else { 0x41 }, 0x88, 0x84]);
        }
        MediaFrame::new(FrameKind::Video, ts, Bytes::from(b))
    }

    fn audio(ts: u64, seq: bool) -> MediaFrame {
        let b = if seq { vec![0xaf, 0, 0x12, 0x10] } else { vec![0xaf, 1, 0x21, 0x10, 0x04] };
        MediaFrame::new(FrameKind::Audio, ts, Bytes::from(b))
    }

    #[test]
    fn cuts_at_keyframes_after_target() {
        let mut s = Segmenter::new(SegmenterConfig::default());
        assert!(s.push(&video(0, true, true)).expect("ok").is_none());
        assert!(s.push(&audio(0, true)).expect("ok").is_none());
        let mut segs = Vec::new();
        // 25 fps, keyframe every 1.2 s (30 frames), for 10 s.
        for i in 0..250u64 {
            let ts = i * 40;
            if let Some(seg) = s.push(&video(ts, i % 30 == 0, false)).expect("ok") {
                segs.push(seg);
            }
            s.push(&audio(ts, false)).expect("ok");
        }
        segs.extend(s.finish());
        // Keyframes at 0,1.2,2.4,3.6,4.8,...: cuts at 2.4, 4.8, 7.2, 9.6.
        let durs: Vec<u64> = segs.iter().map(|s| s.duration_ms).collect();
        assert_eq!(&durs[..4], &[2400, 2400, 2400, 2400]);
        assert!(segs.iter().all(|s| s.independent && s.data.len() % 188 == 0));
        // First packets are PAT then PMT.
        assert_eq!(segs[1].data[1] & 0x1f, 0);
        assert_eq!(((segs[1].data[189] as u16 & 0x1f) << 8) | segs[1].data[190] as u16, crate::ts::PMT_PID);
    }

    #[test]
    fn drops_until_first_keyframe_and_inserts_parameter_sets() {
        let mut s = Segmenter::new(SegmenterConfig::default());
        s.push(&video(0, false, true)).expect("ok");
        assert!(s.push(&video(0, false, false)).expect("ok").is_none());
        assert!(s.finish().is_none(), "no segment before a keyframe");
        s.push(&video(40, true, false)).expect("ok");
        let seg = s.finish().expect("one segment");
        let find = |pat: &[u8]| seg.data.windows(pat.len()).any(|w| w == pat);
        assert!(find(&[0, 0, 0, 1, 0x09, 0xf0]), "AUD");
        assert!(find(&[0, 0, 0, 1, 0x67, 0x42]), "SPS");
        assert!(find(&[0, 0, 0, 1, 0x68, 0xce]), "PPS");
    }

    #[test]
    fn audio_only_streams_segment_on_audio() {
        let mut s = Segmenter::new(SegmenterConfig { target_duration_ms: 1000, ..Default::default() });
        s.push(&audio(0, true)).expect("ok");
        let mut n = 0;
        for i in 0..100u64 {
            if s.push(&audio(i * 23, false)).expect("ok").is_some() {
                n += 1;
            }
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let mut s = Segmenter::new(SegmenterConfig::default());
        s.push(&video(0, true, true)).expect("ok");
        let bad = MediaFrame::new(FrameKind::Video, 0, Bytes::from_static(&[0x17, 1, 0, 0, 0, 0, 0, 0, 50, 1]));
        assert!(s.push(&bad).is_err());
        let bad_seq = MediaFrame::new(FrameKind::Video, 0, Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]));
        assert!(s.push(&bad_seq).is_err());
    }
}
