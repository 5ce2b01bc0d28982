//! End to end: the web player page (`/player/`) in real headless Chromium, driven by
//! playwright-core: it plays an envelope stream whose keys it opens with WebCrypto HPKE, plays
//! signed URLs, and says why when it cannot play.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// Opens `page` in Chromium and waits up to `max_secs` for `min_played` seconds of playback;
/// returns the page's report (tests/interop/web_player.cjs).
fn open_page(page: &str, max_secs: u32, min_played: u32) -> Value {
    require("node");
    let node_path = std::env::var("SEALCAST_TEST_NODE_PATH")
        .expect("SEALCAST_TEST_NODE_PATH is not set: run ./scripts/test, which installs playwright-core and Chromium");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/web_player.cjs");
    let o = Command::new("node")
        .args([script, page, &max_secs.to_string(), &min_played.to_string()])
        .env("NODE_PATH", node_path)
        .output()
        .expect("run node");
    assert!(o.status.success(), "web_player.cjs failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json report")
}

fn played(report: &Value) -> f64 {
    report["currentTime"].as_f64().unwrap_or(0.0)
}

#[test]
fn the_page_plays_an_envelope_stream_with_keys_sealed_to_it() {
    let server = Server::start("web-envelope", &["--playlist-length", "10"]);
    server.set_encryption("vip", "envelope", 60);
    let mut publisher = push(&server.rtmp_url("vip/class"), 40, true);
    server.wait_playlist("/vip/class.m3u8", 20, |p| p.matches("#EXTINF").count() >= 2);
    let (status, page) = server.get("/player/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("player.js"));

    let report = open_page(&server.http_url("/player/?src=/vip/class.m3u8"), 45, 4);
    assert!(played(&report) >= 4.0, "the page did not play: {report}");
    assert!(report["frames"].as_u64() > Some(50), "{report}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    let methods = report["keyMethods"].as_array().expect("key requests").clone();
    assert!(!methods.is_empty() && methods.iter().all(|m| m == "POST"), "keys only through the exchange: {report}");
    assert!(report["keys"].as_u64() >= Some(1), "{report}");
    let _ = publisher.kill();
    let _ = publisher.wait();
}

#[test]
fn the_page_plays_signed_urls_and_says_why_it_cannot_play_unsigned_ones() {
    let server = Server::start("web-signed", &["--playlist-length", "10"]);
    server.cli_ok(&[
        "domain",
        "set",
        "localhost",
        "aliauth",
        "auth_type=type_a",
        "auth_key1=WebPlayerKey123",
        "ali_auth_delta=1800",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.get("/live/x.m3u8").0 != 403 {
        assert!(std::time::Instant::now() < deadline, "aliauth not applied");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sign = |url: &str| server.cli_ok(&["sign", url, "--domain", "localhost"]).trim().to_string();
    let mut publisher = push(&sign(&server.rtmp_url("live/lesson")), 40, true);
    let signed = sign(&server.http_url("/live/lesson.m3u8"));
    let path = &signed[signed.find("/live/").expect("path")..];
    server.wait_playlist(path, 20, |p| p.matches("#EXTINF").count() >= 2);

    let encoded: String = path
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let report = open_page(&server.http_url(&format!("/player/?src={encoded}")), 45, 3);
    assert!(played(&report) >= 3.0, "a signed URL plays: {report}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");

    let report = open_page(&server.http_url("/player/?src=/live/lesson.m3u8"), 30, 3);
    assert!(played(&report) < 1.0, "{report}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("playback failed: manifestLoadError"), "the page says why: {report}");
    let _ = publisher.kill();
    let _ = publisher.wait();
}
