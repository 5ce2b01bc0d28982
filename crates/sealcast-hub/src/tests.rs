use super::*;
use bytes::Bytes;

fn video(ts: u64, key: bool) -> MediaFrame {
    MediaFrame::new(FrameKind::Video, ts, Bytes::from(vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 9]))
}

fn seq_header() -> MediaFrame {
    MediaFrame::new(FrameKind::Video, 0, Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]))
}

fn key() -> StreamKey {
    StreamKey::new("live", "a")
}

fn frame_ts(d: Delivery) -> u64 {
    match d {
        Delivery::Frame(f) => f.timestamp,
        Delivery::Resync { .. } => u64::MAX,
    }
}

#[tokio::test]
async fn duplicate_publish_is_refused_and_slot_frees_on_drop() {
    let hub = Hub::new(HubConfig::default());
    let p = hub.publish(key(), "localhost".into(), None, None).expect("first publish");
    assert_eq!(hub.publish(key(), "x".into(), None, None).err(), Some(HubError::AlreadyPublishing(key())));
    assert!(hub.is_live(&key()));
    drop(p);
    assert!(!hub.is_live(&key()));
    assert!(hub.publish(key(), "x".into(), None, None).is_ok());
}

#[tokio::test]
async fn late_joiner_starts_at_last_keyframe() {
    let hub = Hub::new(HubConfig::default());
    let p = hub.publish(key(), "d".into(), None, None).expect("publish");
    p.send(seq_header());
    for i in 0..10 {
        p.send(video(i * 40, i % 4 == 0));
    }
    let mut sub = hub.subscribe(&key(), LagPolicy::Disconnect).expect("live");
    match sub.recv().await {
        Some(Delivery::Frame(f)) => assert!(f.sequence_header),
        other => panic!("expected sequence header, got {other:?}"),
    }
    // Last keyframe was frame 8 (ts 320); then 9.
    assert_eq!(sub.recv().await.map(frame_ts), Some(320));
    assert_eq!(sub.recv().await.map(frame_ts), Some(360));
    p.send(video(400, false));
    assert_eq!(sub.recv().await.map(frame_ts), Some(400));
    drop(p);
    assert!(sub.recv().await.is_none());
    assert!(!sub.was_dropped());
}

#[tokio::test]
async fn slow_subscribers_never_stall_others() {
    let hub = Hub::new(HubConfig { queue_frames: 8, ..HubConfig::default() });
    let p = hub.publish(key(), "d".into(), None, None).expect("publish");
    let mut slow_drop = hub.subscribe(&key(), LagPolicy::Disconnect).expect("live");
    let mut slow_resync = hub.subscribe(&key(), LagPolicy::Resync).expect("live");
    let mut fast = hub.subscribe(&key(), LagPolicy::Disconnect).expect("live");
    for i in 0..100u64 {
        p.send(video(i * 40, i % 10 == 0));
        // The fast subscriber keeps up.
        assert_eq!(fast.recv().await.map(frame_ts), Some(i * 40));
    }
    // Disconnect policy: receives what was queued, then the end, flagged as dropped.
    let mut n = 0;
    while slow_drop.recv().await.is_some() {
        n += 1;
    }
    assert_eq!(n, 8);
    assert!(slow_drop.was_dropped());
    // Resync policy: queued frames, then a resync marker followed by a keyframe.
    for _ in 0..8 {
        assert!(matches!(slow_resync.recv().await, Some(Delivery::Frame(_))));
    }
    p.send(video(4000, false));
    p.send(video(4040, true));
    match slow_resync.recv().await {
        Some(Delivery::Resync { skipped }) => assert!(skipped > 0),
        other => panic!("expected resync, got {other:?}"),
    }
    match slow_resync.recv().await {
        Some(Delivery::Frame(f)) => assert!(f.keyframe && f.timestamp == 4040),
        other => panic!("expected keyframe, got {other:?}"),
    }
}

#[tokio::test]
async fn consumers_see_every_stream_from_the_first_frame() {
    struct Collect(tokio::sync::mpsc::UnboundedSender<Subscription>);
    impl HubConsumer for Collect {
        fn on_publish(&self, _info: Arc<PublishInfo>, sub: Subscription) {
            let _ = self.0.send(sub);
        }
    }
    let hub = Hub::new(HubConfig::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    hub.add_consumer(Arc::new(Collect(tx)));
    let p = hub.publish(key(), "d".into(), Some("a=1".into()), None).expect("publish");
    p.send(video(0, false));
    let mut sub = rx.recv().await.expect("consumer called");
    assert_eq!(sub.info().query.as_deref(), Some("a=1"));
    assert_eq!(sub.recv().await.map(frame_ts), Some(0));
}

#[tokio::test]
async fn kick_reaches_the_publisher() {
    let hub = Hub::new(HubConfig::default());
    let mut p = hub.publish(key(), "d".into(), None, None).expect("publish");
    assert!(hub.kick(&key(), "forbidden"));
    assert_eq!(p.kicked().await, "forbidden");
    assert!(!hub.kick(&StreamKey::new("x", "y"), "n/a"));
}

#[test]
fn gop_cache_is_bounded() {
    let cfg = HubConfig { gop_max_frames: 5, ..HubConfig::default() };
    let mut st = StreamState::default();
    st.cache(&video(0, true), &cfg);
    for i in 1..10 {
        st.cache(&video(i, false), &cfg);
    }
    assert!(st.gop.is_empty() && st.gop_overflow);
    st.cache(&video(10, true), &cfg);
    assert_eq!(st.gop.len(), 1);
}
