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
# Then the footprint of one real agent (`medguard agent run`, enrolled with the same server,
# verifying a profiled root hourly and its inventory daily, as the shipped configuration does)
# for --footprint-seconds after its start-up round, outside scans: CPU as % of one core from
# /proc/PID/stat (utime + stime over the interval) and memory from /proc/PID/status (VmRSS at
# the end; VmHWM, which includes the start-up round). Goals (issue 16): CPU < 1%, RSS < 50 MB.
#
# usage: bench/agents.sh [--minutes M] [--devices N] [--pause DURATION]
#                        [--footprint-seconds S] [--footprint-only]
#   defaults: 2 minutes (the issue's soak is 10: --minutes 10), 200 devices, 1s; 60 s.
#   MEDGUARD_BIN=PATH measures that binary instead of building the release one.
# Needs: curl, python3. Writes under bench/work/agents/.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=2
devices=200
pause=1s
fsecs=60
soak=1
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --pause) pause=$2; shift 2 ;;
    --footprint-seconds) fsecs=$2; shift 2 ;;
    --footprint-only) soak=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
DATA=${MEDGUARD_SHARED_DATA:-$(cd ../shared/data 2>/dev/null && pwd || echo /work/shared/data)}
if [ -n "${MEDGUARD_BIN:-}" ]; then
  M=$MEDGUARD_BIN
else
  cargo build --release -q -p medguard
  M=$PWD/target/release/medguard
fi
W=$PWD/bench/work/agents
rm -rf "$W"; mkdir -p "$W"
dir=$W/server
SERVER=""; SIM=""; AGENT=""
cleanup() {
  [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null || true
  [ -n "$SIM" ] && kill "$SIM" 2>/dev/null || true
  [ -n "$AGENT" ] && kill -9 "$AGENT" 2>/dev/null || true
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
soak_rc=0
if [ "$soak" = 1 ]; then
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

set +e
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
soak_rc=$?
set -e
start_server
fi

# -- The footprint of one real agent -------------------------------------------------------
echo "== footprint: one real agent (medguard agent run), ${fsecs} s after its start-up round, outside scans"
F=$W/footprint
mkdir -p "$F/root/etc" "$F/root/var/lib/dpkg" "$F/root/opt/app"
cp /var/lib/dpkg/status "$F/root/var/lib/dpkg/status"
cp /etc/os-release "$F/root/etc/os-release"
# A small application tree: the verification runs at start and then hourly, so the root's
# size does not enter the steady state measured here.
for i in $(seq 500); do echo "file $i" > "$F/root/opt/app/f$i"; done
"$M" key generate --out "$F/vendor" >"$F/setup.log" 2>&1
"$M" profile create "$F/root" --out "$F/device.profile" --key "$F/vendor.key" >>"$F/setup.log" 2>&1
cat > "$F/agent.toml" <<EOF
[device]
model = "CT 9000"
serial = "SN-footprint"
[profile]
root = "root"
profile = "device.profile"
trust = ["vendor.pub"]
interval = "1h"
[inventory]
interval = "24h"
EOF
ftoken=$("$M" server enroll-token --data "$dir" --site Footprint 2>/dev/null | tail -1)
"$M" agent enroll --server "$url" --token "$ftoken" --ca "$dir/tls/ca.pem" \
  --state "$F/state" --config "$F/agent.toml" >>"$F/setup.log" 2>&1 \
  || { cat "$F/setup.log"; exit 1; }
"$M" agent run --state "$F/state" --config "$F/agent.toml" >"$F/agent.out" 2>"$F/agent.err" &
AGENT=$!
for _ in $(seq 600); do
  grep -q "server holds up to seq" "$F/agent.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "server holds up to seq" "$F/agent.out" \
  || { echo "the agent's start-up round did not finish:"; cat "$F/agent.out" "$F/agent.err"; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$fsecs"
t1=$(ticks); s1=$(date +%s.%N)
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$AGENT/status")
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$AGENT/status")
kill -TERM "$AGENT"; set +e; wait "$AGENT"; agent_rc=$?; set -e; AGENT=""
rounds=$(wc -l < "$F/agent.out")
set +e
python3 - "$t0" "$t1" "$s0" "$s1" "$hz" "$rss_kb" "$hwm_kb" "$threads" "$rounds" "$agent_rc" <<'PY'
import sys
t0, t1, s0, s1, hz = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rss, hwm, threads, rounds, rc = (int(x) for x in sys.argv[6:11])
cpu = (t1 - t0) / hz / (s1 - s0) * 100
print(f"agent_cpu_percent {cpu:.2f} of one core over {s1 - s0:.0f} s ({t1 - t0} ticks at {hz} Hz; goal < 1)")
print(f"agent_rss_mb {rss / 1024:.1f} (VmRSS; goal < 50)  peak {hwm / 1024:.1f} (VmHWM, with the start-up round)  "
      f"threads {threads}  rounds {rounds}  exit {rc}")
ok = cpu < 1 and rss / 1024 < 50 and rc == 0
print("FOOTPRINT: within the goals" if ok else "FOOTPRINT: OVER THE GOALS")
sys.exit(0 if ok else 1)
PY
footprint_rc=$?
set -e
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
[ "$soak_rc" = 0 ] && [ "$footprint_rc" = 0 ]
