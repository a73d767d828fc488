#!/usr/bin/env bash
# SmolLM2-135M (Q4_1) on opml, llama.cpp and candle, side by side in one run (BENCHMARKS.md,
# "SmolLM2-135M: quality and speed against llama.cpp and candle").
#
#   bash toolchain/llm/bench.sh [bench|compare|perplexity|all] [repeats]
#
# Builds what it needs: opml's examples (release) and toolchain/llm/candle-ref (release,
# -C target-cpu=native); llama.cpp is llama-cpp-python from the LLM toolchain's venv
# (toolchain/llm/install.sh), unless ENGINES_PYTHON names another Python that has it. Then:
#   bench       prompt (64 tokens) and generation (64 tokens) speed and peak RSS of opml's
#               Engine (every core), llama.cpp (2 threads) and candle (2 threads), and opml's
#               graph run (Generation::run) of the same task; median of `repeats` (3) runs.
#   compare     greedy continuations (64 tokens) of 4 prompts, side by side.
#   perplexity  perplexity of opml and llama.cpp on the same ids of a held-out text.
# The model: toolchain/llm/install.sh (or $OPML_GGUF).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
what=${1:-bench}
repeats=${2:-3}

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }

bash toolchain/llm/install.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
log "cargo build --release -p opml-llama --examples"
cargo build --release --quiet -p opml-llama --examples
log "candle-ref: cargo build --release (RUSTFLAGS=-C target-cpu=native)"
(cd toolchain/llm/candle-ref && CARGO_TARGET_DIR=$PWD/target RUSTFLAGS="-C target-cpu=native" \
  cargo build --release --quiet)

# llama-cpp-python is in the LLM toolchain's venv (install.sh); ENGINES_PYTHON may name another.
python=${ENGINES_PYTHON:-toolchain/llm/.venv/bin/python}

export OPML_ENGINE_BENCH=$CARGO_TARGET_DIR/release/examples/engine_bench
export CANDLE_REF=$root/toolchain/llm/candle-ref/target/release/candle-ref
engines=toolchain/llm/engines.py
log "machine: $(nproc) cores; $(uptime)"

run_perplexity() {
  tmp=$(mktemp -d)
  "$python" $engines text --out "$tmp/text.txt"
  "$CARGO_TARGET_DIR/release/examples/perplexity" "$tmp/text.txt" --ids-out "$tmp/ids.txt"
  "$python" $engines perplexity --ids "$tmp/ids.txt"
  rm -rf "$tmp"
}

case $what in
  bench) "$python" $engines bench --repeat "$repeats" ;;
  compare) "$python" $engines compare ;;
  perplexity) run_perplexity ;;
  all)
    "$python" $engines bench --repeat "$repeats"
    "$python" $engines compare
    run_perplexity
    ;;
  *) echo "usage: bench.sh [bench|compare|perplexity|all] [repeats]" >&2; exit 2 ;;
esac
