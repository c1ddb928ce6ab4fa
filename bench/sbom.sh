#!/usr/bin/env bash
# Benchmark of `medguard sbom collect` against dpkg's own tools on the same root in the same
# run: `dpkg-query -W` (the package list) plus reading every file list
# (`cat ROOT/var/lib/dpkg/info/*.list`), which is what the collector does besides writing the
# SBOM. The evidence-of-use scan (/proc: executables, mapped files, sockets) is timed apart.
# Best of 5 runs each, warm cache.
#
# usage: bench/sbom.sh [ROOT]   (default /)
# Needs: dpkg-query, bc (Debian packages dpkg, bc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-/}
for t in dpkg-query bc; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install dpkg bc)" >&2; exit 2; }
done
cargo build --release -q -p medguard
M=$PWD/target/release/medguard
W=$PWD/bench/work
mkdir -p "$W"
admin="${root%/}/var/lib/dpkg"

best_of() { # best of 5 wall-clock runs of a command: sets $secs
  local b=999999 start end s
  for _ in 1 2 3 4 5; do
    start=$(date +%s.%N)
    "$@" >/dev/null 2>"$W/stderr" || { cat "$W/stderr" >&2; exit 2; }
    end=$(date +%s.%N)
    s=$(echo "$end - $start" | bc -l)
    if (( $(echo "$s < $b" | bc -l) )); then b=$s; fi
  done
  secs=$b
}

dpkg_baseline() {
  dpkg-query --admindir "$admin" -W -f '${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n'
  cat "$admin"/info/*.list
}

packages=$(dpkg-query --admindir "$admin" -W -f '${db:Status-Abbrev}\n' | grep -c '^.i' || true)
files=$(cat "$admin"/info/*.list | wc -l)
echo "root $root: $packages installed dpkg packages, $files file-list lines"

best_of dpkg-query --admindir "$admin" -W -f '${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n'
q=$secs
best_of dpkg_baseline
d=$secs
best_of "$M" sbom collect --root "$root" --format cyclonedx --no-evidence --out "$W/sbom.cdx.json"
m=$secs
best_of "$M" sbom collect --root "$root" --format cyclonedx --out "$W/sbom-evidence.cdx.json"
e=$secs
best_of "$M" services --root "$root" --json
s=$secs
components=$(grep -c '"bom-ref"' "$W/sbom.cdx.json" || true)

printf 'dpkg-query -W                                %7.3f s\n' "$q"
printf 'dpkg-query -W + cat info/*.list              %7.3f s\n' "$d"
printf 'medguard sbom collect --no-evidence          %7.3f s  (%s components incl. Python/npm/jar walk)\n' "$m" "$components"
printf 'ratio medguard / (dpkg-query + file lists)   %7.2fx  (target: within 2x)\n' "$(echo "$m / $d" | bc -l)"
printf 'medguard sbom collect (with /proc evidence)  %7.3f s\n' "$e"
printf 'evidence-of-use scan cost                    %7.3f s  (%s processes)\n' "$(echo "$e - $m" | bc -l)" "$(ls -d /proc/[0-9]* | wc -l)"
printf 'medguard services --json                     %7.3f s\n' "$s"
