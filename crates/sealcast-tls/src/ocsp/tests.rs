#![allow(clippy::expect_used, clippy::unwrap_used)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls_pki_types::pem::PemObject;

use super::der::{seq, tlv, BIT_STRING, ENUMERATED, GENERALIZED_TIME, OCTET_STRING, OID};
use super::*;
use crate::test_pki::{KeyAlg, Leaf, TestCa};

const NOW: i64 = 1_795_523_696; // 2026-11-24T12:34:56Z
const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];

fn chain(leaf: &Leaf) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(leaf.chain_pem.as_bytes()).collect::<Result<_, _>>().expect("chain")
}

fn gentime(t: i64) -> Vec<u8> {
    let (y, m, d, h, mi, sec) = sealcast_crypto::civil::utc(t);
    let s = format!("{y:04}{m:02}{d:02}{h:02}{mi:02}{sec:02}Z");
    tlv(GENERALIZED_TIME, s.as_bytes())
}

/// What a responder says, for building test responses.
struct Answer<'a> {
    status: Vec<u8>,
    this_update: i64,
    next_update: Option<i64>,
    signer_pkcs8: &'a [u8],
    certs: Vec<Vec<u8>>,
}

fn good(signer_pkcs8: &[u8]) -> Answer<'_> {
    Answer {
        status: tlv(ctx_prim(0), &[]),
        this_update: NOW - 3600,
        next_update: Some(NOW + 3 * 86_400),
        signer_pkcs8,
        certs: vec![],
    }
}

fn respond(target: &OcspTarget, a: &Answer<'_>) -> Vec<u8> {
    let mut single = vec![target.cert_id(), a.status.clone(), gentime(a.this_update)];
    if let Some(n) = a.next_update {
        single.push(tlv(ctx(0), &gentime(n)));
    }
    let single = tlv(der::SEQUENCE, &single.concat());
    let responder_id = tlv(ctx(2), &tlv(OCTET_STRING, &[0u8; 20]));
    let tbs = seq(&[&responder_id, &gentime(a.this_update), &seq(&[&single])]);
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, a.signer_pkcs8).expect("signer");
    let sig = kp.sign(&SystemRandom::new(), &tbs).expect("sign");
    let mut parts = vec![tbs, seq(&[&tlv(OID, ECDSA_SHA256)]), tlv(BIT_STRING, &[&[0u8][..], sig.as_ref()].concat())];
    if !a.certs.is_empty() {
        parts.push(tlv(ctx(0), &tlv(der::SEQUENCE, &a.certs.concat())));
    }
    let basic = tlv(der::SEQUENCE, &parts.concat());
    let bytes = seq(&[&tlv(OID, BASIC), &tlv(OCTET_STRING, &basic)]);
    seq(&[&tlv(ENUMERATED, &[0]), &tlv(ctx(0), &bytes)])
}

struct Fixture {
    ca: TestCa,
    target: OcspTarget,
    ca_key: Vec<u8>,
}

fn fixture() -> Fixture {
    let ca = TestCa::new("OCSP Test CA");
    let leaf = ca.leaf_with_ocsp(&["play.example.com"], KeyAlg::P256, "http://127.0.0.1:9/ocsp");
    let target = OcspTarget::for_chain(&chain(&leaf)).expect("target");
    let ca_key = ca.key.serialize_der();
    Fixture { ca, target, ca_key }
}

#[test]
fn target_needs_a_responder_and_an_issuer() {
    let f = fixture();
    assert_eq!(f.target.responder, "http://127.0.0.1:9/ocsp");
    let plain = f.ca.leaf(&["play.example.com"], KeyAlg::P256);
    assert_eq!(OcspTarget::for_chain(&chain(&plain)).err(), Some(OcspError::NoResponder));
    let leaf = f.ca.leaf_with_ocsp(&["play.example.com"], KeyAlg::Rsa2048, "http://ocsp.example.test");
    let only_leaf = chain(&leaf)[..1].to_vec();
    assert_eq!(OcspTarget::for_chain(&only_leaf).err(), Some(OcspError::NoIssuer));
}

#[test]
fn request_is_one_sha1_cert_id() {
    let f = fixture();
    let req = f.target.request_der();
    let mut r = Reader::new(&req);
    let mut ocsp_req = Reader::new(r.expect(der::SEQUENCE, "OCSPRequest").expect("seq"));
    assert!(r.is_empty());
    let mut tbs = Reader::new(ocsp_req.expect(der::SEQUENCE, "TBSRequest").expect("tbs"));
    let mut list = Reader::new(tbs.expect(der::SEQUENCE, "requestList").expect("list"));
    let mut request = Reader::new(list.expect(der::SEQUENCE, "Request").expect("request"));
    let cert_id = request.expect(der::SEQUENCE, "CertID").expect("cert id");
    assert!(f.target.matches(cert_id).expect("parses"));
    assert!(list.is_empty() && tbs.is_empty() && ocsp_req.is_empty());
}

#[test]
fn a_good_response_signed_by_the_issuer_is_stapled() {
    let f = fixture();
    let der = respond(&f.target, &good(&f.ca_key));
    let staple = f.target.check_response(&der, NOW).expect("good");
    assert_eq!(staple.der, der);
    assert_eq!((staple.this_update, staple.next_update), (NOW - 3600, Some(NOW + 3 * 86_400)));
    assert_eq!(staple.valid_until(), NOW + 3 * 86_400);
    // Refresh halfway through the validity window.
    assert_eq!(staple.refresh_at(NOW), NOW - 3600 + (3 * 86_400 + 3600) / 2);
    // Without nextUpdate: served for a day, refreshed after twelve hours.
    let a = Answer { next_update: None, ..good(&f.ca_key) };
    let staple = f.target.check_response(&respond(&f.target, &a), NOW).expect("good");
    assert_eq!(staple.valid_until(), NOW - 3600 + 86_400);
}

#[test]
fn revoked_unknown_stale_and_future_are_refused() {
    let f = fixture();
    let revoked = tlv(ctx(1), &gentime(NOW - 7200));
    let a = Answer { status: revoked, ..good(&f.ca_key) };
    assert_eq!(
        f.target.check_response(&respond(&f.target, &a), NOW),
        Err(OcspError::Revoked { revoked_at: NOW - 7200 })
    );
    let a = Answer { status: tlv(ctx_prim(2), &[]), ..good(&f.ca_key) };
    assert_eq!(f.target.check_response(&respond(&f.target, &a), NOW), Err(OcspError::Unknown));
    let a = Answer { next_update: Some(NOW - 1), ..good(&f.ca_key) };
    assert_eq!(f.target.check_response(&respond(&f.target, &a), NOW), Err(OcspError::Stale { next_update: NOW - 1 }));
    let a = Answer { this_update: NOW + 3600, ..good(&f.ca_key) };
    assert_eq!(
        f.target.check_response(&respond(&f.target, &a), NOW),
        Err(OcspError::NotYetValid { this_update: NOW + 3600 })
    );
}

#[test]
fn signatures_must_come_from_the_issuer_or_its_delegate() {
    let f = fixture();
    let stranger = TestCa::new("Someone else");
    let forged = respond(&f.target, &good(&stranger.key.serialize_der()));
    assert_eq!(f.target.check_response(&forged, NOW), Err(OcspError::BadSignature));

    let mut tampered = respond(&f.target, &good(&f.ca_key));
    let at = tampered.len() / 3;
    tampered[at] ^= 0x01;
    assert!(f.target.check_response(&tampered, NOW).is_err());

    // A delegated responder with the OCSPSigning EKU, included in the response.
    let (responder, responder_key) = f.ca.ocsp_responder();
    let key = responder_key.serialize_der();
    let a = Answer { certs: vec![responder.der().to_vec()], ..good(&key) };
    f.target.check_response(&respond(&f.target, &a), NOW).expect("delegated responder");

    // A certificate from the same CA without the EKU may not sign for it.
    let other = f.ca.leaf(&["other.example.com"], KeyAlg::P256);
    let other_der = chain(&other)[0].to_vec();
    let other_key = rustls_pki_types::PrivateKeyDer::from_pem_slice(other.key_pem.as_bytes()).expect("key");
    let a = Answer { certs: vec![other_der], ..good(other_key.secret_der()) };
    assert_eq!(f.target.check_response(&respond(&f.target, &a), NOW), Err(OcspError::BadSignature));

    // The delegate of another CA may not either.
    let (foreign, foreign_key) = stranger.ocsp_responder();
    let key = foreign_key.serialize_der();
    let a = Answer { certs: vec![foreign.der().to_vec()], ..good(&key) };
    assert_eq!(f.target.check_response(&respond(&f.target, &a), NOW), Err(OcspError::BadSignature));
}

#[test]
fn a_response_about_another_certificate_does_not_count() {
    let f = fixture();
    let other = f.ca.leaf_with_ocsp(&["other.example.com"], KeyAlg::P256, "http://127.0.0.1:9/ocsp");
    let other_target = OcspTarget::for_chain(&chain(&other)).expect("target");
    let der = respond(&other_target, &good(&f.ca_key));
    assert_eq!(f.target.check_response(&der, NOW), Err(OcspError::NoMatchingResponse));
}

#[test]
fn responder_errors_and_garbage() {
    let f = fixture();
    let try_later = seq(&[&tlv(ENUMERATED, &[3])]);
    assert_eq!(f.target.check_response(&try_later, NOW), Err(OcspError::ResponderStatus("tryLater")));
    let unauthorized = seq(&[&tlv(ENUMERATED, &[6])]);
    assert_eq!(f.target.check_response(&unauthorized, NOW), Err(OcspError::ResponderStatus("unauthorized")));
    assert!(matches!(f.target.check_response(b"<html>502</html>", NOW), Err(OcspError::Malformed(_))));
    // Every truncation and single-byte corruption of a good response is refused without a panic.
    let der = respond(&f.target, &good(&f.ca_key));
    for n in 0..der.len() {
        assert!(f.target.check_response(&der[..n], NOW).is_err(), "truncated at {n}");
    }
    for i in 0..der.len() {
        let mut bad = der.clone();
        bad[i] ^= 0x80;
        assert!(f.target.check_response(&bad, NOW).is_err(), "corrupted at {i}");
    }
}
