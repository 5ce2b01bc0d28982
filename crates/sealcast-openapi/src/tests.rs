use proptest::prelude::*;
use serde_json::Value;

use super::*;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../tests/vectors/vectors.json")).expect("vectors.json")
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object().expect("object").iter().map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string())).collect()
}

#[test]
fn v1_matches_the_official_sdk() {
    let vs = vectors();
    let secret = vs["secret"].as_str().expect("secret");
    for case in vs["v1"].as_array().expect("v1") {
        let method = case["method"].as_str().expect("method");
        let mut params = pairs(&case["params"]);
        let sts = v1::string_to_sign(method, &params);
        assert_eq!(sts, case["string_to_sign"].as_str().expect("sts"));
        let sig = v1::signature(secret, &sts);
        assert_eq!(sig, case["signature"].as_str().expect("signature"));
        params.push(("Signature".into(), sig.clone()));
        assert_eq!(v1::verify(secret, method, &params), Ok(()));
        assert_eq!(v1::verify("wrong", method, &params), Err(SignatureError::Mismatch));
        // Any parameter change breaks it.
        params[0].1.push('x');
        assert_eq!(v1::verify(secret, method, &params), Err(SignatureError::Mismatch));
    }
}

#[test]
fn v3_matches_the_official_sdk() {
    let vs = vectors();
    let secret = vs["secret"].as_str().expect("secret");
    for case in vs["v3"].as_array().expect("v3") {
        let method = case["method"].as_str().expect("method");
        let query = pairs(&case["query"]);
        let headers = pairs(&case["headers"]);
        let body = case["body"].as_str().expect("body").as_bytes();
        let auth = Authorization::parse(case["authorization"].as_str().expect("authorization")).expect("parses");
        assert_eq!(auth.access_key_id, "testid");
        assert_eq!(v3::verify(secret, &auth, method, "/", &query, &headers, body), Ok(()));
        assert_eq!(v3::verify("wrong", &auth, method, "/", &query, &headers, body), Err(SignatureError::Mismatch));
        assert_eq!(
            v3::verify(secret, &auth, method, "/", &query, &headers, b"tampered"),
            Err(SignatureError::PayloadHashMismatch)
        );
        let mut q = query.clone();
        q[0].1.push('x');
        assert_eq!(v3::verify(secret, &auth, method, "/", &q, &headers, body), Err(SignatureError::Mismatch));
        let mut h = headers.clone();
        for (k, v) in h.iter_mut() {
            if k == "x-acs-date" {
                v.push('1');
            }
        }
        assert_eq!(v3::verify(secret, &auth, method, "/", &query, &h, body), Err(SignatureError::Mismatch));
        let unsigned = Authorization {
            signed_headers: auth.signed_headers.iter().filter(|h| *h != "x-acs-signature-nonce").cloned().collect(),
            ..auth.clone()
        };
        assert_eq!(
            v3::verify(secret, &unsigned, method, "/", &query, &headers, body),
            Err(SignatureError::MissingSignedHeader("x-acs-signature-nonce".into()))
        );
    }
}

use v3::Authorization;

#[test]
fn authorization_headers_and_forms_parse_strictly() {
    assert!(matches!(Authorization::parse("ACS3-HMAC-SM3 Credential=a"), Err(SignatureError::UnsupportedAlgorithm(_))));
    assert!(matches!(Authorization::parse("garbage"), Err(SignatureError::MalformedAuthorization(_))));
    assert!(matches!(
        Authorization::parse("ACS3-HMAC-SHA256 SignedHeaders=host,Signature=ab"),
        Err(SignatureError::MalformedAuthorization(_))
    ));
    let a =
        Authorization::parse("ACS3-HMAC-SHA256 Credential=id,SignedHeaders=Host;x-acs-date,Signature=ab").expect("ok");
    assert_eq!(a.signed_headers, vec!["host", "x-acs-date"]);
    assert_eq!(
        decode_form("a=1&b=x+y%2Fz&c=&d"),
        Ok(vec![
            ("a".into(), "1".into()),
            ("b".into(), "x y/z".into()),
            ("c".into(), "".into()),
            ("d".into(), "".into())
        ])
    );
    assert!(decode_form("a=%zz").is_err());
    assert!(decode_form("a=%ff").is_err(), "not UTF-8");
    assert_eq!(percent_encode("a b*~/ü"), "a%20b%2A~%2F%C3%BC");
}

proptest! {
    #[test]
    fn arbitrary_headers_never_panic(h in "[ -~]{0,200}") {
        let _ = Authorization::parse(&h);
        let _ = decode_form(&h);
    }

    #[test]
    fn encode_decode_round_trip(s in "\\PC{0,40}") {
        let form = format!("k={}", percent_encode(&s));
        prop_assert_eq!(decode_form(&form).expect("decodes"), vec![("k".to_string(), s)]);
    }
}
