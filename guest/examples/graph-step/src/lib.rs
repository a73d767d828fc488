//! The node step program of the graph phase (`docs/dnn.md`, "Graph phase"): coarse step `j`
//! of any `.opml` model's run, re-done in the VM. It is the step program of every two-phase
//! DNN dispute: one program ID for every model, since the model is named by the state.
//!
//! Input: `S(j−1) ‖ be64(j)` (40 bytes, what the game gives every step program). It reads the
//! model, the task input and the tensors through the data oracle, checks them against
//! `S(j−1)` as it walks, computes the step with `opml_dnn::phase::step` and commits `S(j)`
//! (32 bytes). Any other input length exits with `exit_code::BAD_INPUT`.
#![no_std]

/// The input of coarse step `j` from `previous`, `S(j − 1)`.
pub fn input(previous: &[u8; 32], j: u64) -> [u8; 40] {
    let mut bytes = [0; 40];
    bytes[..32].copy_from_slice(previous);
    bytes[32..].copy_from_slice(&j.to_be_bytes());
    bytes
}

/// `(S(j − 1), j)` from an input; `None` unless it is 40 bytes.
pub fn parse(input: &[u8]) -> Option<([u8; 32], u64)> {
    let (previous, j) = input.split_first_chunk::<32>()?;
    Some((*previous, u64::from_be_bytes(j.try_into().ok()?)))
}
