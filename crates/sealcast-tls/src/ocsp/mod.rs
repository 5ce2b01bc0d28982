//! OCSP for stapling (RFC 6960, RFC 6066 `status_request`), sans-IO.
//!
//! [`OcspTarget::for_chain`] reads the responder URL from the leaf's Authority Information
//! Access extension and the issuer from the next certificate in the chain, builds the request
//! ([`OcspTarget::request_der`]) and checks a responder's answer ([`OcspTarget::check_response`]):
//! successful status, a `good` single response for exactly this certificate, a signature by the
//! issuer or by a responder certificate the issuer delegated OCSP signing to, and a validity
//! window that covers now. Only a response that passes every check is ever stapled. The HTTP
//! exchange and the refresh schedule belong to the caller.

mod der;

use rustls_pki_types::CertificateDer;
use sealcast_crypto::{sha1_for_identifiers, verify_signature, SignatureAlg};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use der::{ctx, ctx_prim, Reader};

/// Clock skew tolerated on `thisUpdate` (a responder a little ahead of us).
const SKEW_SECS: i64 = 300;

/// What can go wrong getting a staple. Messages are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OcspError {
    #[error("the certificate names no OCSP responder (no http:// OCSP URL in its Authority Information Access)")]
    NoResponder,
    #[error("the chain has no issuer certificate after the leaf; upload the chain with its intermediate to staple")]
    NoIssuer,
    #[error("certificate cannot be parsed: {0}")]
    BadCertificate(String),
    #[error("malformed OCSP response: {0}")]
    Malformed(&'static str),
    #[error("the responder answered {0}")]
    ResponderStatus(&'static str),
    #[error("unsupported OCSP response type {0}")]
    UnsupportedType(String),
    #[error("the response has no status for this certificate")]
    NoMatchingResponse,
    #[error("the responder says the certificate was REVOKED at {revoked_at} (Unix time); replace it")]
    Revoked { revoked_at: i64 },
    #[error("the responder does not know this certificate (status unknown)")]
    Unknown,
    #[error("the response signature does not verify against the issuer or a delegated responder")]
    BadSignature,
    #[error("unsupported signature algorithm {0}")]
    UnsupportedSignature(String),
    #[error("the response is not yet valid (thisUpdate {this_update}, Unix time)")]
    NotYetValid { this_update: i64 },
    #[error("the response is stale (nextUpdate {next_update}, Unix time)")]
    Stale { next_update: i64 },
}

/// A checked response, ready to staple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staple {
    /// The DER `OCSPResponse`, sent as is in the handshake.
    pub der: Vec<u8>,
    pub this_update: i64,
    pub next_update: Option<i64>,
}

impl Staple {
    /// Until when the staple may be served: `nextUpdate`, or one day after `thisUpdate` when
    /// the responder gives none.
    pub fn valid_until(&self) -> i64 {
        self.next_update.unwrap_or(self.this_update + 86_400)
    }

    /// When to fetch the next one: halfway through the validity, at least a minute from `now`.
    pub fn refresh_at(&self, now: i64) -> i64 {
        let half = self.this_update + (self.valid_until() - self.this_update) / 2;
        half.max(now + 60)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyKind {
    P256,
    P384,
    Rsa,
    Other,
}

/// A public key as needed to verify signatures.
#[derive(Debug, Clone)]
struct PubKey {
    kind: KeyKind,
    bits: Vec<u8>,
}

impl PubKey {
    fn of(cert: &X509Certificate<'_>) -> PubKey {
        let spki = cert.public_key();
        let alg = spki.algorithm.algorithm.to_id_string();
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
        let kind = match (alg.as_str(), curve.as_deref()) {
            ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => KeyKind::P256,
            ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => KeyKind::P384,
            ("1.2.840.113549.1.1.1", _) => KeyKind::Rsa,
            _ => KeyKind::Other,
        };
        PubKey { kind, bits: spki.subject_public_key.data.to_vec() }
    }

    fn verify(&self, sig_oid: &str, message: &[u8], signature: &[u8]) -> Result<bool, OcspError> {
        let alg = match (sig_oid, &self.kind) {
            ("1.2.840.10045.4.3.2", KeyKind::P256) => SignatureAlg::EcdsaP256Sha256,
            ("1.2.840.10045.4.3.3", KeyKind::P256) => SignatureAlg::EcdsaP256Sha384,
            ("1.2.840.10045.4.3.2", KeyKind::P384) => SignatureAlg::EcdsaP384Sha256,
            ("1.2.840.10045.4.3.3", KeyKind::P384) => SignatureAlg::EcdsaP384Sha384,
            ("1.2.840.113549.1.1.11", KeyKind::Rsa) => SignatureAlg::RsaPkcs1Sha256,
            ("1.2.840.113549.1.1.12", KeyKind::Rsa) => SignatureAlg::RsaPkcs1Sha384,
            ("1.2.840.113549.1.1.13", KeyKind::Rsa) => SignatureAlg::RsaPkcs1Sha512,
            // A mismatch between key and algorithm cannot verify.
            ("1.2.840.10045.4.3.2" | "1.2.840.10045.4.3.3", _)
            | ("1.2.840.113549.1.1.11" | "1.2.840.113549.1.1.12" | "1.2.840.113549.1.1.13", _) => return Ok(false),
            (other, _) => return Err(OcspError::UnsupportedSignature(other.to_string())),
        };
        Ok(verify_signature(alg, &self.bits, message, signature))
    }
}

/// OID 1.3.14.3.2.26 (SHA-1), the CertID hash every responder accepts.
const SHA1_OID: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const BASIC_RESPONSE: &str = "1.3.6.1.5.5.7.48.1.1";

/// One certificate's OCSP identity and where to ask about it.
#[derive(Debug, Clone)]
pub struct OcspTarget {
    /// The responder's `http://` URL.
    pub responder: String,
    name_hash: [u8; 20],
    key_hash: [u8; 20],
    serial: Vec<u8>,
    issuer_subject: Vec<u8>,
    issuer_key: PubKey,
}

/// The responder URL named by a certificate, if any (`http://` only: OCSP over HTTPS would need
/// the very trust it reports on).
pub fn responder_url(cert: &X509Certificate<'_>) -> Option<String> {
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for ad in &aia.accessdescs {
                if ad.access_method.to_id_string() == "1.3.6.1.5.5.7.48.1" {
                    if let GeneralName::URI(u) = &ad.access_location {
                        if u.to_ascii_lowercase().starts_with("http://") {
                            return Some(u.to_string());
                        }
                    }
                }
            }
        }
    }
    None
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, OcspError> {
    X509Certificate::from_der(der).map(|(_, c)| c).map_err(|e| OcspError::BadCertificate(e.to_string()))
}

impl OcspTarget {
    /// The target for a chain (leaf first, its issuer second).
    pub fn for_chain(chain: &[CertificateDer<'_>]) -> Result<OcspTarget, OcspError> {
        let leaf = parse(chain.first().ok_or(OcspError::NoIssuer)?.as_ref())?;
        let responder = responder_url(&leaf).ok_or(OcspError::NoResponder)?;
        let issuer = parse(chain.get(1).ok_or(OcspError::NoIssuer)?.as_ref())?;
        if leaf.issuer().as_raw() != issuer.subject().as_raw() {
            return Err(OcspError::NoIssuer);
        }
        Ok(OcspTarget {
            responder,
            name_hash: sha1_for_identifiers(leaf.issuer().as_raw()),
            key_hash: sha1_for_identifiers(&issuer.public_key().subject_public_key.data),
            serial: leaf.raw_serial().to_vec(),
            issuer_subject: issuer.subject().as_raw().to_vec(),
            issuer_key: PubKey::of(&issuer),
        })
    }

    fn cert_id(&self) -> Vec<u8> {
        let alg = der::seq(&[&der::tlv(der::OID, SHA1_OID), &der::tlv(der::NULL, &[])]);
        der::seq(&[
            &alg,
            &der::tlv(der::OCTET_STRING, &self.name_hash),
            &der::tlv(der::OCTET_STRING, &self.key_hash),
            &der::tlv(der::INTEGER, &self.serial),
        ])
    }

    /// The DER `OCSPRequest` for this certificate (POSTed as `application/ocsp-request`).
    pub fn request_der(&self) -> Vec<u8> {
        let request = der::seq(&[&self.cert_id()]);
        let request_list = der::seq(&[&request]);
        let tbs = der::seq(&[&request_list]);
        der::seq(&[&tbs])
    }

    fn matches(&self, cert_id: &[u8]) -> Result<bool, OcspError> {
        let mut r = Reader::new(cert_id);
        let mut alg = Reader::new(r.expect(der::SEQUENCE, "CertID hash algorithm")?);
        let oid = alg.expect(der::OID, "CertID hash algorithm OID")?;
        let name_hash = r.expect(der::OCTET_STRING, "CertID issuerNameHash")?;
        let key_hash = r.expect(der::OCTET_STRING, "CertID issuerKeyHash")?;
        let serial = r.expect(der::INTEGER, "CertID serialNumber")?;
        Ok(oid == SHA1_OID && name_hash == self.name_hash && key_hash == self.key_hash && serial == self.serial)
    }

    /// Checks a responder's answer at Unix time `now`; only an `Ok` may be stapled.
    pub fn check_response(&self, response: &[u8], now: i64) -> Result<Staple, OcspError> {
        let basic = BasicResponse::parse(response)?;
        self.verify_signer(&basic, now)?;
        let mut found = None;
        for single in &basic.responses {
            if self.matches(single.cert_id)? {
                found = Some(single);
                break;
            }
        }
        let single = found.ok_or(OcspError::NoMatchingResponse)?;
        match single.status {
            CertStatus::Good => {}
            CertStatus::Revoked(revoked_at) => return Err(OcspError::Revoked { revoked_at }),
            CertStatus::Unknown => return Err(OcspError::Unknown),
        }
        if single.this_update > now + SKEW_SECS {
            return Err(OcspError::NotYetValid { this_update: single.this_update });
        }
        if let Some(next_update) = single.next_update {
            if next_update <= now {
                return Err(OcspError::Stale { next_update });
            }
        }
        Ok(Staple { der: response.to_vec(), this_update: single.this_update, next_update: single.next_update })
    }

    /// The issuer signed the response, or a certificate in it that the issuer signed, that is
    /// valid now and carries the OCSPSigning extended key usage (RFC 6960 §4.2.2.2).
    fn verify_signer(&self, basic: &BasicResponse<'_>, now: i64) -> Result<(), OcspError> {
        if self.issuer_key.verify(&basic.sig_oid, basic.tbs, basic.signature)? {
            return Ok(());
        }
        for der in &basic.certs {
            let Ok(responder) = parse(der) else { continue };
            let delegated = responder.issuer().as_raw() == self.issuer_subject.as_slice()
                && responder.extended_key_usage().ok().flatten().is_some_and(|e| e.value.ocsp_signing)
                && responder.validity().not_before.timestamp() <= now + SKEW_SECS
                && responder.validity().not_after.timestamp() >= now
                && self.issuer_key.verify(
                    &responder.signature_algorithm.algorithm.to_id_string(),
                    responder.tbs_certificate.as_ref(),
                    &responder.signature_value.data,
                )?;
            if delegated && PubKey::of(&responder).verify(&basic.sig_oid, basic.tbs, basic.signature)? {
                return Ok(());
            }
        }
        Err(OcspError::BadSignature)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertStatus {
    Good,
    Revoked(i64),
    Unknown,
}

#[derive(Debug)]
struct SingleResponse<'a> {
    cert_id: &'a [u8],
    status: CertStatus,
    this_update: i64,
    next_update: Option<i64>,
}

/// A parsed `BasicOCSPResponse` (structure only; nothing verified yet).
#[derive(Debug)]
pub struct BasicResponse<'a> {
    tbs: &'a [u8],
    sig_oid: String,
    signature: &'a [u8],
    certs: Vec<&'a [u8]>,
    responses: Vec<SingleResponse<'a>>,
}

impl<'a> BasicResponse<'a> {
    /// Parses an `OCSPResponse` down to its basic response. Never panics on any input.
    pub fn parse(response: &'a [u8]) -> Result<BasicResponse<'a>, OcspError> {
        let mut outer = Reader::new(response);
        let mut resp = Reader::new(outer.expect(der::SEQUENCE, "OCSPResponse is not a SEQUENCE")?);
        let status = resp.expect(der::ENUMERATED, "responseStatus")?;
        match status {
            [0] => {}
            [1] => return Err(OcspError::ResponderStatus("malformedRequest")),
            [2] => return Err(OcspError::ResponderStatus("internalError")),
            [3] => return Err(OcspError::ResponderStatus("tryLater")),
            [5] => return Err(OcspError::ResponderStatus("sigRequired")),
            [6] => return Err(OcspError::ResponderStatus("unauthorized")),
            _ => return Err(OcspError::Malformed("unknown responseStatus")),
        }
        let bytes = resp.expect(ctx(0), "successful response without responseBytes")?;
        let mut rb = Reader::new(Reader::new(bytes).expect(der::SEQUENCE, "ResponseBytes")?);
        let kind = der::oid_string(rb.expect(der::OID, "responseType")?);
        if kind != BASIC_RESPONSE {
            return Err(OcspError::UnsupportedType(kind));
        }
        let basic = rb.expect(der::OCTET_STRING, "response")?;
        let mut b = Reader::new(Reader::new(basic).expect(der::SEQUENCE, "BasicOCSPResponse")?);
        let tbs = b.expect_whole(der::SEQUENCE, "tbsResponseData")?;
        let mut alg = Reader::new(b.expect(der::SEQUENCE, "signatureAlgorithm")?);
        let sig_oid = der::oid_string(alg.expect(der::OID, "signature algorithm OID")?);
        let signature = match b.expect(der::BIT_STRING, "signature")? {
            [0, sig @ ..] => sig,
            _ => return Err(OcspError::Malformed("signature has unused bits")),
        };
        let mut certs = Vec::new();
        if let Some(c) = b.optional(ctx(0))? {
            let mut list = Reader::new(Reader::new(c).expect(der::SEQUENCE, "certs")?);
            while !list.is_empty() {
                certs.push(list.expect_whole(der::SEQUENCE, "certificate")?);
            }
        }

        let mut data = Reader::new(Reader::new(tbs).expect(der::SEQUENCE, "tbsResponseData")?);
        data.optional(ctx(0))?; // version, v1 only
        match data.peek_tag() {
            Some(t) if t == ctx(1) || t == ctx(2) => {
                data.any()?;
            }
            _ => return Err(OcspError::Malformed("responderID")),
        }
        data.expect(der::GENERALIZED_TIME, "producedAt")?;
        let mut list = Reader::new(data.expect(der::SEQUENCE, "responses")?);
        let mut responses = Vec::new();
        while !list.is_empty() {
            let mut s = Reader::new(list.expect(der::SEQUENCE, "SingleResponse")?);
            let cert_id = s.expect(der::SEQUENCE, "CertID")?;
            let (tag, contents, _) = s.any()?;
            let status = match tag {
                t if t == ctx_prim(0) => CertStatus::Good,
                t if t == ctx(1) => {
                    let at = Reader::new(contents).expect(der::GENERALIZED_TIME, "revocationTime")?;
                    CertStatus::Revoked(der::generalized_time(at)?)
                }
                t if t == ctx_prim(2) => CertStatus::Unknown,
                _ => return Err(OcspError::Malformed("certStatus")),
            };
            let this_update = der::generalized_time(s.expect(der::GENERALIZED_TIME, "thisUpdate")?)?;
            let next_update = match s.optional(ctx(0))? {
                Some(n) => Some(der::generalized_time(Reader::new(n).expect(der::GENERALIZED_TIME, "nextUpdate")?)?),
                None => None,
            };
            responses.push(SingleResponse { cert_id, status, this_update, next_update });
        }
        Ok(BasicResponse { tbs, sig_oid, signature, certs, responses })
    }
}

#[cfg(test)]
mod tests;
