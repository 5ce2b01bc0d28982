use proptest::prelude::*;

use super::*;

const KEY: &str = "aliyuncdnexp1234";

fn policy(t: AuthType) -> Policy {
    Policy::new(t, KEY, Some("backupkey5678"), 1800).expect("valid policy")
}

#[test]
fn alibaba_documentation_vectors() {
    // Type B: md5("aliyuncdnexp1234" + "201508150800" + "/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3").
    let b = policy(AuthType::TypeB);
    let path = "/201508150800/9044548ef1527deadafa49a890a377f0/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3";
    let at = time::parse_type_b("201508150800").expect("time");
    let ok = b.verify(path, None, at + 60).expect("type B vector verifies");
    assert_eq!(ok.path, "/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3");
    assert_eq!(ok.expires, at + 1800);
    assert_eq!(b.sign("/4/44/44c0909bcfc20a01afaf256ca99a8b8b.mp3", at, "", "").path, path);

    // Type C: md5("aliyuncdnexp1234" + "/test.flv" + "55CE8100"), path and query forms.
    let c = policy(AuthType::TypeC);
    let at = 0x55CE8100;
    let ok = c.verify("/a37fa50a5fb8f71214b1e7c95ec7a1bd/55CE8100/test.flv", None, at).expect("path form");
    assert_eq!(ok.path, "/test.flv");
    let ok = c.verify("/test.flv", Some("KEY1=a37fa50a5fb8f71214b1e7c95ec7a1bd&KEY2=55CE8100"), at).expect("query");
    assert_eq!(ok.path, "/test.flv");
    assert_eq!(c.sign("/test.flv", at, "", "").path, "/a37fa50a5fb8f71214b1e7c95ec7a1bd/55CE8100/test.flv");

    // Type A, built per the formula: md5("{URI}-{timestamp}-{rand}-{uid}-{PrivateKey}").
    let a = policy(AuthType::TypeA);
    let hash = md5_hex(b"/live/cam.m3u8-1444435200-0-0-aliyuncdnexp1234");
    let q = format!("auth_key=1444435200-0-0-{hash}");
    assert_eq!(a.sign("/live/cam.m3u8", 1_444_435_200, "0", "0").query.as_deref(), Some(q.as_str()));
    let ok = a.verify("/live/cam.m3u8", Some(&format!("x=1&{q}")), 1_444_435_200 + 1800).expect("type A");
    assert_eq!(ok.expires, 1_444_437_000);
}

#[test]
fn refusals_are_precise_and_never_leak_the_key() {
    let now = 1_700_000_000;
    for t in [AuthType::TypeA, AuthType::TypeB, AuthType::TypeC] {
        let p = policy(t);
        let good = p.sign("/live/cam.m3u8", now, "0", "0");
        assert!(p.verify(&good.path, good.query.as_deref(), now).is_ok(), "{t:?}");
        // Expired one second after the validity.
        let expired = p.verify(&good.path, good.query.as_deref(), now + 1801);
        assert!(matches!(expired, Err(AuthError::Expired { .. })), "{t:?}: {expired:?}");
        // Missing.
        assert_eq!(p.verify("/live/cam.m3u8", None, now), Err(AuthError::Missing(t.name())));
        // Signed for another path.
        let other = p.sign("/live/other.m3u8", now, "0", "0");
        let forged = match &other.query {
            Some(q) => p.verify("/live/cam.m3u8", Some(q), now),
            None => p.verify(&other.path.replace("other", "cam"), None, now),
        };
        assert_eq!(forged, Err(AuthError::Mismatch), "{t:?}");
        // Signed with an unknown key.
        let stranger = Policy::new(t, "someoneelse1", None, 1800).expect("policy");
        let s = stranger.sign("/live/cam.m3u8", now, "0", "0");
        let e = p.verify(&s.path, s.query.as_deref(), now).expect_err("unknown key");
        assert_eq!(e, AuthError::Mismatch);
        for e in [e, expired.expect_err("expired")] {
            let msg = e.to_string();
            assert!(!msg.contains(KEY) && !msg.contains("backupkey5678"), "{msg}");
        }
    }
    let a = policy(AuthType::TypeA);
    for (q, want) in [
        ("auth_key=1-2-3", "auth_key must be timestamp-rand-uid-md5hash"),
        ("auth_key=abc-0-0-0123456789abcdef0123456789abcdef", "the auth_key timestamp must be Unix seconds"),
        ("auth_key=1-0-0-xyz", "the hash must be 32 hexadecimal digits"),
    ] {
        assert_eq!(a.verify("/live/cam.m3u8", Some(q), 0), Err(AuthError::Malformed(want)), "{q}");
    }
    let b = policy(AuthType::TypeB);
    assert_eq!(
        b.verify("/201513150800/9044548ef1527deadafa49a890a377f0/x.ts", None, 0),
        Err(AuthError::Malformed("the timestamp is not a valid YYYYMMDDHHMM"))
    );
    let c = policy(AuthType::TypeC);
    assert_eq!(
        c.verify("/test.flv", Some("KEY1=a37fa50a5fb8f71214b1e7c95ec7a1bd"), 0),
        Err(AuthError::Malformed("KEY1 and KEY2 must be given together"))
    );
}

#[test]
fn the_backup_key_is_accepted_and_tokens_sign_with_the_key_that_verified() {
    let now = 1_700_000_000;
    let primary = policy(AuthType::TypeA);
    let backup_only = Policy::new(AuthType::TypeA, "backupkey5678", None, 1800).expect("policy");
    let s = backup_only.sign("/live/cam.m3u8", now, "77ab", "9");
    let ok = primary.verify(&s.path, s.query.as_deref(), now).expect("backup key accepted");
    let token = ok.token.expect("token");
    let seg = token.sign("/live/cam/1-2.ts");
    assert_eq!(seg.with_query(Some("d=x")), format!("/live/cam/1-2.ts?d=x&{}", seg.query.as_deref().unwrap_or("")));
    assert_eq!(seg.with_query(Some("")), seg.to_string());
    // The child URL verifies under a policy that only knows the backup key, with the same expiry.
    let child = backup_only.verify(&seg.path, seg.query.as_deref(), now).expect("child");
    assert_eq!(child.expires, ok.expires);
    assert!(format!("{token:?}").contains("A {") && !format!("{token:?}").contains("backupkey5678"));
    assert!(!format!("{primary:?}").contains(KEY));
}

#[test]
fn policies_validate() {
    assert_eq!(Policy::new(AuthType::TypeA, "", None, 1800), Err(PolicyError::MissingKey("type_a")));
    assert_eq!(Policy::new(AuthType::TypeA, "short", None, 1800), Err(PolicyError::BadKey("auth_key1")));
    assert_eq!(Policy::new(AuthType::TypeA, "goodkey1", Some("bad key!"), 1800), Err(PolicyError::BadKey("auth_key2")));
    assert_eq!(Policy::new(AuthType::TypeA, "goodkey1", None, 0), Err(PolicyError::BadDelta));
    assert!(Policy::new(AuthType::NoAuth, "", None, 1800).is_ok());
    let p = Policy::default();
    assert!(!p.enabled());
    assert_eq!(p.verify("/x", None, 0).map(|v| v.token), Ok(None));
    let json = serde_json::to_string(&policy(AuthType::TypeC)).expect("json");
    assert!(json.contains("\"type_c\""), "{json}");
    assert_eq!(serde_json::from_str::<Policy>(&json).expect("back"), policy(AuthType::TypeC));
    assert_eq!(AuthType::from_name("type_b"), Some(AuthType::TypeB));
    assert_eq!(AuthType::from_name("type_d"), None);
}

proptest! {
    #[test]
    fn signed_paths_verify_and_tokens_chain(
        t in prop_oneof![Just(AuthType::TypeA), Just(AuthType::TypeB), Just(AuthType::TypeC)],
        seg in "[a-z0-9]{1,8}(/[a-z0-9._-]{1,12}){0,3}",
        now in 1_000_000_000i64..4_000_000_000,
        age in 0i64..1800,
    ) {
        let p = policy(t);
        let path = format!("/{seg}");
        let s = p.sign(&path, now, "0", "0");
        // Type B drops seconds, so it expires up to 59 s earlier.
        let at = if t == AuthType::TypeB { now - 59 } else { now } + age;
        let ok = p.verify(&s.path, s.query.as_deref(), at).expect("verifies");
        prop_assert_eq!(&ok.path, &path);
        let child = ok.token.expect("token").sign("/live/x/1-1.ts");
        let again = p.verify(&child.path, child.query.as_deref(), at).expect("child verifies");
        prop_assert_eq!(again.path, "/live/x/1-1.ts");
        prop_assert_eq!(again.expires, ok.expires);
    }

    #[test]
    fn arbitrary_requests_never_panic(path in "/[ -~]{0,80}", query in proptest::option::of("[ -~]{0,80}")) {
        for t in [AuthType::TypeA, AuthType::TypeB, AuthType::TypeC] {
            let _ = policy(t).verify(&path, query.as_deref(), 0);
        }
    }
}
