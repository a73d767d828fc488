//! Deterministic neural-network inference for opml, bit-identical on the host and in the VM.
//!
//! The normative description is `docs/dnn.md`; this crate is its implementation, compiled
//! unchanged for the host and for `riscv32im-unknown-none-elf` (soft-float). Every f32 operation
//! is a plain loop in a documented order, transcendental functions come from the `libm` crate on
//! both targets, and every f32 result is [`canonical`]. Quantized (i8) layers are integer-only.
//!
//! | module | |
//! |---|---|
//! | [`tensor`] | [`DType`] (f32, i8, i32, and the GGML blocks Q4_1 and Q8_0), [`Shape`], [`Quant`], [`Tensor`] (owned) and [`TensorRef`] (borrowed), the tensor hash |
//! | [`ops`] | every operator as a free function over slices ([`ops::llm`]: the LLM operators, over `opml_llm`'s kernels) |
//! | [`Op`] | the operator table: codes, arities, parameters as a node entry stores them |
//! | [`Model`] | the `.opml` v1 reader: validates everything, constants borrowed from the file buffer |
//! | [`ModelBuilder`] | the `.opml` v1 writer |
//! | [`root`] | the model root: tensor and node commitments, inclusion proofs ([`Model::root`], [`Model::commit`]) |
//! | [`graph`] | the executor ([`run`], [`run_observed`], [`run_node`], [`compute`]) and the commitment chain ([`commitments`]) |
//! | [`phase`] | the graph phase of two-phase disputes: graph state, native executor, node step |
//!
//! A model file is parsed from a 16-aligned buffer ([`AlignedBytes`]) so that constants are
//! zero-copy slices of it. Both targets are little-endian, which the file format and the tensor
//! hash rely on.
#![no_std]

extern crate alloc;

#[cfg(not(target_endian = "little"))]
compile_error!("opml-dnn reads little-endian data in place: it needs a little-endian target");

mod aligned;
mod builder;
mod check;
mod error;
mod format;
pub mod graph;
mod model;
mod op;
pub mod ops;
pub mod phase;
pub mod root;
pub mod tensor;

pub use aligned::AlignedBytes;
pub use builder::ModelBuilder;
pub use error::{DnnError, ModelError, Region};
pub use format::{MAGIC, NODE_ENTRY_LEN, VERSION};
pub use graph::{
    Window, chain_next, chain_start, commitments, compute, run, run_node, run_observed, window,
    windowed,
};
pub use model::{Model, Node, TensorKind};
pub use op::{Conv, Epilogue, Op, Pool};
pub use tensor::{
    DType, Data, DataRef, Element, Quant, Shape, Tensor, TensorInfo, TensorRef, canonical,
};

/// A SHA-256 digest: tensor hashes, the model checksum, graph commitments, model roots.
pub type Hash = [u8; 32];

/// SHA-256 of the concatenation of `parts`.
fn sha256(parts: &[&[u8]]) -> Hash {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}
