#!/usr/bin/env bash
# Benchmarks of the fleet server, in one run, on SQLite and on PostgreSQL (a private cluster
# this script starts):
#  1. N simulated devices (own keys, certificates, sequence numbers; `medguard agent
#     simulate`) each enroll, then post an inventory of ~1,500 components drawn from the real
#     package data, a verification and their health: time from the first report until the
#     server shows every device with a status and its findings (goal: < 60 s for 10,000 on
#     this 2-core machine), reports/s and p99 batch latency;
#  2. a new advisory affecting 30% of that fleet (a component of one simulated cohort):
#     `server advisories ingest` until every finding is stored (goal: < 5 s);
#  3. the server's peak resident memory (VmHWM) at N devices (goal: < 300 MB).
# No open-source fleet server runs here to compare with (Dependency-Track needs a JVM and a
# download this machine cannot make), so each figure is printed with its ratio to the goal
# (> 1 means better than the goal).
#
# usage: bench/server.sh [--devices N] [--components N] [--db sqlite|postgres|both]
# Needs: curl, python3, PostgreSQL binaries (/usr/lib/postgresql/*/bin). Writes under
# bench/work/server/.
set -euo pipefail
cd "$(dirname "$0")/.."
devices=10000
components=1500
dbs="sqlite postgres"
while [ $# -gt 0 ]; do
  case "$1" in
    --devices) devices=$2; shift 2 ;;
    --components) components=$2; shift 2 ;;
    --db) [ "$2" = both ] && dbs="sqlite postgres" || dbs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
DATA=${MEDGUARD_SHARED_DATA:-$(cd ../shared/data 2>/dev/null && pwd || echo /work/shared/data)}
cargo build --release -q -p medguard
M=$PWD/target/release/medguard
W=$PWD/bench/work/server
rm -rf "$W"; mkdir -p "$W"
now() { date +%s.%N; }
ratio() { python3 -c "import sys; g,a=float(sys.argv[1]),float(sys.argv[2]); print(f'{g/a:.2f}' if a>0 else 'inf')" "$1" "$2"; }
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${PGBIN:-}" ] && [ -d "$W/pg" ]; then
    $PGRUN "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

start_postgres() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PGRUN=""
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses root; the cluster belongs to the postgres user, in a directory it owns.
    PGRUN="runuser -u postgres --"
    mkdir -p "$W/pg" "$W/pgsock"; chown postgres "$W/pg" "$W/pgsock"; chmod 755 "$W"
  fi
  $PGRUN "$PGBIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  $PGRUN "$PGBIN/pg_ctl" -D "$W/pg" -w -l "$W/pg.log" \
    -o "-p $port -k $W/pgsock -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
  $PGRUN "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres fleet
  PGURL="postgres://postgres@127.0.0.1:$port/fleet"
}

run_one() {
  local db=$1 dir=$W/$1
  echo "== $db: $devices devices x $components components"
  if [ "$db" = postgres ]; then
    start_postgres
    "$M" server init --data "$dir" --database "$PGURL" >/dev/null
  else
    "$M" server init --data "$dir" >/dev/null
  fi
  # Advisories held before the fleet reports: the Debian and Ubuntu samples.
  "$M" server advisories ingest --data "$dir" "$DATA/osv-debian-ubuntu-samples" >/dev/null || true
  "$M" server run --data "$dir" --listen 127.0.0.1:0 2>"$dir.log" &
  local pid=$!; PIDS+=("$pid")
  local url=""
  for _ in $(seq 100); do
    url=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' "$dir.log")
    [ -n "$url" ] && break; sleep 0.1
  done
  [ -n "$url" ] || { cat "$dir.log"; exit 1; }
  local token api
  token=$("$M" server enroll-token --data "$dir" --site Bench --uses "$devices" 2>/dev/null | tail -1)
  api=$("$M" server token create --data "$dir" --user admin --name bench 2>/dev/null | tail -1)
  get() { curl -sS --fail-with-body --cacert "$dir/tls/ca.pem" -H "Authorization: Bearer $api" "$url$1"; }

  "$M" agent simulate --server "$url" --token "$token" --ca "$dir/tls/ca.pem" \
    --count "$devices" --components "$components" --json \
    --inventory "$DATA/dpkg-status" --inventory "$DATA/cyclonedx-bom-examples" \
    --inventory "$DATA/spdx-examples" > "$W/$db-simulate.json"
  # Every device with a status and its findings: reports are acknowledged only once stored,
  # with the device's status and findings, so the fleet is complete when the counts say so.
  while :; do
    shown=$(get "/api/v1/status" | python3 -c 'import json,sys; print(sum(json.load(sys.stdin).values()))')
    [ "$shown" -ge "$devices" ] && break
    sleep 0.2
  done
  local done_ms; done_ms=$(python3 -c 'import time; print(int(time.time()*1000))')
  python3 - "$W/$db-simulate.json" "$done_ms" "$devices" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); done = int(sys.argv[2]); n = int(sys.argv[3])
if s["error_count"]:
    print("errors:", s["error_count"], s["errors"][:3]); sys.exit(1)
took = (done - s["report_started_unix_ms"]) / 1000
print(f"enroll_s {s['enroll_seconds']:.1f} ({s['enrolled']/max(s['enroll_seconds'],1e-9):.0f}/s), p99 {s['enroll_latency']['p99_ms']:.0f} ms")
print(f"reports {s['reports_stored']} stored, {s['reports_per_second']:.0f} reports/s, "
      f"batch p50 {s['report_latency']['p50_ms']:.0f} ms p99 {s['report_latency']['p99_ms']:.0f} ms")
print(f"all_devices_with_status_s {took:.1f}  goal 60 s for 10000  ratio {60*n/10000/took:.2f}")
EOF
  # 2. A new advisory on one cohort's component: 30% of the fleet.
  python3 - "$W/$db-simulate.json" "$W/$db-new-advisory.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); c = s["cohort_samples"][0]
json.dump({"schema_version": "1.6.0", "id": "MEDGUARD-BENCH-0001",
           "modified": "2026-12-05T00:00:00Z", "summary": "bench: a new advisory on 30% of the fleet",
           "affected": [{"package": {"ecosystem": c["ecosystem"], "name": c["name"], "purl": c["purl"].split("@")[0]},
                         "versions": [c["version"]]}]},
          open(sys.argv[2], "w"))
EOF
  t0=$(now); "$M" server advisories ingest --data "$dir" "$W/$db-new-advisory.json" >/dev/null; t1=$(now)
  local found; found=$(get "/api/v1/findings?advisory=MEDGUARD-BENCH-0001&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  local took; took=$(echo "$t1 - $t0" | bc)
  echo "new_advisory_s $took  findings $found of $devices devices  goal 5 s  ratio $(ratio 5 "$took")"
  # 3. Peak memory of the server process.
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  echo "server_peak_rss_mb $((hwm / 1024))  goal 300 MB  ratio $(ratio 300 $((hwm / 1024)))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ "$db" = postgres ]; then
    $PGRUN "$PGBIN/pg_ctl" -D "$W/pg" -m fast stop >/dev/null
    rm -rf "$W/pg"
  fi
}

for db in $dbs; do run_one "$db"; done
