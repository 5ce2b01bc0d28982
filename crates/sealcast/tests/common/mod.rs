//! Test harness: starts the real `sealcast` binary on loopback ports chosen at run time, and
//! drives it with real clients (ffmpeg, ffprobe, openssl) and a minimal HTTP/1.1 client.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `sealcast api ARGS…` against `server`'s API with the given access key; returns whether it
/// succeeded, its JSON output and its stderr.
pub fn api_call(server: &Server, ak: &str, secret: &str, args: &[&str]) -> (bool, serde_json::Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_sealcast"))
        .args(["api", "--endpoint", &format!("http://{}", server.api)])
        .env("SEALCAST_ACCESS_KEY_ID", ak)
        .env("SEALCAST_ACCESS_KEY_SECRET", secret)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sealcast api");
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.success(), v, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A loopback port free right now (for servers that must come back on the same port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Fails (never skips) when a required tool is missing.
pub fn require(tool: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map(|o| o.status.success());
    assert!(found.unwrap_or(false), "{tool} is required for this test: run ./scripts/test, which installs it");
}

/// The database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// SQLite in the data directory (the default).
    Sqlite,
    /// A fresh database on the PostgreSQL server of `SEALCAST_TEST_POSTGRES_URL`.
    Postgres,
}

/// Both databases, for tests that run the same checks on each.
pub const EVERY_DB: [Db; 2] = [Db::Sqlite, Db::Postgres];

fn database_url(db: Db) -> Option<String> {
    match db {
        Db::Sqlite => None,
        Db::Postgres => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            Some(rt.block_on(sealcast_store::testing::fresh_postgres_url()).expect("create a PostgreSQL test database"))
        }
    }
}

pub struct Server {
    child: Option<Child>,
    /// `--database-url` of this server (None: SQLite in the data dir).
    pub database_url: Option<String>,
    extra: Vec<String>,
    env: Vec<(String, String)>,
    pub dir: PathBuf,
    pub rtmp: SocketAddr,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub api: SocketAddr,
    log: Arc<Mutex<String>>,
}

fn unique_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sealcast-e2e-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

fn field(line: &str, name: &str) -> SocketAddr {
    let start = line.find(&format!(" {name}=")).unwrap_or_else(|| panic!("no {name} in {line}")) + name.len() + 2;
    line[start..]
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad {name} in {line}"))
}

impl Server {
    /// Starts `sealcast serve` with a fresh data dir and extra flags.
    pub fn start(tag: &str, extra: &[&str]) -> Server {
        let dir = unique_dir(tag);
        Self::start_in(dir, extra)
    }

    pub fn start_in(dir: PathBuf, extra: &[&str]) -> Server {
        Self::start_with_env(dir, extra, &[], None)
    }

    /// Starts with extra environment variables (others that change behaviour are removed).
    pub fn start_env(tag: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_with_env(unique_dir(tag), extra, env, None)
    }

    /// Starts on the given database.
    pub fn start_db(tag: &str, db: Db, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let tag = format!("{tag}-{db:?}").to_lowercase();
        Self::start_with_env(unique_dir(&tag), extra, env, database_url(db))
    }

    /// Stops the server and starts it again on the same data directory and database.
    pub fn restart(mut self) -> Server {
        assert!(self.stop(10), "the server did not stop");
        let extra: Vec<String> = std::mem::take(&mut self.extra);
        let env: Vec<(String, String)> = std::mem::take(&mut self.env);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // The old handle must not delete the directory the new server uses.
        let dir = std::mem::take(&mut self.dir);
        Self::start_with_env(dir, &extra, &env, self.database_url.clone())
    }

    fn start_with_env(dir: PathBuf, extra: &[&str], env: &[(&str, &str)], database_url: Option<String>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealcast"));
        cmd.env_remove("SEALCAST_BOOTSTRAP_ACCESS_KEY_ID").env_remove("SEALCAST_BOOTSTRAP_ACCESS_KEY_SECRET");
        cmd.env_remove("SEALCAST_DATABASE_URL");
        if let Some(url) = &database_url {
            cmd.env("SEALCAST_DATABASE_URL", url);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .arg("serve")
            .args(["--data-dir", dir.join("data").to_str().expect("utf8 path")])
            .args(["--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"])
            .args(["--https-listen", "127.0.0.1:0"])
            .args(["--log", "info"])
            .args(extra)
            .env_remove("SEALCAST_ROOT_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sealcast");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" ready ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line.clone());
                    }
                }
                let mut l = log2.lock().expect("log lock");
                l.push_str(&line);
                l.push('\n');
            }
        });
        let ready = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("sealcast did not become ready:\n{}", log.lock().expect("log").as_str());
            }
        };
        // `serve --api-only` reports the API alone.
        let optional = |name: &str| {
            if ready.contains(&format!(" {name}=")) {
                field(&ready, name)
            } else {
                SocketAddr::from(([127, 0, 0, 1], 0))
            }
        };
        let s = Server {
            rtmp: optional("rtmp"),
            http: optional("http"),
            https: optional("https"),
            api: field(&ready, "api"),
            child: Some(child),
            database_url,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            dir,
            log,
        };
        let (status, _) = s.get_api("/healthz");
        assert_eq!(status, 200, "healthz once ready");
        s
    }

    pub fn rtmp_url(&self, path: &str) -> String {
        format!("rtmp://{}/{path}", self.rtmp)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Runs `sealcast ARGS… --data-dir <this server's>` (the CLI beside the running server).
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealcast"));
        cmd.env_remove("SEALCAST_DATABASE_URL");
        if let Some(url) = &self.database_url {
            cmd.env("SEALCAST_DATABASE_URL", url);
        }
        cmd.args(args)
            .args(["--data-dir", self.dir.join("data").to_str().expect("utf8 path")])
            .env_remove("SEALCAST_ROOT_KEY")
            .stdin(Stdio::null())
            .output()
            .expect("run sealcast CLI")
    }

    /// Runs the CLI and asserts success; returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(o.status.success(), "sealcast {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Creates `user` with the policy `policy` (document `doc`) attached and an access key,
    /// through the CLI; returns the key's id and secret.
    pub fn user_with_policy(&self, user: &str, policy: &str, doc: &str) -> (String, String) {
        self.cli_ok(&["user", "add", user]);
        let file = write_file(&self.dir, &format!("{policy}.json"), doc.as_bytes());
        self.cli_ok(&["policy", "put", policy, "--file", file.to_str().expect("utf8")]);
        self.cli_ok(&["policy", "attach", user, policy]);
        let out = self.cli_ok(&["access-key", "create", "--user", user]);
        let field = |name: &str| {
            out.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("{name} in {out}")).to_string()
        };
        (field("AccessKeyId="), field("AccessKeySecret="))
    }

    /// `sealcast encryption set` for an app on the default domain (localhost).
    pub fn set_encryption(&self, app: &str, kind: &str, rotation: u32) {
        let rotation = rotation.to_string();
        let args =
            ["encryption", "set", "--domain", "localhost", "--app", app, "--type", kind, "--rotation", &rotation];
        self.cli_ok(&args);
    }

    /// A test CA and a certificate for `localhost` set on the default domain; returns the CA
    /// file for clients.
    pub fn localhost_certificate(&self) -> PathBuf {
        use sealcast_tls::test_pki::{KeyAlg, TestCa};
        let ca = TestCa::new("Sealcast Test CA");
        let leaf = ca.leaf(&["localhost"], KeyAlg::P256);
        let dir = self.dir.join("localhost-pki");
        std::fs::create_dir_all(&dir).expect("pki dir");
        let (ca_file, cert, key) = (dir.join("ca.pem"), dir.join("leaf.crt"), dir.join("leaf.key"));
        std::fs::write(&ca_file, ca.pem()).expect("ca");
        std::fs::write(&cert, &leaf.chain_pem).expect("cert");
        std::fs::write(&key, &leaf.key_pem).expect("key");
        let p = |f: &Path| f.to_str().expect("utf8").to_string();
        self.cli_ok(&[
            "cert",
            "set",
            "--domain",
            "localhost",
            "--name",
            "localhost",
            "--cert",
            &p(&cert),
            "--key",
            &p(&key),
        ]);
        ca_file
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Waits until the log contains `needle`; returns whether it did within `secs`.
    pub fn wait_log(&self, needle: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        http_get(self.http, path)
    }

    pub fn get_api(&self, path: &str) -> (u16, Vec<u8>) {
        http_get(self.api, path)
    }

    /// Polls until the playlist satisfies `pred` (or panics after `secs`).
    pub fn wait_playlist(&self, path: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, body) = self.get(path);
            let text = String::from_utf8_lossy(&body).into_owned();
            if status == 200 && pred(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "playlist {path} never matched; last {status}:\n{text}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM and wait; returns whether it exited successfully within `secs`.
    pub fn stop(&mut self, secs: u64) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                // Let the log reader drain.
                std::thread::sleep(Duration::from_millis(100));
                return st.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// POST with a body; returns status, lower-cased headers and body.
pub fn http_post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    http_request(addr, "POST", path, &format!("Content-Type: {content_type}\r\n"), body)
}

/// One HTTP/1.1 request with `Connection: close`; returns status, lower-cased headers, body.
fn http_request(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let length = if method == "GET" { String::new() } else { format!("Content-Length: {}\r\n", body.len()) };
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}{length}\r\n")
        .expect("write");
    s.write_all(body).expect("write body");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, head.to_ascii_lowercase(), buf[split + 4..].to_vec())
}

/// The Python with pyhpke and the Alibaba Cloud SDKs that ./scripts/test prepares
/// (SEALCAST_TEST_PYTHON overrides).
pub fn interop_python() -> PathBuf {
    let p = std::env::var_os("SEALCAST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-python/bin/python"));
    let modules =
        "import pyhpke, aliyunsdkcore, aliyunsdkkms, aliyunsdklive, alibabacloud_kms20160120, alibabacloud_live20161101";
    let ok = Command::new(&p).args(["-c", modules]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{} with pyhpke and the Alibaba Cloud SDKs is required: run ./scripts/test", p.display());
    p
}

/// Runs `sealcast ARGS…` (no data dir); returns (success, stdout bytes, stderr).
pub fn sealcast(args: &[&str]) -> (bool, Vec<u8>, String) {
    let o =
        Command::new(env!("CARGO_BIN_EXE_sealcast")).args(args).stdin(Stdio::null()).output().expect("run sealcast");
    (o.status.success(), o.stdout, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Minimal HTTP/1.1 GET (Connection: close).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = http_get_full(addr, path);
    (status, body)
}

/// GET returning status, the raw header block (lower-cased) and the body.
pub fn http_get_full(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    http_request(addr, "GET", path, "", b"")
}

/// Starts ffmpeg pushing a test pattern (testsrc2 + sine, libx264 + AAC, 25 fps, keyframe
/// every second) for `secs` seconds. `realtime` paces it with -re.
pub fn push(url: &str, secs: u32, realtime: bool) -> Child {
    require("ffmpeg");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
    if realtime {
        cmd.arg("-re");
    }
    cmd.args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args(["-t", &secs.to_string()])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-b:a", "64k", "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg")
}

pub fn wait_output(child: Child) -> Output {
    child.wait_with_output().expect("wait for child")
}

/// Decodes a URL or file with ffmpeg; returns (success, stderr at -loglevel error).
pub fn decode(input: &str) -> (bool, String) {
    require("ffmpeg");
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", input, "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Video frames ffprobe decodes from a URL or file.
pub fn count_frames(input: &str) -> Result<u64, String> {
    require("ffprobe");
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            input,
        ])
        .output()
        .expect("run ffprobe");
    // HLS input lists the stream under its program and again globally: take the first.
    let out =
        String::from_utf8_lossy(&o.stdout).lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string();
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    out.parse().map_err(|_| format!("ffprobe printed {out:?}; stderr: {}", String::from_utf8_lossy(&o.stderr)))
}

/// Parsed `#EXT-X-KEY` line attributes and the segment each applies to.
#[derive(Debug, Clone)]
pub struct KeyedSegment {
    pub key_uri: String,
    pub iv_hex: String,
    pub segment_uri: String,
    pub duration: f64,
}

pub fn attr(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[start..];
    Some(if let Some(q) = rest.strip_prefix('"') {
        q[..q.find('"')?].to_string()
    } else {
        rest.split(',').next()?.to_string()
    })
}

pub fn keyed_segments(playlist: &str) -> Vec<KeyedSegment> {
    let mut out = Vec::new();
    let mut key: Option<(String, String)> = None;
    let mut dur = 0.0;
    for line in playlist.lines() {
        if line.starts_with("#EXT-X-KEY:") {
            key = Some((attr(line, "URI").unwrap_or_default(), attr(line, "IV").unwrap_or_default()));
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = d.trim_end_matches(',').parse().unwrap_or(0.0);
        } else if !line.starts_with('#') && !line.is_empty() {
            let (k, iv) = key.clone().unwrap_or_default();
            out.push(KeyedSegment {
                key_uri: k,
                iv_hex: iv.trim_start_matches("0x").to_string(),
                segment_uri: line.to_string(),
                duration: dur,
            });
        }
    }
    out
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write file");
    p
}
