//! Llama-architecture LLMs under opML (`docs/dnn.md`, "LLM graphs").
//!
//! A GGUF file (SmolLM2-135M-Instruct is the reference) becomes [`Llama`]: its hyperparameters,
//! its quantized weights (kept as GGML blocks, never expanded to f32) and its tokenizer tables.
//! An LLM task (prompt, settings) becomes an opml graph over the **whole generation**
//! ([`LlmGraph`]): tokenization, then every position's every layer's every op, then sampling;
//! so a dispute bisects over the nodes of the generation and re-does one node in the VM.
//!
//! | module | |
//! |---|---|
//! | [`config`] | [`Llama`]: hyperparameters, weights and tokenizer from a GGUF |
//! | [`engine`] | [`Engine`]: the fast path, the same kernels with an in-place KV cache |
//! | [`graph`] | [`LlmGraph`]: the graph of one task, with a label per node |
//! | [`run`] | [`Generation`]: the native run of a task, its tokens and text |

pub mod config;
pub mod engine;
pub mod graph;
pub mod run;

pub use config::{Llama, LlamaError};
pub use engine::Engine;
pub use graph::{LlmGraph, NodeLabel};
pub use run::{Generation, Lie};

use std::path::PathBuf;

/// The GGUF file of the reference model, SmolLM2-135M-Instruct (Q4_1): `$OPML_GGUF`, else where
/// `toolchain/llm/install.sh` puts it in this checkout.
pub fn smollm2_path() -> PathBuf {
    match std::env::var_os("OPML_GGUF") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../toolchain/llm/cache/SmolLM2-135M-Instruct.Q4_1.gguf"
        )),
    }
}
