//! The media unit that flows from ingest through the hub to every packager.
//!
//! Frames carry FLV tag *bodies* unchanged (what RTMP audio/video messages contain), so an
//! HTTP-FLV consumer can forward them as they are and an HLS packager parses them with
//! [`crate::flv`].

use bytes::Bytes;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Audio,
    Video,
    /// Script data such as `onMetaData` (AMF0).
    Script,
}

/// One audio/video/script message of a live stream.
#[derive(Debug, Clone)]
pub struct MediaFrame {
    pub kind: FrameKind,
    /// Decode timestamp in milliseconds since the start of the publish session, extended past
    /// RTMP's 32-bit wrap.
    pub timestamp: u64,
    /// FLV tag body (for video: frame type/codec byte, AVC packet type, composition time, data).
    pub data: Bytes,
    /// A video keyframe (random access point) carrying coded data.
    pub keyframe: bool,
    /// A codec sequence header (AVCDecoderConfigurationRecord or AudioSpecificConfig).
    pub sequence_header: bool,
}

impl MediaFrame {
    /// Classifies an FLV tag body as it arrives from a publisher.
    pub fn new(kind: FrameKind, timestamp: u64, data: Bytes) -> MediaFrame {
        let (keyframe, sequence_header) = match kind {
            FrameKind::Video => {
                let b0 = data.first().copied().unwrap_or(0);
                let b1 = data.get(1).copied().unwrap_or(0xff);
                let legacy_avc = b0 & 0x0f == 7;
                let seq = legacy_avc && b1 == 0;
                (!seq && b0 >> 4 == 1, seq)
            }
            FrameKind::Audio => {
                let aac = data.first().map(|b| b >> 4) == Some(10);
                (false, aac && data.get(1) == Some(&0))
            }
            FrameKind::Script => (false, false),
        };
        MediaFrame { kind, timestamp, data, keyframe, sequence_header }
    }
}

/// Extends 32-bit millisecond timestamps (RTMP messages, FLV tags) to 64 bits (wrap after ~49.7 days), tolerating
/// the small backwards steps interleaved audio and video make.
#[derive(Debug, Default)]
pub struct TimestampExtender {
    last: Option<(u32, u64)>,
}

impl TimestampExtender {
    pub fn extend(&mut self, ts: u32) -> u64 {
        let ext = match self.last {
            None => ts as u64,
            Some((raw, ext)) => (ext as i64 + ts.wrapping_sub(raw) as i32 as i64).max(0) as u64,
        };
        self.last = Some((ts, ext));
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_tags() {
        let kf = MediaFrame::new(FrameKind::Video, 0, Bytes::from_static(&[0x17, 1, 0, 0, 0]));
        assert!(kf.keyframe && !kf.sequence_header);
        let sh = MediaFrame::new(FrameKind::Video, 0, Bytes::from_static(&[0x17, 0, 0, 0, 0]));
        assert!(!sh.keyframe && sh.sequence_header);
        let inter = MediaFrame::new(FrameKind::Video, 0, Bytes::from_static(&[0x27, 1, 0, 0, 0]));
        assert!(!inter.keyframe);
        let ash = MediaFrame::new(FrameKind::Audio, 0, Bytes::from_static(&[0xaf, 0, 0x12, 0x10]));
        assert!(ash.sequence_header);
        let empty = MediaFrame::new(FrameKind::Video, 0, Bytes::new());
        assert!(!empty.keyframe && !empty.sequence_header);
    }

    #[test]
    fn timestamps_extend_past_wrap_and_tolerate_small_steps_back() {
        let mut t = TimestampExtender::default();
        assert_eq!(t.extend(1000), 1000);
        assert_eq!(t.extend(980), 980);
        // Walk up to the wrap in realistic steps, then across it.
        let mut raw = 980u32;
        let mut ext = 980u64;
        while raw < u32::MAX - 40 {
            let step = (u32::MAX - 40 - raw).min(1 << 30);
            raw += step;
            ext += step as u64;
            assert_eq!(t.extend(raw), ext);
        }
        assert_eq!(t.extend(raw.wrapping_add(100)), ext + 100, "crosses the 32-bit wrap");
    }
}
