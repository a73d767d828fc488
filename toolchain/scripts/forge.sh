#!/usr/bin/env bash
# Runs the pinned forge (toolchain/contracts) in contracts/, installing it first if missing.
# Usage: toolchain/scripts/forge.sh <forge args>   e.g. `forge.sh test`, `forge.sh snapshot`.
# foundry.toml sets `offline = true` and the solc-js shim, so nothing is fetched at run time.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bash "$root/toolchain/contracts/install.sh"
cd "$root/contracts"
exec "$root/toolchain/contracts/node_modules/.bin/forge" "$@"
