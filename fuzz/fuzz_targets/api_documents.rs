#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // JSON documents an API caller sends: RAM policies, EncryptParameters, and the wildcard
    // matcher policies use. None may panic; a parsed policy must evaluate.
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(doc) = sealcast_api::iam::PolicyDocument::parse(text) {
        let resources = vec!["acs:live:local:sealcast:domain/a.example.com".to_string()];
        let _ = sealcast_api::iam::evaluate(&[doc], "live:AddLiveDomain", &resources);
    }
    let _ = sealcast_domains::EncryptParameters::parse(text);
    let (pattern, subject) = text.split_once('\n').unwrap_or((text, ""));
    let _ = sealcast_api::iam::wildcard_match(pattern, subject, true);
});
