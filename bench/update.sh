#!/usr/bin/env bash
# Benchmark of `medguard update apply` (verify, stage, journal, apply, sync, commit) against
# extracting the same content with tar plus sync, on the same input in the same run; and
# of `medguard bundle create`. Input: 10,000 files, 500 MB of incompressible data, added
# to an empty base tree.
#
# usage: [MEDGUARD=BIN] bench/update.sh [--files N] [--mb M]
# Needs: python3, tar (GNU), coreutils. Writes under bench/work/.
set -euo pipefail
cd "$(dirname "$0")/.."
files=10000
mb=500
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --mb) mb=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for t in python3 tar; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }
done

# MEDGUARD=path/to/medguard runs an existing binary instead of building a release one.
if [ -n "${MEDGUARD:-}" ]; then
  M=$MEDGUARD
else
  cargo build --release -q -p medguard
  M=$PWD/target/release/medguard
fi
W=$PWD/bench/work/update-$files-$mb
mkdir -p "$W"
if [ ! -d "$W/new" ]; then
  python3 - "$W/new" "$files" "$mb" <<'PY'
import os, random, sys
root, files, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
size = mb * 1_000_000 // files
for i in range(files):
    d = os.path.join(root, f"d{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(rng.randbytes(size))
PY
fi
rm -rf "$W/old" && mkdir -p "$W/old"
rm -f "$W/vendor.key" "$W/vendor.pub"
"$M" key generate --out "$W/vendor" >/dev/null

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

t0=$(now)
"$M" bundle create --from "$W/old" --to "$W/new" --out "$W/b.bundle" --key "$W/vendor.key" --version bench >/dev/null
t1=$(now)
create=$(secs "$t0" "$t1")
t0=$(now)
tar cf "$W/new.tar" -C "$W/new" .
t1=$(now)
tarc=$(secs "$t0" "$t1")

run_medguard() {
  rm -rf "$W/dev" "$W/dev.state"; cp -a "$W/old" "$W/dev"; sync
  local t0 t1
  t0=$(now)
  "$M" update apply "$W/b.bundle" --trust "$W/vendor.pub" --root "$W/dev" --state-dir "$W/dev.state" >/dev/null
  t1=$(now)
  secs "$t0" "$t1"
}
run_tar() {
  rm -rf "$W/dev"; cp -a "$W/old" "$W/dev"; sync
  local t0 t1
  t0=$(now)
  tar xf "$W/new.tar" -C "$W/dev" && sync
  t1=$(now)
  secs "$t0" "$t1"
}
# Alternate, three rounds each, best of three (the machine is shared).
best_m=999999; best_t=999999
for r in 1 2 3; do
  m=$(run_medguard); t=$(run_tar)
  printf 'round %d: medguard apply %.2f s, tar x + sync %.2f s\n' "$r" "$m" "$t"
  best_m=$(echo "if ($m < $best_m) $m else $best_m" | bc -l)
  best_t=$(echo "if ($t < $best_t) $t else $best_t" | bc -l)
done
size=$(du -sm "$W/new" | cut -f1)
bsize=$(du -sm "$W/b.bundle" | cut -f1)
printf 'input: %d files, %d MB; bundle %d MB\n' "$files" "$size" "$bsize"
printf 'bundle create: %.2f s (tar c of the same tree: %.2f s, ratio %.2f)\n' "$create" "$tarc" "$(echo "$create / $tarc" | bc -l)"
printf 'install: medguard update apply %.2f s, tar x + sync %.2f s, ratio %.2f (target <= 1.5)\n' \
  "$best_m" "$best_t" "$(echo "$best_m / $best_t" | bc -l)"
rm -rf "$W/dev" "$W/dev.state" "$W/new.tar"
