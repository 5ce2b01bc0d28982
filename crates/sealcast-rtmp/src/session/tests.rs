use super::*;
use crate::HANDSHAKE_SIZE;
use sealcast_media::amf0::encode_all;

/// A minimal scripted publisher, speaking through the crate's own chunk codec.
struct Client {
    enc: ChunkEncoder,
    dec: ChunkDecoder,
    inbox: Vec<u8>,
}

impl Client {
    fn new() -> Self {
        Client { enc: ChunkEncoder::default(), dec: ChunkDecoder::new(1 << 20, 64), inbox: Vec::new() }
    }

    fn command(&self, stream_id: u32, values: &[Amf0Value]) -> Vec<u8> {
        let mut out = Vec::new();
        self.enc.write(&mut out, 3, 0, msg_type::COMMAND_AMF0, stream_id, &encode_all(values));
        out
    }

    /// Decodes everything the server sent so far.
    fn receive(&mut self, s: &mut ServerSession) -> Vec<RawMessage> {
        self.inbox.extend(s.take_output());
        let mut msgs = Vec::new();
        let mut pos = 0;
        while let Some((n, m)) = self.dec.decode(&self.inbox[pos..]).expect("server output decodes") {
            pos += n;
            if let Some(m) = m {
                if m.type_id == msg_type::SET_CHUNK_SIZE {
                    self.dec
                        .set_chunk_size(u32::from_be_bytes([m.payload[0], m.payload[1], m.payload[2], m.payload[3]]))
                        .expect("valid");
                }
                msgs.push(m);
            }
        }
        self.inbox.drain(..pos);
        msgs
    }
}

fn status_code(m: &RawMessage) -> Option<String> {
    let v = decode_all(&m.payload).ok()?;
    v.get(3)?.get("code")?.as_str().map(str::to_string)
}

fn handshaken() -> (ServerSession, Client) {
    let mut s = ServerSession::new(ServerConfig::default(), 7);
    let mut c0c1 = vec![3u8];
    c0c1.extend((0..HANDSHAKE_SIZE).map(|i| i as u8));
    // Split delivery: the state machine must wait for complete pieces.
    s.feed(&c0c1[..100]).expect("partial C1");
    assert!(s.take_output().is_empty());
    s.feed(&c0c1[100..]).expect("C0C1");
    let out = s.take_output();
    assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
    assert_eq!(out[0], 3);
    assert_eq!(&out[5..9], &[0, 0, 0, 0], "zero version selects the plain handshake");
    assert_eq!(&out[1 + HANDSHAKE_SIZE..], &c0c1[1..], "S2 echoes C1");
    s.feed(&[0u8; HANDSHAKE_SIZE]).expect("C2");
    assert!(s.handshake_done());
    (s, Client::new())
}

fn publish_flow(s: &mut ServerSession, c: &mut Client, name: &str) -> PublishRequest {
    let connect = c.command(
        0,
        &[
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([
                ("app", Amf0Value::string("live")),
                ("tcUrl", Amf0Value::string("rtmp://Example.COM:1935/live")),
            ]),
        ],
    );
    s.feed(&connect).expect("connect");
    let msgs = c.receive(s);
    let types: Vec<u8> = msgs.iter().map(|m| m.type_id).collect();
    assert_eq!(types, vec![5, 6, 1, 20]);
    assert_eq!(status_code(&msgs[3]).as_deref(), Some(status::CONNECT_SUCCESS));
    assert!(matches!(s.poll_event(), Some(Event::Connected { app, .. }) if app == "live"));

    for (i, cmd) in ["releaseStream", "FCPublish"].iter().enumerate() {
        let b = c.command(
            0,
            &[Amf0Value::string(*cmd), Amf0Value::Number(2.0 + i as f64), Amf0Value::Null, Amf0Value::string(name)],
        );
        s.feed(&b).expect("cmd");
    }
    let b = c.command(0, &[Amf0Value::string("createStream"), Amf0Value::Number(4.0), Amf0Value::Null]);
    s.feed(&b).expect("createStream");
    let msgs = c.receive(s);
    let last = decode_all(&msgs.last().expect("result").payload).expect("amf");
    assert_eq!(last[0], Amf0Value::string("_result"));
    assert_eq!(last[3], Amf0Value::Number(1.0));

    let b = c.command(
        1,
        &[
            Amf0Value::string("publish"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            Amf0Value::string(name),
            Amf0Value::string("live"),
        ],
    );
    s.feed(&b).expect("publish");
    match s.poll_event() {
        Some(Event::Publish(p)) => p,
        other => panic!("expected publish, got {other:?}"),
    }
}

#[test]
fn full_publish_flow() {
    let (mut s, mut c) = handshaken();
    let req = publish_flow(&mut s, &mut c, "cam1?auth_key=abc");
    assert_eq!(req.app, "live");
    assert_eq!(req.stream, "cam1");
    assert_eq!(req.query.as_deref(), Some("auth_key=abc"));
    assert_eq!(req.host.as_deref(), Some("example.com"));
    s.accept_publish(req.stream_id, "cam1 is now published");
    let msgs = c.receive(&mut s);
    assert_eq!(status_code(msgs.last().expect("status")).as_deref(), Some(status::PUBLISH_START));

    // Media before/after: metadata, video.
    let mut b = Vec::new();
    let meta = encode_all(&[
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
        Amf0Value::object([("width", Amf0Value::Number(320.0))]),
    ]);
    c.enc.write(&mut b, 4, 0, msg_type::DATA_AMF0, 1, &meta);
    c.enc.write(&mut b, 6, 40, msg_type::VIDEO, 1, &[0x17, 1, 0, 0, 0, 1, 2, 3]);
    // Set chunk size from the client, then a big message.
    c.enc.write(&mut b, 2, 0, msg_type::SET_CHUNK_SIZE, 0, &4096u32.to_be_bytes());
    s.feed(&b).expect("media");
    c.enc.set_chunk_size(4096);
    let mut b = Vec::new();
    c.enc.write(&mut b, 6, 80, msg_type::VIDEO, 1, &vec![0x27; 10_000]);
    s.feed(&b).expect("big media");
    match s.poll_event() {
        Some(Event::Media { kind: FrameKind::Script, data, .. }) => {
            assert_eq!(decode_all(&data).expect("amf")[0], Amf0Value::string("onMetaData"))
        }
        other => panic!("expected script, got {other:?}"),
    }
    assert!(matches!(s.poll_event(), Some(Event::Media { kind: FrameKind::Video, timestamp: 40, .. })));
    assert!(
        matches!(s.poll_event(), Some(Event::Media { kind: FrameKind::Video, timestamp: 80, data, .. }) if data.len() == 10_000)
    );

    let b = c.command(
        0,
        &[Amf0Value::string("FCUnpublish"), Amf0Value::Number(6.0), Amf0Value::Null, Amf0Value::string("cam1")],
    );
    s.feed(&b).expect("unpublish");
    assert_eq!(s.poll_event(), Some(Event::Unpublish { stream_id: 1 }));
    assert!(s.publishing().is_empty());
}

#[test]
fn rejected_publish_sends_error_status_and_drops_media() {
    let (mut s, mut c) = handshaken();
    let req = publish_flow(&mut s, &mut c, "dup");
    s.reject_publish(req.stream_id, status::PUBLISH_BAD_NAME, "stream live/dup is already publishing");
    let msgs = c.receive(&mut s);
    assert_eq!(status_code(msgs.last().expect("status")).as_deref(), Some(status::PUBLISH_BAD_NAME));
    let mut b = Vec::new();
    c.enc.write(&mut b, 6, 0, msg_type::VIDEO, 1, &[0x17, 1, 0, 0, 0]);
    s.feed(&b).expect("ignored media");
    assert_eq!(s.poll_event(), None);
}

#[test]
fn acknowledges_after_window() {
    let (mut s, mut c) = handshaken();
    let mut b = Vec::new();
    c.enc.write(&mut b, 2, 0, msg_type::WINDOW_ACK_SIZE, 0, &5000u32.to_be_bytes());
    s.feed(&b).expect("window");
    let req = publish_flow(&mut s, &mut c, "a");
    s.accept_publish(req.stream_id, "ok");
    let mut b = Vec::new();
    c.enc.write(&mut b, 6, 0, msg_type::VIDEO, 1, &vec![0x27; 6000]);
    s.feed(&b).expect("video");
    let msgs = c.receive(&mut s);
    assert!(msgs.iter().any(|m| m.type_id == msg_type::ACK), "an acknowledgement was sent");
}

#[test]
fn ping_gets_pong_and_errors_are_typed() {
    let (mut s, mut c) = handshaken();
    let mut b = Vec::new();
    c.enc.write(&mut b, 2, 0, msg_type::USER_CONTROL, 0, &[0, 6, 0, 0, 1, 2]);
    s.feed(&b).expect("ping");
    let msgs = c.receive(&mut s);
    assert_eq!(msgs[0].payload.as_ref(), &[0, 7, 0, 0, 1, 2]);

    let mut bad = ServerSession::new(ServerConfig::default(), 1);
    assert_eq!(bad.feed(&[6]), Err(RtmpError::BadVersion(6)));

    let (mut s, c) = handshaken();
    let b =
        c.command(1, &[Amf0Value::string("publish"), Amf0Value::Number(1.0), Amf0Value::Null, Amf0Value::string("x")]);
    assert!(matches!(s.feed(&b), Err(RtmpError::Protocol(_))), "publish before connect");
}

#[test]
fn host_parsing() {
    assert_eq!(host_of("rtmp://[::1]:1935/live").as_deref(), Some("::1"));
    assert_eq!(host_of("rtmp://a.b/live?x=1").as_deref(), Some("a.b"));
    assert_eq!(host_of("nonsense"), None);
}

proptest::proptest! {
    #[test]
    fn garbage_after_handshake_is_an_error_not_a_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        let (mut s, _c) = handshaken();
        let _ = s.feed(&bytes);
    }
}
