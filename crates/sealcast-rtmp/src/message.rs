//! Message type ids, NetStream status codes and builders for the messages a server sends.

use sealcast_media::amf0::{encode_all, Amf0Value};

/// RTMP message type ids.
pub mod msg_type {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACK: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const DATA_AMF3: u8 = 15;
    pub const COMMAND_AMF3: u8 = 17;
    pub const DATA_AMF0: u8 = 18;
    pub const COMMAND_AMF0: u8 = 20;
    pub const AGGREGATE: u8 = 22;
}

/// NetStream / NetConnection status codes Sealcast sends.
pub mod status {
    pub const CONNECT_SUCCESS: &str = "NetConnection.Connect.Success";
    pub const CONNECT_REJECTED: &str = "NetConnection.Connect.Rejected";
    pub const PUBLISH_START: &str = "NetStream.Publish.Start";
    pub const PUBLISH_BAD_NAME: &str = "NetStream.Publish.BadName";
    pub const PUBLISH_REJECTED: &str = "NetStream.Publish.Rejected";
    pub const UNPUBLISH_SUCCESS: &str = "NetStream.Unpublish.Success";
    pub const PLAY_FAILED: &str = "NetStream.Play.Failed";
    pub const CODEC_UNSUPPORTED: &str = "NetStream.Publish.Rejected";
}

/// Chunk stream ids the server uses.
pub(crate) const CSID_CONTROL: u32 = 2;
pub(crate) const CSID_COMMAND: u32 = 3;
pub(crate) const CSID_STATUS: u32 = 5;

pub(crate) fn u32_payload(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

pub(crate) fn peer_bandwidth(window: u32) -> [u8; 5] {
    let b = window.to_be_bytes();
    [b[0], b[1], b[2], b[3], 2]
}

/// User control event: StreamBegin (0), StreamEOF (1), PingResponse (7).
pub(crate) fn user_control(event: u16, value: u32) -> [u8; 6] {
    let e = event.to_be_bytes();
    let v = value.to_be_bytes();
    [e[0], e[1], v[0], v[1], v[2], v[3]]
}

pub(crate) fn on_status(level: &str, code: &str, description: &str) -> Vec<u8> {
    encode_all(&[
        Amf0Value::string("onStatus"),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        Amf0Value::object([
            ("level", Amf0Value::string(level)),
            ("code", Amf0Value::string(code)),
            ("description", Amf0Value::string(description)),
        ]),
    ])
}

pub(crate) fn result(txn: f64, props: Amf0Value, info: Amf0Value) -> Vec<u8> {
    encode_all(&[Amf0Value::string("_result"), Amf0Value::Number(txn), props, info])
}

pub(crate) fn error(txn: f64, code: &str, description: &str) -> Vec<u8> {
    encode_all(&[
        Amf0Value::string("_error"),
        Amf0Value::Number(txn),
        Amf0Value::Null,
        Amf0Value::object([
            ("level", Amf0Value::string("error")),
            ("code", Amf0Value::string(code)),
            ("description", Amf0Value::string(description)),
        ]),
    ])
}
