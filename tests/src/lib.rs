//! Cross-implementation tests for opml: the opml VM against `qemu-riscv32`.
//!
//! The library holds what the tests (here and in later suites, such as the step verifiers')
//! share:
//!
//! - [`encode`]: the generator's RV32IM instructions, encoded by `opml-isa` and listed in GNU
//!   assembler syntax;
//! - [`generator`]: seeded random RV32IM programs that exercise the whole ISA, halt, and print
//!   their registers; [`RandomProgram::elf`] writes them as ELF executables through
//!   [`opml_elf::Program::to_elf`];
//! - [`qemu`]: running an ELF executable under qemu-user;
//! - [`toolchain`]: assembling hand-written programs with `riscv64-unknown-elf-gcc`;
//! - [`differential`]: running one program on both machines and comparing the outcomes.
//!
//! The external tools are required, not optional: a test that cannot find them fails, saying
//! what to install (`OPML_QEMU`, `OPML_QEMU_CPU` and `OPML_RISCV_GCC` override the defaults).

pub mod differential;
pub mod encode;
pub mod generator;
pub mod qemu;
pub mod rng;
mod temp;
pub mod toolchain;

pub use generator::RandomProgram;
