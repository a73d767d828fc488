//! The machine: loading, the fast run loop, state hashing.

use std::sync::Arc;

use opml_elf::Program;
use opml_isa::{Flow, decode, execute};
use opml_platform::{memory::LEAF_SIZE, reg};
use opml_state::{ExitStatus, Hash, VmState};

use crate::LoadError;
use crate::core::Core;
use crate::fast::{Code, Fast};
use crate::io::{Input, LogSink, Output};
use crate::memory::Memory;
use crate::preimage::{HostError, PreimageSource, Preimages};

/// The decoded-instruction cache covers addresses from zero to the end of the executable
/// segments that start below this bound, but at most this many bytes (16 MiB of code, 32 MiB of
/// cache). Instructions past it are fetched and decoded on every execution.
const MAX_CODE_BYTES: u64 = 16 << 20;

/// Dispatches per iteration of the fast loop. Chosen by measurement, not by a model (2-core AMD
/// EPYC, best of 3, MIPS on the SHA-256 `hashbench` guest / on the `mips` example's built-in
/// 16-instruction loop): 1 copy 250 / -, 2: 385 / -, 3: 390 / 386, 4: 350 / 448, 5: 390 / -,
/// 6: 393 / 424, 8: 290 / -. Presumably copy counts that line up with a guest loop's length
/// give each copy's indirect jump a short, regular target sequence that the host's predictor
/// learns, and others a long one; 6 is the best compromise found.
const UNROLL: u64 = 6;

/// A RISC-V machine running one guest program on one input.
///
/// Cloning is a cheap snapshot: memory pages are shared copy-on-write, and so is the preimage
/// source. A clone has no debug log sink (see [`set_log`](Machine::set_log)).
///
/// A machine whose guest reads a preimage its source does not hold stops *before* that step,
/// still running, and keeps the reason ([`host_error`](Machine::host_error)) until it is given
/// a new source.
#[derive(Clone)]
pub struct Machine {
    pub(crate) core: Core,
    code: Arc<Code>,
    pc: u32,
    step: u64,
    status: ExitStatus,
    blocked: Option<HostError>,
    /// Entries of a block start before fast mode compiles it; `None`: never.
    #[cfg(jit)]
    jit: Option<u32>,
}

/// What fast mode's block compiler did (see [`Machine::jit_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitStats {
    /// Regions (blocks and the blocks they reach) compiled.
    pub blocks: u64,
    /// Regions a machine took from those compiled for another machine on the same code.
    pub reused: u64,
    /// Time spent compiling.
    pub time: std::time::Duration,
}

impl Machine {
    /// Loads the ELF executable `elf` with `input` as its input stream.
    pub fn load(elf: &[u8], input: Vec<u8>) -> Result<Machine, LoadError> {
        Machine::from_program(&Program::from_elf(elf)?, input)
    }

    /// Loads a program image with `input` as its input stream.
    ///
    /// Segments are written in order (a later one wins where they overlap); bytes past a
    /// segment's data up to its memory size are zero.
    pub fn from_program(program: &Program, input: Vec<u8>) -> Result<Machine, LoadError> {
        if u32::try_from(input.len()).is_err() {
            return Err(LoadError::InputTooLarge(input.len()));
        }
        let mut mem = Memory::new();
        let mut code_end = 0u64;
        for seg in &program.segments {
            let end = u64::from(seg.vaddr) + u64::from(seg.mem_size);
            if seg.data.len() as u64 > u64::from(seg.mem_size) || end > 1 << 32 {
                return Err(LoadError::BadSegment {
                    vaddr: seg.vaddr,
                    data_len: seg.data.len(),
                    mem_size: seg.mem_size,
                });
            }
            mem.write_bytes(seg.vaddr, &seg.data);
            if seg.executable && u64::from(seg.vaddr) < MAX_CODE_BYTES {
                code_end = code_end.max(end);
            }
        }
        let words = code_end.min(MAX_CODE_BYTES).div_ceil(4) as u32;
        let code = Code {
            insns: (0..words).map(|k| decode(mem.load(4 * k, 4))).collect(),
            #[cfg(jit)]
            blocks: crate::jit::Blocks::new(words as usize),
        };
        Ok(Machine {
            core: Core {
                regs: [0; 32],
                mem,
                input: Input::new(input),
                cursor: 0,
                output: Output::default(),
                log: Default::default(),
                preimages: Arc::new(Preimages::new()),
            },
            code: Arc::new(code),
            pc: program.entry,
            step: 0,
            status: ExitStatus::Running,
            blocked: None,
            #[cfg(jit)]
            jit: Some(crate::jit::DEFAULT_THRESHOLD),
        })
    }

    /// Serves the guest's `preimage` syscalls from `source` (the default is an empty map), and
    /// clears a previous [`host_error`](Self::host_error) so that a blocked machine can go on.
    /// Snapshots taken from now on share `source`.
    pub fn set_preimages(&mut self, source: Arc<dyn PreimageSource>) {
        self.core.preimages = source;
        self.blocked = None;
    }

    /// Why the machine stopped without halting, if it did: the next step reads a preimage the
    /// machine's source does not hold. [`run`](Self::run) and
    /// [`prove_step`](Self::prove_step) take no step while this is set.
    pub fn host_error(&self) -> Option<HostError> {
        self.blocked
    }

    /// Records that the next step is blocked, a `preimage` call whose key (at `a0`) the source
    /// lacks; returns the error.
    pub(crate) fn block(&mut self) -> HostError {
        let buf = self.core.regs[reg::A0];
        let mut key = [0u8; 32];
        key.copy_from_slice(&self.core.mem.read_bytes(buf, LEAF_SIZE as usize));
        let error = HostError::MissingPreimage {
            key,
            step: self.step,
        };
        self.blocked = Some(error);
        error
    }

    /// Sets when fast mode compiles a basic block (and the region of blocks it reaches) to
    /// host code: after `Some(n)` entries of its start (`Some(0)`: on the first), or never
    /// (`None`: the interpreter runs everything). Below 100 entries the machine compiles at
    /// once; from 100 on (the default is 5000) a compiler thread does, while the machine goes
    /// on interpreting. Clones inherit the setting. Without the `jit` feature (or on a host
    /// other than x86-64 and AArch64) nothing is ever compiled and this does nothing. Results
    /// do not depend on it.
    pub fn set_jit(&mut self, threshold: Option<u32>) {
        #[cfg(jit)]
        {
            self.jit = threshold;
        }
        #[cfg(not(jit))]
        let _ = threshold;
    }

    /// Blocks fast mode compiled so far in this process (for every machine: machines running
    /// the same code share its compiled blocks) and the time it took.
    pub fn jit_stats() -> JitStats {
        #[cfg(jit)]
        let (blocks, reused, time) = crate::jit::stats();
        #[cfg(not(jit))]
        let (blocks, reused, time) = (0, 0, std::time::Duration::ZERO);
        JitStats {
            blocks,
            reused,
            time,
        }
    }

    /// Sends the bytes the guest writes to the debug log (fd 2) to `sink`; `None` drops them
    /// (the default). Clones of this machine start without a sink.
    pub fn set_log(&mut self, sink: Option<LogSink>) {
        self.core.log.set(sink);
    }

    /// Runs until the machine halts, `max_steps` more steps have executed, or the next step
    /// needs a preimage the machine does not have (then it returns `Running` and
    /// [`host_error`](Self::host_error) says why), without hashing.
    pub fn run(&mut self, max_steps: u64) -> ExitStatus {
        let mut left = max_steps;
        while left > 0 && self.status == ExitStatus::Running && self.blocked.is_none() {
            left -= self.run_fast(left);
        }
        self.status
    }

    /// Like [`run`](Self::run), but a run stopped by a missing preimage is an error.
    pub fn try_run(&mut self, max_steps: u64) -> Result<ExitStatus, HostError> {
        let status = self.run(max_steps);
        self.blocked.map_or(Ok(status), Err)
    }

    /// Like [`run`](Self::run), and calls `f(step, state_hash)` whenever the step counter
    /// reaches a multiple of `every` (`0`: never), and once more for the state where the run
    /// stops (halted, out of steps or blocked) if that was not reported already.
    pub fn run_with_checkpoints(
        &mut self,
        max_steps: u64,
        every: u64,
        mut f: impl FnMut(u64, Hash),
    ) -> ExitStatus {
        let target = self.step.saturating_add(max_steps);
        let mut reported = None;
        while self.step < target && self.status == ExitStatus::Running && self.blocked.is_none() {
            let next = match every {
                0 => target,
                _ => (self.step / every + 1).saturating_mul(every).min(target),
            };
            self.run(next - self.step);
            if every != 0 && self.step.is_multiple_of(every) {
                f(self.step, self.state_hash());
                reported = Some(self.step);
            }
        }
        if reported != Some(self.step) {
            f(self.step, self.state_hash());
        }
        self.status
    }

    /// Executes at most `budget` (at least 1) steps of a running, unblocked machine in the
    /// fast loop; returns how many it executed (0 only if the first one is blocked).
    fn run_fast(&mut self, budget: u64) -> u64 {
        if !self.pc.is_multiple_of(4) {
            // Only a program image can start here; `step` traps it.
            let flow = opml_isa::step(&mut self.core, self.pc);
            self.apply(flow);
            return 1;
        }
        #[cfg(jit)]
        if let Some(threshold) = self.jit {
            return self.run_blocks(budget, threshold);
        }
        let code = Arc::make_mut(&mut self.code);
        let mut ctx = Fast::new(&mut self.core, code);
        let mut pc = self.pc;
        let mut left = budget;
        let mut status = ExitStatus::Running;
        let mut blocked = false;
        // One dispatch: fetch the cached instruction and execute it. This is copy `$k` of a
        // round: on a halt, `$k` steps of the round are done (this one counts); on a blocked
        // step, `$k - 1` (this one does not). Either stops the loop.
        macro_rules! dispatch {
            ($k:expr) => {
                let insn = ctx.instruction(pc);
                match execute(&mut ctx, pc, insn) {
                    Flow::Next(next) => pc = next,
                    Flow::Halt(halt) => {
                        status = halt;
                        left -= $k;
                        break;
                    }
                    Flow::Blocked => {
                        blocked = true;
                        left -= $k - 1;
                        break;
                    }
                }
            };
        }
        // Unrolled: each copy has its own indirect jump, which the branch predictor tells apart,
        // and the budget is counted once per round.
        while left >= UNROLL {
            dispatch!(1);
            dispatch!(2);
            dispatch!(3);
            dispatch!(4);
            dispatch!(5);
            dispatch!(6);
            left -= UNROLL;
        }
        if status == ExitStatus::Running && !blocked {
            while left > 0 {
                dispatch!(1);
                left -= 1;
            }
        }
        ctx.finish();
        self.settle(budget - left, pc, status, blocked)
    }

    /// Fast mode with the block compiler: compiled blocks where they fit the budget, else the
    /// interpreter up to where a compiled block would end. Same contract as `run_fast`; the pc
    /// is 4-aligned.
    #[cfg(jit)]
    fn run_blocks(&mut self, budget: u64, threshold: u32) -> u64 {
        let code = Arc::make_mut(&mut self.code);
        let mut ctx = Fast::new(&mut self.core, code);
        let mut pc = self.pc;
        let mut left = budget;
        let mut status = ExitStatus::Running;
        let mut blocked = false;
        'run: while left > 0 {
            if let Some(block) = ctx.block(pc, threshold) {
                let (done, next) = ctx.run_block(block, left);
                left -= done;
                pc = next;
                if done > 0 {
                    continue;
                }
                // The chain stopped before its first instruction (the budget does not hold the
                // block, or the instruction traps), which the interpreter now takes.
            }
            let from = pc;
            loop {
                let insn = ctx.instruction(pc);
                match execute(&mut ctx, pc, insn) {
                    Flow::Next(next) => pc = next,
                    Flow::Halt(halt) => {
                        status = halt;
                        left -= 1;
                        break 'run;
                    }
                    Flow::Blocked => {
                        blocked = true;
                        break 'run;
                    }
                }
                left -= 1;
                if left == 0 || crate::jit::interpreted_block_ends(from, pc, insn) {
                    break;
                }
            }
        }
        ctx.finish();
        self.settle(budget - left, pc, status, blocked)
    }

    /// Records the end of a fast run of `done` steps; returns `done`.
    fn settle(&mut self, done: u64, pc: u32, status: ExitStatus, blocked: bool) -> u64 {
        self.pc = pc;
        self.step += done;
        self.status = status;
        if blocked {
            self.block();
        }
        done
    }

    /// Applies the outcome of one step that was taken (not [`Flow::Blocked`]).
    pub(crate) fn apply(&mut self, flow: Flow) {
        match flow {
            Flow::Next(pc) => self.pc = pc,
            Flow::Halt(status) => self.status = status,
            Flow::Blocked => return,
        }
        self.step += 1;
    }

    /// Re-decodes cached instructions overlapping the `len` bytes at `addr`, just written by a
    /// step outside the fast loop.
    pub(crate) fn refresh_code(&mut self, addr: u32, len: u32) {
        if self.code.covers(addr, len) {
            Arc::make_mut(&mut self.code)
                .view()
                .refresh(&self.core.mem, addr, len);
        }
    }

    /// The packed state (hashing the memory written since the last call).
    pub fn state(&mut self) -> VmState {
        let (output_acc, output_tail) = self.core.output.commit();
        VmState {
            memory_root: self.core.mem.root(),
            input_link: self.core.input.link(self.core.cursor),
            output_acc,
            output_tail,
            pc: self.pc,
            input_cursor: self.core.cursor,
            output_len: self.core.output.len(),
            step: self.step,
            status: self.status,
            regs: self.core.regs,
        }
    }

    /// The state hash, `sha256` of the packed [`state`](Self::state).
    pub fn state_hash(&mut self) -> Hash {
        self.state().hash()
    }

    /// Whether the machine runs, and how it halted.
    pub fn status(&self) -> ExitStatus {
        self.status
    }

    /// Steps executed so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The program counter.
    pub fn pc(&self) -> u32 {
        self.pc
    }

    /// The integer registers, `x0` first.
    pub fn regs(&self) -> &[u32; 32] {
        &self.core.regs
    }

    /// The public output written so far.
    pub fn output(&self) -> &[u8] {
        self.core.output.bytes()
    }

    /// The whole input stream.
    pub fn input(&self) -> &[u8] {
        self.core.input.bytes()
    }

    /// Bytes of input consumed so far.
    pub fn input_cursor(&self) -> u32 {
        self.core.cursor
    }

    /// `len` bytes of memory from `addr` on (wrapping around the top of the address space).
    pub fn read_memory(&self, addr: u32, len: usize) -> Vec<u8> {
        self.core.mem.read_bytes(addr, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm;

    #[test]
    fn incremental_memory_root_matches_a_scratch_rebuild() {
        let mut m = Machine::from_program(&asm::cpu_loop(2000), Vec::new()).unwrap();
        assert_eq!(m.core.mem.root(), m.core.mem.root_from_scratch());
        for budget in [1, 10, 100, 1000, 10_000, 100_000] {
            m.run(budget);
            let mut snapshot = m.clone();
            assert_eq!(m.core.mem.root(), m.core.mem.root_from_scratch());
            snapshot.run(77);
            assert_eq!(
                snapshot.core.mem.root(),
                snapshot.core.mem.root_from_scratch()
            );
        }
        assert!(m.status().is_halted());
    }
}
