//! End to end: envelope (HPKE) key delivery. ffmpeg cannot get a key; `sealcast play`
//! decodes across a key rotation; a sealed response is useless to another key pair; an
//! independent HPKE implementation (pyhpke) opens what the server seals and the SDK opens
//! what pyhpke seals; the same over HTTPS with signed URLs.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use sealcast_crypto::envelope::{self, Binding, EnvelopeResponse};
use sealcast_crypto::hpke::HpkeKeyPair;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// The `ct` parameter of a key URI, decoded.
fn ct_of(key_uri: &str) -> Vec<u8> {
    let ct = key_uri.split(['?', '&']).find_map(|p| p.strip_prefix("ct=")).expect("ct");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(ct).expect("base64url")
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

#[test]
fn envelope_streams_play_only_through_the_sdk_across_a_key_rotation() {
    // A 60 s window: the ended playlist spans the 60 s key rotation.
    let server = Server::start("envelope", &["--playlist-length", "30"]);
    server.set_encryption("vip", "envelope", 60);
    let listed = server.cli_ok(&["encryption", "list"]);
    assert!(listed.contains("localhost\tvip\ttype=envelope\tkms_key_id=default\trotation=60"), "{listed}");
    let out = wait_output(push(&server.rtmp_url("vip/cam"), 72, false));
    assert!(out.status.success(), "push failed: {}", String::from_utf8_lossy(&out.stderr));
    let playlist = server.wait_playlist("/vip/cam.m3u8", 20, |p| p.contains("#EXT-X-ENDLIST"));
    assert!(playlist.contains("#EXT-X-VERSION:5"), "{playlist}");
    let segs = keyed_segments(&playlist);
    let kids: std::collections::BTreeSet<Vec<u8>> = segs.iter().map(|s| ct_of(&s.key_uri)).collect();
    assert_eq!(kids.len(), 2, "two key periods listed:\n{playlist}");
    assert!(playlist
        .lines()
        .filter(|l| l.starts_with("#EXT-X-KEY"))
        .all(|l| l.ends_with(",KEYFORMAT=\"com.sealcast.envelope\",KEYFORMATVERSIONS=\"1\"")));

    // ffmpeg has no way to the key: the raw GET is refused with the reason.
    let url = server.http_url("/vip/cam.m3u8");
    let (ok, _) = decode(&url);
    assert!(!ok, "ffmpeg must not decode an envelope stream");
    let key_path = format!("/vip/{}", segs[0].key_uri);
    let (status, body) = server.get(&key_path);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("delivered only sealed to a player"), "{body}");

    // `sealcast play` decodes the whole window across the rotation.
    let ts = server.dir.join("played.ts");
    let (ok, _, stderr) = sealcast(&["play", &url, "--out", ts.to_str().expect("utf8")]);
    assert!(ok, "sealcast play failed: {stderr}");
    assert!(stderr.contains("2 key periods"), "{stderr}");
    let listed_frames = segs.iter().map(|s| s.duration).sum::<f64>() * 25.0;
    let frames = count_frames(ts.to_str().expect("utf8")).expect("ffprobe decodes the played MPEG-TS") as f64;
    assert!((frames - listed_frames).abs() <= 2.0, "decoded {frames} frames, listed {listed_frames}");
    let (ok, errors) = decode(ts.to_str().expect("utf8"));
    assert!(ok && errors.trim().is_empty(), "decode errors: {errors}");

    // A sealed response opens only with the key pair it was sealed to.
    let player = HpkeKeyPair::generate().expect("key pair");
    let req = serde_json::to_vec(&envelope::request(&player)).expect("json");
    let (status, head, body) = http_post(server.http, &key_path, "application/json", &req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(head.contains("cache-control: no-store"), "{head}");
    let resp: EnvelopeResponse = serde_json::from_slice(&body).expect("key response");
    let ct = ct_of(&segs[0].key_uri);
    let binding = Binding { domain: "127.0.0.1", app: "vip", stream: "cam" };
    let key = envelope::open(&player, &resp, binding, &ct, now()).expect("opens for its player");
    assert_eq!(key.len(), 16);
    let eavesdropper = HpkeKeyPair::generate().expect("key pair");
    assert!(envelope::open(&eavesdropper, &resp, binding, &ct, now()).is_err(), "captured response is useless");

    // Malformed requests get precise errors.
    for (body, want) in [
        (&b"{}"[..], "invalid key request: the body must be JSON"),
        (b"{\"pk\":\"AAAA\"}", "pk must be an uncompressed P-256 public key"),
    ] {
        let (status, _, text) = http_post(server.http, &key_path, "application/json", body);
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&text).contains(want), "{}", String::from_utf8_lossy(&text));
    }
    let (status, _, _) = http_post(server.http, &key_path, "application/json", &vec![b'x'; 10_000]);
    assert_eq!(status, 413);

    // pyhpke, an independent HPKE implementation, opens what the server seals to it.
    let python = interop_python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/hpke_interop.py");
    let o = Command::new(&python)
        .args([script, "fetch", &server.http_url(&key_path), "127.0.0.1", "vip", "cam"])
        .output()
        .expect("run python");
    assert!(o.status.success(), "pyhpke fetch failed: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(unhex(String::from_utf8_lossy(&o.stdout).trim()), key.expose(), "pyhpke opened the same key");
    // And the SDK opens what pyhpke seals.
    let info = envelope::info(binding, "kid", 1);
    let o = Command::new(&python)
        .args([script, "seal", &common::hex(&player.public), &common::hex(&info), "00112233445566778899aabbccddeeff"])
        .output()
        .expect("run python");
    assert!(o.status.success(), "pyhpke seal failed: {}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let (enc, sealed) = out.trim().split_once(' ').expect("enc and ciphertext");
    let opened = player.open(&unhex(enc), &info, b"", &unhex(sealed)).expect("the SDK opens pyhpke's seal");
    assert_eq!(common::hex(opened.expose()), "00112233445566778899aabbccddeeff");
}

#[test]
fn sdk_plays_a_signed_envelope_stream_over_https_and_reports_refusals() {
    let server = Server::start("envelope-tls", &[]);
    let ca_file = server.localhost_certificate();
    let path = |p: &std::path::Path| p.to_str().expect("utf8").to_string();
    server.set_encryption("vip", "aliyun", 3600);
    server.cli_ok(&["domain", "set", "localhost", "aliauth", "auth_key1=playbackKey42"]);
    // Pushes need a credential too now.
    let push_url = server.cli_ok(&["sign", &server.rtmp_url("vip/tls"), "--domain", "localhost"]);
    let pusher = push(push_url.trim(), 8, true);

    let base = format!("https://localhost:{}/vip/tls.m3u8", server.https.port());
    let signed = server.cli_ok(&["sign", &base]).trim().to_string();
    // Wait until the stream has segments (the signed playlist answers 200).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let signed_path = &signed[signed.find("/vip/").expect("path")..];
        let (status, body) = server.get(signed_path);
        if status == 200 && String::from_utf8_lossy(&body).contains(".ts") {
            break;
        }
        assert!(Instant::now() < deadline, "no segments: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let ts = server.dir.join("tls.ts");
    let (ok, _, stderr) =
        sealcast(&["play", &signed, "--cacert", &path(&ca_file), "--duration", "4", "--out", &path(&ts)]);
    assert!(ok, "sealcast play over HTTPS failed: {stderr}");
    let frames = count_frames(&path(&ts)).expect("decodes");
    assert!(frames >= 100, "{frames} frames for 4 s");

    // Refusals are reported with the server's reason.
    let (ok, _, stderr) = sealcast(&["play", &base, "--cacert", &path(&ca_file), "--out", &path(&ts)]);
    assert!(!ok);
    assert!(stderr.contains("403") && stderr.contains("missing credential"), "{stderr}");
    // Without the test CA the certificate is not trusted.
    let (ok, _, stderr) = sealcast(&["play", &signed, "--out", &path(&ts)]);
    assert!(!ok);
    assert!(stderr.contains("TLS"), "{stderr}");
    let out = wait_output(pusher);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
