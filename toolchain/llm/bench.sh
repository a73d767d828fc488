#!/usr/bin/env bash
# SmolLM2-135M (Q4_1) on opml, llama.cpp and candle, side by side in one run (BENCHMARKS.md,
# "SmolLM2-135M: quality and speed against llama.cpp and candle").
#
#   bash toolchain/llm/bench.sh [bench|compare|perplexity|all] [repeats]
#
# Builds what it needs: opml's examples (release), toolchain/llm/candle-ref (release,
# -C target-cpu=native), and a venv with llama-cpp-python (requirements-engines.txt) at
# toolchain/llm/.venv-engines unless ENGINES_PYTHON names a Python that has it. Then:
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

python=${ENGINES_PYTHON:-}
if [ -z "$python" ]; then
  venv=toolchain/llm/.venv-engines
  stamp=$venv/.requirements.sha256
  want=$(sha256sum toolchain/llm/requirements-engines.txt | cut -d' ' -f1)
  if [ ! -x $venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "python3 -m venv $venv; pip install -r requirements-engines.txt (builds llama.cpp, ~6 min)"
    rm -rf $venv
    python3 -m venv $venv
    $venv/bin/pip install --quiet --disable-pip-version-check --no-input \
      -r toolchain/llm/requirements-engines.txt
    echo "$want" >"$stamp"
  fi
  python=$venv/bin/python
fi

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
