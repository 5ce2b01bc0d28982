//! A test PKI generated with rcgen: one CA and leaf certificates of every kind the validator
//! must accept or reject. Test-only (feature `test-pki`).
#![allow(clippy::expect_used)]

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, CrlDistributionPoint, CustomExtension, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, RsaKeySize, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
    PKCS_RSA_SHA256,
};

/// Key algorithm of a generated leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    P256,
    P384,
    Rsa2048,
}

/// A test certificate authority.
pub struct TestCa {
    pub cert: Certificate,
    pub key: KeyPair,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

/// A leaf certificate: chain PEM (leaf, then the CA), key PEM.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub chain_pem: String,
    pub leaf_pem: String,
    pub key_pem: String,
}

fn key(alg: KeyAlg) -> KeyPair {
    match alg {
        KeyAlg::P256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
        KeyAlg::P384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
        KeyAlg::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
    }
    .expect("test key generation")
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = key(KeyAlg::P256);
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2099, 1, 1);
        let cert = p.self_signed(&key).expect("CA");
        TestCa { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf for `names`, valid between the given years.
    pub fn leaf_with(&self, names: &[&str], alg: KeyAlg, from_year: i32, to_year: i32) -> Leaf {
        self.issue(names, alg, |p| {
            p.not_before = date_time_ymd(from_year, 1, 1);
            p.not_after = date_time_ymd(to_year, 1, 1);
        })
    }

    /// A leaf with a realistic validity: from 30 days ago for 365 days (what public CAs
    /// issue; testssl flags longer ones).
    pub fn leaf_current(&self, names: &[&str], alg: KeyAlg) -> Leaf {
        self.issue(names, alg, current_validity)
    }

    /// A currently valid leaf whose Authority Information Access names `ocsp_url` as its
    /// OCSP responder.
    pub fn leaf_with_ocsp(&self, names: &[&str], alg: KeyAlg, ocsp_url: &str) -> Leaf {
        self.issue(names, alg, |p| {
            current_validity(p);
            p.custom_extensions.push(authority_info_access(ocsp_url));
        })
    }

    /// A delegated OCSP responder certificate (OCSPSigning extended key usage) and its key.
    pub fn ocsp_responder(&self) -> (Certificate, KeyPair) {
        let k = key(KeyAlg::P256);
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, "Sealcast test OCSP responder");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        current_validity(&mut p);
        let cert = p.signed_by(&k, &self.cert, &self.key).expect("responder");
        (cert, k)
    }

    fn issue(&self, names: &[&str], alg: KeyAlg, validity: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let k = key(alg);
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("params");
        p.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        validity(&mut p);
        // Like CA-issued certificates, name where revocation is published.
        p.crl_distribution_points =
            vec![CrlDistributionPoint { uris: vec!["http://crl.sealcast-test.invalid/ca.crl".to_string()] }];
        let cert = p.signed_by(&k, &self.cert, &self.key).expect("leaf");
        Leaf {
            chain_pem: format!("{}{}", cert.pem(), self.cert.pem()),
            leaf_pem: cert.pem(),
            key_pem: k.serialize_pem(),
        }
    }

    /// A currently valid leaf (2020..2099).
    pub fn leaf(&self, names: &[&str], alg: KeyAlg) -> Leaf {
        self.leaf_with(names, alg, 2020, 2099)
    }
}

fn current_validity(p: &mut CertificateParams) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    p.not_before = date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(now.saturating_sub(30 * 86_400));
    p.not_after = p.not_before + std::time::Duration::from_secs(365 * 86_400);
}

/// The Authority Information Access extension with one OCSP access description.
fn authority_info_access(url: &str) -> CustomExtension {
    let tlv = |tag: u8, body: &[u8]| {
        assert!(body.len() < 128, "short test URLs only");
        let mut v = vec![tag, body.len() as u8];
        v.extend_from_slice(body);
        v
    };
    let oid_ocsp = tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01]);
    let location = tlv(0x86, url.as_bytes());
    let description = tlv(0x30, &[oid_ocsp, location].concat());
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &description))
}

/// Wraps a key PEM's body under an "ENCRYPTED PRIVATE KEY" label, as a password-protected
/// PKCS#8 export looks to a validator.
pub fn encrypted_pkcs8_lookalike(key_pem: &str) -> String {
    key_pem
        .replace("BEGIN PRIVATE KEY", "BEGIN ENCRYPTED PRIVATE KEY")
        .replace("END PRIVATE KEY", "END ENCRYPTED PRIVATE KEY")
}
