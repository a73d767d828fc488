//! Tests of the step proof: hand-built witnesses, tampering, and the verifier against a small
//! reference machine on random steps.

mod machine;
mod random;
mod sparse;
mod steps;
