#!/usr/bin/env bash
# The dashboard at hospital scale (issue 18): 10,000 devices across 12 sites and 8 models,
# 1,000,000 findings (one device in a hundred with thousands, the others tens), written in bulk
# into the server's database on SQLite and on a private PostgreSQL cluster; then the real
# routes answer in-process (the router of medguard-server, a signed-in session for the pages,
# an API token for the JSON routes): the fleet overview, a device page of a device with
# thousands of findings (its first page and a deep one) and of a typical device, the findings
# list (first page and a deep page), and the API equivalents. Prints p50, p95 and p99 per route
# and database, the p95 as a share of the goal (100 ms at the server), and the seed time.
#
# usage: bench/pages.sh [--devices N] [--findings N] [--samples N] [--db sqlite|postgres|both]
# (a quick run: --devices 1000 --findings 100000). Needs the PostgreSQL binaries
# (/usr/lib/postgresql/*/bin) for the PostgreSQL half.
set -euo pipefail
cd "$(dirname "$0")/.."
dbs="sqlite,postgres"
while [ $# -gt 0 ]; do
  case "$1" in
    --devices) export MEDGUARD_BENCH_DEVICES=$2; shift 2 ;;
    --findings) export MEDGUARD_BENCH_FINDINGS=$2; shift 2 ;;
    --samples) export MEDGUARD_BENCH_SAMPLES=$2; shift 2 ;;
    --db) [ "$2" = both ] && dbs="sqlite,postgres" || dbs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
export MEDGUARD_BENCH_DATABASES=$dbs
cargo bench -q -p medguard-server --bench pages
