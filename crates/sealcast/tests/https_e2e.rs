//! HTTPS secure acceleration end to end, with real TLS clients (openssl s_client, curl) and
//! ffmpeg: SNI selection, chains, live certificate swap, validation errors, redirects, HSTS,
//! TLS versions, HTTP/2 and OCSP stapling (against `openssl ocsp` as the responder).

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sealcast_tls::test_pki::{encrypted_pkcs8_lookalike, KeyAlg, Leaf, TestCa};

struct Pki {
    dir: PathBuf,
    ca: TestCa,
}

impl Pki {
    fn new(server: &Server) -> Pki {
        let dir = server.dir.join("pki");
        std::fs::create_dir_all(&dir).expect("pki dir");
        let ca = TestCa::new("Sealcast Test CA");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write CA");
        Pki { dir, ca }
    }

    fn ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// Writes a leaf's chain and key files; returns their paths.
    fn files(&self, tag: &str, leaf: &Leaf) -> (String, String) {
        let c = self.dir.join(format!("{tag}.crt"));
        let k = self.dir.join(format!("{tag}.key"));
        std::fs::write(&c, &leaf.chain_pem).expect("write cert");
        std::fs::write(&k, &leaf.key_pem).expect("write key");
        (c.display().to_string(), k.display().to_string())
    }

    fn set(&self, server: &Server, domain: &str, name: &str, leaf: &Leaf, force: bool) -> std::process::Output {
        let (c, k) = self.files(name, leaf);
        let mut args = vec!["cert", "set", "--domain", domain, "--name", name, "--cert", &c, "--key", &k];
        if force {
            args.push("--force");
        }
        server.cli(&args)
    }
}

/// One `openssl s_client` handshake; returns (stdout, stderr).
fn s_client(server: &Server, sni: Option<&str>, extra: &[&str]) -> (String, String) {
    require("openssl");
    let port = server.https.port().to_string();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")]);
    match sni {
        Some(n) => cmd.args(["-servername", n]),
        None => cmd.arg("-noservername"),
    };
    let o = cmd.args(extra).stdin(Stdio::null()).output().expect("run openssl");
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The subject CN line `s_client` prints for the leaf.
/// (Spaces removed: OpenSSL versions print `CN = x` or `CN=x`.)
fn served_subject(out: &str) -> Option<String> {
    out.lines().find(|l| l.starts_with("subject=")).map(|l| l.replace(' ', ""))
}

fn wait_subject(server: &Server, sni: Option<&str>, needle: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (out, _) = s_client(server, sni, &[]);
        if served_subject(&out).is_some_and(|s| s.contains(needle)) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{needle} not served for {sni:?} within {within:?}:\n{out}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn curl(args: &[&str]) -> String {
    require("curl");
    let o = Command::new("curl").args(["-s", "-S", "--max-time", "20"]).args(args).output().expect("run curl");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn sni_selects_exact_wildcard_and_default_certificates_with_verified_chains() {
    let server = Server::start("sni", &[]);
    let pki = Pki::new(&server);
    server.cli_ok(&["domain", "add", "play.example.com"]);
    server.cli_ok(&["domain", "add", "*.example.com"]);
    assert!(pki
        .set(&server, "play.example.com", "play", &pki.ca.leaf(&["play.example.com"], KeyAlg::P256), false)
        .status
        .success());
    assert!(pki
        .set(&server, "*.example.com", "wild", &pki.ca.leaf(&["*.example.com"], KeyAlg::Rsa2048), false)
        .status
        .success());
    assert!(pki.set(&server, "localhost", "local", &pki.ca.leaf(&["localhost"], KeyAlg::P384), false).status.success());
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));

    let ca = pki.ca_file();
    for (sni, cn, verify_name) in [
        (Some("play.example.com"), "CN=play.example.com", "play.example.com"),
        (Some("a.example.com"), "CN=*.example.com", "a.example.com"),
        (Some("unknown.test"), "CN=localhost", "localhost"),
        (None, "CN=localhost", "localhost"),
    ] {
        let (out, err) =
            s_client(&server, sni, &["-CAfile", &ca, "-verify_return_error", "-verify_hostname", verify_name]);
        assert!(served_subject(&out).is_some_and(|s| s.contains(cn)), "{sni:?} → {cn}:\n{out}\n{err}");
        assert!(out.contains("Verify return code: 0 (ok)"), "chain verifies for {sni:?}:\n{out}");
    }
    // Two levels below a wildcard is not covered: the default certificate answers.
    let (out, _) = s_client(&server, Some("a.b.example.com"), &[]);
    assert!(served_subject(&out).is_some_and(|s| s.contains("CN=localhost")), "{out}");

    // curl verifies the chain and the name with --resolve.
    let port = server.https.port();
    let resolve = format!("play.example.com:{port}:127.0.0.1");
    let url = format!("https://play.example.com:{port}/live/none.m3u8");
    let code = curl(&["--resolve", &resolve, "--cacert", &ca, "-o", "/dev/null", "-w", "%{http_code}", &url]);
    assert_eq!(code, "404", "TLS verified, stream not live");

    // Without a default domain, an unknown name gets the unrecognized_name alert.
    let strict = Server::start("sni-strict", &["--default-domain", ""]);
    let (out, err) = s_client(&strict, Some("unknown.test"), &[]);
    assert!(err.contains("unrecognized name") || out.contains("unrecognized name"), "alert expected:\n{out}\n{err}");
    let (status, body) = strict.get("/live/x.m3u8");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no playback domain serves host"));
}

#[test]
fn invalid_uploads_get_specific_errors_and_the_old_certificate_keeps_serving() {
    let server = Server::start("invalid", &[]);
    let pki = Pki::new(&server);
    let good = pki.ca.leaf(&["localhost"], KeyAlg::P256);
    assert!(pki.set(&server, "localhost", "good", &good, false).status.success());
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));
    let fingerprint = |s: &Server| {
        let (out, _) = s_client(s, Some("localhost"), &[]);
        out.lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .take_while(|l| !l.starts_with("-----END"))
            .collect::<String>()
    };
    let before = fingerprint(&server);
    let other = pki.ca.leaf(&["localhost"], KeyAlg::P256);
    let mismatched = Leaf { key_pem: other.key_pem.clone(), ..good.clone() };
    let encrypted = Leaf { key_pem: encrypted_pkcs8_lookalike(&other.key_pem), ..other.clone() };
    let not_pem = Leaf { chain_pem: "not a certificate".into(), ..other.clone() };
    let reordered =
        Leaf { chain_pem: format!("{}{}", other.leaf_pem, TestCa::new("Unrelated CA").pem()), ..other.clone() };
    let cases: Vec<(&str, Leaf, &str)> = vec![
        ("expired", pki.ca.leaf_with(&["localhost"], KeyAlg::P256, 2020, 2021), "expired"),
        ("future", pki.ca.leaf_with(&["localhost"], KeyAlg::P256, 2090, 2095), "not valid before"),
        ("wrongname", pki.ca.leaf(&["other.example.org"], KeyAlg::P256), "does not cover localhost"),
        ("mismatch", mismatched, "does not match the certificate"),
        ("encrypted", encrypted, "password-protected"),
        ("notpem", not_pem, "not PEM"),
        ("order", reordered, "out of order"),
    ];
    for (name, leaf, expect) in cases {
        let o = pki.set(&server, "localhost", name, &leaf, false);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(expect), "{name}: expected {expect:?}, got {err}");
        assert!(!err.contains("PRIVATE KEY-----"), "no key material in errors");
    }
    let o = pki.set(&server, "localhost", "good", &other, false);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ForceSet"), "same name needs force");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fingerprint(&server), before, "the old certificate keeps serving");
    let shown = server.cli_ok(&["cert", "show", "good"]);
    assert!(shown.contains("key type:    ECDSA P-256") && shown.contains("sha256:"), "{shown}");
    assert!(!shown.contains("PRIVATE"), "never the key");
}

#[test]
fn live_swap_keeps_connections_and_new_handshakes_see_the_new_certificate_within_a_second() {
    let server = Server::start("swap", &[]);
    let pki = Pki::new(&server);
    let first = pki.ca.leaf(&["localhost"], KeyAlg::P256);
    assert!(pki.set(&server, "localhost", "first", &first, false).status.success());
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));
    let pusher = push(&server.rtmp_url("live/swap"), 12, true);
    server.wait_playlist("/live/swap.m3u8", 20, |p| p.contains(".ts"));
    let pl = server.get("/live/swap.m3u8").1;
    let seg = keyed_segments(&String::from_utf8_lossy(&pl)).remove(0).segment_uri;

    // A keep-alive HTTP/1.1 connection through openssl s_client.
    let port = server.https.port().to_string();
    let mut keepalive = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}"), "-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("s_client");
    let mut ka_in = keepalive.stdin.take().expect("stdin");
    let request = "GET /live/swap.m3u8 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ka_in.write_all(request.as_bytes()).expect("first request");
    // A slow download of a segment (rate-limited) in flight during the swap.
    let seg_url = format!("https://localhost:{port}/live/{seg}");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let ca = pki.ca_file();
    let slow = Command::new("curl")
        .args([
            "-s",
            "-S",
            "--resolve",
            &resolve,
            "--cacert",
            &ca,
            "--limit-rate",
            "40k",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            &seg_url,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    std::thread::sleep(Duration::from_millis(300));

    let second = pki.ca.leaf(&["localhost", "second.invalid"], KeyAlg::Rsa2048);
    let o = pki.set(&server, "localhost", "second", &second, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let took = wait_subject_names(&server, "second.invalid", Duration::from_secs(1));
    assert!(took < Duration::from_secs(1), "new handshakes see the new certificate after {took:?}");

    // The keep-alive connection still answers, the slow download completes.
    ka_in.write_all(request.as_bytes()).expect("second request on the same connection");
    drop(ka_in);
    let out = keepalive.wait_with_output().expect("s_client output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "both requests answered on one connection:\n{text}");
    let slow = slow.wait_with_output().expect("curl");
    let res = String::from_utf8_lossy(&slow.stdout);
    assert!(res.starts_with("200 ") && !res.ends_with(" 0"), "slow download completed: {res}");
    assert!(wait_output(pusher).status.success());
}

/// Waits until a new handshake shows a certificate carrying `name` in its SANs.
fn wait_subject_names(server: &Server, name: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (out, _) = s_client(server, Some("localhost"), &["-showcerts"]);
        let pem: String = out
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN"))
            .take_while(|l| !l.starts_with("-----END"))
            .collect::<Vec<_>>()
            .join("\n");
        if !pem.is_empty() {
            let cert = format!("{pem}\n-----END CERTIFICATE-----\n");
            let o = Command::new("openssl")
                .args(["x509", "-noout", "-ext", "subjectAltName"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    c.stdin.take().expect("stdin").write_all(cert.as_bytes())?;
                    c.wait_with_output()
                });
            if o.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(name)) {
                return start.elapsed();
            }
        }
        if start.elapsed() > within * 3 {
            panic!("{name} never served");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn redirects_hsts_tls_versions_and_http2_follow_domain_functions() {
    let server = Server::start("functions", &[]);
    let pki = Pki::new(&server);
    assert!(pki.set(&server, "localhost", "local", &pki.ca.leaf(&["localhost"], KeyAlg::P256), false).status.success());
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));
    let (hp, sp) = (server.http.port(), server.https.port());
    let http_url = format!("http://localhost:{hp}/live/x.m3u8?a=1&b=2");
    let https_url = format!("https://localhost:{sp}/live/x.m3u8?a=1&b=2");
    let resolve = [format!("localhost:{hp}:127.0.0.1"), format!("localhost:{sp}:127.0.0.1")];
    let ca = pki.ca_file();
    let probe = |url: &str, extra: &[&str]| {
        let mut args =
            vec!["--resolve", &resolve[0], "--resolve", &resolve[1], "--cacert", &ca, "-o", "/dev/null", "-D", "-"];
        args.extend_from_slice(extra);
        args.push("-w");
        args.push("%{http_code} %{redirect_url} %{http_version}\n");
        args.push(url);
        curl(&args).to_ascii_lowercase()
    };
    let reload = || std::thread::sleep(Duration::from_millis(600));

    server.cli_ok(&["domain", "set", "localhost", "https_force", "enable=on", "https_rewrite=301"]);
    reload();
    let out = probe(&http_url, &[]);
    assert!(out.contains(&format!("301 https://localhost:{sp}/live/x.m3u8?a=1&b=2")), "{out}");
    server.cli_ok(&["domain", "set", "localhost", "https_force", "https_rewrite=308"]);
    reload();
    assert!(probe(&http_url, &[]).contains("308 https://"));

    // Both directions at once are refused.
    let o = server.cli(&["domain", "set", "localhost", "http_force", "enable=on"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("cannot both be on"));
    server.cli_ok(&["domain", "unset", "localhost", "https_force"]);
    server.cli_ok(&["domain", "set", "localhost", "http_force", "enable=on", "http_rewrite=301"]);
    server.cli_ok(&[
        "domain",
        "set",
        "localhost",
        "HSTS",
        "enabled=on",
        "https_hsts_max_age=63072000",
        "https_hsts_include_subdomains=on",
    ]);
    reload();
    let out = probe(&https_url, &[]);
    assert!(out.contains(&format!("301 http://localhost:{hp}/live/x.m3u8?a=1&b=2")), "{out}");
    assert!(out.contains("strict-transport-security: max-age=63072000; includesubdomains"), "HSTS on HTTPS: {out}");
    server.cli_ok(&["domain", "unset", "localhost", "http_force"]);
    reload();
    let out = probe(&http_url, &[]);
    assert!(out.starts_with("http/1.1 404") && !out.contains("strict-transport-security"), "no HSTS over HTTP: {out}");

    // TLS versions per domain.
    let o = server.cli(&["domain", "set", "localhost", "https_tls_version", "tls10=on"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unsupported as insecure"));
    let o = server.cli(&["domain", "set", "localhost", "https_tls_version", "tls12=off", "tls13=off"]);
    assert!(!o.status.success());
    let handshake = |v: &str| {
        let (out, _) = s_client(&server, Some("localhost"), &[v]);
        out.contains("Cipher is ") && !out.contains("Cipher is (NONE)")
    };
    server.cli_ok(&["domain", "set", "localhost", "https_tls_version", "tls12=on", "tls13=off"]);
    reload();
    assert!(handshake("-tls1_2") && !handshake("-tls1_3"), "TLS 1.2 only");
    server.cli_ok(&["domain", "set", "localhost", "https_tls_version", "tls12=off", "tls13=on"]);
    reload();
    assert!(!handshake("-tls1_2") && handshake("-tls1_3"), "TLS 1.3 only");
    server.cli_ok(&["domain", "unset", "localhost", "https_tls_version"]);

    // HTTP/2 via ALPN, and off when disabled.
    reload();
    assert!(probe(&https_url, &["--http2"]).trim_end().ends_with(" 2"), "HTTP/2 negotiated");
    require("h2load");
    let h2 = Command::new("h2load").args(["-n", "20", "-c", "2", &https_url]).output().expect("run h2load");
    let h2 = String::from_utf8_lossy(&h2.stdout).into_owned();
    assert!(h2.contains("Application protocol: h2") && h2.contains("20 done"), "h2load over h2:\n{h2}");
    server.cli_ok(&["domain", "set", "localhost", "https_option", "http2=off"]);
    reload();
    assert!(probe(&https_url, &["--http2"]).trim_end().ends_with(" 1.1"), "HTTP/1.1 when http2 is off");
    let h2 = Command::new("h2load").args(["-n", "2", "-c", "1", &https_url]).output().expect("run h2load");
    assert!(!String::from_utf8_lossy(&h2.stdout).contains("Application protocol: h2"), "no h2 when http2 is off");
    let shown = server.cli_ok(&["domain", "show", "localhost"]);
    assert!(shown.contains("https_option\thttp2=off"), "{shown}");
}

#[test]
fn ffmpeg_plays_encrypted_hls_over_https_from_a_named_domain() {
    let server = Server::start("https-play", &[]);
    let pki = Pki::new(&server);
    assert!(pki.set(&server, "localhost", "local", &pki.ca.leaf(&["localhost"], KeyAlg::P256), false).status.success());
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));
    assert!(wait_output(push(&server.rtmp_url("live/tls"), 5, false)).status.success());
    server.wait_playlist("/live/tls.m3u8", 10, |p| p.contains("#EXT-X-ENDLIST"));
    let url = format!("https://localhost:{}/live/tls.m3u8", server.https.port());
    let (ok, errors) = decode(&url);
    assert!(ok && errors.trim().is_empty(), "ffmpeg over HTTPS: {errors}");
    let frames = count_frames(&url).expect("ffprobe over HTTPS");
    assert!(frames >= 100, "{frames} frames");
}

#[test]
fn testssl_finds_nothing_but_the_test_ca_chain_of_trust() {
    require("testssl");
    let server = Server::start("testssl", &[]);
    let pki = Pki::new(&server);
    let leaf = pki.ca.leaf_current(&["localhost"], KeyAlg::P256);
    assert!(pki.set(&server, "localhost", "local", &leaf, false).status.success());
    server.cli_ok(&["domain", "set", "localhost", "HSTS", "enabled=on", "https_hsts_max_age=63072000"]);
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));
    std::thread::sleep(Duration::from_millis(500));
    let json = server.dir.join("testssl.json");
    let o = Command::new("testssl")
        .args(["--quiet", "--color", "0", "--warnings", "off", "--ip", "127.0.0.1", "--jsonfile"])
        .arg(&json)
        .arg(format!("https://localhost:{}/live/x.m3u8", server.https.port()))
        .stdin(Stdio::null())
        .output()
        .expect("run testssl");
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|_| panic!("testssl wrote no JSON: {}", String::from_utf8_lossy(&o.stdout)));
    // Findings that are not the server's: the test CA is not a public root, `localhost` has no
    // DNS CAA record, and the local openssl lacks GOST engines. testssl's TLS 1.3 ticket check
    // runs `s_client -sess_out … </dev/null`, which exits before any server's post-handshake
    // tickets arrive (OpenSSL's own s_server included) and then reports a "connect problem";
    // `session_resumption_works_with_tls12_and_tls13_tickets` checks resumption directly.
    let allowed = ["cert_chain_of_trust", "DNS_CAArecord", "engine_problem", "sessionresumption_ticket"];
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("testssl JSON");
    let field = |e: &serde_json::Value, k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let findings: Vec<String> = entries
        .iter()
        .filter(|e| !["OK", "INFO"].contains(&field(e, "severity").as_str()))
        .filter(|e| !allowed.contains(&field(e, "id").as_str()))
        .map(|e| format!("{} {}: {}", field(e, "severity"), field(e, "id"), field(e, "finding")))
        .collect();
    assert!(findings.is_empty(), "testssl findings:\n{}", findings.join("\n"));
    assert!(text.contains("cert_chain_of_trust"), "testssl ran its certificate checks");
}

#[test]
fn session_resumption_works_with_tls12_and_tls13_tickets() {
    let server = Server::start("resume", &[]);
    let pki = Pki::new(&server);
    assert!(pki.set(&server, "localhost", "local", &pki.ca.leaf(&["localhost"], KeyAlg::P256), false).status.success());
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));
    let port = server.https.port().to_string();
    for proto in ["-tls1_2", "-tls1_3"] {
        let sess = server.dir.join(format!("sess{proto}"));
        let sess = sess.to_str().expect("utf8");
        // Keep stdin open briefly so the post-handshake tickets (TLS 1.3) are read.
        let first = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "sleep 0.5 | openssl s_client -connect 127.0.0.1:{port} -servername localhost {proto} -sess_out {sess}"
            ))
            .output()
            .expect("first handshake");
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        let second = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-servername",
                "localhost",
                proto,
                "-sess_in",
                sess,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("resumed handshake");
        let out = String::from_utf8_lossy(&second.stdout);
        assert!(out.lines().any(|l| l.starts_with("Reused,")), "{proto} session resumed:\n{out}");
    }
}

/// `openssl ocsp` as a real OCSP responder for the test CA, killed on drop.
struct Responder {
    child: std::process::Child,
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Starts `openssl ocsp` answering "good" for the certificate at `cert_file`.
fn ocsp_responder(pki: &Pki, port: u16, cert_file: &str) -> Responder {
    let serial = Command::new("openssl").args(["x509", "-in", cert_file, "-noout", "-serial"]).output().expect("x509");
    let serial = String::from_utf8_lossy(&serial.stdout).trim().trim_start_matches("serial=").to_string();
    assert!(!serial.is_empty(), "serial of {cert_file}");
    let subject = Command::new("openssl")
        .args(["x509", "-in", cert_file, "-noout", "-subject", "-nameopt", "compat"])
        .output()
        .expect("x509");
    let subject = String::from_utf8_lossy(&subject.stdout).trim().trim_start_matches("subject=").to_string();
    let index = pki.dir.join("index.txt");
    std::fs::write(&index, format!("V\t991231235959Z\t\t{serial}\tunknown\t{subject}\n")).expect("index");
    std::fs::write(pki.dir.join("index.txt.attr"), "unique_subject = no\n").expect("attr");
    let ca_key = pki.dir.join("ca.key");
    std::fs::write(&ca_key, pki.ca.key.serialize_pem()).expect("CA key");
    let ca = pki.ca_file();
    let child = Command::new("openssl")
        .args(["ocsp", "-index", index.to_str().expect("utf8"), "-port", &port.to_string()])
        .args(["-CA", &ca, "-rsigner", &ca, "-rkey", ca_key.to_str().expect("utf8"), "-ndays", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl ocsp");
    let responder = Responder { child };
    // Ready once it answers a real query (a bare connect would wedge `openssl ocsp`).
    let start = Instant::now();
    loop {
        let o = Command::new("openssl")
            .args(["ocsp", "-issuer", &ca, "-cert", cert_file, "-url", &format!("http://127.0.0.1:{port}/")])
            .args(["-CAfile", &ca, "-timeout", "2"])
            .output()
            .expect("openssl ocsp client");
        if String::from_utf8_lossy(&o.stdout).contains(": good") {
            return responder;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "openssl ocsp did not answer on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The OCSP part of an `s_client -status` handshake.
fn ocsp_status(server: &Server) -> String {
    let (out, _) = s_client(server, Some("localhost"), &["-status"]);
    out.lines()
        .skip_while(|l| !l.starts_with("OCSP"))
        .take_while(|l| !l.starts_with("---"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ocsp_stapling_staples_a_fresh_response_and_serves_on_without_a_responder() {
    let server = Server::start("ocsp", &[]);
    let pki = Pki::new(&server);
    let port = free_port();
    let leaf = pki.ca.leaf_with_ocsp(&["localhost"], KeyAlg::P256, &format!("http://127.0.0.1:{port}/"));
    let (cert_file, _) = pki.files("stapled", &leaf);
    let responder = ocsp_responder(&pki, port, &cert_file);
    assert!(pki.set(&server, "localhost", "stapled", &leaf, false).status.success());
    wait_subject(&server, Some("localhost"), "CN=localhost", Duration::from_secs(3));
    // Off by default: no staple.
    assert!(ocsp_status(&server).contains("OCSP response: no response sent"), "{}", ocsp_status(&server));

    server.cli_ok(&["domain", "set", "localhost", "https_option", "ocsp_stapling=on"]);
    let start = Instant::now();
    let status = loop {
        let s = ocsp_status(&server);
        if s.contains("OCSP Response Status: successful") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no staple within 10 s:\n{s}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.contains("Cert Status: good"), "{status}");
    assert!(status.contains("Next Update:"), "{status}");
    assert!(server.wait_log("OCSP staple refreshed", 2), "{}", server.log());
    // The staple verifies against the test CA (s_client checks it when given the CA).
    let (out, err) = s_client(&server, Some("localhost"), &["-status", "-CAfile", &pki.ca_file()]);
    assert!(out.contains("Cert Status: good") && !err.contains("OCSP response verify failure"), "{out}\n{err}");

    // The responder goes away and the certificate is replaced by one naming it: handshakes go
    // on without a staple (never the old certificate's), and the failure is logged.
    drop(responder);
    let dead = free_port();
    let leaf2 = pki.ca.leaf_with_ocsp(&["localhost"], KeyAlg::Rsa2048, &format!("http://127.0.0.1:{dead}/"));
    assert!(pki.set(&server, "localhost", "stapled", &leaf2, true).status.success());
    assert!(server.wait_log("OCSP staple not available; serving without a staple", 5), "{}", server.log());
    let start = Instant::now();
    loop {
        let (out, _) = s_client(&server, Some("localhost"), &["-status"]);
        if out.contains("Server public key is 2048 bit") {
            assert!(out.contains("OCSP response: no response sent"), "{out}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "new certificate not served:\n{out}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A certificate without a responder URL: stapling cannot work, said once in the log.
    assert!(pki
        .set(&server, "localhost", "stapled", &pki.ca.leaf(&["localhost"], KeyAlg::P256), true)
        .status
        .success());
    assert!(server.wait_log("names no OCSP responder", 5), "{}", server.log());
    assert!(ocsp_status(&server).contains("no response sent"));
}
