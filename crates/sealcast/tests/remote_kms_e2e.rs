//! End to end: one Sealcast serves as the KMS of another (`serve --api-only` on one side,
//! `SEALCAST_KMS_*` on the other), with a RAM policy limiting the edge to its key, the audit
//! log on the KMS side, and a KMS outage: cached keys keep serving, new publishes fail with
//! the reason, and service resumes when the KMS is back.

mod common;

use std::process::Command;

use common::*;

const AK: &str = "SCAKkmsServerAdmin001";
const SECRET: &str = "kmsServerAdminSecret42";
const BOOTSTRAP: &[(&str, &str)] =
    &[("SEALCAST_BOOTSTRAP_ACCESS_KEY_ID", AK), ("SEALCAST_BOOTSTRAP_ACCESS_KEY_SECRET", SECRET)];

fn api(server: &Server, args: &[&str]) -> serde_json::Value {
    let (ok, v, err) = api_call(server, AK, SECRET, args);
    assert!(ok, "sealcast api {args:?}: {err}");
    v
}

#[test]
fn a_second_sealcast_is_the_kms_of_the_first_and_outages_fail_cleanly() {
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let kms_server = Server::start_db("kms-server", Db::Sqlite, &["--api-only", "--api-listen", &listen], BOOTSTRAP);
    assert!(kms_server.log().contains("mode=\"api-only\""), "{}", kms_server.log());
    let (status, _) = http_get(kms_server.api, "/healthz");
    assert_eq!(status, 200);
    let cmk = api(&kms_server, &["CreateKey", "--Description", "edge streams"])["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("key")
        .to_string();
    // The edge may use its key for data keys and nothing else.
    let doc = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt","kms:DescribeKey"],"Resource":"acs:kms:*:*:key/{cmk}"}}]}}"#
    );
    let (edge_ak, edge_secret) = kms_server.user_with_policy("edge", "EdgeKeys", &doc);

    let endpoint = format!("http://{listen}");
    let env = [
        ("SEALCAST_KMS_ENDPOINT", endpoint.as_str()),
        ("SEALCAST_KMS_ACCESS_KEY_ID", edge_ak.as_str()),
        ("SEALCAST_KMS_ACCESS_KEY_SECRET", edge_secret.as_str()),
        ("SEALCAST_KMS_KEY_ID", cmk.as_str()),
    ];
    let edge = Server::start_env("kms-edge", &[], &env);
    assert!(edge.wait_log("using the remote KMS", 5), "{}", edge.log());
    assert!(edge.log().contains(&format!("stream_kms={endpoint} key {cmk}")), "{}", edge.log());

    let out = wait_output(push(&edge.rtmp_url("live/one"), 4, false));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let playlist = edge.wait_playlist("/live/one.m3u8", 20, |p| p.contains("#EXT-X-ENDLIST"));
    let segs = keyed_segments(&playlist);
    assert!(!segs.is_empty(), "{playlist}");
    let key_path = format!("/live/{}", segs[0].key_uri);
    let (status, key) = edge.get(&key_path);
    assert_eq!((status, key.len()), (200, 16), "the key unwraps through the remote KMS");
    let (decoded, err) = decode(&edge.http_url("/live/one.m3u8"));
    assert!(decoded, "ffmpeg decrypts with the key from the edge: {err}");

    let audit = kms_server.cli_ok(&["audit", "--user", "edge", "--json"]);
    assert!(
        audit.contains("\"Action\":\"kms:GenerateDataKey\"") && audit.contains("\"Action\":\"kms:Decrypt\""),
        "{audit}"
    );
    assert!(audit.contains(&format!("key/{cmk}")), "{audit}");
    // The edge's key cannot touch another CMK on the KMS.
    let o = Command::new(env!("CARGO_BIN_EXE_sealcast"))
        .args(["api", "--endpoint", &endpoint, "CreateKey"])
        .env("SEALCAST_ACCESS_KEY_ID", &edge_ak)
        .env("SEALCAST_ACCESS_KEY_SECRET", &edge_secret)
        .output()
        .expect("api");
    assert!(String::from_utf8_lossy(&o.stdout).contains("Forbidden.RAM"), "{o:?}");

    // Outage: the cached key still serves; a new publish is refused with the reason.
    let kms_server = {
        let mut s = kms_server;
        assert!(s.stop(10));
        s
    };
    let (status, again) = edge.get(&key_path);
    assert_eq!((status, again), (200, key), "cached keys keep serving while the KMS is down");
    let out = wait_output(push(&edge.rtmp_url("live/two"), 1, false));
    assert!(!out.status.success(), "no data key, no publish");
    assert!(edge.wait_log("cannot provision the stream encryption key: KMS unavailable", 5), "{}", edge.log());

    // Back: publishing works again.
    let _kms_server = kms_server.restart();
    let out = wait_output(push(&edge.rtmp_url("live/three"), 2, false));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    edge.wait_playlist("/live/three.m3u8", 20, |p| p.contains("#EXT-X-KEY:METHOD=AES-128"));
}

#[test]
fn a_remote_kms_that_refuses_stops_startup_with_the_reason() {
    let kms_server = Server::start_db("kms-refuse", Db::Sqlite, &["--api-only"], BOOTSTRAP);
    let endpoint = format!("http://{}", kms_server.api);
    let (ok, _, err) = sealcast(&[
        "serve",
        "--data-dir",
        kms_server.dir.join("edge-data").to_str().expect("utf8"),
        "--rtmp-listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--https-listen",
        "127.0.0.1:0",
        "--api-listen",
        "127.0.0.1:0",
        "--kms-endpoint",
        &endpoint,
        "--kms-access-key-id",
        AK,
        "--kms-access-key-secret",
        "not-the-secret",
        "--kms-key-id",
        "alias/sealcast-default",
    ]);
    assert!(!ok, "startup must fail");
    assert!(err.contains("the remote KMS at") && err.contains("SignatureDoesNotMatch"), "{err}");
    let (ok, _, err) = sealcast(&[
        "serve",
        "--kms-endpoint",
        &endpoint,
        "--data-dir",
        kms_server.dir.join("x").to_str().expect("utf8"),
    ]);
    assert!(!ok && err.contains("kms.access_key_id is required when kms.endpoint is set"), "{err}");
}
