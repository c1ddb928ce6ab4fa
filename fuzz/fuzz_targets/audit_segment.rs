//! The audit segment reader on arbitrary bytes: never panics; every frame that decodes
//! re-encodes to exactly the bytes it came from; every stored event that parses survives
//! the canonical (compact) form unchanged; checkpoint lines never panic the parser; a
//! log directory holding the bytes as its segment never panics `verify` or the reader, and
//! is never called intact when nothing trusted covers it (no key, no known checkpoint);
//! a `SEQ:DIGEST` known checkpoint that parses round-trips through its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_audit::AuditEvent;
use medguard_audit::checkpoint::SignedCheckpoint;
use medguard_audit::segment::{SEGMENT_HEADER, SegmentFrames, check_header, scan_tail, segment_header};

fn log_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("medguard-fuzz-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    // Half the inputs get a valid header so the fuzzer reaches the frames quickly.
    let mut bytes = Vec::with_capacity(data.len() + SEGMENT_HEADER);
    if data.first().is_some_and(|b| b & 1 == 1) {
        bytes.extend_from_slice(&segment_header(1));
        bytes.extend_from_slice(data.get(1..).unwrap_or_default());
    } else {
        bytes.extend_from_slice(data);
    }
    let _ = check_header(&bytes, 1);
    let mut frames = SegmentFrames::new(&bytes, SEGMENT_HEADER.min(bytes.len()));
    while let Some(item) = frames.next() {
        let Ok(located) = item else { break };
        let start = usize::try_from(located.offset).unwrap();
        let mut again = Vec::new();
        located.frame.encode(&mut again);
        assert_eq!(&bytes[start..frames.position()], &again[..], "frame re-encodes identically");
        if let Ok(event) = serde_json::from_slice::<AuditEvent>(located.frame.payload) {
            if let Ok(canonical) = event.to_canonical_json() {
                let back: AuditEvent = serde_json::from_slice(&canonical).expect("canonical form parses");
                assert_eq!(back, event, "canonical form round-trips");
            }
        }
    }
    let _ = scan_tail(&bytes, SEGMENT_HEADER.min(bytes.len()), None);
    let dir = log_dir();
    std::fs::write(dir.join("0000000001.seg"), &bytes).expect("write segment");
    let report = medguard_audit::verify(dir, &[]).expect("verify reads the directory");
    assert!(!report.is_intact(), "intact with nothing trusted: {:?}", report.problems);
    if let Ok(records) = medguard_audit::AuditLog::open(dir).and_then(|l| l.records()) {
        for r in records {
            let _ = r;
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            let _ = SignedCheckpoint::parse(line);
            if let Ok(known) = line.parse::<medguard_audit::KnownCheckpoint>() {
                assert_eq!(known.to_string().parse(), Ok(known), "known checkpoint round-trips");
            }
        }
    }
});
