//! Placeholder: the tokenizer (filled in by its own change).
