#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_crypto::envelope::parse_request;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data);
});
