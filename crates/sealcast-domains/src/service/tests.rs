use super::*;
use sealcast_kms::{BuiltinKms, RootKey};
use sealcast_tls::test_pki::{KeyAlg, TestCa};

async fn service() -> (DomainService, Store) {
    let store = Store::open_memory().await.expect("store");
    let kms = Arc::new(BuiltinKms::open(store.clone(), RootKey::from_bytes([5; 32])).await.expect("kms"));
    (DomainService::new(store.clone(), kms, Some("localhost")).await.expect("service"), store)
}

#[tokio::test]
async fn certificates_are_sealed_validated_and_served_from_snapshots() {
    let (svc, store) = service().await;
    let ca = TestCa::new("Sealcast Test CA");
    svc.add_domain("play.example.com").await.expect("add");
    svc.add_domain("*.example.com").await.expect("add wildcard");
    assert!(matches!(svc.add_domain("PLAY.example.com").await, Err(DomainError::Exists(_))));
    let leaf = ca.leaf(&["play.example.com"], KeyAlg::P256);
    let info = svc.set_certificate("play.example.com", "c1", &leaf.chain_pem, &leaf.key_pem, false).await.expect("set");
    assert_eq!(info.key_type, "ECDSA P-256");

    // The key is not stored in the clear.
    let rec = store.cert_by_name("c1").await.expect("get").expect("stored");
    let body: String = leaf.key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!rec.cert_pem.contains(&body) && !String::from_utf8_lossy(&rec.key_sealed).contains(&body));

    // Same name without force is refused; with force it overwrites.
    let leaf2 = ca.leaf(&["play.example.com"], KeyAlg::Rsa2048);
    assert!(matches!(
        svc.set_certificate("play.example.com", "c1", &leaf2.chain_pem, &leaf2.key_pem, false).await,
        Err(DomainError::CertificateNameExists(_))
    ));
    svc.set_certificate("play.example.com", "c1", &leaf2.chain_pem, &leaf2.key_pem, true).await.expect("force");
    assert_eq!(svc.certificate("c1").await.expect("show").info.key_type, "RSA 2048");

    // Invalid uploads change nothing.
    let wrong = ca.leaf(&["other.example.org"], KeyAlg::P256);
    assert!(matches!(
        svc.set_certificate("play.example.com", "c2", &wrong.chain_pem, &wrong.key_pem, false).await,
        Err(DomainError::Certificate(sealcast_tls::CertError::DomainNotCovered { .. }))
    ));
    assert_eq!(svc.certificates().await.expect("list").len(), 1);

    svc.reload().await.expect("reload");
    let live = svc.live();
    let snap = live.tls.load();
    assert_eq!(snap.lookup(Some("play.example.com")).map(|d| d.info.key_type.clone()).as_deref(), Some("RSA 2048"));
    assert!(snap.lookup(Some("x.example.com")).is_none(), "wildcard has no certificate yet");
    assert_eq!(live.lookup(Some("x.example.com")).map(|d| d.name.to_string()).as_deref(), Some("*.example.com"));
    assert_eq!(live.lookup(Some("unknown.test")).map(|d| d.name.to_string()).as_deref(), Some("localhost"));

    // Functions.
    svc.set_function("play.example.com", "https_force", &[("enable".into(), "on".into())]).await.expect("https_force");
    assert!(matches!(svc.set_function("x.example.com", "HSTS", &[]).await, Err(DomainError::NotFound(_))));
    assert!(
        matches!(
            svc.set_function("*.example.com", "https_force", &[("enable".into(), "on".into())]).await,
            Err(DomainError::Conflict(_))
        ),
        "https_force needs a certificate"
    );

    // Disabling HTTPS deletes the certificate and switches https_force off.
    svc.disable_https("play.example.com").await.expect("disable");
    assert!(svc.certificates().await.expect("list").is_empty());
    assert!(!svc.domain_config("play.example.com").await.expect("config").https_force.enable);
    assert!(matches!(svc.disable_https("play.example.com").await, Err(DomainError::NoCertificate(_))));
    svc.reload().await.expect("reload");
    assert!(svc.live().tls.load().lookup(Some("play.example.com")).is_none());
}
