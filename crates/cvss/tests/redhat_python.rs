//! Differential test against the real reference implementation: Red Hat's `cvss` Python
//! package (PyPI `cvss==3.6`, the library Red Hat's and the generated vector files come from)
//! scores 24,000 fresh pseudo-random vectors, v3.0, v3.1 and v4.0 with any mix of optional
//! metrics, and must agree with us on every score.
//!
//! Needs the venv `$MEDGUARD_VENV` (default `/opt/medguard-venv`) with `cvss` installed, as
//! `.ci/install-deps` sets it up; fails, naming the package, when it is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use medguard_cvss::Vector;

/// A small deterministic generator (xorshift64*): reproducible vectors without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        values[(self.next() % values.len() as u64) as usize]
    }

    fn coin(&mut self) -> bool {
        self.next().is_multiple_of(2)
    }
}

const V3_BASE: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", &["H", "L", "N"]),
    ("I", &["H", "L", "N"]),
    ("A", &["H", "L", "N"]),
];
const V3_OPTIONAL: &[(&str, &[&str])] = &[
    ("E", &["X", "H", "F", "P", "U"]),
    ("RL", &["X", "U", "W", "T", "O"]),
    ("RC", &["X", "C", "R", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "R"]),
    ("MS", &["X", "U", "C"]),
    ("MC", &["X", "H", "L", "N"]),
    ("MI", &["X", "H", "L", "N"]),
    ("MA", &["X", "H", "L", "N"]),
];
const V4_BASE: &[(&str, &[&str])] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
];
const V4_OPTIONAL: &[(&str, &[&str])] = &[
    ("E", &["X", "A", "P", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MAT", &["X", "N", "P"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "P", "A"]),
    ("MVC", &["X", "H", "L", "N"]),
    ("MVI", &["X", "H", "L", "N"]),
    ("MVA", &["X", "H", "L", "N"]),
    ("MSC", &["X", "H", "L", "N"]),
    ("MSI", &["X", "S", "H", "L", "N"]),
    ("MSA", &["X", "S", "H", "L", "N"]),
    ("S", &["X", "N", "P"]),
    ("AU", &["X", "N", "Y"]),
    ("R", &["X", "A", "U", "I"]),
    ("V", &["X", "D", "C"]),
    ("RE", &["X", "L", "M", "H"]),
    ("U", &["X", "Clear", "Green", "Amber", "Red"]),
];

fn random_vector(
    rng: &mut Rng,
    prefix: &str,
    base: &[(&str, &[&str])],
    optional: &[(&str, &[&str])],
) -> String {
    let mut v = prefix.to_owned();
    for (name, values) in base {
        v.push_str(&format!("/{name}:{}", rng.pick(values)));
    }
    for (name, values) in optional {
        if rng.coin() {
            v.push_str(&format!("/{name}:{}", rng.pick(values)));
        }
    }
    v
}

const REFERENCE: &str = r#"
import sys
from cvss import CVSS3, CVSS4
for line in sys.stdin:
    v = line.strip()
    if v.startswith("CVSS:4.0/"):
        print(float(CVSS4(v).base_score))
    else:
        print(" ".join(str(float(s)) for s in CVSS3(v).scores()))
"#;

#[test]
fn agrees_with_redhat_cvss_on_random_vectors() {
    let venv = std::env::var_os("MEDGUARD_VENV")
        .map_or_else(|| PathBuf::from("/opt/medguard-venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let probe = Command::new(&python).args(["-c", "import cvss"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "this test needs Red Hat's Python package `cvss` (PyPI cvss==3.6) in the venv {} \
         (MEDGUARD_VENV); run .ci/install-deps: {probe:?}",
        venv.display()
    );

    let mut rng = Rng(0x6d65_6467_7561_7264);
    let mut vectors = Vec::new();
    for i in 0..24_000 {
        vectors.push(match i % 3 {
            0 => random_vector(&mut rng, "CVSS:3.0", V3_BASE, V3_OPTIONAL),
            1 => random_vector(&mut rng, "CVSS:3.1", V3_BASE, V3_OPTIONAL),
            _ => random_vector(&mut rng, "CVSS:4.0", V4_BASE, V4_OPTIONAL),
        });
    }

    let mut child = Command::new(&python)
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = vectors.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "python cvss failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), vectors.len());

    let mut failures = Vec::new();
    for (vector, line) in vectors.iter().zip(lines) {
        let theirs: Vec<f64> = line.split(' ').map(|s| s.parse().unwrap()).collect();
        let ours = match Vector::parse(vector).unwrap() {
            Vector::V3(v) => vec![v.base_score(), v.temporal_score(), v.environmental_score()],
            Vector::V4(v) => vec![v.score()],
        };
        if ours.len() != theirs.len() || ours.iter().zip(&theirs).any(|(a, b)| (a - b).abs() > 1e-9)
        {
            failures.push(format!("{vector}: cvss {theirs:?}, medguard {ours:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors disagree:\n{}",
        failures.len(),
        vectors.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
