#!/usr/bin/env bash
# Fast-mode speed of the opml VM next to qemu-riscv32 and the native build of the same guest
# source, all measured in one run on the CPU-heavy `hashbench` guest (iterated SHA-256, default
# input: 100,000 iterations, about 5 * 10^8 RV32IM instructions). Then the VM's own figures:
# checkpoint overhead, witness-from-snapshot time and peak memory (framework/vm/examples/mips.rs).
#
#   bash toolchain/scripts/bench-mips.sh [RUNS]       (default: 3 runs each, best taken)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash toolchain/scripts/install.sh
runs=${1:-3}

cargo build --release --locked -q -p opml-cli
cargo build --release --locked -q -p hashbench
cargo build --release --locked -q -p hashbench --target riscv32im-unknown-none-elf
elf=target/riscv32im-unknown-none-elf/release/hashbench
native=target/release/hashbench
opml=target/release/opml
report=$(mktemp)
trap 'rm -f "$report"' EXIT

best() { # best wall-clock seconds of `runs` runs of a command (stdin from /dev/null)
  local best_s=""
  for _ in $(seq "$runs"); do
    local start end s
    start=$(date +%s.%N); "$@" </dev/null >/dev/null; end=$(date +%s.%N)
    s=$(python3 -c "print($end - $start)")
    best_s=$(python3 -c "print(min(float('${best_s:-inf}'), $s))")
  done
  echo "$best_s"
}

"$opml" run "$elf" --report "$report" >/dev/null
steps=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['steps'])" "$report")
vm=$(best "$opml" run "$elf")
qemu=$(best qemu-riscv32 -cpu rv32,c=false,f=false,d=false,a=false "$elf")
nat=$(best "$native")
printf '\nhashbench, %s RV32IM instructions, best of %s runs (%s)\n\n' "$steps" "$runs" "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| engine | seconds | MIPS (guest instructions / s) |\n|---|---:|---:|\n'
for row in "opml VM (fast mode, opml run):$vm" "qemu-riscv32 (JIT):$qemu" "native x86-64 build of the same source:$nat"; do
  name=${row%%:*}; s=${row##*:}
  printf '| %s | %.3f | %.0f |\n' "$name" "$s" "$(python3 -c "print($steps / $s / 1e6)")"
done
printf '\n'
cargo run --release --locked -q -p opml-vm --example mips -- "$elf"
