#!/usr/bin/env bash
# Installs the pinned Solidity toolchain (forge, anvil, solc-js; versions in package-lock.json)
# into toolchain/contracts/node_modules with `npm ci`. Idempotent: does nothing when the pinned
# forge is already there. Needs node >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")"

if [ -x node_modules/.bin/forge ] && [ -x node_modules/.bin/anvil ] && [ -d node_modules/solc ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "install: npm (node >= 20) is needed for the Solidity toolchain" >&2; exit 1; }
printf '\033[1m[install]\033[0m %s\n' "Solidity toolchain: npm ci in toolchain/contracts" >&2
npm ci --no-audit --no-fund --loglevel=error
