#![no_main]
use libfuzzer_sys::fuzz_target;

// Uploaded certificate chains and keys: any text, never a panic.
fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (cert, key) = text.split_once("\n--KEY--\n").unwrap_or((&text, ""));
    let _ = sealcast_tls::validate::describe(cert);
    if let Ok(domain) = sealcast_tls::DomainName::parse("play.example.com") {
        let _ = sealcast_tls::validate(&domain, cert, key, Some(1_800_000_000));
    }
});
