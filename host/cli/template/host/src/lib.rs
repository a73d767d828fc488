//! The {{name}} guest, built for the VM and embedded: `{{const}}_GUEST_ELF` and
//! `{{const}}_GUEST_ID` (its program ID), and [`median`], which runs it.

use opml_vm::{ExitStatus, Machine};

include!(concat!(env!("OUT_DIR"), "/methods.rs"));

/// What a run of the guest gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// How it ended.
    pub status: ExitStatus,
    /// Its committed output: one ABI word (`int256`) when it exited 0.
    pub output: Vec<u8>,
    /// Instructions executed.
    pub steps: u64,
    /// The input as the task posts it (one opml codec frame).
    pub input: Vec<u8>,
}

/// Runs the guest in the VM on `values`.
pub fn median(values: &[i64]) -> Result<Run, String> {
    let input = opml_codec::encode(values).map_err(|e| e.to_string())?;
    let mut machine =
        Machine::load({{const}}_GUEST_ELF, input.clone()).map_err(|e| e.to_string())?;
    let status = machine.run(u64::MAX);
    Ok(Run {
        status,
        output: machine.output().to_vec(),
        steps: machine.step_count(),
        input,
    })
}
