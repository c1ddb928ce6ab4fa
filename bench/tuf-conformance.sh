#!/usr/bin/env bash
# Runs the TUF conformance suite (theupdateframework/tuf-conformance) against medguard's TUF
# client, through crates/tuf/src/bin/tuf-conformance-client.rs. CI cannot obtain the suite (it
# is not on PyPI), so this is a manual check; give the folder holding a checkout of it.
#
# usage: bench/tuf-conformance.sh SUITE_DIR [pytest args...]
# Needs: faketime (Debian), Python >= 3.11; creates SUITE_DIR/env with the suite's pinned deps.
set -euo pipefail
suite=${1:?usage: bench/tuf-conformance.sh SUITE_DIR [pytest args]}
shift
cd "$(dirname "$0")/.."
command -v faketime >/dev/null || { echo "missing faketime (apt-get install faketime)" >&2; exit 2; }
cargo build -q -p medguard-tuf --bin tuf-conformance-client
client=$PWD/target/debug/tuf-conformance-client
cd "$suite"
[ -x env/bin/pytest ] || {
  python3 -m venv env
  env/bin/pip install -q "securesystemslib[crypto]==1.4.0" tuf==7.0.0 pytest==9.1.1 pytest-json-report==1.5.0
}
env/bin/pytest -q tuf_conformance --entrypoint "$client" -p no:cacheprovider "$@" | tail -25
