#!/usr/bin/env bash
# Benchmarks of the vulnerability side, in one run:
#  1. database build from N OSV records generated from the real ones (a zip archive);
#  2. scan of a 2,000-component SBOM after load (target < 100 ms);
#  3. a fleet of 10,000 devices x 2,000 components drawn from 300 images (target < 5 s);
#  4. against `cargo audit` on the same RustSec advisories (its native advisory-db beside
#     the OSV export) and the same large Cargo.lock: same findings, time ratio.
#
# usage: bench/vuln.sh [--records N] [--devices N]
# Needs: python3, cargo-audit (`cargo install cargo-audit --locked`). Writes under bench/work/.
set -euo pipefail
cd "$(dirname "$0")/.."
records=100000
devices=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
DATA=${MEDGUARD_SHARED_DATA:-$(cd ../shared/data 2>/dev/null && pwd || echo /work/shared/data)}
export MEDGUARD_SHARED_DATA=$DATA
cargo build --release -q -p medguard
cargo build --release -q -p medguard-advisory --example vuln_bench
M=$PWD/target/release/medguard
B=$PWD/target/release/examples/vuln_bench
W=$PWD/bench/work/vuln
mkdir -p "$W"
now() { date +%s.%N; }

[ -f "$W/osv-$records.zip" ] || python3 bench/vuln_gen.py osv "$records" "$W/osv-$records.zip"
[ -f "$W/sbom-2000.json" ] || python3 bench/vuln_gen.py sbom "$W/osv-$records.zip" 2000 "$W/sbom-2000.json"

echo "== 1. database build from $records OSV records (zip)"
rm -rf "$W/db"
t0=$(now); { "$M" vuln ingest --db "$W/db" "$W/osv-$records.zip" || [ $? = 1 ]; } | head -1; t1=$(now)
echo "build_s $(echo "$t1 - $t0" | bc)"
t0=$(now); { "$M" vuln ingest --db "$W/db" "$W/osv-$records.zip" || [ $? = 1 ]; } | head -1; t1=$(now)
echo "reingest_unchanged_s $(echo "$t1 - $t0" | bc)"

echo "== 2./3. load, scan of 2,000 components, fleet of $devices devices"
"$B" "$W/db" "$W/sbom-2000.json" "$devices" 300 | tee "$W/bench.txt"
t0=$(now); "$M" vuln scan --db "$W/db" --sbom "$W/sbom-2000.json" --json > "$W/scan.json" || [ $? = 1 ]; t1=$(now)
echo "cli_scan_total_s $(echo "$t1 - $t0" | bc) (load + scan + JSON output)"

echo "== 4. against cargo audit (RustSec)"
if ! command -v cargo-audit >/dev/null; then
  echo "cargo-audit missing: cargo install cargo-audit --locked" >&2; exit 2
fi
# cargo audit reads a git checkout of advisory-db; make one from the native copy.
if [ ! -d "$W/advisory-db/.git" ]; then
  rm -rf "$W/advisory-db"; cp -r "$DATA/osv-rustsec/native" "$W/advisory-db"
  git -C "$W/advisory-db" init -q && git -C "$W/advisory-db" add -A \
    && git -C "$W/advisory-db" -c user.name=bench -c user.email=bench@localhost commit -qm snapshot
fi
python3 bench/vuln_gen.py cargolock 20000 "$W/Cargo.lock"
python3 bench/vuln_gen.py lock2sbom "$W/Cargo.lock" "$W/lock-sbom.json"
rm -rf "$W/rustsec-db"
# Exit 1 says a record was refused (the rest are stored): the bench goes on.
{ "$M" vuln ingest --db "$W/rustsec-db" "$DATA/osv-rustsec/osv/crates" || [ $? = 1 ]; } | head -1
packages=$(grep -c '^\[\[package\]\]' "$W/Cargo.lock")
t0=$(now)
cargo audit --db "$W/advisory-db" --no-fetch --stale --file "$W/Cargo.lock" --json > "$W/audit.json" 2> "$W/audit.err" || true
t1=$(now)
"$M" vuln scan --db "$W/rustsec-db" --sbom "$W/lock-sbom.json" --json > "$W/medguard-rustsec.json" || [ $? = 1 ]
t2=$(now)
audit_s=$(echo "$t1 - $t0" | bc); ours_s=$(echo "$t2 - $t1" | bc)
echo "Cargo.lock packages $packages"
echo "cargo_audit_s $audit_s"
echo "medguard_s $ours_s (load + match + assess)"
echo "ratio cargo-audit/medguard $(echo "scale=2; $audit_s / $ours_s" | bc)"
python3 - "$W/audit.json" "$W/medguard-rustsec.json" <<'PY'
import json, sys
audit = json.load(open(sys.argv[1]))
theirs = {(v["package"]["name"], v["package"]["version"], v["advisory"]["id"]) for v in audit["vulnerabilities"]["list"]}
for kind, items in (audit.get("warnings") or {}).items():
    for w in items:
        if w.get("advisory"):
            theirs.add((w["package"]["name"], w["package"]["version"], w["advisory"]["id"]))
ours = {(f["component"]["name"], f["component"]["version"], f["advisory"]) for f in json.load(open(sys.argv[2]))}
print(f"findings: cargo audit {len(theirs)}, medguard {len(ours)}, common {len(theirs & ours)}")
for label, diff in (("only cargo audit", theirs - ours), ("only medguard", ours - theirs)):
    print(f"{label}: {len(diff)}", sorted(diff)[:10])
PY
