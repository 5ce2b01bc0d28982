#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_rtmp::{Event, ServerConfig, ServerSession, HANDSHAKE_SIZE};

fuzz_target!(|data: &[u8]| {
    // A valid handshake, then fuzzed chunk data delivered in two pieces.
    let mut s = ServerSession::new(ServerConfig::default(), 1);
    let mut hs = vec![3u8];
    hs.extend(std::iter::repeat_n(0u8, 2 * HANDSHAKE_SIZE));
    if s.feed(&hs).is_err() {
        return;
    }
    let mid = data.len() / 2;
    for part in [&data[..mid], &data[mid..]] {
        if s.feed(part).is_err() {
            return;
        }
        while let Some(ev) = s.poll_event() {
            if let Event::Publish(p) = ev {
                s.accept_publish(p.stream_id, "ok");
            }
        }
        let _ = s.take_output();
    }
});
