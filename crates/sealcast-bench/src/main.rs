//! Micro-benchmarks and load clients for the bench/ scripts (never timed tests).
//!
//! - `sealcast-bench encrypt [SECONDS] [SEGMENT_BYTES]`: HLS segment encryption throughput
//!   (AES-128-CBC with PKCS#7 over whole segments, a fresh IV each, as the packager does).
//!   Prints `encrypt_mb_per_s=<MB/s>` (MB = 10^6 bytes, like `openssl speed`).
//! - `sealcast-bench flv-viewers ADDR PATH VIEWERS SECONDS`: that many HTTP-FLV viewers of
//!   `http://ADDR/PATH`, connected over the first seconds and reading (and discarding) for
//!   SECONDS. Prints `connected=`, `kept_pace=` (viewers that got at least 90 % of the median
//!   bytes), `median_kbps=` and `min_kbps=`.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("encrypt") => encrypt(&args),
        Some("flv-viewers") => flv_viewers(&args),
        _ => {
            eprintln!("usage: sealcast-bench encrypt [SECONDS] [SEGMENT_BYTES]");
            eprintln!("       sealcast-bench flv-viewers ADDR PATH VIEWERS SECONDS");
            std::process::ExitCode::from(2)
        }
    }
}

fn flv_viewers(args: &[String]) -> std::process::ExitCode {
    let (Some(addr), Some(path), Some(n), Some(secs)) = (
        args.get(2).and_then(|a| a.parse::<std::net::SocketAddr>().ok()),
        args.get(3).cloned(),
        args.get(4).and_then(|n| n.parse::<usize>().ok()),
        args.get(5).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: sealcast-bench flv-viewers ADDR PATH VIEWERS SECONDS");
        return std::process::ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let got: Vec<Option<u64>> = rt.block_on(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
                let req = format!("GET /{path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                s.write_all(req.as_bytes()).await.ok()?;
                let mut buf = vec![0u8; 16 * 1024];
                let mut total = 0u64;
                loop {
                    match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                        Ok(Ok(k)) => total += k as u64,
                    }
                }
                Some(total)
            }));
            // Connect over the first seconds, as an audience arrives.
            if i % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.ok().flatten());
        }
        out
    });
    let mut bytes: Vec<u64> = got.iter().flatten().copied().collect();
    bytes.sort_unstable();
    let median = bytes.get(bytes.len() / 2).copied().unwrap_or(0);
    let kept = bytes.iter().filter(|&&b| b as f64 >= median as f64 * 0.9).count();
    let kbps = |b: u64| b * 8 / 1000 / secs.max(1);
    println!("connected={}", bytes.len());
    println!("kept_pace={kept}");
    println!("median_kbps={}", kbps(median));
    println!("min_kbps={}", kbps(bytes.first().copied().unwrap_or(0)));
    std::process::ExitCode::SUCCESS
}

fn encrypt(args: &[String]) -> std::process::ExitCode {
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let size: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1 << 20);
    let key = [0x42u8; 16];
    let template: Vec<u8> = (0..size).map(|i| (i * 31) as u8).collect();
    let mut buf = Vec::with_capacity(size + 16);
    let mut bytes = 0u64;
    let start = Instant::now();
    let budget = Duration::from_secs_f64(secs);
    while start.elapsed() < budget {
        let Ok(iv) = sealcast_crypto::random_array::<16>() else {
            eprintln!("random IV unavailable");
            return std::process::ExitCode::FAILURE;
        };
        buf.clear();
        buf.extend_from_slice(&template);
        if sealcast_crypto::aes128_cbc_encrypt(&key, &iv, &mut buf).is_err() {
            eprintln!("encryption failed");
            return std::process::ExitCode::FAILURE;
        }
        bytes += size as u64;
    }
    let mbps = bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
    println!("encrypt_mb_per_s={mbps:.1}");
    std::process::ExitCode::SUCCESS
}
