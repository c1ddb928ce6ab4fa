//! The allowed-services declaration parser on arbitrary input: never panic; a declaration
//! that parses survives its own TOML unchanged (round trip), signed with a fresh key it
//! verifies with that key and no other, and a listener made from any entry is declared.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medguard_digest::SigningKey;
use medguard_inventory::allowed::{self, AllowedServices};
use medguard_inventory::{ListeningSocket, Service, ServiceOwner};

fn keys() -> &'static (SigningKey, SigningKey) {
    static KEYS: OnceLock<(SigningKey, SigningKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            SigningKey::generate().expect("key").0,
            SigningKey::generate().expect("key").0,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.toml");
    // The signed form too: the envelope split and the body parser together.
    let _ = allowed::verify(data, path, &[keys().0.public_key().clone()]);
    let Ok(declared) = AllowedServices::parse(data, path) else {
        return;
    };
    let text = declared.to_toml().expect("a parsed declaration serialises");
    let back = AllowedServices::parse(text.as_bytes(), path).expect("own output parses");
    assert_eq!(back, declared);

    let (key, other) = keys();
    let signed = allowed::sign(data, path, key).expect("a valid declaration signs");
    let ok = allowed::verify(&signed, path, &[key.public_key().clone()]).expect("verifies");
    assert_eq!(ok.allowed, declared);
    assert!(allowed::verify(&signed, path, &[other.public_key().clone()]).is_err());

    // Each entry allows the listener it describes.
    let services: Vec<Service> = declared
        .services
        .iter()
        .map(|e| {
            let port = e.port.last();
            assert!(e.port.first() <= port && e.port.first() != 0 && e.port.contains(port));
            Service {
                socket: ListeningSocket {
                    protocol: e.protocol,
                    address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    port,
                    pid: Some(1),
                    process: Some(e.process.clone().unwrap_or_else(|| "/bin/x".into())),
                },
                component: Some(ServiceOwner {
                    name: e.package.clone().unwrap_or_else(|| "x".to_owned()),
                    version: "1".to_owned(),
                    purl: None,
                }),
            }
        })
        .collect();
    assert!(allowed::undeclared(&services, &declared).is_empty());
});
