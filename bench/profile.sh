#!/usr/bin/env bash
# Benchmark of `medguard profile create` / `verify` against AIDE (sha256 only) on the same
# trees in the same run, and against merely reading every byte (two parallel readers, warm
# cache). Prints times, ratios and peak memory per entry.
#
# usage: bench/profile.sh [--files N] [--skip-usr]
# Needs: aide, python3, GNU time (Debian packages aide, time). Writes under bench/work/.
set -euo pipefail
cd "$(dirname "$0")/.."
files=100000
usr=1
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --skip-usr) usr=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for t in aide /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install aide time python3)" >&2; exit 2; }
done

cargo build --release -q -p medguard
M=$PWD/target/release/medguard
W=$PWD/bench/work
mkdir -p "$W"
tree=$W/tree-$files
if [ ! -d "$tree" ]; then
  python3 bench/gen_tree.py "$tree" --files "$files"
fi
rm -f "$W"/vendor.key "$W"/vendor.pub
"$M" key generate --out "$W/vendor" >/dev/null

# seconds and peak RSS (KiB) of a command: sets $secs and $rss
measure() {
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$W/rss" "$@" >/dev/null 2>"$W/stderr" || {
    local rc=$?
    # exit 1 means "deviations found" for medguard and "changes" for aide: not an error here
    [ $rc -le 1 ] || [ "$1" = aide ] || { cat "$W/stderr" >&2; exit $rc; }
  }
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc -l)
  rss=$(tail -n 1 "$W/rss")
}

best_of() { # best of 3 runs of a command: sets $secs, $rss
  local b=999999 r=0
  for _ in 1 2 3; do
    measure "$@"
    if (( $(echo "$secs < $b" | bc -l) )); then b=$secs; r=$rss; fi
  done
  secs=$b; rss=$r
}

aide_conf() { # root db
  cat > "$W/aide.conf" <<CONF
database_in=file:$2
database_out=file:$2.new
database_new=file:$2.new
gzip_dbout=no
report_url=stdout
log_level=error
Sha256Only = p+i+n+u+g+s+m+c+sha256
$1 Sha256Only
CONF
}

run_one() { # label root
  local label=$1 root=$2
  echo "== $label: $root"
  local entries
  entries=$(find "$root" 2>/dev/null | wc -l)
  # warm the cache, then time merely reading every byte with two parallel readers
  find "$root" -type f -print0 2>/dev/null | xargs -0 -P2 -n 256 cat >/dev/null 2>&1 || true
  start=$(date +%s.%N)
  find "$root" -type f -print0 2>/dev/null | xargs -0 -P2 -n 256 cat >/dev/null 2>&1 || true
  read_s=$(echo "$(date +%s.%N) - $start" | bc -l)

  best_of "$M" profile create "$root" --out "$W/p.profile" --key "$W/vendor.key"
  mc=$secs; mc_rss=$rss
  best_of "$M" profile verify "$root" --profile "$W/p.profile" --trust "$W/vendor.pub"
  mv=$secs; mv_rss=$rss

  aide_conf "$root" "$W/aide.db"
  rm -f "$W/aide.db" "$W/aide.db.new"
  measure aide --config "$W/aide.conf" --init
  ai=$secs
  mv "$W/aide.db.new" "$W/aide.db"
  measure aide --config "$W/aide.conf" --check
  ac=$secs

  printf '%-28s %8s s\n' "read every byte (2 readers)" "$(printf %.2f "$read_s")"
  printf '%-28s %8s s   AIDE --init  %8s s   AIDE/medguard %5.1fx   medguard/read %4.2fx\n' \
    "medguard profile create" "$(printf %.2f "$mc")" "$(printf %.2f "$ai")" \
    "$(echo "$ai / $mc" | bc -l)" "$(echo "$mc / $read_s" | bc -l)"
  printf '%-28s %8s s   AIDE --check %8s s   AIDE/medguard %5.1fx   medguard/read %4.2fx\n' \
    "medguard profile verify" "$(printf %.2f "$mv")" "$(printf %.2f "$ac")" \
    "$(echo "$ac / $mv" | bc -l)" "$(echo "$mv / $read_s" | bc -l)"
  printf '%-28s %8d entries; peak RSS create %d B/entry, verify %d B/entry\n' \
    "memory" "$entries" "$(( mc_rss * 1024 / entries ))" "$(( mv_rss * 1024 / entries ))"
}

run_one "generated tree" "$tree"
if [ "$usr" = 1 ]; then
  run_one "/usr" /usr
fi
