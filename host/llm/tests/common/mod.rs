//! The real model, loaded once per test binary.

use std::sync::OnceLock;

use opml_gguf::Gguf;
use opml_llama::{Llama, smollm2_path};

/// The GGUF file's bytes: the test fails (never skips) without it.
pub(crate) fn gguf_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = smollm2_path();
        std::fs::read(&path).unwrap_or_else(|error| {
            panic!(
                "{}: {error}; run `bash toolchain/llm/install.sh` to install the model",
                path.display()
            )
        })
    })
}

/// SmolLM2-135M-Instruct.
pub(crate) fn llama() -> &'static Llama<'static> {
    static GGUF: OnceLock<Gguf<'static>> = OnceLock::new();
    static LLAMA: OnceLock<Llama<'static>> = OnceLock::new();
    let gguf = GGUF.get_or_init(|| Gguf::parse(gguf_bytes()).expect("the GGUF parses"));
    LLAMA.get_or_init(|| Llama::from_gguf(gguf).expect("SmolLM2 is a llama model"))
}
