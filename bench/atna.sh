#!/usr/bin/env bash
# Forwarding throughput of medguard-atna to a real rsyslog over TLS, against gnutls-cli piping
# the same pre-framed bytes, in the same run. Prints msg/s, MB/s and ratios.
#
# usage: bench/atna.sh [messages]   (default 20000)
# Needs: rsyslog rsyslog-gnutls gnutls-bin (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
for t in rsyslogd gnutls-cli; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "missing $t (apt-get install rsyslog rsyslog-gnutls gnutls-bin)" >&2; exit 2; }
done
exec cargo bench -q -p medguard-atna --bench forward -- "${1:-20000}"
