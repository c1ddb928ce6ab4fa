#!/usr/bin/env bash
# Benchmark of CVSS scoring: `medguard cvss --file` against Red Hat's `cvss` Python package
# (the reference the project's vector files come from) on the same vectors in the same run.
# The input is every v3.0/v3.1/v4.0 vector of crates/cvss/tests/data (about 12,900, incl.
# temporal, environmental, threat and supplemental metrics) repeated COPIES times. Checks
# that both print the same score for every vector, then prints the times and the ratio.
#
# usage: bench/cvss.sh [COPIES]     (default 8, about 103,000 vectors)
# Needs: GNU time, bc, and the venv $MEDGUARD_VENV (default /opt/medguard-venv) with cvss==3.6
# (.ci/install-deps installs it). Writes under bench/work/.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-8}
venv=${MEDGUARD_VENV:-/opt/medguard-venv}
"$venv/bin/python" -c 'import cvss' 2>/dev/null || {
  echo "missing the Python cvss package in $venv (run .ci/install-deps: pip install cvss==3.6)" >&2
  exit 2
}

cargo build --release -q -p medguard
M=$PWD/target/release/medguard
W=$PWD/bench/work/cvss
mkdir -p "$W"
D=crates/cvss/tests/data
one="$W/vectors-once.txt"
cat "$D"/redhat-cvss/vectors_simple3 "$D"/redhat-cvss/vectors_simple31 \
  "$D"/redhat-cvss/vectors_cvsslib3 "$D"/generated-redhat-cvss-3.6/vectors_random31_env \
  "$D"/redhat-cvss/vectors_simple4 "$D"/redhat-cvss/vectors_supplemental4 \
  "$D"/redhat-cvss/vectors_security4 "$D"/redhat-cvss/vectors_threat4 \
  "$D"/generated-redhat-cvss-3.6/vectors_random4_full |
  sed -e 's/ - .*//' -e '/^$/d' >"$one"
input="$W/vectors.txt"
: >"$input"
for _ in $(seq "$copies"); do cat "$one" >>"$input"; done
n=$(wc -l <"$input")

# Best of 3 runs of a command, its stdout to $1: prints "WALL CPU" seconds (CPU = user +
# system, which a loaded machine inflates less than wall-clock time).
best() {
  local out=$1 b=999999 c=0 wall cpu
  shift
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %U %S' -o "$W/time" "$@" >"$out"
    read -r wall user sys <"$W/time"
    cpu=$(echo "$user + $sys" | bc -l)
    if (($(echo "$wall < $b" | bc -l))); then b=$wall c=$cpu; fi
  done
  echo "$b $c"
}

read -r ours ours_cpu <<<"$(best "$W/medguard.tsv" "$M" cvss --file "$input")"
read -r theirs theirs_cpu <<<"$(best "$W/python.tsv" "$venv/bin/python" bench/cvss_score.py "$input")"

# Same score for every vector? (medguard prints the normalised vector, so compare by line.)
disagree=$(paste <(cut -f5 "$W/medguard.tsv") <(cut -f2 "$W/python.tsv") | awk -F'\t' '$1 != $2' | wc -l)
lines_ours=$(wc -l <"$W/medguard.tsv")
lines_theirs=$(wc -l <"$W/python.tsv")
if [ "$lines_ours" != "$n" ] || [ "$lines_theirs" != "$n" ] || [ "$disagree" != 0 ]; then
  echo "results differ: $lines_ours/$lines_theirs lines of $n, $disagree scores disagree" >&2
  exit 1
fi

printf 'vectors scored                 %d (all scores identical)\n' "$n"
printf 'medguard cvss --file           %6.2f s wall %6.2f s CPU  (%.0f vectors/s)\n' "$ours" "$ours_cpu" "$(echo "$n / $ours" | bc -l)"
printf 'python cvss 3.6 (Red Hat)      %6.2f s wall %6.2f s CPU  (%.0f vectors/s)\n' "$theirs" "$theirs_cpu" "$(echo "$n / $theirs" | bc -l)"
printf 'ratio python / medguard        %6.1fx wall %6.1fx CPU\n' "$(echo "$theirs / $ours" | bc -l)" "$(echo "$theirs_cpu / $ours_cpu" | bc -l)"
