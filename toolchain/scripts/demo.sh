#!/usr/bin/env bash
# The main job, from a fresh machine: builds the VM, the CLI and the example guests, then runs
# the guests in the opml VM and checks every step of a run with the step verifier.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash toolchain/scripts/install.sh
cargo run --release --locked -p opml-cli --bin opml -- demo "$@"
