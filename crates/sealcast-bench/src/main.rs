//! `sealcast-bench encrypt [SECONDS] [SEGMENT_BYTES]`: HLS segment encryption throughput
//! (AES-128-CBC with PKCS#7 over whole segments, a fresh IV each, as the packager does).
//! Prints one line: `encrypt_mb_per_s=<MB/s>` (MB = 10^6 bytes, like `openssl speed`).
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("encrypt") {
        eprintln!("usage: sealcast-bench encrypt [SECONDS] [SEGMENT_BYTES]");
        return std::process::ExitCode::from(2);
    }
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
