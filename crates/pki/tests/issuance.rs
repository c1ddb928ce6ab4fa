//! The fleet CA end to end: issuance, the checks a device certificate must pass, and a real
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! mutually authenticated TLS handshake between the two ends' settings.

use std::sync::Arc;

use medguard_pki::{CertificateAuthority, DeviceKey, PkiError, certified_device, tls};
use medguard_proto::DeviceId;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-12-05 12:00 UTC);

fn ca() -> CertificateAuthority {
    CertificateAuthority::generate("medguard test CA", NOW, Duration::days(3650)).unwrap()
}

fn device() -> DeviceId {
    DeviceId::from_random_bytes([7; 16])
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn a_device_certificate_names_the_device_and_its_key() {
    let ca = ca();
    let key = DeviceKey::generate().unwrap();
    let csr = key.certificate_request("ct-scanner-01").unwrap();
    let cert = ca
        .issue_device_certificate(&csr, &device(), NOW, Duration::days(7))
        .unwrap();
    assert_eq!(cert.not_after, NOW + Duration::days(7));
    assert_eq!(cert.public_key.to_vec(), key.public_key());
    let seen = certified_device(
        ca.certificate_pem(),
        &der(&cert.certificate_pem),
        NOW + Duration::hours(1),
    )
    .unwrap();
    assert_eq!(seen.device_id, device());
    assert_eq!(seen.serial, cert.serial);
    assert_eq!(seen.public_key, cert.public_key);
}

#[test]
fn the_device_key_is_the_audit_signing_key() {
    let key = DeviceKey::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("medguard-pki-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("device.key");
    std::fs::write(&path, key.private_key_pem()).unwrap();
    let signing = medguard_digest::SigningKey::load(&path).unwrap();
    assert_eq!(signing.public_key().raw().to_vec(), key.public_key());
    let again = DeviceKey::from_pem(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_ca_loads_back_and_refuses_a_foreign_key() {
    let ca = ca();
    let again = CertificateAuthority::load(ca.certificate_pem(), ca.key_pem()).unwrap();
    let key = DeviceKey::generate().unwrap();
    let csr = key.certificate_request("x").unwrap();
    let cert = again
        .issue_device_certificate(&csr, &device(), NOW, Duration::days(7))
        .unwrap();
    certified_device(ca.certificate_pem(), &der(&cert.certificate_pem), NOW).unwrap();
    let other = self::ca();
    let err = CertificateAuthority::load(ca.certificate_pem(), other.key_pem()).unwrap_err();
    assert!(matches!(err, PkiError::Key { .. }), "{err}");
}

#[test]
fn a_tampered_or_foreign_request_is_refused() {
    let ca = ca();
    let key = DeviceKey::generate().unwrap();
    let csr = key.certificate_request("ct-scanner-01").unwrap();
    // Flip one byte inside the base64 body: the signature no longer verifies (or the DER
    // breaks); either way the request is refused.
    let mut bytes = csr.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let err = ca
        .issue_device_certificate(&tampered, &device(), NOW, Duration::days(7))
        .unwrap_err();
    assert!(matches!(err, PkiError::BadRequest { .. }), "{err}");

    let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let foreign = rcgen::CertificateParams::default()
        .serialize_request(&p256)
        .unwrap()
        .pem()
        .unwrap();
    let err = ca
        .issue_device_certificate(&foreign, &device(), NOW, Duration::days(7))
        .unwrap_err();
    assert!(matches!(err, PkiError::BadRequest { .. }), "{err}");
}

#[test]
fn certificates_from_another_ca_expired_or_not_yet_valid_are_refused() {
    let ca = ca();
    let other = self::ca();
    let key = DeviceKey::generate().unwrap();
    let csr = key.certificate_request("x").unwrap();
    let cert = other
        .issue_device_certificate(&csr, &device(), NOW, Duration::days(7))
        .unwrap();
    let err = certified_device(ca.certificate_pem(), &der(&cert.certificate_pem), NOW).unwrap_err();
    assert!(err.to_string().contains("not issued by"), "{err}");

    let cert = ca
        .issue_device_certificate(&csr, &device(), NOW, Duration::days(7))
        .unwrap();
    let err = certified_device(
        ca.certificate_pem(),
        &der(&cert.certificate_pem),
        NOW + Duration::days(8),
    )
    .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    let err = certified_device(
        ca.certificate_pem(),
        &der(&cert.certificate_pem),
        NOW - Duration::hours(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not valid yet"), "{err}");
}

#[test]
fn a_server_certificate_is_no_device_certificate() {
    let ca = ca();
    let server = ca
        .issue_server_certificate(
            &["localhost".into(), "127.0.0.1".into()],
            NOW,
            Duration::days(365),
        )
        .unwrap();
    let err =
        certified_device(ca.certificate_pem(), &der(&server.certificate_pem), NOW).unwrap_err();
    assert!(matches!(err, PkiError::BadCertificate { .. }), "{err}");
}

/// A real handshake over loopback with the two ends' settings: the agent pins the CA and
/// presents its certificate; the server sees it and judges it per request.
#[tokio::test]
async fn both_ends_authenticate_each_other() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let now = OffsetDateTime::now_utc();
    let ca = CertificateAuthority::generate("medguard test CA", now, Duration::days(30)).unwrap();
    let server = ca
        .issue_server_certificate(&["localhost".into()], now, Duration::days(30))
        .unwrap();
    let server_config = tls::server_config(
        ca.certificate_pem(),
        &server.certificate_pem,
        &server.key_pem,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
    let ca_pem = ca.certificate_pem().to_owned();
    let served = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream = acceptor.accept(tcp).await.unwrap();
            let peer = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first().map(|c| c.to_vec()));
            seen.push(peer.map(|der| certified_device(&ca_pem, &der, OffsetDateTime::now_utc())));
            stream.write_all(b"ok").await.unwrap();
            stream.shutdown().await.unwrap();
        }
        seen
    });

    let key = DeviceKey::generate().unwrap();
    let cert = ca
        .issue_device_certificate(
            &key.certificate_request("ct").unwrap(),
            &device(),
            now,
            Duration::days(7),
        )
        .unwrap();
    let connect = |config: Arc<rustls::ClientConfig>| async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let key_pem = key.private_key_pem();
    let with_cert = tls::device_client_config(
        ca.certificate_pem(),
        Some((&cert.certificate_pem, &key_pem)),
    )
    .unwrap();
    assert_eq!(connect(with_cert).await.unwrap(), b"ok");
    let enrolling = tls::device_client_config(ca.certificate_pem(), None).unwrap();
    assert_eq!(connect(enrolling).await.unwrap(), b"ok");

    let seen = served.await.unwrap();
    assert_eq!(
        seen[0].as_ref().unwrap().as_ref().unwrap().device_id,
        device()
    );
    assert!(
        seen[1].is_none(),
        "an enrolling agent presents no certificate"
    );

    // An agent pinning another CA refuses this server.
    let other = CertificateAuthority::generate("impostor", now, Duration::days(30)).unwrap();
    let pinned_elsewhere = tls::device_client_config(other.certificate_pem(), None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr2 = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(
        tls::server_config(
            ca.certificate_pem(),
            &server.certificate_pem,
            &server.key_pem,
        )
        .unwrap(),
    );
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    let tcp = tokio::net::TcpStream::connect(addr2).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let refused = tokio_rustls::TlsConnector::from(pinned_elsewhere)
        .connect(name, tcp)
        .await;
    assert!(refused.is_err(), "a server from another CA was trusted");
}
