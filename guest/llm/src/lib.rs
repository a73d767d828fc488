//! The LLM parts of opml, bit-identical natively and in the VM (`no_std`, soft-float there).
//!
//! | module | |
//! |---|---|
//! | [`quant`] | GGML block formats (Q4_1, Q8_0) and f16: layouts, dequantization |
//! | [`kernels`] | deterministic llama kernels: quantized matrix-vector products, RoPE, attention, SwiGLU |
//! | [`sample`] | greedy and seeded sampling, with the PRNG part of the computation |
//! | [`task`] | the input record of an LLM task: settings and prompt |
//! | [`tokenizer`] | GPT-2 byte-level BPE with the `smollm` pre-tokenizer, and the chat template |
//!
//! The normative description is `docs/dnn.md`, "LLM operators".
#![no_std]

extern crate alloc;

pub mod kernels;
pub mod quant;
pub mod sample;
pub mod task;
pub mod tokenizer;
