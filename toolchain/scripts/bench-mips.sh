#!/usr/bin/env bash
# Fast-mode speed of the opml VM, with its block compiler (`opml run`) and interpreter only
# (`opml run --interpreter`), next to qemu-riscv32 and the native build of the same guest source,
# all measured in one run (wall clock, best of RUNS) on
#   - `hashbench`: iterated SHA-256, default input (100,000 iterations, about 5 * 10^8 RV32IM
#     instructions), CPU-heavy;
#   - `mnist`: one inference of each built-in model (mlp, cnn, cnn-deep) on held-out digit 0.
# Then the VM's own figures on hashbench: CPU time with and without the block compiler, blocks
# compiled, checkpoint overhead, witness-from-snapshot time and peak memory
# (framework/vm/examples/mips.rs).
#
#   bash toolchain/scripts/bench-mips.sh [RUNS]       (default: 3 runs each, best taken)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash toolchain/scripts/install.sh
runs=${1:-3}

cargo build --release --locked -q -p opml-cli
for guest in hashbench mnist; do
  cargo build --release --locked -q -p "$guest"
  cargo build --release --locked -q -p "$guest" --target riscv32im-unknown-none-elf
done
opml=target/release/opml
rv=target/riscv32im-unknown-none-elf/release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

best() { # best wall-clock seconds of `runs` runs of a command, stdin from $input
  local best_s=""
  for _ in $(seq "$runs"); do
    local start end s
    start=$(date +%s.%N); "$@" <"$input" >/dev/null; end=$(date +%s.%N)
    s=$(python3 -c "print($end - $start)")
    best_s=$(python3 -c "print(min(float('${best_s:-inf}'), $s))")
  done
  echo "$best_s"
}

printf '\nbest of %s runs, wall clock (%s)\n\n' "$runs" "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| workload | RV32IM instructions | opml, block compiler | opml, interpreter | qemu-riscv32 | native | compiler / qemu |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
row() { # name, guest, input file
  local name=$1 guest=$2
  input=$3
  "$opml" run "$rv/$guest" --input "$input" --report "$tmp/report.json" >/dev/null
  local steps jit interp qemu nat
  steps=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['steps'])" "$tmp/report.json")
  jit=$(best "$opml" run "$rv/$guest" --input "$input")
  interp=$(best "$opml" run "$rv/$guest" --input "$input" --interpreter)
  qemu=$(best qemu-riscv32 -cpu rv32,c=false,f=false,d=false,a=false "$rv/$guest")
  nat=$(best "target/release/$guest")
  python3 - "$name" "$steps" "$jit" "$interp" "$qemu" "$nat" <<'PY'
import sys
name, steps, *secs = sys.argv[1:]
steps = int(steps)
mips = [steps / float(s) / 1e6 for s in secs]
cells = " | ".join(f"{m:,.0f} MIPS ({float(s):.3f} s)" for m, s in zip(mips, secs))
print(f"| {name} | {steps:,} | {cells} | {mips[0] / mips[2]:.2f} |")
PY
}
: >"$tmp/empty"
row hashbench hashbench "$tmp/empty"
for model in 0:mlp 2:cnn 4:cnn-deep; do
  python3 - "${model%%:*}" "$tmp/mnist-${model##*:}" <<'PY'
import sys
digits = open("guest/examples/mnist/digits.bin", "rb").read()
open(sys.argv[2], "wb").write(bytes([int(sys.argv[1])]) + digits[1:785])
PY
  row "mnist ${model##*:}" mnist "$tmp/mnist-${model##*:}"
done
printf '\n'
cargo run --release --locked -q -p opml-vm --example mips -- "$rv/hashbench"
