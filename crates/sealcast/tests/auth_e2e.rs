//! End to end: playback credentials (aliauth types A, B and C) on publish, playlists,
//! segments and keys, with ffmpeg as publisher and player and the `sealcast sign` CLI.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use sealcast_auth::{AuthType, Policy};

const KEY1: &str = "primarykey1";
const KEY2: &str = "backupkey2";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// Sets aliauth on the default domain and waits until the running server applies it.
fn set_auth(server: &Server, args: &[&str], probe: &str, want: u16) {
    let mut cli = vec!["domain", "set", "localhost", "aliauth"];
    cli.extend_from_slice(args);
    server.cli_ok(&cli);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.get(probe).0 != want {
        assert!(Instant::now() < deadline, "aliauth {args:?} not applied within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `sealcast sign URL --domain localhost [extra…]`.
fn sign(server: &Server, url: &str, extra: &[&str]) -> String {
    let mut args = vec!["sign", url, "--domain", "localhost"];
    args.extend_from_slice(extra);
    server.cli_ok(&args).trim().to_string()
}

/// The path and query of a URL.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").expect("scheme").1;
    &rest[rest.find('/').expect("path")..]
}

fn body(r: (u16, Vec<u8>)) -> (u16, String) {
    (r.0, String::from_utf8_lossy(&r.1).into_owned())
}

#[test]
fn type_a_guards_publish_playlists_segments_and_keys() {
    let server = Server::start("auth-a", &[]);
    set_auth(
        &server,
        &["auth_type=type_a", &format!("auth_key1={KEY1}"), &format!("auth_key2={KEY2}"), "ali_auth_delta=1800"],
        "/live/a.m3u8",
        403,
    );

    // Publishing without a credential, or with a forged one, is refused.
    let out = wait_output(push(&server.rtmp_url("live/a"), 2, false));
    assert!(!out.status.success(), "an unsigned publish must fail");
    assert!(server.wait_log("publish refused: missing credential", 5), "{}", server.log());
    let forged = format!("{}?auth_key={}-0-0-0123456789abcdef0123456789abcdef", server.rtmp_url("live/a"), now());
    assert!(!wait_output(push(&forged, 2, false)).status.success(), "a forged publish must fail");
    assert!(server.wait_log("publish refused: credential signature does not match", 5));

    // A signed publish URL works.
    let push_url = sign(&server, &server.rtmp_url("live/a"), &[]);
    assert!(push_url.contains("?auth_key="), "{push_url}");
    let pusher = push(&push_url, 6, false);
    let out = wait_output(pusher);
    assert!(out.status.success(), "signed publish failed: {}", String::from_utf8_lossy(&out.stderr));

    // Playlists need a credential; the reason says which and never shows a key.
    let (status, text) = body(server.get("/live/a.m3u8"));
    assert_eq!(status, 403);
    assert!(text.contains("missing credential: this domain requires type_a URL signing"), "{text}");
    let url = sign(&server, &server.http_url("/live/a.m3u8"), &[]);
    let (status, head, playlist) = http_get_full(server.http, path_of(&url));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&playlist));
    assert!(head.contains("cache-control: no-store"), "{head}");
    let playlist = String::from_utf8(playlist).expect("utf8");
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    // Every listed URI is an absolute, signed path with the playlist's expiry.
    let ts = path_of(&url).split("auth_key=").nth(1).and_then(|v| v.split('-').next()).expect("timestamp");
    let segs = keyed_segments(&playlist);
    assert!(!segs.is_empty());
    for s in &segs {
        for uri in [&s.segment_uri, &s.key_uri] {
            assert!(uri.starts_with("/live/a/") && uri.contains(&format!("auth_key={ts}-0-0-")), "{uri}");
        }
    }

    // ffmpeg plays the signed URL as is: segments and keys carry their own credentials.
    let (ok, errors) = decode(&url);
    assert!(ok && errors.trim().is_empty(), "signed playback failed: {errors}");

    // Segments and keys without their credential, or with another path's, are refused.
    let seg = &segs[0];
    let bare_seg = seg.segment_uri.split('?').next().expect("path");
    assert_eq!(server.get(bare_seg).0, 403);
    let bare_key = seg.key_uri.split("&auth_key=").next().expect("key without credential");
    let (status, text) = body(server.get(bare_key));
    assert_eq!(status, 403, "{text}");
    let stolen = format!("{bare_key}&auth_key={}", seg.segment_uri.split("auth_key=").nth(1).expect("seg auth"));
    let (status, text) = body(server.get(&stolen));
    assert_eq!((status, text.trim()), (403, "forbidden: credential signature does not match"));
    assert_eq!(server.get(&seg.key_uri).1.len(), 16, "the listed key URI works");
    // A key credential that expired cannot fetch the key.
    let old_key = sign(&server, &server.http_url(bare_key), &["--at", &(now() - 1801).to_string()]);
    let (status, text) = body(server.get(path_of(&old_key)));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("credential expired at"), "{text}");

    // Expired and tampered credentials.
    let old = sign(&server, &server.http_url("/live/a.m3u8"), &["--at", &(now() - 1801).to_string()]);
    let (status, text) = body(server.get(path_of(&old)));
    assert_eq!(status, 403);
    assert!(text.contains("credential expired at"), "{text}");
    let mut tampered = path_of(&url).to_string();
    let last = tampered.pop().expect("char");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(body(server.get(&tampered)).1.trim(), "forbidden: credential signature does not match");

    // The backup key is accepted as well (key rotation).
    let backup = Policy::new(AuthType::TypeA, KEY2, None, 1800).expect("policy");
    let signed = backup.sign("/live/a.m3u8", now(), "4f2a", "7");
    let (status, text) = body(server.get(&signed.to_string()));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("-4f2a-7-"), "children keep rand and uid: {text}");

    // No response ever carries a key.
    let log = server.log();
    assert!(!log.contains(KEY1) && !log.contains(KEY2), "a signing key reached the log");
}

#[test]
fn type_b_and_type_c_credentials_play_in_ffmpeg() {
    let server = Server::start("auth-bc", &[]);
    let out = wait_output(push(&server.rtmp_url("live/b"), 4, false));
    assert!(out.status.success());
    server.wait_playlist("/live/b.m3u8", 10, |p| p.contains("#EXT-X-ENDLIST"));

    set_auth(&server, &["auth_type=type_b", &format!("auth_key1={KEY1}")], "/live/b.m3u8", 403);
    let url = sign(&server, &server.http_url("/live/b.m3u8"), &[]);
    assert!(path_of(&url).split('/').nth(1).is_some_and(|t| t.len() == 12), "type B prefix: {url}");
    let (status, playlist) = body(server.get(path_of(&url)));
    assert_eq!(status, 200, "{playlist}");
    let (ok, errors) = decode(&url);
    assert!(ok && errors.trim().is_empty(), "type B playback failed: {errors}");
    // A type B publish cannot carry its credential, and says so.
    assert!(!wait_output(push(&server.rtmp_url("live/b2"), 1, false)).status.success());
    assert!(server.wait_log("RTMP URLs cannot carry", 5), "{}", server.log());

    set_auth(&server, &["auth_type=type_c", &format!("auth_key1={KEY1}")], path_of(&url), 403);
    let url = sign(&server, &server.http_url("/live/b.m3u8"), &[]);
    let (ok, errors) = decode(&url);
    assert!(ok && errors.trim().is_empty(), "type C playback failed: {errors}");
    // The query form (KEY1/KEY2) works too, and its playlist lists query-signed URIs.
    let c = Policy::new(AuthType::TypeC, KEY1, None, 1800).expect("policy");
    let q = c.sign("/live/b.m3u8", now(), "0", "0");
    let hexts = q.path.split('/').nth(2).expect("hex timestamp").to_string();
    let hash = q.path.split('/').nth(1).expect("hash").to_string();
    let (status, text) = body(server.get(&format!("/live/b.m3u8?KEY1={hash}&KEY2={hexts}")));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&format!("&KEY2={hexts}")), "{text}");
    let seg = &keyed_segments(&text)[0];
    assert_eq!(server.get(&seg.segment_uri).0, 200);
    assert_eq!(server.get(&seg.key_uri).1.len(), 16);

    // no_auth turns it off again; the plain playlist is cacheable and unsigned.
    set_auth(&server, &["auth_type=no_auth"], "/live/b.m3u8", 200);
    let (_, head, _) = http_get_full(server.http, "/live/b.m3u8");
    assert!(head.contains("cache-control: max-age=10"), "{head}");
}
