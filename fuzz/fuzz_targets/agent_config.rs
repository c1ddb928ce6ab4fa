//! The agent's configuration file on arbitrary text: never panic; a configuration that is
//! accepted names only paths that exist (no false acceptance of a wrong path), and its
//! durations are positive.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medguard_agent::AgentConfig;

/// A directory with a few files the fuzzer's configurations may name.
fn fixture() -> &'static Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("medguard-fuzz-agent-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("root")).expect("fixture directory");
        std::fs::create_dir_all(dir.join("rules")).expect("fixture directory");
        for f in ["device.profile", "vendor.pub", "list", "hashes.hdb"] {
            std::fs::write(dir.join(f), b"x").expect("fixture file");
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = fixture();
    let Ok(config) = AgentConfig::from_toml(text, &dir.join("agent.toml")) else {
        return;
    };
    let exists = |p: &Path| assert!(p.exists(), "accepted a configuration naming {}", p.display());
    if let Some(p) = &config.profile {
        exists(&p.root);
        exists(&p.profile);
        p.trust.iter().for_each(|t| exists(t));
        assert!(!p.interval.is_zero());
    }
    if let Some(s) = &config.scan {
        s.rules.iter().chain(&s.hashes).for_each(|r| exists(r));
        exists(&s.root);
        assert!(!s.interval.is_zero());
    }
    exists(&config.inventory.root);
    if let Some(v) = &config.inventory.vendor {
        exists(v);
    }
    if let Some(a) = &config.allowlist {
        exists(&a.list);
        exists(&a.audit_log);
    }
    assert!(!config.report.within.is_zero());
});
