//! The narrow interface between instruction semantics and a machine.

use opml_state::ExitStatus;

/// Width of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// One byte.
    Byte = 1,
    /// Two bytes, 2-aligned.
    Half = 2,
    /// Four bytes, 4-aligned.
    Word = 4,
}

/// What happens after an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Continue at this pc.
    Next(u32),
    /// The machine halts (exit or trap); pc stays at the instruction that halted it.
    Halt(ExitStatus),
    /// The machine cannot take this step: it lacks the preimage a `preimage` syscall asks for
    /// (see [`Context::preimage`]). Nothing changed; the step does not count. A verifier never
    /// returns it (the proof carries the preimage).
    Blocked,
}

/// Everything an instruction may touch. `execute` calls these only with valid arguments:
///
/// - `set_reg` is never called for `x0`, and `reg(0)` must return 0;
/// - `load`/`store` addresses are aligned to their width, so an access never crosses a word,
///   and therefore never a 32-byte memory leaf;
/// - `fetch` is called with a 4-aligned pc;
/// - `read_input(buf, len)` has `1 <= len <= input_available()` and `buf .. buf + len` inside one
///   32-byte leaf; `write_output(buf, len)` has `1 <= len <= output_room()` and the same leaf
///   bound; `write_log` has the same leaf bound;
/// - `preimage(buf, half)` has `buf` 32-aligned and `half <= 1`.
///
/// A machine that proves steps records or checks the leaves and input chunks these calls touch,
/// in the order they are first touched: that order is the order of the step proof.
pub trait Context {
    /// Integer register `index` (0..32).
    fn reg(&self, index: usize) -> u32;
    /// Sets integer register `index` (1..32).
    fn set_reg(&mut self, index: usize, value: u32);
    /// The instruction word at `pc`.
    fn fetch(&mut self, pc: u32) -> u32;
    /// Loads `width` bytes at `addr`, zero-extended.
    fn load(&mut self, addr: u32, width: Width) -> u32;
    /// Stores the low `width` bytes of `value` at `addr`.
    fn store(&mut self, addr: u32, width: Width, value: u32);
    /// Unread input bytes in the chunk holding the input cursor (0 at the end of the input).
    fn input_available(&mut self) -> u32;
    /// Copies the next `len` input bytes to memory at `buf` and advances the cursor.
    fn read_input(&mut self, buf: u32, len: u32);
    /// Free bytes in the pending output chunk (`32 - output_len % 32`).
    fn output_room(&self) -> u32;
    /// Appends the `len` bytes at `buf` to the public output.
    fn write_output(&mut self, buf: u32, len: u32);
    /// Shows the `len` bytes at `buf` on the debug log. Not part of the state.
    fn write_log(&mut self, buf: u32, len: u32);
    /// The data oracle: replaces the 32-byte leaf at `buf`, which holds a key `k`, with half
    /// `half` of the 64-byte preimage `p` with `sha256(p) == k`. Returns `false`, having
    /// changed nothing, if the machine does not know the preimage (the step is then
    /// [`Flow::Blocked`]).
    fn preimage(&mut self, buf: u32, half: u32) -> bool;
}
