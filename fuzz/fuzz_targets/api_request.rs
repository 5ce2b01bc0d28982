#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_openapi::{decode_form, v1, v3};

fuzz_target!(|data: &[u8]| {
    // What an API client controls before its signature is checked.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (head, rest) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(auth) = v3::Authorization::parse(head) {
        if let Ok(q) = decode_form(rest) {
            let _ = v3::verify("secret", &auth, "POST", "/", &q, &q, rest.as_bytes());
        }
    }
    if let Ok(params) = decode_form(text) {
        let _ = v1::verify("secret", "GET", &params);
    }
});
