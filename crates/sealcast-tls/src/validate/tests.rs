use super::*;
use crate::test_pki::{encrypted_pkcs8_lookalike, KeyAlg, TestCa};

const NOW: Option<i64> = Some(1_800_000_000); // 2027

fn d(s: &str) -> DomainName {
    DomainName::parse(s).expect("domain")
}

#[test]
fn accepts_exact_wildcard_rsa_and_ecdsa() {
    let ca = TestCa::new("Sealcast Test CA");
    for alg in [KeyAlg::P256, KeyAlg::P384, KeyAlg::Rsa2048] {
        let leaf = ca.leaf(&["play.example.com"], alg);
        let v = validate(&d("play.example.com"), &leaf.chain_pem, &leaf.key_pem, NOW).expect("valid");
        assert_eq!(v.info.names, vec!["play.example.com".to_string()]);
        assert_eq!(v.info.chain_length, 2);
        assert_eq!(v.info.fingerprint_sha256.len(), 64);
        let expect = match alg {
            KeyAlg::P256 => "ECDSA P-256",
            KeyAlg::P384 => "ECDSA P-384",
            KeyAlg::Rsa2048 => "RSA 2048",
        };
        assert_eq!(v.info.key_type, expect);
        assert!(v.info.issuer.contains("Sealcast Test CA"));
    }
    let wild = ca.leaf(&["*.example.com"], KeyAlg::P256);
    validate(&d("a.example.com"), &wild.chain_pem, &wild.key_pem, NOW).expect("wildcard covers one label");
    validate(&d("*.example.com"), &wild.chain_pem, &wild.key_pem, NOW).expect("wildcard domain");
    // A leaf without its issuer is fine too.
    validate(&d("a.example.com"), &wild.leaf_pem, &wild.key_pem, NOW).expect("leaf only");
}

#[test]
fn each_invalid_upload_gets_its_own_error() {
    let ca = TestCa::new("Sealcast Test CA");
    let good = ca.leaf(&["play.example.com"], KeyAlg::P256);
    let dom = d("play.example.com");
    assert_eq!(validate(&dom, "hello", &good.key_pem, NOW).err(), Some(CertError::CertificateNotPem));
    assert_eq!(validate(&dom, &good.chain_pem, "hello", NOW).err(), Some(CertError::KeyNotPem));
    let enc = encrypted_pkcs8_lookalike(&good.key_pem);
    assert_eq!(validate(&dom, &good.chain_pem, &enc, NOW).err(), Some(CertError::EncryptedKey));
    let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert_eq!(validate(&dom, &good.chain_pem, legacy, NOW).err(), Some(CertError::EncryptedKey));
    let other = ca.leaf(&["play.example.com"], KeyAlg::P256);
    assert_eq!(validate(&dom, &good.chain_pem, &other.key_pem, NOW).err(), Some(CertError::KeyMismatch));
    let expired = ca.leaf_with(&["play.example.com"], KeyAlg::P256, 2020, 2021);
    assert!(matches!(validate(&dom, &expired.chain_pem, &expired.key_pem, NOW), Err(CertError::Expired { .. })));
    let future = ca.leaf_with(&["play.example.com"], KeyAlg::P256, 2090, 2095);
    assert!(matches!(validate(&dom, &future.chain_pem, &future.key_pem, NOW), Err(CertError::NotYetValid { .. })));
    let wrong = ca.leaf(&["other.example.com"], KeyAlg::P256);
    let err = validate(&dom, &wrong.chain_pem, &wrong.key_pem, NOW).expect_err("wrong domain");
    assert!(
        matches!(&err, CertError::DomainNotCovered { names, .. } if names == &vec!["other.example.com".to_string()])
    );
    let wild = ca.leaf(&["*.example.com"], KeyAlg::P256);
    assert!(matches!(
        validate(&d("a.b.example.com"), &wild.chain_pem, &wild.key_pem, NOW),
        Err(CertError::DomainNotCovered { .. })
    ));
    let reversed = format!("{}{}", ca.pem(), good.leaf_pem);
    assert_eq!(
        validate(&dom, &reversed, &good.key_pem, NOW).err(),
        Some(CertError::KeyMismatch),
        "leaf must come first"
    );
    let unrelated = TestCa::new("Another CA");
    let misordered = format!("{}{}", good.leaf_pem, unrelated.pem());
    assert_eq!(
        validate(&dom, &misordered, &good.key_pem, NOW).err(),
        Some(CertError::ChainOrder { index: 0, next: 1 })
    );
    // Messages never include key material.
    let msg = CertError::KeyMismatch.to_string();
    assert!(!msg.contains("PRIVATE"));
}
