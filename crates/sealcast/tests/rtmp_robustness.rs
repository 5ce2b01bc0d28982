//! RTMP robustness: malformed peers are closed alone; unsupported codecs and bad names are
//! refused with a clear status; a healthy stream keeps flowing meanwhile.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use sealcast_media::amf0::{decode_all, encode_all, Amf0Value};
use sealcast_rtmp::{msg_type, ChunkDecoder, ChunkEncoder, RawMessage, HANDSHAKE_SIZE};

/// A scripted RTMP publisher over a real socket.
struct RawClient {
    sock: TcpStream,
    enc: ChunkEncoder,
    dec: ChunkDecoder,
    inbox: Vec<u8>,
}

impl RawClient {
    fn connect(server: &Server) -> RawClient {
        let sock = TcpStream::connect(server.rtmp).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        RawClient { sock, enc: ChunkEncoder::default(), dec: ChunkDecoder::new(1 << 24, 64), inbox: Vec::new() }
    }

    fn handshake(&mut self) {
        let mut c0c1 = vec![3u8];
        c0c1.extend(std::iter::repeat_n(0x5a, HANDSHAKE_SIZE));
        self.sock.write_all(&c0c1).expect("C0C1");
        let mut s = vec![0u8; 1 + 2 * HANDSHAKE_SIZE];
        self.sock.read_exact(&mut s).expect("S0S1S2");
        self.sock.write_all(&s[1..1 + HANDSHAKE_SIZE]).expect("C2");
    }

    fn send(&mut self, csid: u32, type_id: u8, stream_id: u32, payload: &[u8]) {
        let mut out = Vec::new();
        self.enc.write(&mut out, csid, 0, type_id, stream_id, payload);
        self.sock.write_all(&out).expect("send");
    }

    fn command(&mut self, stream_id: u32, values: &[Amf0Value]) {
        self.send(3, msg_type::COMMAND_AMF0, stream_id, &encode_all(values));
    }

    /// Reads messages until one is an onStatus/_result carrying a `code`; returns (code, description).
    fn status(&mut self) -> (String, String) {
        loop {
            while let Some((n, m)) = self.dec.decode(&self.inbox).expect("server speaks valid RTMP") {
                self.inbox.drain(..n);
                let Some(m): Option<RawMessage> = m else {
                    continue;
                };
                if m.type_id == msg_type::SET_CHUNK_SIZE {
                    let v = u32::from_be_bytes([m.payload[0], m.payload[1], m.payload[2], m.payload[3]]);
                    self.dec.set_chunk_size(v).expect("valid chunk size");
                }
                if m.type_id == msg_type::COMMAND_AMF0 {
                    let v = decode_all(&m.payload).expect("amf0");
                    if let Some(info) = v.get(3) {
                        if let Some(code) = info.get("code").and_then(Amf0Value::as_str) {
                            let desc = info.get("description").and_then(Amf0Value::as_str).unwrap_or("").to_string();
                            return (code.to_string(), desc);
                        }
                    }
                }
            }
            let mut buf = [0u8; 4096];
            let n = self.sock.read(&mut buf).expect("read status");
            assert!(n > 0, "server closed before sending a status");
            self.inbox.extend_from_slice(&buf[..n]);
        }
    }

    /// connect + createStream + publish; returns the publish status.
    fn publish(&mut self, app: &str, stream: &str) -> (String, String) {
        self.handshake();
        self.command(
            0,
            &[
                Amf0Value::string("connect"),
                Amf0Value::Number(1.0),
                Amf0Value::object([
                    ("app", Amf0Value::string(app)),
                    ("tcUrl", Amf0Value::string(format!("rtmp://localhost/{app}"))),
                ]),
            ],
        );
        assert_eq!(self.status().0, "NetConnection.Connect.Success");
        self.command(0, &[Amf0Value::string("createStream"), Amf0Value::Number(2.0), Amf0Value::Null]);
        self.command(
            1,
            &[
                Amf0Value::string("publish"),
                Amf0Value::Number(0.0),
                Amf0Value::Null,
                Amf0Value::string(stream),
                Amf0Value::string("live"),
            ],
        );
        self.status()
    }
}

#[test]
fn enhanced_rtmp_hevc_is_refused_with_a_clear_status() {
    let server = Server::start("hevc", &[]);
    let mut c = RawClient::connect(&server);
    assert_eq!(c.publish("live", "hevc").0, "NetStream.Publish.Start");
    // Enhanced RTMP: IsExHeader | keyframe, PacketTypeSequenceStart, FourCC "hvc1".
    c.send(6, msg_type::VIDEO, 1, &[0x90, b'h', b'v', b'c', b'1', 1, 2, 3]);
    let (code, desc) = c.status();
    assert_eq!(code, "NetStream.Publish.Rejected");
    assert!(desc.contains("unsupported video codec 'hvc1'"), "{desc}");
    assert!(server.wait_log("unsupported video codec", 5));
    // Legacy HEVC id 12 and MP3 audio are refused the same way.
    let mut c = RawClient::connect(&server);
    assert_eq!(c.publish("live", "mp3").0, "NetStream.Publish.Start");
    c.send(4, msg_type::AUDIO, 1, &[0x2f, 0xff, 0xfb]);
    let (code, desc) = c.status();
    assert_eq!(code, "NetStream.Publish.Rejected");
    assert!(desc.contains("MP3"), "{desc}");
}

#[test]
fn invalid_names_are_refused_with_bad_name() {
    let server = Server::start("names", &[]);
    for (app, stream) in [("live", "a b"), ("live", ".."), ("li/ve", "x"), ("live", "")] {
        let mut c = RawClient::connect(&server);
        let (code, desc) = c.publish(app, stream);
        assert_eq!(code, "NetStream.Publish.BadName", "{app}/{stream}: {desc}");
        assert!(desc.contains("invalid"), "{desc}");
    }
}

#[test]
fn garbage_and_truncated_input_do_not_disturb_a_healthy_stream() {
    let server = Server::start("garbage", &[]);
    let healthy = push(&server.rtmp_url("live/healthy"), 6, true);
    server.wait_playlist("/live/healthy.m3u8", 20, |p| p.contains(".ts"));

    let mut attackers = Vec::new();
    for i in 0..24u32 {
        let addr = server.rtmp;
        attackers.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
            let mut c0c1 = vec![3u8];
            c0c1.extend(std::iter::repeat_n(0x11, HANDSHAKE_SIZE));
            let mut seed = 0x2545_f491_4f6c_dd1du64.wrapping_mul(i as u64 + 1);
            let mut noise = |n: usize| -> Vec<u8> {
                (0..n)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect()
            };
            match i % 6 {
                0 => drop(s.write_all(&noise(4096))), // garbage from byte one (bad version)
                1 => drop(s.write_all(&c0c1[..700])), // truncated handshake, then close
                2 | 3 => {
                    // Valid handshake, then garbage chunks.
                    let _ = s.write_all(&c0c1);
                    let mut resp = vec![0u8; 1 + 2 * HANDSHAKE_SIZE];
                    let _ = s.read_exact(&mut resp);
                    let _ = s.write_all(&resp[1..1 + HANDSHAKE_SIZE]);
                    let _ = s.write_all(&noise(8192));
                }
                4 => {
                    // Valid handshake, then a chunk header announcing a 16 MiB - 1 message (over the 8 MiB limit).
                    let _ = s.write_all(&c0c1);
                    let mut resp = vec![0u8; 1 + 2 * HANDSHAKE_SIZE];
                    let _ = s.read_exact(&mut resp);
                    let _ = s.write_all(&resp[1..1 + HANDSHAKE_SIZE]);
                    let _ = s.write_all(&[0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0]);
                }
                _ => {
                    // Valid handshake, then a type-3 chunk with no previous header.
                    let _ = s.write_all(&c0c1);
                    let mut resp = vec![0u8; 1 + 2 * HANDSHAKE_SIZE];
                    let _ = s.read_exact(&mut resp);
                    let _ = s.write_all(&resp[1..1 + HANDSHAKE_SIZE]);
                    let _ = s.write_all(&[0xc7, 1, 2, 3]);
                }
            }
            // The server closes its side: reading ends (EOF or reset), never hangs forever.
            let mut sink = [0u8; 1024];
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while std::time::Instant::now() < deadline {
                match s.read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }));
    }
    for a in attackers {
        a.join().expect("attacker thread");
    }
    let out = wait_output(healthy);
    assert!(out.status.success(), "healthy publisher unaffected: {}", String::from_utf8_lossy(&out.stderr));
    server.wait_playlist("/live/healthy.m3u8", 10, |p| p.contains("#EXT-X-ENDLIST"));
    let frames = count_frames(&server.http_url("/live/healthy.m3u8")).expect("healthy stream decodes") as f64;
    assert!((frames - 150.0).abs() <= 50.0, "healthy stream has {frames} frames");
    for needle in ["unsupported RTMP version", "exceeds the limit", "without a preceding full header"] {
        assert!(server.wait_log(needle, 5), "{needle:?} logged:\n{}", server.log());
    }
    assert_eq!(server.get_api("/healthz").0, 200);
}
