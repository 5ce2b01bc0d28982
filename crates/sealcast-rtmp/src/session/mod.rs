//! The server-side RTMP session state machine.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use sealcast_media::amf0::{decode_all, Amf0Value};
use sealcast_media::frame::FrameKind;

use crate::chunk::{ChunkDecoder, ChunkEncoder, RawMessage};
use crate::error::RtmpError;
use crate::handshake::{self, HandshakeState};
use crate::message::{self, msg_type, status, CSID_COMMAND, CSID_CONTROL, CSID_STATUS};

/// Limits and parameters of a server session. Everything a peer controls is bounded here.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Chunk size the server sends with.
    pub out_chunk_size: u32,
    /// Largest message accepted (bytes). A keyframe must fit.
    pub max_message_size: usize,
    /// Most chunk streams one connection may use.
    pub max_chunk_streams: usize,
    /// Most message streams (createStream) one connection may create.
    pub max_streams: u32,
    /// Window acknowledgement size announced to the peer.
    pub window_ack_size: u32,
    /// Bytes buffered while waiting for a complete chunk; more is a protocol error.
    pub max_buffered: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            out_chunk_size: 4096,
            max_message_size: 8 << 20,
            max_chunk_streams: 64,
            max_streams: 8,
            window_ack_size: 2_500_000,
            max_buffered: 9 << 20,
        }
    }
}

/// A publish request, waiting for [`ServerSession::accept_publish`] or
/// [`ServerSession::reject_publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    pub stream_id: u32,
    /// Application name from `connect` (without any query).
    pub app: String,
    /// Stream name without its query.
    pub stream: String,
    /// Query string of the stream name (or, when that has none, of the app / tcUrl).
    pub query: Option<String>,
    /// `tcUrl` from connect, e.g. `rtmp://host:1935/live`.
    pub tc_url: Option<String>,
    /// Host of the tcUrl without port (lower-case), when present.
    pub host: Option<String>,
    /// live, record or append.
    pub publish_type: String,
}

/// What the session asks the IO layer to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `connect` was accepted.
    Connected { app: String, tc_url: Option<String> },
    /// A client wants to publish; answer with accept/reject.
    Publish(PublishRequest),
    /// Media on an accepted publishing stream. Timestamp is RTMP's 32-bit milliseconds.
    Media { stream_id: u32, kind: FrameKind, timestamp: u32, data: Bytes },
    /// The publisher ended a stream (FCUnpublish, deleteStream or closeStream).
    Unpublish { stream_id: u32 },
}

/// Sans-IO RTMP server session.
#[derive(Debug)]
pub struct ServerSession {
    cfg: ServerConfig,
    hs: HandshakeState,
    seed: u64,
    inbuf: BytesMut,
    dec: ChunkDecoder,
    enc: ChunkEncoder,
    out: Vec<u8>,
    events: VecDeque<Event>,
    connected: bool,
    app: String,
    app_query: Option<String>,
    tc_url: Option<String>,
    next_stream_id: u32,
    publishing: Vec<u32>,
    pending: Vec<u32>,
    received: u64,
    last_ack: u64,
    peer_window: u32,
}

impl ServerSession {
    /// `seed` varies the S1 filler bytes between connections.
    pub fn new(cfg: ServerConfig, seed: u64) -> Self {
        let dec = ChunkDecoder::new(cfg.max_message_size, cfg.max_chunk_streams);
        ServerSession {
            cfg,
            hs: HandshakeState::C0C1,
            seed,
            inbuf: BytesMut::new(),
            dec,
            enc: ChunkEncoder::default(),
            out: Vec::new(),
            events: VecDeque::new(),
            connected: false,
            app: String::new(),
            app_query: None,
            tc_url: None,
            next_stream_id: 1,
            publishing: Vec::new(),
            pending: Vec::new(),
            received: 0,
            last_ack: 0,
            peer_window: 0,
        }
    }

    /// True once the handshake completed.
    pub fn handshake_done(&self) -> bool {
        self.hs == HandshakeState::Done
    }

    /// Processes received bytes. After an error the connection must be closed.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), RtmpError> {
        self.inbuf.extend_from_slice(data);
        if self.hs != HandshakeState::Done {
            self.received += data.len() as u64;
            loop {
                let n = handshake::step(&mut self.hs, &self.inbuf, &mut self.out, &mut self.seed)?;
                if n == 0 {
                    break;
                }
                let _ = self.inbuf.split_to(n);
                if self.hs == HandshakeState::Done {
                    break;
                }
            }
            if self.hs != HandshakeState::Done {
                return Ok(());
            }
        } else {
            self.received += data.len() as u64;
        }
        let mut consumed = 0usize;
        loop {
            let res = self.dec.decode(&self.inbuf[consumed..])?;
            let Some((n, msg)) = res else { break };
            consumed += n;
            if let Some(msg) = msg {
                self.handle_message(msg)?;
            }
        }
        let _ = self.inbuf.split_to(consumed);
        if self.inbuf.len() > self.cfg.max_buffered {
            return Err(RtmpError::Protocol(format!(
                "more than {} bytes buffered without a complete chunk",
                self.cfg.max_buffered
            )));
        }
        if self.peer_window > 0 && self.received - self.last_ack >= self.peer_window as u64 {
            self.last_ack = self.received;
            let v = message::u32_payload(self.received as u32);
            self.enc.write(&mut self.out, CSID_CONTROL, 0, msg_type::ACK, 0, &v);
        }
        Ok(())
    }

    /// Next event for the IO layer.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Bytes to send to the peer (drains the output buffer).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Accepts a pending publish: StreamBegin + NetStream.Publish.Start.
    pub fn accept_publish(&mut self, stream_id: u32, description: &str) {
        self.pending.retain(|s| *s != stream_id);
        if !self.publishing.contains(&stream_id) {
            self.publishing.push(stream_id);
        }
        let uc = message::user_control(0, stream_id);
        self.enc.write(&mut self.out, CSID_CONTROL, 0, msg_type::USER_CONTROL, 0, &uc);
        let body = message::on_status("status", status::PUBLISH_START, description);
        self.enc.write(&mut self.out, CSID_STATUS, 0, msg_type::COMMAND_AMF0, stream_id, &body);
    }

    /// Rejects a pending publish with an error status (e.g. `NetStream.Publish.BadName`).
    pub fn reject_publish(&mut self, stream_id: u32, code: &str, description: &str) {
        self.pending.retain(|s| *s != stream_id);
        let body = message::on_status("error", code, description);
        self.enc.write(&mut self.out, CSID_STATUS, 0, msg_type::COMMAND_AMF0, stream_id, &body);
    }

    /// Ends an accepted publish from the server side (shutdown, kick, unsupported codec).
    pub fn end_publish(&mut self, stream_id: u32, level: &str, code: &str, description: &str) {
        self.publishing.retain(|s| *s != stream_id);
        let body = message::on_status(level, code, description);
        self.enc.write(&mut self.out, CSID_STATUS, 0, msg_type::COMMAND_AMF0, stream_id, &body);
        let uc = message::user_control(1, stream_id);
        self.enc.write(&mut self.out, CSID_CONTROL, 0, msg_type::USER_CONTROL, 0, &uc);
    }

    /// Stream ids currently publishing.
    pub fn publishing(&self) -> &[u32] {
        &self.publishing
    }

    fn handle_message(&mut self, msg: RawMessage) -> Result<(), RtmpError> {
        let p = &msg.payload;
        match msg.type_id {
            msg_type::SET_CHUNK_SIZE => {
                let v = be_u32(p, "Set Chunk Size")?;
                self.dec.set_chunk_size(v)?;
            }
            msg_type::ABORT => self.dec.abort(be_u32(p, "Abort")?),
            msg_type::ACK | msg_type::SET_PEER_BANDWIDTH => {}
            msg_type::WINDOW_ACK_SIZE => self.peer_window = be_u32(p, "Window Acknowledgement Size")?,
            msg_type::USER_CONTROL if p.len() >= 6 && u16::from_be_bytes([p[0], p[1]]) == 6 => {
                // PingRequest -> PingResponse with the same timestamp.
                let ts = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
                let uc = message::user_control(7, ts);
                self.enc.write(&mut self.out, CSID_CONTROL, 0, msg_type::USER_CONTROL, 0, &uc);
            }
            msg_type::AUDIO => self.media(msg.stream_id, FrameKind::Audio, msg.timestamp, msg.payload),
            msg_type::VIDEO => self.media(msg.stream_id, FrameKind::Video, msg.timestamp, msg.payload),
            msg_type::DATA_AMF0 => self.data(msg.stream_id, msg.timestamp, msg.payload),
            msg_type::DATA_AMF3 => {
                let body = if p.first() == Some(&0) { msg.payload.slice(1..) } else { msg.payload.clone() };
                self.data(msg.stream_id, msg.timestamp, body)
            }
            msg_type::COMMAND_AMF0 => self.command(msg.stream_id, p)?,
            msg_type::COMMAND_AMF3 => self.command(msg.stream_id, p.get(1..).unwrap_or_default())?,
            msg_type::AGGREGATE => self.aggregate(msg.stream_id, msg.timestamp, &msg.payload)?,
            _ => {}
        }
        Ok(())
    }

    fn media(&mut self, stream_id: u32, kind: FrameKind, timestamp: u32, data: Bytes) {
        if self.publishing.contains(&stream_id) && !data.is_empty() {
            self.events.push_back(Event::Media { stream_id, kind, timestamp, data });
        }
    }

    /// `@setDataFrame onMetaData {...}` is stored as `onMetaData {...}` (as FLV files carry it).
    fn data(&mut self, stream_id: u32, timestamp: u32, body: Bytes) {
        let strip = {
            let mut r = body.as_ref();
            // "@setDataFrame" as an AMF0 string is 0x02 0x00 0x0d + 13 bytes.
            let prefix = b"\x02\x00\x0d@setDataFrame";
            if r.starts_with(prefix) {
                r = &r[prefix.len()..];
                body.len() - r.len()
            } else {
                0
            }
        };
        self.media(stream_id, FrameKind::Script, timestamp, body.slice(strip..));
    }

    fn aggregate(&mut self, stream_id: u32, timestamp: u32, p: &[u8]) -> Result<(), RtmpError> {
        let mut pos = 0;
        let mut base: Option<u32> = None;
        while pos < p.len() {
            let h = p.get(pos..pos + 11).ok_or_else(|| malformed("aggregate message", "truncated tag header"))?;
            let ty = h[0];
            let size = ((h[1] as usize) << 16) | ((h[2] as usize) << 8) | h[3] as usize;
            let ts = ((h[7] as u32) << 24) | ((h[4] as u32) << 16) | ((h[5] as u32) << 8) | h[6] as u32;
            let body = p
                .get(pos + 11..pos + 11 + size)
                .ok_or_else(|| malformed("aggregate message", "tag larger than the message"))?;
            let first = *base.get_or_insert(ts);
            let t = timestamp.wrapping_add(ts.wrapping_sub(first));
            let kind = match ty {
                msg_type::AUDIO => Some(FrameKind::Audio),
                msg_type::VIDEO => Some(FrameKind::Video),
                msg_type::DATA_AMF0 => Some(FrameKind::Script),
                _ => None,
            };
            if let Some(kind) = kind {
                self.media(stream_id, kind, t, Bytes::copy_from_slice(body));
            }
            pos += 11 + size + 4; // tag + PreviousTagSize
        }
        Ok(())
    }

    fn command(&mut self, stream_id: u32, body: &[u8]) -> Result<(), RtmpError> {
        let values = decode_all(body)?;
        let name = values.first().and_then(Amf0Value::as_str).ok_or_else(|| malformed("command", "no command name"))?;
        let txn = values.get(1).and_then(Amf0Value::as_f64).unwrap_or(0.0);
        match name {
            "connect" => self.connect(txn, values.get(2)),
            "createStream" => {
                if self.next_stream_id > self.cfg.max_streams {
                    return Err(RtmpError::TooManyStreams(self.cfg.max_streams as usize));
                }
                let id = self.next_stream_id;
                self.next_stream_id += 1;
                let body = message::result(txn, Amf0Value::Null, Amf0Value::Number(id as f64));
                self.enc.write(&mut self.out, CSID_COMMAND, 0, msg_type::COMMAND_AMF0, 0, &body);
            }
            "releaseStream" | "FCPublish" | "FCUnpublish" | "getStreamLength" => {
                if name == "FCUnpublish" {
                    for sid in self.publishing.clone() {
                        self.events.push_back(Event::Unpublish { stream_id: sid });
                    }
                    self.publishing.clear();
                }
                if txn > 0.0 {
                    let body = message::result(txn, Amf0Value::Null, Amf0Value::Undefined);
                    self.enc.write(&mut self.out, CSID_COMMAND, 0, msg_type::COMMAND_AMF0, 0, &body);
                }
            }
            "publish" => self.publish(stream_id, &values)?,
            "play" | "play2" => {
                let body =
                    message::on_status("error", status::PLAY_FAILED, "RTMP playback is not offered; play over HLS");
                self.enc.write(&mut self.out, CSID_STATUS, 0, msg_type::COMMAND_AMF0, stream_id, &body);
            }
            "deleteStream" | "closeStream" => {
                let sid = values.get(3).and_then(Amf0Value::as_f64).map(|v| v as u32).unwrap_or(stream_id);
                if self.publishing.contains(&sid) {
                    self.publishing.retain(|s| *s != sid);
                    self.events.push_back(Event::Unpublish { stream_id: sid });
                }
            }
            _ => {
                // Unknown calls that expect an answer get an error, not silence.
                if txn > 0.0 {
                    let body = message::error(txn, "NetConnection.Call.Failed", "unknown method");
                    self.enc.write(&mut self.out, CSID_COMMAND, 0, msg_type::COMMAND_AMF0, 0, &body);
                }
            }
        }
        Ok(())
    }

    fn connect(&mut self, txn: f64, obj: Option<&Amf0Value>) {
        let obj = obj.cloned().unwrap_or(Amf0Value::Null);
        let raw_app = obj.get("app").and_then(Amf0Value::as_str).unwrap_or("").to_string();
        let (app, query) = split_query(&raw_app);
        self.app = app.trim_end_matches('/').to_string();
        self.app_query = query;
        self.tc_url = obj.get("tcUrl").and_then(Amf0Value::as_str).map(str::to_string);
        if self.app_query.is_none() {
            self.app_query = self.tc_url.as_deref().and_then(|u| split_query(u).1);
        }
        self.connected = true;
        let w = message::u32_payload(self.cfg.window_ack_size);
        self.enc.write(&mut self.out, CSID_CONTROL, 0, msg_type::WINDOW_ACK_SIZE, 0, &w);
        let bw = message::peer_bandwidth(self.cfg.window_ack_size);
        self.enc.write(&mut self.out, CSID_CONTROL, 0, msg_type::SET_PEER_BANDWIDTH, 0, &bw);
        let cs = message::u32_payload(self.cfg.out_chunk_size);
        self.enc.write(&mut self.out, CSID_CONTROL, 0, msg_type::SET_CHUNK_SIZE, 0, &cs);
        self.enc.set_chunk_size(self.cfg.out_chunk_size as usize);
        let props = Amf0Value::object([
            ("fmsVer", Amf0Value::string("FMS/3,0,1,123")),
            ("capabilities", Amf0Value::Number(31.0)),
        ]);
        let info = Amf0Value::object([
            ("level", Amf0Value::string("status")),
            ("code", Amf0Value::string(status::CONNECT_SUCCESS)),
            ("description", Amf0Value::string("Connection succeeded.")),
            ("objectEncoding", Amf0Value::Number(0.0)),
        ]);
        let body = message::result(txn, props, info);
        self.enc.write(&mut self.out, CSID_COMMAND, 0, msg_type::COMMAND_AMF0, 0, &body);
        self.events.push_back(Event::Connected { app: self.app.clone(), tc_url: self.tc_url.clone() });
    }

    fn publish(&mut self, stream_id: u32, values: &[Amf0Value]) -> Result<(), RtmpError> {
        if !self.connected {
            return Err(RtmpError::Protocol("publish before connect".into()));
        }
        if stream_id == 0 || stream_id >= self.next_stream_id {
            return Err(RtmpError::Protocol(format!("publish on stream {stream_id} that was not created")));
        }
        if self.publishing.contains(&stream_id) || self.pending.contains(&stream_id) {
            return Err(RtmpError::Protocol(format!("stream {stream_id} is already publishing")));
        }
        let raw = values.get(3).and_then(Amf0Value::as_str).unwrap_or("");
        let (stream, query) = split_query(raw);
        let publish_type = values.get(4).and_then(Amf0Value::as_str).unwrap_or("live").to_string();
        let host = self.tc_url.as_deref().and_then(host_of);
        self.pending.push(stream_id);
        self.events.push_back(Event::Publish(PublishRequest {
            stream_id,
            app: self.app.clone(),
            stream,
            query: query.or_else(|| self.app_query.clone()),
            tc_url: self.tc_url.clone(),
            host,
            publish_type,
        }));
        Ok(())
    }
}

fn malformed(what: &'static str, detail: &str) -> RtmpError {
    RtmpError::Malformed { what, detail: detail.to_string() }
}

fn be_u32(p: &[u8], what: &'static str) -> Result<u32, RtmpError> {
    let b = p.get(..4).ok_or_else(|| malformed(what, "shorter than 4 bytes"))?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn split_query(s: &str) -> (String, Option<String>) {
    match s.split_once('?') {
        Some((a, q)) => (a.to_string(), Some(q.to_string()).filter(|q| !q.is_empty())),
        None => (s.to_string(), None),
    }
}

/// `rtmp://Host:1935/app?x` -> `host`.
fn host_of(tc_url: &str) -> Option<String> {
    let rest = tc_url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
