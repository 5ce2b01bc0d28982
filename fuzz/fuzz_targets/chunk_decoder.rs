#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_rtmp::ChunkDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = ChunkDecoder::new(1 << 16, 16);
    let mut buf = data;
    while let Ok(Some((n, _))) = dec.decode(buf) {
        assert!(n > 0 && n <= buf.len());
        buf = &buf[n..];
    }
});
