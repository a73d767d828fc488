//! Placeholder: sampling (filled in by its own change).
