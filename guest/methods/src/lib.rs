//! The opml example guest programs (`guest/examples/*`), compiled for
//! `riscv32im-unknown-none-elf` by this crate's build script and embedded here: for each guest,
//! `<NAME>_ELF` (the ELF bytes, for `opml_vm::Executor::new` or `opml_vm::Machine::load`) and
//! `<NAME>_ID` (its program ID).
//!
//! With `OPML_SKIP_GUEST_BUILD=1` nothing is built and [`GUESTS_BUILT`] is `false`.

include!(concat!(env!("OUT_DIR"), "/methods.rs"));
