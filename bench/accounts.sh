#!/usr/bin/env bash
# The cost of one login (argon2id verification at the default parameters, RFC 9106's second
# recommendation: 64 MiB, t=3, p=4) and the guesses per hour an online attacker gets against one
# account under the default throttling. RUNS=N sets the number of timed logins (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p medguard-accounts --bench accounts
