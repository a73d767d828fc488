//! The {{name}} guest, built for the VM and embedded: `{{const}}_GUEST_ELF` and
//! `{{const}}_GUEST_ID` (its program ID), and [`median`], which runs it.

use opml_vm::{ExecError, Executor, Session};

include!(concat!(env!("OUT_DIR"), "/methods.rs"));

/// The guest's input for `values`: one opml codec frame, as a task posts it.
pub fn input(values: &[i64]) -> Result<Vec<u8>, ExecError> {
    Ok(Executor::new({{const}}_GUEST_ELF).write(values)?.input().to_vec())
}

/// Runs the guest in the VM on `values`: its output (`abi.encode(int64 median)` when it exits
/// 0), steps, exit status, program ID and input commitment.
pub fn median(values: &[i64]) -> Result<Session, ExecError> {
    Executor::new({{const}}_GUEST_ELF).write(values)?.execute()
}
