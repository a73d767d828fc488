//! The packed state.

use core::fmt;

use opml_platform::{TrapCause, reg, status};

use crate::{Hash, sha256};

/// Byte offsets of the packed state. All integers are big-endian.
///
/// ```text
/// offset  size  field
///      0    32  memory_root    Merkle root of the 4 GiB memory (see `merkle`)
///     32    32  input_link     commitment to the unread input, from the chunk holding the
///                              cursor on (see `input`); zero once the input is exhausted
///     64    32  output_acc     fold of the completed 32-byte output chunks (see `output`)
///     96    32  output_tail    output bytes not yet folded (output_len % 32 of them),
///                              zero padded; decoding refuses non-zero padding
///    128     4  pc
///    132     4  input_cursor   bytes of input consumed
///    136     4  output_len     bytes of output written
///    140     8  step           instructions executed
///    148     1  status         0 running, 1 exited, 2 trapped
///    149     4  exit_code      exit code (exited) or trap cause (trapped); 0 while running
///    153   128  regs           x0..x31, 4 bytes each (x0 is always 0)
///    281                       STATE_LEN
/// ```
pub mod layout {
    /// Offset of the memory Merkle root.
    pub const MEMORY_ROOT: usize = 0;
    /// Offset of the input chain link.
    pub const INPUT_LINK: usize = 32;
    /// Offset of the output accumulator.
    pub const OUTPUT_ACC: usize = 64;
    /// Offset of the pending output bytes.
    pub const OUTPUT_TAIL: usize = 96;
    /// Offset of the program counter.
    pub const PC: usize = 128;
    /// Offset of the input cursor.
    pub const INPUT_CURSOR: usize = 132;
    /// Offset of the output length.
    pub const OUTPUT_LEN: usize = 136;
    /// Offset of the step counter.
    pub const STEP: usize = 140;
    /// Offset of the status byte.
    pub const STATUS: usize = 148;
    /// Offset of the exit code.
    pub const EXIT_CODE: usize = 149;
    /// Offset of register x0; register `i` is at `REGS + 4 * i`.
    pub const REGS: usize = 153;
    /// Length of the packed state.
    pub const STATE_LEN: usize = REGS + 4 * opml_platform::reg::COUNT;
}

/// Whether the machine runs, and how it stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The machine can step.
    Running,
    /// The guest called `exit(code)`.
    Exited(u32),
    /// The machine trapped.
    Trapped(TrapCause),
}

impl ExitStatus {
    /// Whether the machine has halted.
    pub fn is_halted(self) -> bool {
        !matches!(self, ExitStatus::Running)
    }

    /// The `(status, exit_code)` pair of the packed state.
    pub fn to_parts(self) -> (u8, u32) {
        match self {
            ExitStatus::Running => (status::RUNNING, 0),
            ExitStatus::Exited(code) => (status::EXITED, code),
            ExitStatus::Trapped(cause) => (status::TRAPPED, cause.code()),
        }
    }

    /// The status for a `(status, exit_code)` pair, if it is one the VM can produce.
    pub fn from_parts(status_byte: u8, code: u32) -> Option<ExitStatus> {
        match status_byte {
            status::RUNNING if code == 0 => Some(ExitStatus::Running),
            status::EXITED => Some(ExitStatus::Exited(code)),
            status::TRAPPED => TrapCause::from_code(code).map(ExitStatus::Trapped),
            _ => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Running => f.write_str("running"),
            ExitStatus::Exited(code) => write!(f, "exited with code {code}"),
            ExitStatus::Trapped(cause) => write!(f, "trapped: {}", cause.name()),
        }
    }
}

/// The complete state of a machine, apart from the contents of memory and input (which it
/// commits to).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VmState {
    /// Merkle root of memory.
    pub memory_root: Hash,
    /// Commitment to the unread input from the chunk holding the cursor on.
    pub input_link: Hash,
    /// Fold of the completed output chunks.
    pub output_acc: Hash,
    /// Pending output bytes (the first `output_len % 32`), zero padded.
    pub output_tail: [u8; 32],
    /// Program counter.
    pub pc: u32,
    /// Bytes of input consumed.
    pub input_cursor: u32,
    /// Bytes of output written.
    pub output_len: u32,
    /// Instructions executed.
    pub step: u64,
    /// Running, exited or trapped.
    pub status: ExitStatus,
    /// Integer registers; `regs[0]` is always 0.
    pub regs: [u32; reg::COUNT],
}

/// Why packed bytes are not a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateDecodeError {
    /// The data is not [`layout::STATE_LEN`] bytes long.
    Length(usize),
    /// The status byte and exit code are not a combination the VM produces.
    Status(u8, u32),
    /// Register x0 is not zero.
    NonZeroX0,
    /// The output tail has non-zero bytes past the `output_len % 32` pending ones.
    OutputTailPadding,
}

impl fmt::Display for StateDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateDecodeError::Length(len) => {
                write!(
                    f,
                    "packed state is {len} bytes, expected {}",
                    layout::STATE_LEN
                )
            }
            StateDecodeError::Status(s, code) => {
                write!(f, "invalid status byte {s} with exit code {code}")
            }
            StateDecodeError::NonZeroX0 => f.write_str("register x0 is not zero"),
            StateDecodeError::OutputTailPadding => {
                f.write_str("output tail has non-zero bytes past the pending output")
            }
        }
    }
}

impl VmState {
    /// The state of a freshly loaded program: `pc` at the entry point, every register zero,
    /// input `input_link` unread, no output.
    pub fn initial(memory_root: Hash, entry: u32, input_link: Hash) -> VmState {
        VmState {
            memory_root,
            input_link,
            output_acc: [0; 32],
            output_tail: [0; 32],
            pc: entry,
            input_cursor: 0,
            output_len: 0,
            step: 0,
            status: ExitStatus::Running,
            regs: [0; reg::COUNT],
        }
    }

    /// The packed encoding (see [`layout`]).
    pub fn encode(&self) -> [u8; layout::STATE_LEN] {
        let mut out = [0u8; layout::STATE_LEN];
        out[layout::MEMORY_ROOT..][..32].copy_from_slice(&self.memory_root);
        out[layout::INPUT_LINK..][..32].copy_from_slice(&self.input_link);
        out[layout::OUTPUT_ACC..][..32].copy_from_slice(&self.output_acc);
        out[layout::OUTPUT_TAIL..][..32].copy_from_slice(&self.output_tail);
        out[layout::PC..][..4].copy_from_slice(&self.pc.to_be_bytes());
        out[layout::INPUT_CURSOR..][..4].copy_from_slice(&self.input_cursor.to_be_bytes());
        out[layout::OUTPUT_LEN..][..4].copy_from_slice(&self.output_len.to_be_bytes());
        out[layout::STEP..][..8].copy_from_slice(&self.step.to_be_bytes());
        let (status_byte, code) = self.status.to_parts();
        out[layout::STATUS] = status_byte;
        out[layout::EXIT_CODE..][..4].copy_from_slice(&code.to_be_bytes());
        for (i, value) in self.regs.iter().enumerate() {
            out[layout::REGS + 4 * i..][..4].copy_from_slice(&value.to_be_bytes());
        }
        out
    }

    /// Decodes a packed state, refusing encodings the VM never produces.
    pub fn decode(data: &[u8]) -> Result<VmState, StateDecodeError> {
        let data: &[u8; layout::STATE_LEN] = data
            .try_into()
            .map_err(|_| StateDecodeError::Length(data.len()))?;
        let hash_at = |at: usize| -> Hash { data[at..at + 32].try_into().expect("32 bytes") };
        let u32_at = |at: usize| u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        let status_byte = data[layout::STATUS];
        let code = u32_at(layout::EXIT_CODE);
        let status = ExitStatus::from_parts(status_byte, code)
            .ok_or(StateDecodeError::Status(status_byte, code))?;
        let mut regs = [0u32; reg::COUNT];
        for (i, value) in regs.iter_mut().enumerate() {
            *value = u32_at(layout::REGS + 4 * i);
        }
        if regs[0] != 0 {
            return Err(StateDecodeError::NonZeroX0);
        }
        let output_len = u32_at(layout::OUTPUT_LEN);
        let output_tail = hash_at(layout::OUTPUT_TAIL);
        let pending = output_len as usize % output_tail.len();
        if output_tail[pending..].iter().any(|&b| b != 0) {
            return Err(StateDecodeError::OutputTailPadding);
        }
        Ok(VmState {
            memory_root: hash_at(layout::MEMORY_ROOT),
            input_link: hash_at(layout::INPUT_LINK),
            output_acc: hash_at(layout::OUTPUT_ACC),
            output_tail,
            pc: u32_at(layout::PC),
            input_cursor: u32_at(layout::INPUT_CURSOR),
            output_len,
            step: u64::from_be_bytes(data[layout::STEP..][..8].try_into().expect("8 bytes")),
            status,
            regs,
        })
    }

    /// The state hash: SHA-256 of the packed encoding.
    pub fn hash(&self) -> Hash {
        sha256(&self.encode())
    }

    /// The digest of everything this state has written to the public output
    /// (see [`output::digest`](crate::output::digest)).
    pub fn output_digest(&self) -> Hash {
        crate::output::finish(&self.output_acc, &self.output_tail, self.output_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VmState {
        let mut state = VmState::initial([1; 32], 0x1_0000, [2; 32]);
        state.output_acc = [3; 32];
        state.output_tail = [0; 32];
        state.output_tail[..7].copy_from_slice(b"pending");
        state.input_cursor = 0x0102_0304;
        state.output_len = 32 + 7;
        state.step = 0x0a0b_0c0d_0e0f_1011;
        state.status = ExitStatus::Trapped(TrapCause::MisalignedStore);
        for (i, r) in state.regs.iter_mut().enumerate().skip(1) {
            *r = 0x1111_1111u32.wrapping_mul(i as u32);
        }
        state
    }

    #[test]
    fn encode_decode_round_trip() {
        let state = sample();
        let packed = state.encode();
        assert_eq!(packed.len(), layout::STATE_LEN);
        assert_eq!(layout::STATE_LEN, 281);
        assert_eq!(VmState::decode(&packed), Ok(state));
    }

    #[test]
    fn fields_sit_at_documented_offsets() {
        let state = sample();
        let packed = state.encode();
        assert_eq!(
            &packed[layout::PC..layout::PC + 4],
            &0x1_0000u32.to_be_bytes()
        );
        assert_eq!(
            &packed[layout::STEP..layout::STEP + 8],
            &state.step.to_be_bytes()
        );
        assert_eq!(packed[layout::STATUS], status::TRAPPED);
        assert_eq!(
            &packed[layout::EXIT_CODE..layout::EXIT_CODE + 4],
            &5u32.to_be_bytes()
        );
        assert_eq!(
            &packed[layout::REGS + 4 * 31..layout::REGS + 4 * 32],
            &state.regs[31].to_be_bytes()
        );
    }

    #[test]
    fn decode_refuses_what_the_vm_never_produces() {
        let packed = sample().encode();
        assert_eq!(
            VmState::decode(&packed[..280]),
            Err(StateDecodeError::Length(280))
        );
        let mut bad = packed;
        bad[layout::STATUS] = 3;
        assert!(matches!(
            VmState::decode(&bad),
            Err(StateDecodeError::Status(3, _))
        ));
        let mut bad = packed;
        bad[layout::EXIT_CODE + 3] = 9;
        assert!(matches!(
            VmState::decode(&bad),
            Err(StateDecodeError::Status(2, 9))
        ));
        let mut bad = packed;
        bad[layout::REGS + 3] = 1;
        assert_eq!(VmState::decode(&bad), Err(StateDecodeError::NonZeroX0));
        let mut bad = packed;
        bad[layout::OUTPUT_TAIL + 7] = 1;
        assert_eq!(
            VmState::decode(&bad),
            Err(StateDecodeError::OutputTailPadding)
        );
    }

    #[test]
    fn any_field_change_changes_the_hash() {
        let base = sample();
        let mut changed = base.clone();
        changed.regs[5] ^= 1;
        assert_ne!(base.hash(), changed.hash());
        let mut changed = base.clone();
        changed.step += 1;
        assert_ne!(base.hash(), changed.hash());
    }
}
