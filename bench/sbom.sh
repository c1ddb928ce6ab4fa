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

best_of() { # best of 5 runs of a command: sets $secs (wall clock) and $cpu (user+sys)
  local b=999999 c=999999 start end s u
  for _ in 1 2 3 4 5; do
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$W/cpu" "$@" >"$W/out" 2>"$W/stderr" || { cat "$W/stderr" >&2; exit 2; }
    end=$(date +%s.%N)
    s=$(echo "$end - $start" | bc -l)
    u=$(awk '{print $1 + $2}' "$W/cpu")
    if (( $(echo "$s < $b" | bc -l) )); then b=$s; fi
    if (( $(echo "$u < $c" | bc -l) )); then c=$u; fi
  done
  secs=$b
  cpu=$c
}

dpkg_baseline() { # run through bash -c so /usr/bin/time can time it
  dpkg-query --admindir "$admin" -W -f '${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n'
  cat "$admin"/info/*.list
}

packages=$(dpkg-query --admindir "$admin" -W -f '${db:Status-Abbrev}\n' | grep -c '^.i' || true)
files=$(cat "$admin"/info/*.list | wc -l)
echo "root $root: $packages installed dpkg packages, $files file-list lines"

export admin
export -f dpkg_baseline
# Output goes to a file through stdout: --out would add the fsyncs of an atomic write.
best_of dpkg-query --admindir "$admin" -W -f '${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n'
q=$secs; qc=$cpu
best_of bash -c dpkg_baseline
d=$secs; dc=$cpu
best_of "$M" sbom collect --root "$root" --format cyclonedx --no-evidence
m=$secs; mc=$cpu
components=$(grep -c '"bom-ref"' "$W/out" || true)
best_of "$M" sbom collect --root "$root" --format cyclonedx
e=$secs; ec=$cpu
best_of "$M" services --root "$root" --json
s=$secs; sc=$cpu

ratio() { echo "scale=2; $1 / ($2 + 0.005)" | bc -l; } # +5 ms: /usr/bin/time's 10 ms grain
echo "                                              wall (s)  cpu (s)"
printf 'dpkg-query -W                                %8.3f %8.2f\n' "$q" "$qc"
printf 'dpkg-query -W + cat info/*.list              %8.3f %8.2f\n' "$d" "$dc"
printf 'medguard sbom collect --no-evidence          %8.3f %8.2f  (%s components incl. Python/npm/jar walk)\n' "$m" "$mc" "$components"
printf 'ratio medguard / (dpkg-query + file lists)   %8.2fx %7.2fx (target: within 2x)\n' "$(echo "$m / $d" | bc -l)" "$(ratio "$mc" "$dc")"
printf 'medguard sbom collect (with /proc evidence)  %8.3f %8.2f\n' "$e" "$ec"
printf 'evidence-of-use scan cost                    %8.3f %8.2f  (%s processes)\n' "$(echo "$e - $m" | bc -l)" "$(echo "$ec - $mc" | bc -l)" "$(ls -d /proc/[0-9]* | wc -l)"
printf 'medguard services --json                     %8.3f %8.2f\n' "$s" "$sc"
uptime
