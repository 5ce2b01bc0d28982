//! End to end: the KMS API driven by the official Alibaba Cloud Python SDKs of both
//! signature generations (aliyun-python-sdk-kms for V1, alibabacloud_kms20160120 for V3).

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const AK: &str = "SCAKe2eAccessKey0001";
const SECRET: &str = "e2eSecretForTheApiTests42";
const BOOTSTRAP: &[(&str, &str)] =
    &[("SEALCAST_BOOTSTRAP_ACCESS_KEY_ID", AK), ("SEALCAST_BOOTSTRAP_ACCESS_KEY_SECRET", SECRET)];

fn run_sdk(server: &Server, args: &[&str]) -> Vec<Value> {
    let python = interop_python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/kms_sdks.py");
    let endpoint = server.api.to_string();
    let o = Command::new(&python)
        .arg(script)
        .arg(args[0])
        .args([endpoint.as_str(), AK, SECRET])
        .args(&args[1..])
        .output()
        .expect("run python");
    assert!(o.status.success(), "SDK script failed: {}\n{}", String::from_utf8_lossy(&o.stderr), server.log());
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

fn step<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines.iter().find(|l| l["step"] == name).unwrap_or_else(|| panic!("no step {name} in {lines:?}"))
}

#[test]
fn both_sdk_generations_drive_the_kms_api() {
    let server = Server::start_env("api-kms", &[], BOOTSTRAP);
    for generation in ["v1", "v3"] {
        let lines = run_sdk(&server, &[generation]);
        assert_eq!(step(&lines, "CreateKey")["ok"], true, "{generation}: {lines:?}");
        assert_eq!(step(&lines, "DescribeKey")["state"], "Enabled", "{generation}");
        assert_eq!(step(&lines, "GenerateDataKey")["bytes"], 16, "{generation}");
        assert_eq!(step(&lines, "Decrypt")["same"], true, "{generation}: the data key round-trips");
        assert_eq!(step(&lines, "DecryptWrongContext")["code"], "InvalidCiphertext", "{generation}");
        assert_eq!(step(&lines, "EncryptDecrypt")["plain"], "db password", "{generation}");
        // V1's SDK turns a mismatch whose server string-to-sign equals its own into
        // InvalidAccessKeySecret: proof that both sides canonicalise the same way.
        let wrong = step(&lines, "WrongSecret");
        let want = if generation == "v1" { "InvalidAccessKeySecret" } else { "SignatureDoesNotMatch" };
        assert_eq!(wrong["code"], want, "{generation}");
        assert_eq!(step(&lines, "DisabledKey")["code"], "Rejected.Disabled", "{generation}");
    }
    let log = server.log();
    assert!(log.contains("action=GenerateDataKey outcome=\"OK\""), "calls are logged");
    assert!(!log.contains(SECRET), "the secret never reaches the log");
}

#[test]
fn disabling_the_default_cmk_through_the_api_refuses_the_next_publish() {
    let server = Server::start_env("api-disable", &[], BOOTSTRAP);
    // The log reader hands the ready line over before appending it to the log.
    assert!(server.wait_log("kms_default_key=", 5), "{}", server.log());
    let log = server.log();
    let cmk = log
        .split("kms_default_key=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("default key in the ready line")
        .to_string();
    let lines = run_sdk(&server, &["v1", "disable", &cmk]);
    assert_eq!(step(&lines, "DisableGivenKey")["ok"], true, "{lines:?}");
    let out = wait_output(push(&server.rtmp_url("live/after"), 1, false));
    assert!(!out.status.success(), "a publish needing a disabled CMK must fail");
    assert!(server.wait_log("cannot provision the stream encryption key", 5), "{}", server.log());
}

#[test]
fn a_generated_bootstrap_key_is_written_once_with_mode_0600() {
    let server = Server::start("api-bootstrap", &[]);
    let path = server.dir.join("data").join("bootstrap-access-key");
    let text = std::fs::read_to_string(&path).expect("bootstrap file");
    assert!(text.starts_with("AccessKeyId=SCAK") && text.contains("\nAccessKeySecret="), "{text}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    let secret = text.lines().find_map(|l| l.strip_prefix("AccessKeySecret=")).expect("secret");
    assert!(!server.log().contains(secret), "the secret is in the file only");
}
