#!/usr/bin/env bash
# Soak of the fleet protocol (issue 16): N simulated agents in one process (`medguard agent
# simulate`: each its own key, certificate and sequence numbers) report to one server on
# loopback for --minutes, each device one round (a verification and its health; the first
# round also an inventory) every --pause. The server is SIGKILLed twice during the run and
# restarted on the same address a few seconds later; the devices resend the batches the
# server did not answer (same sequence numbers). At the end every report each device sent
# must be stored exactly once: the server's reports table holds exactly the reports the
# devices sent (its primary key is device and sequence number, so a report cannot be held
# twice) and every device's last sequence number is the number it sent.
# Prints reports/s, p99 batch latency (answered requests only) and the server's peak memory.
#
# usage: bench/agents.sh [--minutes M] [--devices N] [--pause DURATION]
#   defaults: 2 minutes (the issue's soak is 10: --minutes 10), 200 devices, 1s.
# Needs: curl, python3. Writes under bench/work/agents/.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=2
devices=200
pause=1s
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --pause) pause=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
DATA=${MEDGUARD_SHARED_DATA:-$(cd ../shared/data 2>/dev/null && pwd || echo /work/shared/data)}
cargo build --release -q -p medguard
M=$PWD/target/release/medguard
W=$PWD/bench/work/agents
rm -rf "$W"; mkdir -p "$W"
dir=$W/server
SERVER=""; SIM=""
cleanup() {
  [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null || true
  [ -n "$SIM" ] && kill "$SIM" 2>/dev/null || true
}
trap cleanup EXIT

"$M" server init --data "$dir" >"$W/init.log" 2>&1 || { cat "$W/init.log"; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="https://127.0.0.1:$port"
PEAK_KB=0
start_server() {
  "$M" server run --data "$dir" --listen "127.0.0.1:$port" 2>>"$W/server.log" &
  SERVER=$!
  for _ in $(seq 200); do
    curl -s --cacert "$dir/tls/ca.pem" "$url/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not come up:"; tail "$W/server.log"; exit 1
}
note_memory() {
  local kb; kb=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)
  [ "${kb:-0}" -gt "$PEAK_KB" ] && PEAK_KB=$kb
  return 0
}
start_server
token=$("$M" server enroll-token --data "$dir" --site Soak --uses "$devices" 2>/dev/null | tail -1)

seconds=$((minutes * 60))
echo "== soak: $devices simulated agents, one round each per $pause, $minutes min, server killed twice"
# Every device reports at once (--concurrency = devices), for the whole run.
"$M" agent simulate --server "$url" --token "$token" --ca "$dir/tls/ca.pem" \
  --count "$devices" --concurrency "$devices" --components 300 --deviating 0.1 \
  --duration "${seconds}s" --pause "$pause" --retry-for 2m --json \
  --inventory "$DATA/dpkg-status" > "$W/simulate.json" 2>"$W/simulate.log" &
SIM=$!
for k in 1 2; do
  sleep $((seconds / 3))
  note_memory
  kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true
  echo "server killed ($k of 2) at $(date -u +%T); restarting in 3 s"
  sleep 3
  start_server
done
set +e; wait "$SIM"; sim_rc=$?; set -e; SIM=""
note_memory
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""

python3 - "$W/simulate.json" "$dir/fleet.db" "$PEAK_KB" "$sim_rc" <<'PY'
import json, sqlite3, sys
s = json.load(open(sys.argv[1])); db = sqlite3.connect(sys.argv[2])
peak_mb = int(sys.argv[3]) / 1024; rc = int(sys.argv[4])
held = db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
last = db.execute("SELECT COALESCE(SUM(last_seq), 0), COUNT(*) FROM devices").fetchone()
print(f"devices {s['enrolled']}/{s['devices']} enrolled; reports sent {s['reports_sent']}, "
      f"stored {s['reports_stored']}, already held {s['reports_duplicate']}, refused {s['reports_refused']}, "
      f"batches resent {s['batches_resent']}")
print(f"reports_per_s {s['reports_per_second']:.0f}  batch latency p50 {s['report_latency']['p50_ms']:.0f} ms "
      f"p99 {s['report_latency']['p99_ms']:.0f} ms max {s['report_latency']['max_ms']:.0f} ms")
print(f"server_peak_rss_mb {peak_mb:.0f} (highest VmHWM of the three server processes)")
print(f"server holds {held} reports; sum of devices' last sequence numbers {last[0]} over {last[1]} devices")
ok = (rc == 0 and s["error_count"] == 0 and s["reports_refused"] == 0
      and held == s["reports_sent"] and last[0] == s["reports_sent"]
      and s["reports_stored"] + s["reports_duplicate"] == s["reports_sent"])
if s["error_count"]:
    print("errors:", s["error_count"], s["errors"][:3])
print("EXACTLY ONCE: yes" if ok else "EXACTLY ONCE: NO")
sys.exit(0 if ok else 1)
PY
