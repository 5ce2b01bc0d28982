//! End to end: transcoding templates set through the control API produce renditions
//! (`{stream}_{template}`) that ffprobe sees at the template's size and rate, encrypted like
//! their source; bad templates are refused when set, not when a stream arrives.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const AK: &str = "SCAKtranscodeAdmin001";
const SECRET: &str = "transcodeAdminSecret42";
const BOOTSTRAP: &[(&str, &str)] =
    &[("SEALCAST_BOOTSTRAP_ACCESS_KEY_ID", AK), ("SEALCAST_BOOTSTRAP_ACCESS_KEY_SECRET", SECRET)];

fn api(server: &Server, args: &[&str]) -> (bool, Value) {
    let (ok, v, _) = api_call(server, AK, SECRET, args);
    (ok, v)
}

/// ffprobe's streams of a URL.
fn streams(url: &str) -> Vec<Value> {
    require("ffprobe");
    let o =
        Command::new("ffprobe").args(["-v", "error", "-show_streams", "-of", "json", url]).output().expect("ffprobe");
    assert!(o.status.success(), "ffprobe {url}: {}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    v["streams"].as_array().cloned().unwrap_or_default()
}

fn video(streams: &[Value]) -> Option<&Value> {
    streams.iter().find(|s| s["codec_type"] == "video")
}

#[test]
fn templates_publish_renditions_at_their_size_encrypted_like_the_source() {
    let server = Server::start_env("transcode", &[], BOOTSTRAP);
    let templates: [&[&str]; 3] = [
        &["AddLiveStreamTranscode", "--Domain", "localhost", "--App", "live", "--Template", "lld"],
        &[
            "AddCustomLiveStreamTranscode",
            "--Domain",
            "localhost",
            "--App",
            "live",
            "--Template",
            "tiny",
            "--TemplateType",
            "h264",
            "--Height",
            "144",
            "--FPS",
            "10",
            "--VideoBitrate",
            "200",
        ],
        &[
            "AddCustomLiveStreamTranscode",
            "--Domain",
            "localhost",
            "--App",
            "live",
            "--Template",
            "voice",
            "--TemplateType",
            "audio",
            "--AudioBitrate",
            "48",
        ],
    ];
    for t in templates {
        let (ok, v) = api(&server, t);
        assert!(ok, "{t:?}: {v}");
    }
    let (ok, v) =
        api(&server, &["AddLiveStreamTranscode", "--Domain", "localhost", "--App", "live", "--Template", "fancy"]);
    assert!(!ok && v["Code"] == "InvalidParameter", "unknown standard template: {v}");
    let (ok, v) = api(
        &server,
        &[
            "AddCustomLiveStreamTranscode",
            "--Domain",
            "localhost",
            "--App",
            "live",
            "--Template",
            "huge",
            "--TemplateType",
            "h264",
            "--Height",
            "99999",
        ],
    );
    assert!(!ok && v["Code"] == "InvalidParameter" && v["Message"].as_str().unwrap_or("").contains("Height"), "{v}");
    let (ok, v) = api(
        &server,
        &[
            "AddCustomLiveStreamTranscode",
            "--Domain",
            "localhost",
            "--App",
            "live",
            "--Template",
            "lsd",
            "--TemplateType",
            "h264",
        ],
    );
    assert!(!ok && v["Code"] == "InvalidParameter", "default names are reserved: {v}");

    // The push is 320x240 at 25 fps.
    let out = wait_output(push(&server.rtmp_url("live/cam"), 6, true));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["cam_tiny", "cam_lld", "cam_voice"] {
        let playlist = server.wait_playlist(&format!("/live/{name}.m3u8"), 30, |p| p.contains("#EXT-X-ENDLIST"));
        assert!(playlist.contains("#EXT-X-KEY:METHOD=AES-128"), "{name} is encrypted like its source:\n{playlist}");
    }
    let tiny = streams(&server.http_url("/live/cam_tiny.m3u8"));
    let v = video(&tiny).expect("tiny has video");
    assert_eq!((v["codec_name"].as_str(), v["height"].as_u64()), (Some("h264"), Some(144)), "{tiny:?}");
    assert_eq!(v["width"].as_u64(), Some(192), "the aspect ratio is kept");
    assert!(v["r_frame_rate"] == "10/1" || v["avg_frame_rate"] == "10/1", "{v}");
    assert!(tiny.iter().any(|s| s["codec_type"] == "audio"), "{tiny:?}");
    let frames = count_frames(&server.http_url("/live/cam_tiny.m3u8")).expect("decodes");
    assert!((30..=70).contains(&frames), "about 6 s at 10 fps, got {frames}");

    let lld = streams(&server.http_url("/live/cam_lld.m3u8"));
    assert_eq!(video(&lld).and_then(|v| v["height"].as_u64()), Some(240), "never scaled up: {lld:?}");
    let voice = streams(&server.http_url("/live/cam_voice.m3u8"));
    assert!(video(&voice).is_none() && voice.iter().any(|s| s["codec_name"] == "aac"), "audio only: {voice:?}");
    assert!(count_frames(&server.http_url("/live/cam.m3u8")).expect("source decodes") > 100, "the source is untouched");
    let log = server.log();
    assert_eq!(log.matches("transcoding started").count(), 3, "{log}");
    assert!(server.wait_log("transcoding ended", 10), "{log}");
}

#[test]
fn a_missing_ffmpeg_fails_the_rendition_not_the_stream() {
    let server = Server::start_env(
        "transcode-noffmpeg",
        &[],
        &[BOOTSTRAP[0], BOOTSTRAP[1], ("SEALCAST_TRANSCODE_FFMPEG", "/nonexistent/ffmpeg")],
    );
    let (ok, v) =
        api(&server, &["AddLiveStreamTranscode", "--Domain", "localhost", "--App", "live", "--Template", "lld"]);
    assert!(ok, "{v}");
    let out = wait_output(push(&server.rtmp_url("live/cam"), 3, true));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.log().contains("transcoding templates will fail until ffmpeg can run"), "warned at start");
    assert!(server.wait_log("transcoding failed", 10), "{}", server.log());
    assert!(server.log().contains("cannot start /nonexistent/ffmpeg"), "{}", server.log());
    assert!(count_frames(&server.http_url("/live/cam.m3u8")).expect("source decodes") > 30);
}

#[test]
fn a_rendition_can_be_kicked_and_forbidden_while_its_source_plays_on() {
    let server = Server::start_env("transcode-kick", &[], BOOTSTRAP);
    let (ok, v) =
        api(&server, &["AddLiveStreamTranscode", "--Domain", "localhost", "--App", "live", "--Template", "ld"]);
    assert!(ok, "{v}");
    let mut publisher = push(&server.rtmp_url("live/cam"), 30, true);
    server.wait_playlist("/live/cam_ld.m3u8", 20, |p| p.contains("#EXTINF"));
    let (ok, v) = api(
        &server,
        &[
            "ForbidLiveStream",
            "--DomainName",
            "localhost",
            "--AppName",
            "live",
            "--StreamName",
            "cam_ld",
            "--LiveStreamType",
            "publisher",
        ],
    );
    assert!(ok, "{v}");
    server.wait_playlist("/live/cam_ld.m3u8", 10, |p| p.contains("#EXT-X-ENDLIST"));
    assert!(server.wait_log("rendition ended by the server", 5), "{}", server.log());
    let (status, source) = server.get("/live/cam.m3u8");
    assert!(status == 200 && !String::from_utf8_lossy(&source).contains("#EXT-X-ENDLIST"), "the source plays on");
    let _ = publisher.kill();
    let _ = publisher.wait();

    // Forbidden, the rendition stays off on the next publish; resumed, it is back.
    let out = wait_output(push(&server.rtmp_url("live/cam"), 3, true));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.wait_log("live/cam_ld is forbidden on localhost", 10), "{}", server.log());
    let (ok, v) =
        api(&server, &["ResumeLiveStream", "--DomainName", "localhost", "--AppName", "live", "--StreamName", "cam_ld"]);
    assert!(ok, "{v}");
    let out = wait_output(push(&server.rtmp_url("live/again"), 3, true));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    server.wait_playlist("/live/again_ld.m3u8", 20, |p| p.contains("#EXT-X-ENDLIST"));
}

#[test]
fn the_transcode_cli_sets_what_the_api_describes() {
    let server = Server::start_env("transcode-cli", &[], BOOTSTRAP);
    let args = [
        "transcode",
        "set",
        "--domain",
        "localhost",
        "--app",
        "cli",
        "--template",
        "small",
        "--custom",
        "--param",
        "TemplateType=h264",
        "--param",
        "Height=240",
    ];
    server.cli_ok(&args);
    let o = server.cli(&["transcode", "set", "--domain", "localhost", "--app", "cli", "--template", "lld", "--custom"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("default template name"), "{o:?}");
    let o = server.cli(&[
        "transcode",
        "set",
        "--domain",
        "localhost",
        "--app",
        "cli",
        "--template",
        "tiny",
        "--custom",
        "--param",
        "Height=1",
    ]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Height"), "{o:?}");
    let listed = server.cli_ok(&["transcode", "list", "--domain", "localhost"]);
    assert!(listed.contains("cli\tsmall\tcustom\tHeight=240,TemplateType=h264"), "{listed}");
    let (ok, v) =
        api(&server, &["DescribeLiveStreamTranscodeInfo", "--DomainTranscodeName", "localhost", "--AppName", "cli"]);
    assert!(
        ok && v["DomainTranscodeList"]["DomainTranscodeInfo"][0]["CustomTranscodeParameters"]["Height"] == "240",
        "{v}"
    );
    server.cli_ok(&["transcode", "remove", "--domain", "localhost", "--app", "cli", "--template", "small"]);
    assert!(!server.cli_ok(&["transcode", "list", "--domain", "localhost"]).contains("small"));
}
