//! Placeholder: the GGUF reader (filled in by its own change).
