#!/usr/bin/env bash
# Benchmark of the audit log: durable append throughput (group commit, one fsync per batch)
# against a plain writer appending the same bytes with the same fsync cadence (prints the
# ratio), group commit with many single-event appenders, and verify throughput.
#
# usage: bench/audit.sh [EVENTS] [BATCH]     (defaults 1000000 10000)
# Set AUDIT_BENCH_DIR to measure another disk (default: the system temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
export AUDIT_BENCH_EVENTS=${1:-1000000} AUDIT_BENCH_BATCH=${2:-10000}
exec cargo bench -p medguard-audit --bench audit_append
