#!/usr/bin/env bash
# The main job, from a fresh machine: builds the VM, the CLI and the example guests, then plays a
# whole opML dispute on an embedded EVM (`opml demo --help` for the variants: a node, other
# liars and strategies, other phase configurations, a JSON report).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash toolchain/scripts/install.sh
cargo run --release --locked -p opml-cli --bin opml -- demo "$@"
