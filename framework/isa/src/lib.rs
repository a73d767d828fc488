//! RV32IM semantics for the opml VM.
//!
//! One typed decoder ([`decode`]) turns a word into an [`Instruction`]; it feeds the fast
//! executor's decoded-instruction cache, the proving step and the disassembler
//! ([`Instruction`]'s `Display`) alike; [`Instruction::encode`] is its inverse, for tests and
//! tools that build programs. [`execute`] gives every instruction and syscall its
//! meaning in terms of a [`Context`]: register, memory and stream primitives that the fast
//! machine, the witness recorder and the step verifier each implement. The rules that decide
//! *how much* a syscall transfers live here, once. [`step`] is fetch, decode, execute.
//!
//! The full specification, including which encodings are illegal, is `docs/vm-spec.md`.

mod context;
mod decode;
mod encode;
mod execute;
mod instruction;

pub use context::{Context, Flow, Width};
pub use decode::decode;
pub use execute::{execute, step};
pub use instruction::{ABI_NAMES, Instruction, abi_name};
