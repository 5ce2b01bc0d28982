use super::*;
use sealcast_crypto::aes128_cbc_decrypt;
use sealcast_hub::{Hub, HubConfig};
use sealcast_kms::{BuiltinKms, RootKey};
use sealcast_media::frame::{FrameKind, MediaFrame};

const AVC_RECORD: &[u8] = &[
    0x01, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0x00, 0x0a, 0x67, 0x42, 0xc0, 0x0d, 0xda, 0x05, 0x07, 0xe8, 0x40, 0x00, 0x01,
    0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
];

fn video(ts: u64, key: bool) -> MediaFrame {
    let mut b = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 0, 0, 0, 3, if key { 0x65 } else { 0x41 }, 0x88, 0x84];
    b.resize(200, 0x55);
    b[8] = 191; // NALU length covers the padding
    MediaFrame::new(FrameKind::Video, ts, Bytes::from(b))
}

fn seq() -> MediaFrame {
    let mut b = vec![0x17, 0, 0, 0, 0];
    b.extend_from_slice(AVC_RECORD);
    MediaFrame::new(FrameKind::Video, 0, Bytes::from(b))
}

async fn setup(cfg: HlsConfig) -> (Hub, HlsService, Arc<BuiltinKms>) {
    let store = sealcast_store::Store::open_memory().await.expect("store");
    let kms = Arc::new(BuiltinKms::open(store, RootKey::from_bytes([3; 32])).await.expect("kms"));
    let hub = Hub::new(HubConfig::default());
    let hls = HlsService::new(cfg, kms.clone());
    hub.add_consumer(Arc::new(hls.clone()));
    (hub, hls, kms)
}

/// Publishes `secs` seconds of 25 fps video with a keyframe every second.
async fn publish(hub: &Hub, hls: &HlsService, secs: u64, start_ms: u64) {
    publish_with(hub, hls, secs, start_ms, hls.config().default_encryption()).await
}

async fn publish_with(hub: &Hub, hls: &HlsService, secs: u64, start_ms: u64, enc: StreamEncryption) {
    let key = StreamKey::new("live", "t");
    hls.prepare_publish(&key, "localhost", enc).await.expect("prepare");
    let p = hub.publish(key, "localhost".into(), None, None).expect("publish");
    p.send(seq());
    for i in 0..secs * 25 {
        p.send(video(start_ms + i * 40, i % 25 == 0));
        if i % 25 == 0 {
            tokio::task::yield_now().await;
        }
    }
    drop(p);
}

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[start..];
    Some(if let Some(q) = rest.strip_prefix('"') { &q[..q.find('"')?] } else { rest.split(',').next()? })
}

#[tokio::test]
async fn segments_are_encrypted_with_kms_keys_and_decrypt() {
    let (hub, hls, kms) = setup(HlsConfig::default()).await;
    publish(&hub, &hls, 9, 0).await;
    hls.wait_idle().await;
    let key = StreamKey::new("live", "t");
    let text = String::from_utf8(hls.playlist(&key).expect("playlist").to_vec()).expect("utf8");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    assert!(text.contains("#EXT-X-TARGETDURATION:2\n"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let mut checked = 0;
    for (i, l) in lines.iter().enumerate() {
        if !l.starts_with("#EXT-X-KEY:") {
            continue;
        }
        let uri = attr(l, "URI").expect("URI");
        let iv_hex = attr(l, "IV").expect("IV").trim_start_matches("0x");
        let iv: Vec<u8> = (0..32).step_by(2).map(|j| u8::from_str_radix(&iv_hex[j..j + 2], 16).expect("hex")).collect();
        let ku = KeyUri::from_query(uri.split_once('?').expect("query").1).expect("key uri");
        let dk = kms
            .decrypt(&ku.ciphertext_blob, &key_context(&ku.domain, "live", "t", EncryptionMode::Aes128))
            .await
            .expect("decrypt");
        let seg_uri = lines[i + 2];
        let name = seg_uri.strip_prefix("t/").and_then(|s| s.strip_suffix(".ts")).expect("segment name");
        let mut data = hls.segment(&key, name).expect("segment").to_vec();
        // A ciphertext byte is 0x47 one time in 256: look at every packet start, not one.
        assert!(!data.chunks(188).all(|p| p[0] == 0x47), "stored segments are not plaintext TS");
        let k: &[u8; 16] = dk.plaintext.expose().try_into().expect("16 bytes");
        let iv: [u8; 16] = iv.try_into().expect("16");
        let pt = aes128_cbc_decrypt(k, &iv, &mut data).expect("decrypts");
        assert_eq!(pt.len() % 188, 0);
        assert!(pt.chunks(188).all(|p| p[0] == 0x47));
        checked += 1;
    }
    assert!(checked >= 4, "checked {checked} segments");
}

#[tokio::test]
async fn republish_adds_discontinuity_and_rotation_changes_keys() {
    let cfg = HlsConfig { key_rotation_interval: Duration::from_millis(1), ..HlsConfig::default() };
    let (hub, hls, _kms) = setup(cfg).await;
    publish(&hub, &hls, 5, 0).await;
    // Let the first packager drain before republishing.
    for _ in 0..100 {
        if hls.playlist(&StreamKey::new("live", "t")).is_some_and(|p| p.ends_with(b"#EXT-X-ENDLIST\n")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    publish(&hub, &hls, 5, 0).await;
    hls.wait_idle().await;
    let text = String::from_utf8(hls.playlist(&StreamKey::new("live", "t")).expect("playlist").to_vec()).expect("utf8");
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{text}");
    let uris: std::collections::HashSet<&str> =
        text.lines().filter(|l| l.starts_with("#EXT-X-KEY")).filter_map(|l| attr(l, "URI")).collect();
    assert!(uris.len() >= 2, "rotation produced distinct keys: {text}");
}

#[tokio::test]
async fn unencrypted_mode_and_sweeping() {
    let cfg = HlsConfig { encryption: EncryptionMode::None, ended_retention: Duration::ZERO, ..HlsConfig::default() };
    let (hub, hls, _kms) = setup(cfg).await;
    publish(&hub, &hls, 5, 0).await;
    hls.wait_idle().await;
    let key = StreamKey::new("live", "t");
    let text = String::from_utf8(hls.playlist(&key).expect("playlist").to_vec()).expect("utf8");
    assert!(!text.contains("EXT-X-KEY"));
    assert!(hls.retained_bytes() > 0);
    assert_eq!(hls.sweep(), 1);
    assert!(hls.playlist(&key).is_none());
}

#[tokio::test]
async fn envelope_streams_mark_their_keys_and_bind_the_delivery_mode() {
    let (hub, hls, kms) = setup(HlsConfig::default()).await;
    let enc = StreamEncryption {
        mode: EncryptionMode::Envelope,
        kms_key_id: None,
        key_rotation_interval: Duration::from_secs(60),
    };
    publish_with(&hub, &hls, 5, 0, enc).await;
    hls.wait_idle().await;
    let key = StreamKey::new("live", "t");
    assert_eq!(hls.encryption(&key), Some((EncryptionMode::Envelope, Duration::from_secs(60))));
    assert_eq!(hls.session_encryption(&key, u64::MAX), None, "another session's settings are not reported");
    let text = String::from_utf8(hls.playlist(&key).expect("playlist").to_vec()).expect("utf8");
    assert!(text.contains("#EXT-X-VERSION:5\n"), "{text}");
    let line = text.lines().find(|l| l.starts_with("#EXT-X-KEY:")).expect("key tag");
    assert!(line.starts_with("#EXT-X-KEY:METHOD=AES-128,URI=\"t/key?"), "{line}");
    assert!(line.ends_with(",KEYFORMAT=\"com.sealcast.envelope\",KEYFORMATVERSIONS=\"1\""), "{line}");
    let ku = KeyUri::from_query(attr(line, "URI").expect("uri").split_once('?').expect("q").1).expect("key uri");
    // The raw-key context cannot unwrap an envelope key: the mode is part of the context.
    let raw = kms.decrypt(&ku.ciphertext_blob, &key_context(&ku.domain, "live", "t", EncryptionMode::Aes128)).await;
    assert!(raw.is_err());
    let dk = kms
        .decrypt(&ku.ciphertext_blob, &key_context(&ku.domain, "live", "t", EncryptionMode::Envelope))
        .await
        .expect("envelope context");
    assert_eq!(dk.plaintext.len(), 16);
}
