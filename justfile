# Developer shortcuts. Each recipe is a plain command; nothing here is needed by CI.

# Run the end-to-end demo (installs what is missing).
demo *ARGS:
    bash toolchain/scripts/demo.sh {{ARGS}}

# Run the whole test suite (installs what is missing).
test:
    bash toolchain/scripts/test.sh

# Run a guest ELF in the VM.
run ELF *ARGS:
    cargo run --release -p opml-cli --bin opml -- run {{ELF}} {{ARGS}}

# Format everything.
fmt:
    cargo fmt --all

# Benchmarks recorded in BENCHMARKS.md.
bench:
    cargo run --release -p opml-vm --example mips
