#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_media::hls::parse::parse_playlist;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_playlist(text);
    }
});
