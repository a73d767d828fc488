//! Tests of the RV32IM decoder, disassembler and executor against `docs/vm-spec.md`.

mod common;
mod decode;
mod execute;
mod syscalls;
