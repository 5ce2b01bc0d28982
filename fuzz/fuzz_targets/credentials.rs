#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_auth::{AuthType, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (path, query) = text.split_once('?').map_or((text, None), |(p, q)| (p, Some(q)));
    for t in [AuthType::TypeA, AuthType::TypeB, AuthType::TypeC] {
        if let Ok(p) = Policy::new(t, "fuzzingkey1", Some("fuzzingkey2"), 1800) {
            if let Ok(v) = p.verify(path, query, 1_700_000_000) {
                // Whatever verifies signs its children.
                if let Some(t) = v.token {
                    let _ = t.sign("/live/x/1-1.ts");
                }
            }
        }
    }
});
