#![no_main]
use libfuzzer_sys::fuzz_target;
use sealcast_media::flv_crypt::{encrypted_from, KeyAnnouncement};
use sealcast_media::flv_stream::FlvReader;

fuzz_target!(|data: &[u8]| {
    // What a player reads from an HTTP-FLV server, in arbitrary chunks.
    let mut r = FlvReader::new();
    for chunk in data.chunks(97) {
        r.push(chunk);
        while let Ok(Some(tag)) = r.next_tag() {
            let _ = encrypted_from(tag.tag_type, &tag.body);
            if tag.tag_type == 18 {
                let _ = KeyAnnouncement::from_script_body(&tag.body);
            }
        }
    }
});
