#!/usr/bin/env bash
# The committed contract artifacts that the Rust side (host/chain) loads:
#   contracts.sh build   forge build, then write contracts/artifacts/<Name>.json
#   contracts.sh check   rebuild into a temporary directory and fail if the committed
#                        artifacts differ (CI runs this)
# Each artifact is forge's own artifact JSON cut down to what alloy's `sol!(Name, "path")`
# reads: `abi`, `bytecode.object` (creation code) and `deployedBytecode.object` (runtime code).
# foundry.toml pins solc and disables the metadata hash, so the bytecode is reproducible.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
forge="$root/toolchain/scripts/forge.sh"
# The contracts whose artifacts are committed (source file stem = contract name).
CONTRACTS=(RiscvStep InputOracle DisputeGame TaskRegistry)

# extract OUT_DIR DEST_DIR: writes DEST_DIR/<Name>.json from forge's OUT_DIR.
extract() {
  mkdir -p "$2"
  for name in "${CONTRACTS[@]}"; do
    node -e '
      const fs = require("fs");
      const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      const out = {
        abi: a.abi,
        bytecode: { object: a.bytecode.object },
        deployedBytecode: { object: a.deployedBytecode.object },
      };
      fs.writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
    ' "$1/$name.sol/$name.json" "$2/$name.json"
  done
}

case "${1:-}" in
  build)
    "$forge" build --offline >&2
    extract "$root/contracts/out" "$root/contracts/artifacts"
    echo "wrote contracts/artifacts/{$(IFS=,; echo "${CONTRACTS[*]}")}.json" >&2
    ;;
  check)
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$forge" build --offline --out "$tmp/out" --cache-path "$tmp/cache" >&2
    extract "$tmp/out" "$tmp/artifacts"
    if ! diff -r "$root/contracts/artifacts" "$tmp/artifacts" >/dev/null; then
      echo "contracts/artifacts is stale: run toolchain/scripts/contracts.sh build and commit it" >&2
      diff -r "$root/contracts/artifacts" "$tmp/artifacts" | head -20 >&2 || true
      exit 1
    fi
    echo "contracts/artifacts is up to date" >&2
    ;;
  *)
    echo "usage: $0 build|check" >&2
    exit 2
    ;;
esac
