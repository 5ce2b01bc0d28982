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
    for db in EVERY_DB {
        let server = Server::start_db("api-kms", db, &[], BOOTSTRAP);
        for generation in ["v1", "v3"] {
            let lines = run_sdk(&server, &[generation]);
            assert_eq!(step(&lines, "CreateKey")["ok"], true, "{db:?} {generation}: {lines:?}");
            assert_eq!(step(&lines, "DescribeKey")["state"], "Enabled", "{db:?} {generation}");
            assert_eq!(step(&lines, "GenerateDataKey")["bytes"], 16, "{db:?} {generation}");
            assert_eq!(step(&lines, "Decrypt")["same"], true, "{db:?} {generation}: the data key round-trips");
            assert_eq!(step(&lines, "DecryptWrongContext")["code"], "InvalidCiphertext", "{db:?} {generation}");
            assert_eq!(step(&lines, "EncryptDecrypt")["plain"], "db password", "{db:?} {generation}");
            // V1's SDK turns a mismatch whose server string-to-sign equals its own into
            // InvalidAccessKeySecret: proof that both sides canonicalise the same way.
            let wrong = step(&lines, "WrongSecret");
            let want = if generation == "v1" { "InvalidAccessKeySecret" } else { "SignatureDoesNotMatch" };
            assert_eq!(wrong["code"], want, "{db:?} {generation}");
            assert_eq!(step(&lines, "DisabledKey")["code"], "Rejected.Disabled", "{db:?} {generation}");
            let l = run_sdk(&server, &[generation, "lifecycle"]);
            let ctx = format!("{db:?} {generation}: {l:?}");
            assert_eq!(step(&l, "ListKeys")["found"], true, "{ctx}");
            assert_eq!(step(&l, "ListKeysPage")["listed"], 1, "{ctx}");
            assert!(step(&l, "ListKeysPage")["total"].as_u64() >= Some(2), "{ctx}");
            assert_eq!(step(&l, "ListKeyVersions")["count"], 2, "{ctx}");
            assert_eq!(step(&l, "ListKeyVersions")["has_new"], true, "{ctx}");
            assert_eq!(step(&l, "PrimaryVersion")["primary"], true, "rotation makes the new version primary: {ctx}");
            assert_eq!(step(&l, "CreateAlias")["ok"], true, "{ctx}");
            assert_eq!(step(&l, "CreateAliasAgain")["code"], "Rejected.AliasAlreadyExists", "{ctx}");
            assert_eq!(step(&l, "CreateAliasInvalid")["code"], "InvalidParameter", "{ctx}");
            assert_eq!(step(&l, "ListAliases")["found"], true, "{ctx}");
            assert_eq!(step(&l, "GenerateByAlias")["bytes"], 24, "{ctx}");
            assert_eq!(step(&l, "DeleteAlias")["ok"], true, "{ctx}");
            assert_eq!(step(&l, "ScheduleTooSoon")["code"], "InvalidParameter", "{ctx}");
            assert_eq!(step(&l, "ScheduleKeyDeletion")["ok"], true, "{ctx}");
            assert_eq!(step(&l, "Pending")["state"], "PendingDeletion", "{ctx}");
            assert_eq!(step(&l, "Pending")["delete_date"], true, "{ctx}");
            assert_eq!(step(&l, "GeneratePending")["code"], "Rejected.PendingDeletion", "{ctx}");
            assert_eq!(step(&l, "Recovered")["state"], "Enabled", "{ctx}");
            assert_eq!(step(&l, "UnknownKey")["code"], "Forbidden.KeyNotFound", "{ctx}");
            assert_eq!(step(&l, "UnknownKey")["status"], 404, "{ctx}");
        }
        let log = server.log();
        assert!(log.contains("action=GenerateDataKey outcome=\"OK\""), "calls are logged");
        assert!(!log.contains(SECRET), "the secret never reaches the log");
    }
}

#[test]
fn disabling_a_streams_cmk_through_the_api_refuses_its_next_publish() {
    for db in EVERY_DB {
        let server = Server::start_db("api-disable", db, &[], BOOTSTRAP);
        // The log reader hands the ready line over before appending it to the log.
        assert!(server.wait_log("kms_default_key=", 5), "{}", server.log());
        let log = server.log();
        let default_cmk = log
            .split("kms_default_key=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("default key in the ready line")
            .to_string();
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([
                {"product": "kms", "action": "DisableKey", "params": {"KeyId": default_cmk}},
                {"product": "kms", "action": "CreateKey", "params": {"Description": "vip streams"}},
            ]),
        );
        assert_eq!(code(&r[0]), (400, "InvalidParameter"), "the default key seals the server's secrets: {r:?}");
        let cmk = r[1]["body"]["KeyMetadata"]["KeyId"].as_str().expect("key").to_string();
        let enc = format!(r#"{{"EncryptType":"aes-128","KmsKeyID":"{cmk}","KmsKeyExpireInterval":"600"}}"#);
        let r = sdk(
            &server,
            "v3",
            serde_json::json!([
                live_call("AddLiveStreamTranscode", serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "lld", "EncryptParameters": enc})),
                {"product": "kms", "action": "DisableKey", "params": {"KeyId": cmk}},
            ]),
        );
        assert!(r.iter().all(|x| x["ok"] == true), "{db:?}: {r:?}");
        let out = wait_output(push(&server.rtmp_url("vip/after"), 1, false));
        assert!(!out.status.success(), "a publish needing a disabled CMK must fail");
        assert!(server.wait_log("cannot provision the stream encryption key", 5), "{}", server.log());
        let out = wait_output(push(&server.rtmp_url("live/other"), 1, false));
        assert!(
            out.status.success(),
            "apps on the default key still publish: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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

fn live(server: &Server, generation: &str, step: &str, domain: &str) -> Value {
    let python = interop_python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/live_sdks.py");
    let o = Command::new(&python)
        .arg(script)
        .args([generation, &server.api.to_string(), AK, SECRET, step, domain])
        .output()
        .expect("run python");
    assert!(o.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json")
}

/// The status of a plain-HTTP GET with the given Host.
fn status_for_host(server: &Server, host: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(server.http).expect("connect");
    write!(s, "GET /live/x.m3u8 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("write");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let status = buf.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let location = buf.lines().find_map(|l| l.strip_prefix("location: ")).unwrap_or("").to_string();
    (status, location)
}

#[test]
fn both_sdk_generations_set_and_delete_domain_functions_with_effect() {
    for db in EVERY_DB {
        let server = Server::start_db("api-live", db, &[], BOOTSTRAP);
        for (generation, domain) in [("v1", "play1.example.com"), ("v3", "play3.example.com")] {
            let r = live(&server, generation, "add", domain);
            assert_eq!(r["ok"], true, "{db:?} {generation}: {r}");
            // https_force needs a certificate to redirect to.
            let leaf = sealcast_tls::test_pki::TestCa::new("CA").leaf(&[domain], sealcast_tls::test_pki::KeyAlg::P256);
            let (c, k) = (server.dir.join(format!("{domain}.crt")), server.dir.join(format!("{domain}.key")));
            std::fs::write(&c, &leaf.chain_pem).expect("cert");
            std::fs::write(&k, &leaf.key_pem).expect("key");
            server.cli_ok(&[
                "cert",
                "set",
                "--domain",
                domain,
                "--name",
                domain,
                "--cert",
                c.to_str().expect("utf8"),
                "--key",
                k.to_str().expect("utf8"),
            ]);
            assert_ne!(status_for_host(&server, domain).0, 301);
            let r = live(&server, generation, "force-on", domain);
            assert_eq!(r["ok"], true, "{db:?} {generation}: {r}");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while status_for_host(&server, domain).0 != 301 {
                assert!(std::time::Instant::now() < deadline, "{db:?} {generation}: https_force did not take effect");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let (_, location) = status_for_host(&server, domain);
            assert!(location.starts_with(&format!("https://{domain}:")), "{location}");
            let r = live(&server, generation, "describe", domain);
            let configs = r["body"]["DomainConfigs"]["DomainConfig"].as_array().expect("configs").clone();
            let force = configs.iter().find(|c| c["FunctionName"] == "https_force").expect("https_force");
            let args = force["FunctionArgs"]["FunctionArg"].as_array().expect("args");
            assert!(args.iter().any(|a| a["ArgName"] == "enable" && a["ArgValue"] == "on"), "{r}");
            assert_eq!(configs.len(), 2, "only the requested functions: {r}");
            // TLS 1.0 is refused with the reason; nothing changes.
            let r = live(&server, generation, "bad-arg", domain);
            assert_eq!(
                (r["ok"].clone(), r["code"].clone()),
                (Value::Bool(false), Value::from("InvalidParameter")),
                "{r}"
            );
            assert!(r["message"].as_str().unwrap_or("").contains("unsupported as insecure"), "{r}");
            let r = live(&server, generation, "missing-domain", "nowhere.example.com");
            assert_eq!(r["code"], "InvalidDomain.NotFound", "{r}");
            let r = live(&server, generation, "force-off", domain);
            assert_eq!(r["ok"], true, "{r}");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while status_for_host(&server, domain).0 == 301 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{db:?} {generation}: deleting https_force did not take effect"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

/// Calls actions through the official SDKs (`sdk_call.py`); `calls` is a JSON list of
/// `{"product","action","params"[,"ak","secret"]}`.
fn sdk(server: &Server, generation: &str, calls: Value) -> Vec<Value> {
    use std::io::Write as _;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/sdk_call.py");
    let mut child = Command::new(interop_python())
        .args([script, generation, &server.api.to_string()])
        .env("SEALCAST_AK", AK)
        .env("SEALCAST_SECRET", SECRET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    child.stdin.take().expect("stdin").write_all(calls.to_string().as_bytes()).expect("write calls");
    let o = child.wait_with_output().expect("python");
    assert!(o.status.success(), "sdk_call.py failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice::<Vec<Value>>(&o.stdout).expect("json list")
}

fn code(r: &Value) -> (u64, &str) {
    (r["status"].as_u64().unwrap_or(0), r["code"].as_str().unwrap_or("OK"))
}

#[test]
fn policies_decide_what_users_may_call_and_the_audit_log_records_it() {
    for db in EVERY_DB {
        let server = Server::start_db("api-ram", db, &[], BOOTSTRAP);
        let doc = r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Action":["live:Describe*","kms:GenerateDataKey"],"Resource":"*"},
            {"Effect":"Deny","Action":"kms:*","Resource":"acs:kms:*:*:alias/blocked-*"}]}"#;
        let (vak, vsecret) = server.user_with_policy("viewer", "ViewerRead", doc);
        let bad = write_file(&server.dir, "bad.json", br#"{"Statement":[{"Effect":"Perhaps"}]}"#);
        let o = server.cli(&["policy", "put", "Bad", "--file", bad.to_str().expect("utf8")]);
        assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Effect"), "{o:?}");
        let as_viewer = |action: &str, product: &str, params: Value| serde_json::json!({"product": product, "action": action, "params": params, "ak": vak, "secret": vsecret});
        let admin = sdk(
            &server,
            "v1",
            serde_json::json!([
                {"product": "live", "action": "AddLiveDomain", "params": {"DomainName": "a.example.com", "LiveDomainType": "liveVideo", "Region": "cn-shanghai"}},
                {"product": "kms", "action": "CreateKey", "params": {}},
            ]),
        );
        assert!(admin.iter().all(|r| r["ok"] == true), "{db:?}: {admin:?}");
        let key_id = admin[1]["body"]["KeyMetadata"]["KeyId"].as_str().expect("key").to_string();
        let r = sdk(
            &server,
            "v3",
            serde_json::json!([{"product": "kms", "action": "CreateAlias", "params": {"AliasName": "alias/blocked-1", "KeyId": key_id}}]),
        );
        assert_eq!(r[0]["ok"], true, "{r:?}");
        for generation in ["v1", "v3"] {
            let r = sdk(
                &server,
                generation,
                serde_json::json!([
                    as_viewer("DescribeLiveDomainDetail", "live", serde_json::json!({"DomainName": "a.example.com"})),
                    as_viewer(
                        "AddLiveDomain",
                        "live",
                        serde_json::json!({"DomainName": "b.example.com", "LiveDomainType": "liveVideo", "Region": "cn-shanghai"})
                    ),
                    as_viewer("GenerateDataKey", "kms", serde_json::json!({"KeyId": key_id})),
                    as_viewer("GenerateDataKey", "kms", serde_json::json!({"KeyId": "alias/blocked-1"})),
                    as_viewer("DisableKey", "kms", serde_json::json!({"KeyId": key_id})),
                ]),
            );
            let ctx = format!("{db:?} {generation}: {r:?}");
            assert_eq!(r[0]["ok"], true, "allowed by live:Describe*: {ctx}");
            assert_eq!(code(&r[1]), (403, "Forbidden.RAM"), "no policy allows AddLiveDomain: {ctx}");
            assert_eq!(r[2]["ok"], true, "{ctx}");
            assert_eq!(code(&r[3]), (403, "Forbidden.RAM"), "the explicit deny wins: {ctx}");
            assert!(r[3]["message"].as_str().unwrap_or("").contains("a policy denies"), "{ctx}");
            assert_eq!(code(&r[4]), (403, "Forbidden.RAM"), "{ctx}");
        }
        let audit = server.cli_ok(&["audit", "--json", "--limit", "1000"]);
        let records: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        let has = |user: &str, action: &str, result: &str| {
            records.iter().any(|r| r["User"] == user && r["Action"] == action && r["Result"] == result)
        };
        assert!(has("admin", "live:AddLiveDomain", "OK"), "{db:?}: {audit}");
        assert!(has("admin", "kms:CreateAlias", "OK"), "{audit}");
        assert!(has("viewer", "live:AddLiveDomain", "Forbidden.RAM"), "refused calls are audited: {audit}");
        assert!(has("viewer", "kms:GenerateDataKey", "OK"), "{audit}");
        assert!(!records.iter().any(|r| r["Action"].as_str().unwrap_or("").contains("Describe")), "{audit}");
        let gdk = records.iter().find(|r| r["Action"] == "kms:GenerateDataKey" && r["Result"] == "OK").expect("gdk");
        assert_eq!(gdk["Resource"], format!("acs:kms:local:sealcast:key/{key_id}"));
        assert_eq!(gdk["SourceIp"], "127.0.0.1");
        assert_eq!(records.iter().filter(|r| r["User"] == "viewer").count(), 8, "4 audited calls per generation");
        let o = server.cli_ok(&["audit", "--user", "viewer", "--action", "live:AddLiveDomain"]);
        assert_eq!(o.lines().count(), 2, "{o}");
        assert!(!audit.contains(SECRET) && !audit.contains(&vsecret) && !audit.contains("Plaintext"));

        // Disabling the key stops it at once; a restart keeps users, policies and the log.
        server.cli_ok(&["access-key", "disable", &vak]);
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([as_viewer(
                "DescribeLiveDomainDetail",
                "live",
                serde_json::json!({"DomainName": "a.example.com"})
            )]),
        );
        assert_eq!(code(&r[0]).1, "InvalidAccessKeyId.NotFound", "{r:?}");
        server.cli_ok(&["access-key", "enable", &vak]);
        let server = server.restart();
        let r = sdk(
            &server,
            "v3",
            serde_json::json!([
                as_viewer("DescribeLiveDomainDetail", "live", serde_json::json!({"DomainName": "a.example.com"})),
                as_viewer(
                    "AddLiveDomain",
                    "live",
                    serde_json::json!({"DomainName": "c.example.com", "LiveDomainType": "liveVideo", "Region": "cn-shanghai"})
                ),
            ]),
        );
        assert_eq!(
            (r[0]["ok"].clone(), code(&r[1])),
            (Value::Bool(true), (403, "Forbidden.RAM")),
            "{db:?} after restart: {r:?}"
        );
        let after = server.cli_ok(&["audit", "--json", "--limit", "1000"]);
        assert_eq!(after.lines().count(), records.len() + 1, "the log survives the restart");
        server.cli_ok(&["user", "remove", "viewer"]);
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([as_viewer(
                "DescribeLiveDomainDetail",
                "live",
                serde_json::json!({"DomainName": "a.example.com"})
            )]),
        );
        assert_eq!(code(&r[0]).1, "InvalidAccessKeyId.NotFound", "keys go with their user: {r:?}");
    }
}

/// The leaf subject a TLS handshake with `sni` is served (`None` when the handshake fails).
fn served_subject(server: &Server, sni: &str) -> Option<String> {
    require("openssl");
    let o = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", server.https.port()), "-servername", sni])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.lines().find(|l| l.starts_with("subject=")).map(|l| l.replace(' ', ""))
}

fn wait_for(what: &str, secs: u64, mut pred: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !pred() {
        assert!(std::time::Instant::now() < deadline, "{what} within {secs} s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn live_call(action: &str, params: Value) -> Value {
    serde_json::json!({"product": "live", "action": action, "params": params})
}

#[test]
fn certificates_through_both_sdk_generations_are_served_on_the_next_handshake() {
    use sealcast_tls::test_pki::{KeyAlg, TestCa};
    for db in EVERY_DB {
        let server = Server::start_db("api-certs", db, &[], BOOTSTRAP);
        let ca = TestCa::new("API CA");
        for generation in ["v1", "v3"] {
            let domain = format!("play-{generation}.example.com");
            let leaf = ca.leaf_current(&[&domain], KeyAlg::P256);
            let other = ca.leaf_current(&[&domain], KeyAlg::P256);
            let elsewhere = ca.leaf_current(&["elsewhere.example.org"], KeyAlg::P256);
            let cert = |name: &str, pub_: &str, pri: &str, force: &str| {
                live_call(
                    "SetLiveDomainCertificate",
                    serde_json::json!({"DomainName": domain, "CertName": name, "CertType": "upload",
                        "SSLProtocol": "on", "SSLPub": pub_, "SSLPri": pri, "ForceSet": force}),
                )
            };
            let name = format!("cert-{generation}");
            let r = sdk(
                &server,
                generation,
                serde_json::json!([
                    live_call(
                        "AddLiveDomain",
                        serde_json::json!({"DomainName": domain, "LiveDomainType": "liveVideo", "Region": "cn-shanghai"})
                    ),
                    cert(&name, "not a certificate", &leaf.key_pem, "0"),
                    cert(&name, &leaf.chain_pem, &other.key_pem, "0"),
                    cert(&name, &elsewhere.chain_pem, &elsewhere.key_pem, "0"),
                    cert(&name, &leaf.chain_pem, &leaf.key_pem, "0"),
                    cert(&name, &leaf.chain_pem, &leaf.key_pem, "0"),
                    cert(&name, &leaf.chain_pem, &leaf.key_pem, "1"),
                    live_call(
                        "SetLiveDomainCertificate",
                        serde_json::json!({"DomainName": "nowhere.example.com", "CertName": "x", "SSLProtocol": "on", "SSLPub": leaf.chain_pem, "SSLPri": leaf.key_pem})
                    ),
                    live_call("DescribeLiveCertificateList", serde_json::json!({"DomainName": domain})),
                    live_call("DescribeLiveCertificateDetail", serde_json::json!({"CertName": name})),
                    live_call("DescribeLiveCertificateDetail", serde_json::json!({"CertName": "missing"})),
                    live_call("DescribeLiveUserDomains", serde_json::json!({"PageSize": 50})),
                    live_call("DescribeLiveDomainDetail", serde_json::json!({"DomainName": domain})),
                ]),
            );
            let ctx = format!("{db:?} {generation}: {r:?}");
            assert_eq!(r[0]["ok"], true, "{ctx}");
            assert_eq!(code(&r[1]), (400, "Certificate.FormatError"), "{ctx}");
            assert!(r[1]["message"].as_str().unwrap_or("").contains("not PEM"), "{ctx}");
            assert_eq!(code(&r[2]), (400, "Certificate.MissMatch"), "{ctx}");
            assert_eq!(code(&r[3]), (400, "Certificate.DomainMismatch"), "{ctx}");
            assert_eq!(r[4]["ok"], true, "{ctx}");
            assert_eq!(code(&r[5]), (400, "Certificate.Duplicated"), "same name without ForceSet: {ctx}");
            assert_eq!(r[6]["ok"], true, "ForceSet overwrites: {ctx}");
            assert_eq!(code(&r[7]), (404, "InvalidDomain.NotFound"), "{ctx}");
            let list = &r[8]["body"]["CertificateListModel"];
            assert_eq!(list["Count"], 1, "{ctx}");
            assert_eq!(list["CertList"]["Cert"][0]["CertName"], name.as_str(), "{ctx}");
            let detail = &r[9]["body"];
            assert!(detail["Cert"].as_str().unwrap_or("").contains("BEGIN CERTIFICATE"), "{ctx}");
            assert!(!r[9].to_string().contains("PRIVATE KEY"), "the key never leaves: {ctx}");
            assert_eq!(code(&r[10]), (404, "InvalidCertName.NotFound"), "{ctx}");
            let domains = r[11]["body"]["Domains"]["PageData"].as_array().expect("domains");
            assert!(domains.iter().any(|d| d["DomainName"] == domain.as_str()), "{ctx}");
            assert_eq!(r[12]["body"]["DomainDetail"]["SSLProtocol"], "on", "{ctx}");
            // Served from the next handshake; SSLProtocol=off takes it away again.
            wait_for("the uploaded certificate", 5, || {
                served_subject(&server, &domain).is_some_and(|s| s.contains(&domain))
            });
            let r = sdk(
                &server,
                generation,
                serde_json::json!([live_call(
                    "SetLiveDomainCertificate",
                    serde_json::json!({"DomainName": domain, "SSLProtocol": "off"})
                )]),
            );
            assert_eq!(r[0]["ok"], true, "{r:?}");
            wait_for("HTTPS off", 5, || !served_subject(&server, &domain).is_some_and(|s| s.contains(&domain)));
            let r = sdk(
                &server,
                generation,
                serde_json::json!([
                    live_call("DeleteLiveDomain", serde_json::json!({"DomainName": domain})),
                    live_call("DescribeLiveDomainDetail", serde_json::json!({"DomainName": domain})),
                    live_call("DeleteLiveDomain", serde_json::json!({"DomainName": domain})),
                    live_call("AddLiveDomain", serde_json::json!({"DomainName": "not a domain"})),
                ]),
            );
            assert_eq!(r[0]["ok"], true, "{r:?}");
            assert_eq!(code(&r[1]), (404, "InvalidDomain.NotFound"), "{r:?}");
            assert_eq!(code(&r[2]), (404, "InvalidDomain.NotFound"), "{r:?}");
            assert_eq!(code(&r[3]), (400, "InvalidDomainName.Malformed"), "{r:?}");
        }
    }
}

#[test]
fn transcode_encrypt_parameters_change_the_next_publish_and_forbid_kicks_publishers() {
    for db in EVERY_DB {
        let server = Server::start_db("api-transcode", db, &[], BOOTSTRAP);
        let r = sdk(&server, "v3", serde_json::json!([{"product": "kms", "action": "CreateKey", "params": {}}]));
        let cmk = r[0]["body"]["KeyMetadata"]["KeyId"].as_str().expect("key").to_string();
        let enc =
            |t: &str, id: &str| format!(r#"{{"EncryptType":"{t}","KmsKeyID":"{id}","KmsKeyExpireInterval":"600"}}"#);
        // Publishers pushing to 127.0.0.1 land on the default domain, localhost.
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([
                live_call(
                    "AddLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "lld", "EncryptParameters": enc("aliyun", &cmk)})
                ),
                live_call(
                    "AddCustomLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "my720", "TemplateType": "h264", "Height": 720, "Width": 1280, "FPS": 25, "VideoBitrate": 1500})
                ),
                live_call(
                    "AddLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "lld"})
                ),
                live_call(
                    "AddLiveStreamTranscode",
                    serde_json::json!({"Domain": "nowhere.example.com", "App": "vip", "Template": "lld"})
                ),
                live_call(
                    "AddLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "x", "Template": "lld", "EncryptParameters": enc("aliyun", "no-such-key")})
                ),
                live_call("DescribeLiveStreamTranscodeInfo", serde_json::json!({"DomainTranscodeName": "localhost"})),
            ]),
        );
        let ctx = format!("{db:?}: {r:?}");
        assert_eq!((r[0]["ok"].clone(), r[1]["ok"].clone()), (Value::Bool(true), Value::Bool(true)), "{ctx}");
        assert_eq!(code(&r[2]), (400, "ConfigAlreadyExists"), "{ctx}");
        assert_eq!(code(&r[3]), (404, "InvalidDomain.NotFound"), "{ctx}");
        assert_eq!(code(&r[4]), (404, "Forbidden.KeyNotFound"), "the CMK must exist: {ctx}");
        let info = r[5]["body"]["DomainTranscodeList"]["DomainTranscodeInfo"].as_array().expect("list").clone();
        let lld = info.iter().find(|t| t["TranscodeTemplate"] == "lld").expect("lld");
        assert_eq!(lld["EncryptParameters"]["EncryptType"], "aliyun", "{ctx}");
        assert_eq!(lld["EncryptParameters"]["KmsKeyID"], cmk.as_str(), "{ctx}");
        let custom = info.iter().find(|t| t["TranscodeTemplate"] == "my720").expect("custom");
        assert_eq!(custom["CustomTranscodeParameters"]["Height"], "720", "{ctx}");

        let key_lines = |path: &str| -> Vec<String> {
            let p = server.wait_playlist(path, 20, |p| p.contains("#EXT-X-ENDLIST"));
            p.lines().filter(|l| l.starts_with("#EXT-X-KEY")).map(str::to_string).collect()
        };
        let out = wait_output(push(&server.rtmp_url("vip/one"), 3, false));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let keys = key_lines("/vip/one.m3u8");
        assert!(!keys.is_empty() && keys.iter().all(|l| l.contains("com.sealcast.envelope")), "envelope: {keys:?}");

        // V3 update to aes-128 (the CMK stays; changing it is refused).
        let r = sdk(
            &server,
            "v3",
            serde_json::json!([
                live_call(
                    "UpdateLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "lld", "EncryptParameters": enc("aliyun", "00000000-0000-4000-8000-000000000000")})
                ),
                live_call(
                    "UpdateLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "lld", "EncryptParameters": enc("aes-128", &cmk)})
                ),
            ]),
        );
        assert_eq!(code(&r[0]).1, "InvalidParameter", "{r:?}");
        assert!(r[0]["message"].as_str().unwrap_or("").contains("cannot be changed"), "{r:?}");
        assert_eq!(r[1]["ok"], true, "{r:?}");
        let out = wait_output(push(&server.rtmp_url("vip/two"), 3, false));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let keys = key_lines("/vip/two.m3u8");
        assert!(
            !keys.is_empty()
                && keys.iter().all(|l| l.starts_with("#EXT-X-KEY:METHOD=AES-128") && !l.contains("KEYFORMAT=")),
            "aes-128 for every player: {keys:?}"
        );
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([
                live_call(
                    "DeleteLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "lld"})
                ),
                live_call(
                    "UpdateCustomLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "my720", "TemplateType": "h264", "Height": 1080, "Width": 1920})
                ),
                live_call(
                    "UpdateCustomLiveStreamTranscode",
                    serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "nope", "TemplateType": "h264"})
                ),
                live_call(
                    "DescribeLiveStreamTranscodeInfo",
                    serde_json::json!({"DomainTranscodeName": "localhost", "AppName": "vip"})
                ),
            ]),
        );
        assert_eq!((r[0]["ok"].clone(), r[1]["ok"].clone()), (Value::Bool(true), Value::Bool(true)), "{r:?}");
        assert_eq!(code(&r[2]), (404, "ConfigNotFound"), "{r:?}");
        let info = r[3]["body"]["DomainTranscodeList"]["DomainTranscodeInfo"].as_array().expect("list").clone();
        assert_eq!(info.len(), 1, "{r:?}");
        assert_eq!(info[0]["CustomTranscodeParameters"]["Height"], "1080", "{r:?}");
        assert!(
            !server.cli_ok(&["encryption", "list"]).contains("\tvip\t"),
            "deleting the template removes its encryption"
        );

        // Online list, ForbidLiveStream kicks and blocks, ResumeLiveStream lifts it.
        let publisher = push(&server.rtmp_url("live/cam"), 60, true);
        let online = || {
            let r = sdk(
                &server,
                "v3",
                serde_json::json!([live_call(
                    "DescribeLiveStreamsOnlineList",
                    serde_json::json!({"DomainName": "localhost", "AppName": "live"})
                )]),
            );
            r[0]["body"]["OnlineInfo"]["LiveStreamOnlineInfo"].as_array().cloned().unwrap_or_default()
        };
        wait_for("the stream online", 15, || online().iter().any(|s| s["StreamName"] == "cam"));
        let listed = online();
        assert_eq!(listed[0]["ClientIp"], "127.0.0.1", "{listed:?}");
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([live_call(
                "ForbidLiveStream",
                serde_json::json!({"DomainName": "localhost", "AppName": "live", "StreamName": "cam", "LiveStreamType": "publisher"})
            )]),
        );
        assert_eq!(r[0]["ok"], true, "{r:?}");
        let kicked = wait_output(publisher);
        assert!(!String::from_utf8_lossy(&kicked.stderr).is_empty());
        wait_for("the stream offline", 10, || online().is_empty());
        let again = wait_output(push(&server.rtmp_url("live/cam"), 1, false));
        assert!(!again.status.success(), "a forbidden stream cannot republish");
        assert!(server.wait_log("live/cam is forbidden on localhost until resumed", 5), "{}", server.log());
        let r = sdk(
            &server,
            "v3",
            serde_json::json!([
                live_call(
                    "ResumeLiveStream",
                    serde_json::json!({"DomainName": "localhost", "AppName": "live", "StreamName": "cam", "LiveStreamType": "publisher"})
                ),
                live_call(
                    "ResumeLiveStream",
                    serde_json::json!({"DomainName": "localhost", "AppName": "live", "StreamName": "cam", "LiveStreamType": "publisher"})
                ),
            ]),
        );
        assert_eq!((r[0]["ok"].clone(), code(&r[1]).1), (Value::Bool(true), "InvalidStream.NotFound"), "{r:?}");
        let resumed = wait_output(push(&server.rtmp_url("live/cam"), 1, false));
        assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    }
}

fn api_cli(server: &Server, secret: &str, args: &[&str]) -> (bool, Value, String) {
    api_call(server, AK, secret, args)
}

#[test]
fn the_api_cli_signs_like_the_sdks() {
    for db in EVERY_DB {
        let server = Server::start_db("api-cli", db, &[], BOOTSTRAP);
        let (ok, v, err) = api_cli(&server, SECRET, &["CreateKey", "--Description", "from the CLI"]);
        assert!(ok, "{v} {err}");
        let key = v["KeyMetadata"]["KeyId"].as_str().expect("key id").to_string();
        let ctx = r#"{"stream":"live/cam"}"#;
        let (ok, dk, err) = api_cli(
            &server,
            SECRET,
            &["GenerateDataKey", "--KeyId", &key, "--KeySpec=AES_128", "--EncryptionContext", ctx],
        );
        assert!(ok, "{dk} {err}");
        let blob = dk["CiphertextBlob"].as_str().expect("blob");
        let (ok, plain, _) =
            api_cli(&server, SECRET, &["Decrypt", "--CiphertextBlob", blob, "--EncryptionContext", ctx]);
        assert!(ok && plain["Plaintext"] == dk["Plaintext"], "{plain}");
        let (ok, v, err) = api_cli(&server, SECRET, &["Decrypt", "--CiphertextBlob", blob]);
        assert!(!ok && v["Code"] == "InvalidCiphertext", "{v} {err}");
        assert!(err.contains("Decrypt failed: InvalidCiphertext"), "{err}");
        let (ok, v, _) = api_cli(&server, SECRET, &["AddLiveDomain", "--DomainName", "cli.example.com"]);
        assert!(ok, "{v}");
        let (ok, v, _) = api_cli(&server, SECRET, &["DescribeLiveUserDomains", "--DomainName", "cli.example"]);
        assert!(ok && v["Domains"]["PageData"][0]["DomainName"] == "cli.example.com", "{v}");
        let (ok, v, _) = api_cli(&server, "wrong-secret-000", &["DescribeLiveUserDomains"]);
        assert!(!ok && v["Code"] == "SignatureDoesNotMatch" && v["HttpStatus"] == 400, "{v}");
        let (ok, v, err) = api_cli(&server, SECRET, &["NoSuchAction"]);
        assert!(!ok && v["Code"] == "InvalidAction.NotFound", "{v} {err}");
    }
}

#[test]
fn a_v1_get_with_a_certificate_in_a_62_kb_query_string_is_served() {
    use sealcast_tls::test_pki::{KeyAlg, TestCa};
    for db in EVERY_DB {
        let server = Server::start_db("api-big", db, &[], BOOTSTRAP);
        let leaf = TestCa::new("Big CA").leaf_current(&["big.example.com"], KeyAlg::P256);
        // A certificate chain padded with PEM comments outside the blocks, as bundles carry.
        // Percent-encoded, the query string comes to about 62 KB (HTTP/1.1 request targets are
        // limited to 65,534 bytes; larger calls go in a POST body).
        let padding = "# intermediate bundle notes\n".repeat(1550);
        let chain = format!("{padding}{}", leaf.chain_pem);
        assert!(chain.len() > 40_000);
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([
                {"product": "live", "action": "AddLiveDomain", "params": {"DomainName": "big.example.com"}, "method": "GET"},
                {"product": "live", "action": "SetLiveDomainCertificate", "method": "GET", "params": {
                    "DomainName": "big.example.com", "CertName": "big", "CertType": "upload", "SSLProtocol": "on",
                    "SSLPub": chain, "SSLPri": leaf.key_pem}},
            ]),
        );
        assert_eq!(r[0]["ok"], true, "{r:?}");
        assert_eq!(r[1]["ok"], true, "a certificate in a 62 KB query string: {:?}", r[1]);
    }
}

#[test]
fn every_setting_made_through_the_api_survives_a_restart() {
    use sealcast_tls::test_pki::{KeyAlg, TestCa};
    for db in EVERY_DB {
        let server = Server::start_db("api-restart", db, &[], BOOTSTRAP);
        let domain = "keep.example.com";
        let leaf = TestCa::new("Keep CA").leaf_current(&[domain], KeyAlg::P256);
        let force = r#"[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"}]}]"#;
        let r = sdk(
            &server,
            "v3",
            serde_json::json!([
                live_call("AddLiveDomain", serde_json::json!({"DomainName": domain})),
                live_call("SetLiveDomainCertificate", serde_json::json!({"DomainName": domain, "CertName": "keep", "SSLProtocol": "on", "SSLPub": leaf.chain_pem, "SSLPri": leaf.key_pem})),
                live_call("BatchSetLiveDomainConfigs", serde_json::json!({"DomainNames": domain, "Functions": force})),
                live_call("AddLiveStreamTranscode", serde_json::json!({"Domain": "localhost", "App": "vip", "Template": "lld", "EncryptParameters": r#"{"EncryptType":"aliyun","KmsKeyExpireInterval":"120"}"#})),
                live_call("ForbidLiveStream", serde_json::json!({"DomainName": "localhost", "AppName": "live", "StreamName": "banned", "LiveStreamType": "publisher"})),
                {"product": "kms", "action": "CreateKey", "params": {"Description": "kept"}},
            ]),
        );
        assert!(r.iter().all(|x| x["ok"] == true), "{db:?}: {r:?}");
        let key = r[5]["body"]["KeyMetadata"]["KeyId"].as_str().expect("key").to_string();
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([{"product": "kms", "action": "CreateAlias", "params": {"AliasName": "alias/kept", "KeyId": key}}]),
        );
        assert_eq!(r[0]["ok"], true, "{r:?}");

        let server = server.restart();
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([
                live_call("DescribeLiveDomainConfigs", serde_json::json!({"DomainName": domain, "FunctionNames": "https_force"})),
                live_call("DescribeLiveCertificateList", serde_json::json!({"DomainName": domain})),
                live_call("DescribeLiveStreamTranscodeInfo", serde_json::json!({"DomainTranscodeName": "localhost"})),
                {"product": "kms", "action": "DescribeKey", "params": {"KeyId": "alias/kept"}},
            ]),
        );
        let ctx = format!("{db:?} after restart: {r:?}");
        let args = &r[0]["body"]["DomainConfigs"]["DomainConfig"][0]["FunctionArgs"]["FunctionArg"];
        assert!(
            args.as_array().is_some_and(|a| a.iter().any(|x| x["ArgName"] == "enable" && x["ArgValue"] == "on")),
            "{ctx}"
        );
        assert_eq!(r[1]["body"]["CertificateListModel"]["Count"], 1, "{ctx}");
        let info = &r[2]["body"]["DomainTranscodeList"]["DomainTranscodeInfo"][0];
        assert_eq!(info["EncryptParameters"]["EncryptType"], "aliyun", "{ctx}");
        assert_eq!(r[3]["body"]["KeyMetadata"]["KeyId"], key.as_str(), "{ctx}");
        wait_for("the kept certificate", 5, || served_subject(&server, domain).is_some_and(|s| s.contains(domain)));
        let (status, _) = status_for_host(&server, domain);
        assert_eq!(status, 301, "https_force still redirects");
        let out = wait_output(push(&server.rtmp_url("live/banned"), 1, false));
        assert!(!out.status.success(), "still forbidden");
        let out = wait_output(push(&server.rtmp_url("vip/after"), 2, false));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let p = server.wait_playlist("/vip/after.m3u8", 20, |p| p.contains("#EXT-X-ENDLIST"));
        assert!(p.contains("com.sealcast.envelope"), "the template's encryption still applies: {p}");
    }
}

#[test]
fn policy_checks_cannot_be_sidestepped_by_aliases_spellings_names_or_templates() {
    use sealcast_tls::test_pki::{KeyAlg, TestCa};
    for db in EVERY_DB {
        let server = Server::start_db("api-sidestep", db, &[], BOOTSTRAP);
        let ca = TestCa::new("Sidestep CA");
        let secret_leaf = ca.leaf_current(&["secret.example.com"], KeyAlg::P256);
        let mine_leaf = ca.leaf_current(&["mine.example.com"], KeyAlg::P256);
        let admin = sdk(
            &server,
            "v1",
            serde_json::json!([
                live_call("AddLiveDomain", serde_json::json!({"DomainName": "secret.example.com"})),
                live_call("AddLiveDomain", serde_json::json!({"DomainName": "mine.example.com"})),
                live_call("SetLiveDomainCertificate", serde_json::json!({"DomainName": "secret.example.com", "CertName": "secret-cert", "SSLProtocol": "on", "SSLPub": secret_leaf.chain_pem, "SSLPri": secret_leaf.key_pem})),
                {"product": "kms", "action": "CreateKey", "params": {"Description": "victim"}},
            ]),
        );
        assert!(admin.iter().all(|r| r["ok"] == true), "{admin:?}");
        let victim = admin[3]["body"]["KeyMetadata"]["KeyId"].as_str().expect("key").to_string();
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([{"product": "kms", "action": "CreateAlias", "params": {"AliasName": "alias/innocent", "KeyId": victim}}]),
        );
        assert_eq!(r[0]["ok"], true, "{r:?}");

        let doc = format!(
            r#"{{"Statement":[
            {{"Effect":"Allow","Action":"live:*","Resource":["acs:live:*:*:domain/*","acs:live:*:*:certificate/*"]}},
            {{"Effect":"Allow","Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","Action":"kms:*","Resource":"acs:kms:*:*:key/{victim}"}},
            {{"Effect":"Deny","Action":"live:*","Resource":"acs:live:*:*:domain/secret.example.com"}}]}}"#
        );
        let (ak, secret) = server.user_with_policy("scoped", "Scoped", &doc);
        let call = |product: &str, action: &str, params: Value| serde_json::json!({"product": product, "action": action, "params": params, "ak": ak, "secret": secret});
        let enc = format!(r#"{{"EncryptType":"aes-128","KmsKeyID":"{victim}"}}"#);
        for generation in ["v1", "v3"] {
            let r = sdk(
                &server,
                generation,
                serde_json::json!([
                    call("kms", "GenerateDataKey", serde_json::json!({"KeyId": "alias/innocent"})),
                    call("kms", "DisableKey", serde_json::json!({"KeyId": "alias/innocent"})),
                    call("live", "DescribeLiveDomainDetail", serde_json::json!({"DomainName": "SECRET.example.com."})),
                    call(
                        "live",
                        "SetLiveDomainCertificate",
                        serde_json::json!({"DomainName": "mine.example.com", "CertName": "secret-cert", "ForceSet": "1", "SSLProtocol": "on", "SSLPub": mine_leaf.chain_pem, "SSLPri": mine_leaf.key_pem})
                    ),
                    call(
                        "live",
                        "AddLiveStreamTranscode",
                        serde_json::json!({"Domain": "mine.example.com", "App": "vip", "Template": "lld", "EncryptParameters": enc})
                    ),
                    call(
                        "live",
                        "DescribeLiveStreamTranscodeInfo",
                        serde_json::json!({"DomainTranscodeName": "secret.example.com"})
                    ),
                    call("live", "DescribeLiveDomainDetail", serde_json::json!({"DomainName": "mine.example.com"})),
                ]),
            );
            let ctx = format!("{generation}: {r:?}");
            assert_eq!(code(&r[0]), (403, "Forbidden.RAM"), "an alias names its key: {ctx}");
            assert_eq!(code(&r[1]), (403, "Forbidden.RAM"), "{ctx}");
            assert_eq!(code(&r[2]), (403, "Forbidden.RAM"), "spelling variants name the same domain: {ctx}");
            assert_eq!(code(&r[3]), (400, "Certificate.Duplicated"), "another domain's certificate name: {ctx}");
            assert_eq!(code(&r[4]), (403, "Forbidden.RAM"), "binding streams to a denied CMK: {ctx}");
            assert!(r[4]["message"].as_str().unwrap_or("").contains("kms:GenerateDataKey"), "{ctx}");
            assert_eq!(code(&r[5]), (403, "Forbidden.RAM"), "{ctx}");
            assert_eq!(r[6]["ok"], true, "allowed calls still work: {ctx}");
        }
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([live_call(
                "DescribeLiveCertificateList",
                serde_json::json!({"DomainName": "secret.example.com"})
            )]),
        );
        assert_eq!(
            r[0]["body"]["CertificateListModel"]["CertList"]["Cert"][0]["CertName"], "secret-cert",
            "untouched: {r:?}"
        );
        let r = sdk(
            &server,
            "v1",
            serde_json::json!([{"product": "kms", "action": "DescribeKey", "params": {"KeyId": victim}}]),
        );
        assert_eq!(r[0]["body"]["KeyMetadata"]["KeyState"], "Enabled", "{r:?}");
    }
}

#[test]
fn sdk_requests_with_stale_timestamps_or_replayed_nonces_are_refused() {
    for db in EVERY_DB {
        let server = Server::start_db("api-replay", db, &[], BOOTSTRAP);
        for generation in ["v1", "v3"] {
            let nonce = format!("fixed-nonce-{generation}");
            let describe = |extra: Value| {
                let mut c = live_call("DescribeLiveUserDomains", serde_json::json!({}));
                if let (Value::Object(m), Value::Object(e)) = (&mut c, extra) {
                    m.extend(e);
                }
                c
            };
            let r = sdk(
                &server,
                generation,
                serde_json::json!([
                    describe(serde_json::json!({"stale": true})),
                    describe(serde_json::json!({"nonce": nonce})),
                    describe(serde_json::json!({"nonce": nonce})),
                    describe(serde_json::json!({})),
                ]),
            );
            let ctx = format!("{generation}: {r:?}");
            assert_eq!(code(&r[0]), (400, "InvalidTimeStamp.Expired"), "{ctx}");
            assert_eq!(r[1]["ok"], true, "{ctx}");
            assert_eq!(code(&r[2]), (400, "SignatureNonceUsed"), "{ctx}");
            assert_eq!(r[3]["ok"], true, "{ctx}");
        }
    }
}
