#![no_main]
use libfuzzer_sys::fuzz_target;

// OCSP responses come from a network peer (the CA's responder or whoever answers for it).
fuzz_target!(|data: &[u8]| {
    let _ = sealcast_tls::ocsp::BasicResponse::parse(data);
});
