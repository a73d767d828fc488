#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, then checks formatting,
# lints and runs every test. This is the command CI runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash toolchain/scripts/install.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo doc: the guest SDK and the host-facing API"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked -p opml-guest -p opml-vm -p opml-build
step "cargo test"
cargo test --workspace --locked
step "cargo test: fast mode without the block compiler (interpreter only)"
cargo test --locked -p opml-vm -p opml-tests --no-default-features
step "model toolchain: python tests (converter, reference evaluator, committed models and vectors)"
(cd toolchain/model && .venv/bin/python -m unittest test_convert)
step "contracts: forge fmt --check, forge test, artifacts up to date"
toolchain/scripts/forge.sh fmt --check
toolchain/scripts/forge.sh test
toolchain/scripts/contracts.sh check
