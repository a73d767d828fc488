//! Placeholder: the llama kernels (filled in by their own change).
