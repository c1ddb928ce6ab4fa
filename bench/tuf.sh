#!/usr/bin/env bash
# TUF refresh of a repository with N targets (default 10000, one delegated role per device
# model, consistent snapshot), served by python3 -m http.server on loopback: medguard's client
# (`medguard repo fetch`: refresh, choose the newest bundle, download it) against python-tuf's
# ngclient (refresh, look up the same target, download it), same repository, same run, each
# from an empty metadata cache. Prints the median of RUNS runs each and the ratio.
#
# usage: bench/tuf.sh [targets] [runs]   (default 10000 5)
# Needs: the venv with python-tuf that .ci/install-deps creates ($MEDGUARD_VENV).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
runs=${2:-5}
venv=${MEDGUARD_VENV:-/opt/medguard-venv}
"$venv/bin/python" -c 'import tuf.ngclient' || { echo "python-tuf missing from $venv: run .ci/install-deps" >&2; exit 2; }
cargo build -q --release -p medguard
mg=$PWD/target/release/medguard
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

"$mg" key generate --out "$work/vendor" >/dev/null
"$mg" repo init "$work/repo" --key "$work/vendor.key" >/dev/null
mkdir "$work/bundles"
python3 - "$work/bundles" "$n" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, f"ct-{i:05d}.mgb"), "wb") as f:
        f.write(os.urandom(256))
PY
(cd "$work/bundles" && ls | xargs "$mg" repo add "$work/repo" --model CT-9000 --bundle-version 1.0 >/dev/null)
# One newer bundle: the one both clients download.
head -c 4096 /dev/urandom > "$work/ct-newest.mgb"
"$mg" repo add "$work/repo" "$work/ct-newest.mgb" --model CT-9000 --bundle-version 2.0 >/dev/null
"$mg" repo publish "$work/repo" --key "$work/vendor.key" >/dev/null
echo "repository: $((n + 1)) targets, $(du -h "$work/repo/metadata/"*.CT-9000.json | tail -1 | cut -f1) of delegated targets metadata"

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/repo" > "$work/server.log" 2>/dev/null &
server=$!
for _ in $(seq 50); do grep -q port "$work/server.log" 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$work/server.log" | head -1)"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mg_times=(); py_times=()
for i in $(seq "$runs"); do
  t0=$(now)
  "$mg" repo fetch --repo "$url" --trust "$work/repo/metadata/1.root.json" --model CT-9000 \
    --metadata-dir "$work/mg-$i/tuf" --out "$work/mg-$i/dl" >/dev/null
  t1=$(now)
  "$venv/bin/python" crates/tuf/tests/python/client.py "$url" "$work/repo/metadata/1.root.json" \
    "$work/py-$i/tuf" "$work/py-$i/dl" CT-9000/ct-newest.mgb >/dev/null
  t2=$(now)
  cmp -s "$work/mg-$i/dl/ct-newest.mgb" "$work/ct-newest.mgb"
  mg_times+=("$(echo "$t1 - $t0" | bc)"); py_times+=("$(echo "$t2 - $t1" | bc)")
done
mg=$(printf '%s\n' "${mg_times[@]}" | median)
py=$(printf '%s\n' "${py_times[@]}" | median)
printf 'medguard (tough) refresh+download: %.3f s\n' "$mg"
printf 'python-tuf ngclient refresh+download: %.3f s\n' "$py"
printf 'ratio medguard/python-tuf: %.2f\n' "$(echo "$mg / $py" | bc -l)"
