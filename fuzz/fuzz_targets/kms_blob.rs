#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = sealcast_kms::blob::parse(data) {
        assert!(b.header.len() < data.len());
        assert!(!b.key_id.is_empty() && !b.version_id.is_empty());
    }
});
