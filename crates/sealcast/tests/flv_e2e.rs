//! End to end: HTTP-FLV, clear and encrypted, with ffmpeg/ffprobe, curl, `sealcast play`, 200
//! concurrent viewers and one that stops reading.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// The status of a HEAD request (a GET of a live FLV would not end).
fn head_status(server: &Server, path: &str) -> String {
    let mut s = TcpStream::connect(server.http).expect("connect");
    write!(s, "HEAD {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("write");
    let mut head = String::new();
    let _ = s.read_to_string(&mut head);
    head.split_whitespace().nth(1).unwrap_or("").to_string()
}

/// Waits until the FLV URL answers 200 to HEAD (the stream is live).
fn wait_live(server: &Server, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if head_status(server, path) == "200" {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never went live:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn first_video_frame(file: &str) -> String {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries", "frame=key_frame,pict_type"])
        .args(["-read_intervals", "%+#1", "-of", "csv", file])
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string()
}

fn capture(url: &str, secs: u32, file: &std::path::Path) {
    require("curl");
    let _ = Command::new("curl")
        .args(["-s", "--max-time", &secs.to_string(), "-o", file.to_str().expect("utf8"), url])
        .status()
        .expect("curl");
}

#[test]
fn clear_flv_plays_in_ffmpeg_over_http_and_https_h2_and_late_joiners_start_on_a_keyframe() {
    let server = Server::start("flv-clear", &[]);
    server.set_encryption("open", "none", 3600);
    let ca_file = server.localhost_certificate();
    let p = |f: &std::path::Path| f.to_str().expect("utf8").to_string();
    let pusher = push(&server.rtmp_url("open/x"), 14, true);
    wait_live(&server, "/open/x.flv");
    let url = server.http_url("/open/x.flv");
    let counter = {
        let url = url.clone();
        std::thread::spawn(move || count_frames(&url))
    };
    let decoder = {
        let url = url.clone();
        std::thread::spawn(move || decode(&url))
    };
    std::thread::sleep(Duration::from_secs(3));
    let late = server.dir.join("late.flv");
    capture(&url, 2, &late);
    assert_eq!(first_video_frame(late.to_str().expect("utf8")), "frame,1,I", "a late joiner starts on a keyframe");

    // HTTPS with HTTP/2, as curl negotiates it.
    let h2 = server.dir.join("h2.flv");
    let https_url = format!("https://localhost:{}/open/x.flv", server.https.port());
    let o = Command::new("curl")
        .args(["-s", "--http2", "--cacert", &p(&ca_file), "--max-time", "2", "-o", &p(&h2)])
        .args(["-w", "%{http_version}", &https_url])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "2", "HTTP/2 over TLS");
    assert_eq!(first_video_frame(&p(&h2)), "frame,1,I");

    // Playback credentials guard FLV like HLS.
    server.cli_ok(&["domain", "set", "localhost", "aliauth", "auth_key1=flvSecret99"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while head_status(&server, "/open/x.flv") != "403" {
        assert!(Instant::now() < deadline, "aliauth not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    let signed = server.cli_ok(&["sign", &url]).trim().to_string();
    let signed_file = server.dir.join("signed.flv");
    capture(&signed, 1, &signed_file);
    assert_eq!(first_video_frame(&p(&signed_file)), "frame,1,I", "a signed FLV URL plays");

    assert!(wait_output(pusher).status.success());
    let frames = counter.join().expect("thread").expect("ffprobe reads the live FLV") as f64;
    assert!((290.0..=350.0).contains(&frames), "{frames} frames of a 14 s stream joined at its start");
    let (ok, errors) = decoder.join().expect("thread");
    assert!(ok && errors.trim().is_empty(), "clear FLV decode errors: {errors}");
    // Not live (any more): 404 with the reason.
    let signed_path = &signed[signed.find("/open/").expect("path")..];
    let (status, body) = server.get(signed_path);
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("is not live"));
}

/// A viewer that reads everything until the stream ends; returns the bytes it got.
fn viewer(addr: SocketAddr, path: String) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("write");
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    })
}

#[test]
fn encrypted_flv_needs_the_sdk_across_a_key_rotation_while_200_viewers_keep_pace() {
    let server = Server::start("flv-enc", &[]);
    server.set_encryption("vip", "envelope", 60);
    let started = Instant::now();
    let pusher = push(&server.rtmp_url("vip/cam"), 72, true);
    wait_live(&server, "/vip/cam.flv");
    let url = server.http_url("/vip/cam.flv");

    // One viewer stops reading at once, with a small receive window.
    let stalled = {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        sock.set_recv_buffer_size(4096).expect("rcvbuf");
        sock.connect(&server.http.into()).expect("connect");
        let mut s: TcpStream = sock.into();
        write!(s, "GET /vip/cam.flv HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
        s
    };
    let viewers: Vec<_> = (0..200).map(|_| viewer(server.http, "/vip/cam.flv".into())).collect();
    let player = {
        let (url, out) = (url.clone(), server.dir.join("played.flv"));
        std::thread::spawn(move || {
            let r = sealcast(&["play", &url, "--duration", "66", "--out", out.to_str().expect("utf8")]);
            (r, out)
        })
    };
    // ffmpeg reading the FLV directly gets ciphertext.
    let raw = server.dir.join("raw.flv");
    capture(&url, 3, &raw);
    let (_, errors) = decode(raw.to_str().expect("utf8"));
    assert!(!errors.trim().is_empty(), "ffmpeg must not decode encrypted FLV cleanly");

    let out = wait_output(pusher);
    assert!(out.status.success(), "publisher failed: {}", String::from_utf8_lossy(&out.stderr));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(80), "the publisher kept real-time pace: {took:?} for 72 s");

    let ((ok, _, stderr), played) = player.join().expect("player thread");
    assert!(ok, "sealcast play failed: {stderr}");
    assert!(stderr.contains("2 key periods"), "{stderr}");
    let played = played.to_str().expect("utf8").to_string();
    let (ok, errors) = decode(&played);
    assert!(ok && errors.trim().is_empty(), "decrypted FLV decode errors: {errors}");
    let frames = count_frames(&played).expect("ffprobe reads the decrypted FLV") as f64;
    assert!((frames - 66.0 * 25.0).abs() <= 60.0, "{frames} frames for 66 s");

    let got: Vec<u64> = viewers.into_iter().map(|v| v.join().expect("viewer thread")).collect();
    let max = *got.iter().max().expect("viewers");
    let slow = got.iter().filter(|&&b| (b as f64) < max as f64 * 0.8).count();
    assert_eq!(slow, 0, "every viewer kept pace: {got:?}");
    assert!(server.wait_log("HTTP-FLV viewer fell behind", 5), "the stalled viewer was dropped:\n{}", server.log());
    drop(stalled);
}

#[test]
fn sigterm_ends_flv_bodies_and_the_server_exits_cleanly() {
    let mut server = Server::start("flv-stop", &[]);
    let pusher = push(&server.rtmp_url("live/s"), 30, true);
    wait_live(&server, "/live/s.flv");
    let v = viewer(server.http, "/live/s.flv".into());
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    assert!(server.stop(15), "graceful exit:\n{}", server.log());
    let got = v.join().expect("viewer");
    assert!(got > 0, "the viewer got data before the end");
    assert!(t.elapsed() < Duration::from_secs(10), "the FLV body ended with the shutdown: {:?}", t.elapsed());
    let _ = wait_output(pusher);
}
