#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sealcast_media::frame::{FrameKind, MediaFrame};
use sealcast_media::hls::segmenter::{Segmenter, SegmenterConfig};

fuzz_target!(|data: &[u8]| {
    // Input: a sequence of [kind, ts_delta, len, body...] records.
    let mut s = Segmenter::new(SegmenterConfig { target_duration_ms: 100, ..SegmenterConfig::default() });
    let mut rest = data;
    let mut ts = 0u64;
    while rest.len() >= 3 {
        let kind = match rest[0] % 3 {
            0 => FrameKind::Video,
            1 => FrameKind::Audio,
            _ => FrameKind::Script,
        };
        ts += rest[1] as u64;
        let len = (rest[2] as usize).min(rest.len() - 3);
        let body = Bytes::copy_from_slice(&rest[3..3 + len]);
        rest = &rest[3 + len..];
        if let Ok(Some(seg)) = s.push(&MediaFrame::new(kind, ts, body)) {
            assert_eq!(seg.data.len() % 188, 0);
        }
    }
    if let Some(seg) = s.finish() {
        assert_eq!(seg.data.len() % 188, 0);
    }
});
