//! End to end: ffmpeg publishes RTMP, ffmpeg/ffprobe/openssl consume the encrypted HLS.

mod common;

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use common::*;

const FPS: f64 = 25.0;

fn ended(p: &str) -> bool {
    p.contains("#EXT-X-ENDLIST")
}

fn listed_frames(playlist: &str) -> f64 {
    keyed_segments(playlist).iter().map(|s| s.duration).sum::<f64>() * FPS
}

#[test]
fn encrypted_hls_plays_live_and_after_the_end_with_expected_frames() {
    let mut server = Server::start("play", &[]);
    let pusher = push(&server.rtmp_url("live/x"), 8, true);
    let live = server.wait_playlist("/live/x.m3u8", 20, |p| p.contains(".ts"));
    assert!(live.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"x/key?"), "{live}");
    assert!(live.contains("#EXT-X-TARGETDURATION:2"), "{live}");
    // A live viewer follows the stream until EXT-X-ENDLIST.
    let url = server.http_url("/live/x.m3u8");
    let viewer = std::thread::spawn(move || decode(&url));
    let out = wait_output(pusher);
    assert!(out.status.success(), "ffmpeg push failed: {}", String::from_utf8_lossy(&out.stderr));
    let fin = server.wait_playlist("/live/x.m3u8", 10, ended);
    let (ok, errors) = viewer.join().expect("viewer thread");
    assert!(ok && errors.trim().is_empty(), "live decode errors: {errors}");

    let frames = count_frames(&server.http_url("/live/x.m3u8")).expect("ffprobe decodes the ended playlist") as f64;
    assert!((frames - 200.0).abs() <= 50.0, "decoded {frames} frames of 8 s at 25 fps\n{fin}");
    assert!((frames - listed_frames(&fin)).abs() <= 2.0, "frames match the playlist durations");

    // Content types and cache policy.
    let (_, head, _) = http_get_full(server.http, "/live/x.m3u8");
    assert!(head.contains("content-type: application/vnd.apple.mpegurl"), "{head}");
    let seg = &keyed_segments(&fin)[0];
    let (status, head, _) = http_get_full(server.http, &format!("/live/{}", seg.segment_uri));
    assert_eq!(status, 200);
    assert!(head.contains("content-type: video/mp2t") && head.contains("max-age=86400"), "{head}");
    let (status, head, key) = http_get_full(server.http, &format!("/live/{}", seg.key_uri));
    assert_eq!((status, key.len()), (200, 16));
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(server.stop(15), "graceful exit");
}

#[test]
fn raw_segment_is_ciphertext_and_openssl_decrypts_it_with_the_served_key() {
    require("openssl");
    let server = Server::start("openssl", &[]);
    assert!(wait_output(push(&server.rtmp_url("live/raw"), 5, false)).status.success());
    let pl = server.wait_playlist("/live/raw.m3u8", 10, ended);
    let seg = keyed_segments(&pl).into_iter().next().expect("a segment");
    let (status, data) = server.get(&format!("/live/{}", seg.segment_uri));
    assert_eq!(status, 200);
    let enc = write_file(&server.dir, "enc.ts", &data);
    let enc_s = enc.to_str().expect("utf8");
    assert!(count_frames(enc_s).is_err(), "an encrypted segment must not decode");

    let (status, key) = server.get(&format!("/live/{}", seg.key_uri));
    assert_eq!((status, key.len()), (200, 16));
    let dec = server.dir.join("dec.ts");
    let o = Command::new("openssl")
        .args([
            "aes-128-cbc",
            "-d",
            "-K",
            &hex(&key),
            "-iv",
            &seg.iv_hex,
            "-in",
            enc_s,
            "-out",
            dec.to_str().expect("utf8"),
        ])
        .output()
        .expect("run openssl");
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
    let frames = count_frames(dec.to_str().expect("utf8")).expect("decrypted segment is a valid TS");
    assert!(frames >= 25, "decrypted segment has {frames} frames");

    // A key request for another stream's path, or a tampered blob, gets nothing.
    // The blob is bound to its stream: presented for another stream it does not unwrap.
    let (status, body) = server.get(&format!("/live/{}", seg.key_uri.replacen("raw/key", "other/key", 1)));
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("encryption context does not match"));
    // A tampered blob is refused too.
    let tampered = if seg.key_uri.ends_with('A') {
        format!("{}B", &seg.key_uri[..seg.key_uri.len() - 1])
    } else {
        format!("{}A", &seg.key_uri[..seg.key_uri.len() - 1])
    };
    let (status, body) = server.get(&format!("/live/{tampered}"));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn key_rotation_adds_key_lines_and_playback_decodes_across_the_change() {
    let server = Server::start("rotate", &["--key-rotation-interval", "60", "--playlist-length", "10"]);
    // 66 s of media pushed faster than real time: a key period covers at most 60 s of media.
    let out = wait_output(push(&server.rtmp_url("live/rot"), 66, false));
    assert!(out.status.success(), "push: {}", String::from_utf8_lossy(&out.stderr));
    let pl = server.wait_playlist("/live/rot.m3u8", 20, ended);
    let keys: std::collections::BTreeSet<String> = keyed_segments(&pl).into_iter().map(|s| s.key_uri).collect();
    assert!(keys.len() >= 2, "expected a key change in the window:\n{pl}");
    let (ok, errors) = decode(&server.http_url("/live/rot.m3u8"));
    assert!(ok && errors.trim().is_empty(), "decode across rotation: {errors}");
    let frames = count_frames(&server.http_url("/live/rot.m3u8")).expect("ffprobe") as f64;
    assert!((frames - listed_frames(&pl)).abs() <= 50.0, "{frames} frames vs playlist {}", listed_frames(&pl));
}

#[test]
fn endlist_on_stop_discontinuity_on_republish_and_duplicate_publish_refused() {
    let server = Server::start("lifecycle", &[]);
    let first = push(&server.rtmp_url("live/dup"), 6, true);
    server.wait_playlist("/live/dup.m3u8", 20, |p| p.contains(".ts"));
    let second = wait_output(push(&server.rtmp_url("live/dup"), 3, true));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "a second publisher must be refused");
    assert!(err.contains("already publishing"), "ffmpeg shows the reason: {err}");
    assert!(server.wait_log("is already publishing", 5), "refusal logged: {}", server.log());
    assert!(wait_output(first).status.success());
    let pl = server.wait_playlist("/live/dup.m3u8", 10, ended);
    assert!(!pl.contains("#EXT-X-DISCONTINUITY"), "{pl}");

    assert!(wait_output(push(&server.rtmp_url("live/dup"), 4, false)).status.success());
    let pl = server.wait_playlist("/live/dup.m3u8", 10, |p| ended(p) && p.contains("#EXT-X-DISCONTINUITY\n"));
    assert_eq!(pl.matches("#EXT-X-ENDLIST").count(), 1);
    let (ok, errors) = decode(&server.http_url("/live/dup.m3u8"));
    assert!(ok, "decode across the discontinuity: {errors}");
}

#[test]
fn no_plaintext_data_key_in_data_dir_database_or_logs() {
    let mut server = Server::start("nokeys", &["--key-rotation-interval", "60"]);
    assert!(wait_output(push(&server.rtmp_url("live/k"), 70, false)).status.success());
    assert!(wait_output(push(&server.rtmp_url("live/k2"), 4, false)).status.success());
    let mut keys = Vec::new();
    for stream in ["k", "k2"] {
        let pl = server.wait_playlist(&format!("/live/{stream}.m3u8"), 20, ended);
        let uris: std::collections::BTreeSet<String> = keyed_segments(&pl).into_iter().map(|s| s.key_uri).collect();
        for uri in uris {
            let (status, key) = server.get(&format!("/live/{uri}"));
            assert_eq!((status, key.len()), (200, 16));
            keys.push(key);
        }
    }
    assert!(keys.len() >= 3, "several data keys obtained");
    assert!(server.stop(15), "graceful exit");
    let log = server.log();
    let mut files = Vec::new();
    let mut stack = vec![server.dir.join("data")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push((p.display().to_string(), std::fs::read(&p).expect("read")));
            }
        }
    }
    assert!(
        files.iter().any(|(n, _)| n.ends_with("sealcast.db")),
        "database present: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    files.push(("log".into(), log.into_bytes()));
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for key in &keys {
        let mut needles: Vec<Vec<u8>> = vec![key.clone(), hex(key).into_bytes(), hex(key).to_uppercase().into_bytes()];
        needles.extend(engines.iter().map(|e| e.encode(key).into_bytes()));
        for (name, content) in &files {
            for n in &needles {
                assert!(!content.windows(n.len()).any(|w| w == n.as_slice()), "a plaintext data key appears in {name}");
            }
        }
    }
}

#[test]
fn sigterm_closes_publishers_and_finalizes_playlists() {
    let mut server = Server::start("shutdown", &[]);
    let pusher = push(&server.rtmp_url("live/s"), 60, true);
    server.wait_playlist("/live/s.m3u8", 20, |p| p.contains(".ts"));
    assert!(server.stop(15), "sealcast exits 0 on SIGTERM");
    let log = server.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("HLS packaging ended"), "playlist finalized with EXT-X-ENDLIST: {log}");
    let mut pusher = pusher;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pusher.try_wait().expect("wait").is_none() {
        assert!(std::time::Instant::now() < deadline, "publisher connection was not closed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unknown_paths_methods_and_streams_get_clear_errors() {
    let server = Server::start("errors", &[]);
    let (status, body) = server.get("/live/nothing.m3u8");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("not live"));
    assert_eq!(server.get("/").0, 404);
    let (status, body) = server.get("/live/x/key?d=localhost&ct=!!!");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("base64url"));
    let (status, body) = server.get("/live/x/key?d=localhost&ct=AAAA");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _) = server.get_api("/healthz");
    assert_eq!(status, 200);
}
