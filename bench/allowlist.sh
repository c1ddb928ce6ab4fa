#!/usr/bin/env bash
# Exec overhead of allowlist enforcement: run a small binary N times (default 10,000)
#   1. with no enforcement,
#   2. with `medguard allowlist enforce --mode enforce` (a directory mark on the binary's
#      directory, exec permission events), as shipped: after its first allowed exec the
#      kernel remembers the binary (ignore mark) until it is written,
#   2b. the same with --no-kernel-cache: every exec is a round trip to medguard, like
#      fapolicyd's design (printed for comparison; the target is on 2),
#   3. with fapolicyd (Debian package) enforcing the same trust set: the same binary in its
#      trust file, untrusted execs in that directory denied, integrity = sha256,
# and prints both overhead ratios (targets: medguard under half of fapolicyd's overhead and
# under 10% over no enforcement).
#
# fapolicyd marks whole mounts and answers every open on them. So that it can never stall
# anything but this benchmark, it runs in a private mount namespace (unshare -m): its marks
# land on that namespace's copies of the mounts, which only the benchmark loop (started in
# the same namespace) uses; its configuration is bind-mounted over /etc/fapolicyd there.
# It runs last, under `timeout`, and is stopped with SIGTERM (SIGKILL after 5 s). It runs
# as root: dropping to its own user fails in this sandbox ("Cannot change to uid").
#
# Each timing is the best of R loops (default 3).
#
# Needs root, fapolicyd, util-linux (unshare), and a release build of medguard.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
MEDGUARD=${MEDGUARD:-target/release/medguard}
[ "$(id -u)" = 0 ] || { echo "needs root (fanotify)" >&2; exit 2; }
command -v fapolicyd >/dev/null || { echo "fapolicyd missing: apt-get install fapolicyd" >&2; exit 2; }
[ -x "$MEDGUARD" ] || cargo build --release -q -p medguard
W=$(realpath -m bench/work/allowlist)
rm -rf "$W" && mkdir -p "$W/dev/bin"
cp /bin/true "$W/dev/bin/tiny"

"$MEDGUARD" key generate --out "$W/vendor" >/dev/null
"$MEDGUARD" profile create "$W/dev" --out "$W/dev.profile" --key "$W/vendor.key" >/dev/null
"$MEDGUARD" allowlist build --profile "$W/dev.profile" --trust "$W/vendor.pub" \
  --root "$W/dev" --out "$W/dev.allowlist" --key "$W/vendor.key" >/dev/null
# Unlisted (added after the profile), untrusted: both enforcers must refuse it.
cp /bin/true "$W/dev/bin/rogue" && printf '\0' >> "$W/dev/bin/rogue"

# The timed loop: a shell loop of N execs, in seconds; the best of R runs (default 3), so
# that a burst of other work on the machine does not decide the ratio.
R=${R:-3}
loop() {
  local start end t best=
  for ((r = 0; r < R; r++)); do
    start=$(date +%s.%N)
    for ((i = 0; i < N; i++)); do "$W/dev/bin/tiny"; done
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
  done
  echo "$best"
}
export -f loop
export W N R

base=$(loop)
echo "no enforcement:     ${base} s for $N execs"

# medguard, run with extra flags ($@); prints the loop's time.
medguard_loop() {
  "$MEDGUARD" allowlist enforce --list "$W/dev.allowlist" --trust "$W/vendor.pub" \
    --mode enforce --dir "$W/dev/bin" "$@" 2>"$W/medguard.err" >"$W/medguard.out" &
  local mg=$!
  trap "kill $mg 2>/dev/null || true" EXIT
  until grep -q "marks on" "$W/medguard.err"; do
    kill -0 $mg 2>/dev/null || { cat "$W/medguard.err" >&2; exit 2; }
    sleep 0.1
  done
  if "$W/dev/bin/rogue" 2>/dev/null; then echo "medguard did not deny the unlisted binary" >&2; exit 2; fi
  loop
  kill -TERM $mg; wait $mg || true
  trap - EXIT
  tail -1 "$W/medguard.err" >&2
}
mg_time=$(medguard_loop)
echo "medguard enforcing: ${mg_time} s"
mg_user_time=$(medguard_loop --no-kernel-cache)
echo "medguard enforcing, every exec judged in medguard (--no-kernel-cache): ${mg_user_time} s"

# fapolicyd: same trust set, in a private mount namespace.
mkdir -p "$W/fapolicyd/rules.d" "$W/fapolicyd/trust.d" "$W/fapolicyd-db" "$W/fapolicyd-run"
sed -e 's/^trust = .*/trust = file/' -e 's/^integrity = .*/integrity = sha256/' \
    -e 's/^watch_fs = .*/watch_fs = ext4,tmpfs,xfs,btrfs/' \
    -e 's/^uid = .*/uid = root/' -e 's/^gid = .*/gid = root/' /etc/fapolicyd/fapolicyd.conf \
  >"$W/fapolicyd/fapolicyd.conf"
cat >"$W/fapolicyd/compiled.rules" <<EOF
deny_audit perm=execute all : dir=$W/dev/bin/ trust=0
allow perm=any all : all
EOF
cp "$W/fapolicyd/compiled.rules" "$W/fapolicyd/rules.d/10-bench.rules"
: >"$W/fapolicyd/fapolicyd.trust"
size=$(stat -c %s "$W/dev/bin/tiny")
sha=$(sha256sum "$W/dev/bin/tiny" | cut -d' ' -f1)
echo "$W/dev/bin/tiny $size $sha" >"$W/fapolicyd/trust.d/bench"
chown -R fapolicyd:fapolicyd "$W/fapolicyd-db" "$W/fapolicyd-run"
chmod -R a+rX "$W/fapolicyd"

fa_time=$(timeout 600 unshare --mount --propagation private bash -c '
  set -euo pipefail
  mount --bind "$W/fapolicyd" /etc/fapolicyd
  mount --bind "$W/fapolicyd-db" /var/lib/fapolicyd
  mount --bind "$W/fapolicyd-run" /run/fapolicyd
  fapolicyd --debug-deny 2>"$W/fapolicyd.err" &
  fa=$!
  stop() { kill -TERM $fa 2>/dev/null || true; for _ in $(seq 50); do kill -0 $fa 2>/dev/null || return 0; sleep 0.1; done; kill -KILL $fa 2>/dev/null || true; }
  trap stop EXIT
  for _ in $(seq 300); do
    grep -q "Starting to listen for events" "$W/fapolicyd.err" 2>/dev/null && break
    kill -0 $fa 2>/dev/null || { cat "$W/fapolicyd.err" >&2; exit 2; }
    sleep 0.1
  done
  if "$W/dev/bin/rogue" 2>/dev/null; then echo "fapolicyd did not deny the untrusted binary" >&2; exit 2; fi
  loop
')
echo "fapolicyd enforcing: ${fa_time} s"

ratio() { echo "scale=3; $1" | bc -l; }
mg_over=$(ratio "($mg_time - $base) / $base * 100")
mgu_over=$(ratio "($mg_user_time - $base) / $base * 100")
fa_over=$(ratio "($fa_time - $base) / $base * 100")
echo "overhead over no enforcement: medguard ${mg_over}%, medguard --no-kernel-cache ${mgu_over}%, fapolicyd ${fa_over}%"
echo "medguard overhead / fapolicyd overhead = $(ratio "($mg_time - $base) / ($fa_time - $base)")"
echo "medguard --no-kernel-cache overhead / fapolicyd overhead = $(ratio "($mg_user_time - $base) / ($fa_time - $base)")"
