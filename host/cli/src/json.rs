//! Machine-readable JSON for states, witnesses and run reports. Hashes and byte strings are
//! `0x`-prefixed lowercase hex; integers are JSON numbers.

use opml_state::{ExitStatus, VmState};
use serde_json::{Value, json};

/// `0x`-prefixed hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The exit status as `{"kind": "exited", "code": 0}` and similar.
pub(crate) fn status(status: ExitStatus) -> Value {
    match status {
        ExitStatus::Running => json!({ "kind": "running" }),
        ExitStatus::Exited(code) => json!({ "kind": "exited", "code": code }),
        ExitStatus::Trapped(cause) => {
            json!({ "kind": "trapped", "code": cause.code(), "cause": cause.name() })
        }
    }
}

/// Every field of a state, its packed encoding and its hash.
pub(crate) fn state(state: &VmState) -> Value {
    json!({
        "hash": hex(&state.hash()),
        "pc": state.pc,
        "step": state.step,
        "status": status(state.status),
        "memory_root": hex(&state.memory_root),
        "input_link": hex(&state.input_link),
        "input_cursor": state.input_cursor,
        "output_acc": hex(&state.output_acc),
        "output_tail": hex(&state.output_tail),
        "output_len": state.output_len,
        "output_digest": hex(&state.output_digest()),
        "regs": state.regs.to_vec(),
        "packed": hex(&state.encode()),
    })
}
