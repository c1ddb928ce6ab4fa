#!/usr/bin/env bash
# The staged rollout's decision cost: one patch to 10,000 simulated devices in three waves
# (2 canaries, 10 %, the rest), every device checking in each simulated quarter hour until the
# rollout completes. Prints the decision cost per check-in (mean, p50, p99 in µs), the cost of
# a check-in with its report, check-ins per second on one core, and the size and speed of the
# JSON the server stores. The issue's goal: a decision under 2 ms per check-in.
#
# No competitor runs in-process for this one (rollout engines live inside fleet servers such as
# Mender's or hawkBit's deployment services, behind HTTP and a database), so the figures stand
# alone.
#
# usage: bench/rollout.sh   (builds medguard-patch's bench in release)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p medguard-patch --bench rollout

# The same rollout on the server's real store (SQLite): enrollment of the devices, the decision
# at each check-in through `Fleet::checkin_commands` (indexed lookup, version check, decision)
# and the outcome reports.
cargo bench -q -p medguard-fleet --bench checkin
