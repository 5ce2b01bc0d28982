#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_media::flv::{avcc_nalus, parse_aac_packet, parse_avc_packet, video_codec, AacConfig, AvcConfig};

fuzz_target!(|data: &[u8]| {
    let _ = video_codec(data);
    let _ = AacConfig::parse(data);
    if let Ok(c) = AvcConfig::parse(data) {
        for n in avcc_nalus(data, c.nalu_length_size) {
            let _ = n;
        }
    }
    if let Ok(p) = parse_avc_packet(data) {
        let _ = avcc_nalus(p.data, 4).count();
    }
    let _ = parse_aac_packet(data);
});
