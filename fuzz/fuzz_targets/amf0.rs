#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_media::amf0::{decode_all, encode_all};

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = decode_all(data) {
        // Whatever decodes re-encodes and decodes to the same values (NaN aside).
        let again = decode_all(&encode_all(&values));
        assert!(again.is_ok());
    }
});
