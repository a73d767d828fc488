//! Random RV32IM programs that run the same on any correct RV32IM Linux-syscall machine.
//!
//! A program ([`RandomProgram::new`]) is a function of its seed and length alone. It
//!
//! 1. sets every register `x1..x31` (`sp` and `gp` included: `qemu-riscv32` starts with `sp` at
//!    its stack, the opml VM with every register zero) to a random value, biased towards edge
//!    values (`0`, `-1`, `INT_MIN`, ...);
//! 2. runs the requested number of random operations, drawn from all of RV32IM: register and
//!    immediate ALU operations, shifts, `lui`/`auipc`, the M extension (also with `0`, `-1` and
//!    `INT_MIN` operands set on purpose), loads and stores of every width to aligned addresses in
//!    the data segment (the base register set just before), forward branches, `jal` and `jalr`
//!    (with bit 0 of the target set at random) over a few operations, and `fence`. Random
//!    operations never write `sp` or `gp`, and never loop;
//! 3. stores `x1..x31` at [`DATA_BASE`] (`x3` = `gp` holds [`DATA_BASE`] by then), writes those
//!    [`OUTPUT_LEN`] bytes to stdout looping on short counts, and exits with the low byte of a
//!    randomly chosen register, or with [`WRITE_FAILED`] if `write` returns zero or an error.
//!
//! Code lives at [`CODE_BASE`]; data at [`DATA_BASE`] ([`DATA_SIZE`] bytes: random file bytes,
//! then zeros). Every access stays inside these two segments, so `qemu-riscv32` runs the
//! programs without faults.

use std::fmt::Write as _;

use opml_elf::{Program, Segment};
use opml_platform::{fd, memory, reg, syscall};

use crate::encode::{AluImmOp, AluOp, BranchOp, Insn, Width, li};
use crate::rng::Rng;

/// Address of the code segment and entry point.
pub const CODE_BASE: u32 = memory::TEXT_START;
/// Address of the data segment.
pub const DATA_BASE: u32 = 0x2_0000;
/// Size of the data segment in memory.
pub const DATA_SIZE: u32 = 0x1000;
/// Bytes of the data segment that come from the file (random); the rest starts zero.
const DATA_FILE_SIZE: usize = 0x800;
/// Bytes a program writes to stdout: registers `x1..x31`, little-endian.
pub const OUTPUT_LEN: usize = 31 * 4;
/// Exit code of a program whose `write` returned zero or an error.
pub const WRITE_FAILED: u32 = 0xee;

/// `t0`, the write loop's count of bytes left.
const T0: u32 = 5;
const GP: u32 = reg::GP as u32;
const A0: u32 = reg::A0 as u32;
const A1: u32 = reg::A1 as u32;
const A2: u32 = reg::A2 as u32;
const A7: u32 = reg::A7 as u32;

/// Register values that exercise edge cases.
const EDGE_VALUES: [u32; 15] = [
    0,
    1,
    2,
    31,
    32,
    0x80,
    0xff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0x8000_0001,
    0xffff_8000,
    0xffff_ff80,
    0xffff_ffff,
];
/// Immediates that exercise edge cases.
const EDGE_IMMEDIATES: [i32; 5] = [-2048, -1, 0, 1, 2047];
/// Dividends and divisors of the M extension's edge cases.
const EDGE_DIVIDENDS: [u32; 5] = [0x8000_0000, 0xffff_ffff, 0, 1, 0x7fff_ffff];
const EDGE_DIVISORS: [u32; 4] = [0, 0xffff_ffff, 1, 0x8000_0000];

/// A generated program: its instructions and the initial contents of its data segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandomProgram {
    /// The instructions, from [`CODE_BASE`] on.
    pub code: Vec<Insn>,
    /// The file bytes of the data segment.
    pub data: Vec<u8>,
}

impl RandomProgram {
    /// The program for `seed` with `ops` random operations (a few hundred is typical; an
    /// operation is one to five instructions, and a branch or jump is one or two more).
    ///
    /// # Panics
    ///
    /// If the code would not fit below [`DATA_BASE`] (16 Ki instructions: several thousand
    /// operations).
    pub fn new(seed: u64, ops: usize) -> RandomProgram {
        let mut generator = Generator {
            rng: Rng::new(seed),
            code: Vec::new(),
        };
        let data = (0..DATA_FILE_SIZE)
            .map(|_| generator.rng.next_u32() as u8)
            .collect();
        generator.prologue();
        for _ in 0..ops {
            generator.operation(true);
        }
        generator.epilogue();
        assert!(
            generator.code.len() * 4 <= (DATA_BASE - CODE_BASE) as usize,
            "{ops} operations do not fit below the data segment"
        );
        RandomProgram {
            code: generator.code,
            data,
        }
    }

    /// The program image.
    pub fn program(&self) -> Program {
        let code: Vec<u8> = self
            .code
            .iter()
            .flat_map(|insn| insn.encode().to_le_bytes())
            .collect();
        Program {
            entry: CODE_BASE,
            segments: vec![
                Segment {
                    vaddr: CODE_BASE,
                    mem_size: code.len() as u32,
                    data: code,
                    executable: true,
                },
                Segment {
                    vaddr: DATA_BASE,
                    data: self.data.clone(),
                    mem_size: DATA_SIZE,
                    executable: false,
                },
            ],
        }
    }

    /// The program as a static ELF32 executable.
    pub fn elf(&self) -> Vec<u8> {
        self.program().to_elf()
    }

    /// An assembler listing of the code, one instruction a line with its address.
    pub fn listing(&self) -> String {
        let mut listing = String::new();
        for (index, insn) in self.code.iter().enumerate() {
            let address = CODE_BASE as usize + 4 * index;
            // Writing to a String cannot fail.
            let _ = writeln!(listing, "{address:08x}:  {insn}");
        }
        listing
    }
}

struct Generator {
    rng: Rng,
    code: Vec<Insn>,
}

impl Generator {
    fn emit(&mut self, insns: impl IntoIterator<Item = Insn>) {
        self.code.extend(insns);
    }

    /// A value biased towards edge cases.
    fn value(&mut self) -> u32 {
        match self.rng.below(4) {
            0 => self.rng.pick(&EDGE_VALUES),
            1 => self.rng.range(-2048, 2047) as u32,
            _ => self.rng.next_u32(),
        }
    }

    /// A 12-bit immediate biased towards edge cases.
    fn imm12(&mut self) -> i32 {
        if self.rng.one_in(4) {
            self.rng.pick(&EDGE_IMMEDIATES)
        } else {
            self.rng.range(-2048, 2047)
        }
    }

    /// Any register.
    fn source(&mut self) -> u32 {
        self.rng.below(32)
    }

    /// A register random operations may write: not `x0`, `sp` or `gp`.
    fn scratch(&mut self) -> u32 {
        match 1 + self.rng.below(29) {
            1 => 1,
            r => r + 2,
        }
    }

    /// A destination: a scratch register, sometimes `x0`.
    fn dest(&mut self) -> u32 {
        if self.rng.one_in(16) {
            0
        } else {
            self.scratch()
        }
    }

    fn prologue(&mut self) {
        for rd in 1..32 {
            let value = self.value();
            self.emit(li(rd, value));
        }
    }

    /// One random operation; `control` allows branches and jumps (which skip a few operations
    /// without control flow of their own).
    fn operation(&mut self, control: bool) {
        let kinds = if control { 100 } else { 83 };
        match self.rng.below(kinds) {
            0..30 => self.alu(),
            30..50 => self.alu_imm(),
            50..55 => self.upper(),
            55..63 => self.muldiv_edge(),
            63..73 => self.load(),
            73..82 => self.store(),
            82..83 => self.fence(),
            83..91 => self.branch(),
            91..95 => self.jal(),
            _ => self.jalr(),
        }
    }

    fn alu(&mut self) {
        let op = if self.rng.one_in(3) {
            self.rng.pick(&AluOp::MULDIV)
        } else {
            self.rng.pick(&AluOp::BASE)
        };
        let (rd, rs1, rs2) = (self.dest(), self.source(), self.source());
        self.emit([Insn::Alu { op, rd, rs1, rs2 }]);
    }

    fn alu_imm(&mut self) {
        let op = self.rng.pick(&AluImmOp::ALL);
        let imm = if op.is_shift() {
            self.rng.range(0, 31)
        } else {
            self.imm12()
        };
        let (rd, rs1) = (self.dest(), self.source());
        self.emit([Insn::AluImm { op, rd, rs1, imm }]);
    }

    fn upper(&mut self) {
        let (rd, imm) = (self.dest(), self.rng.below(1 << 20));
        if self.rng.one_in(2) {
            self.emit([Insn::Lui { rd, imm }]);
        } else {
            self.emit([Insn::Auipc { rd, imm }]);
        }
    }

    /// An M-extension operation on a dividend and divisor set to edge values.
    fn muldiv_edge(&mut self) {
        let op = self.rng.pick(&AluOp::MULDIV);
        let (rs1, rs2) = (self.scratch(), self.scratch());
        if !self.rng.one_in(3) {
            let dividend = self.rng.pick(&EDGE_DIVIDENDS);
            self.emit(li(rs1, dividend));
        }
        let divisor = self.rng.pick(&EDGE_DIVISORS);
        self.emit(li(rs2, divisor));
        let rd = self.dest();
        self.emit([Insn::Alu { op, rd, rs1, rs2 }]);
    }

    /// Sets a scratch register so that `offset(base)` is an aligned address of the data
    /// segment, and returns `(base, offset)`.
    fn data_address(&mut self, width: Width) -> (u32, i32) {
        let size = width.bytes();
        let address = DATA_BASE + self.rng.below(DATA_SIZE / size) * size;
        let (base, offset) = (self.scratch(), self.imm12());
        self.emit(li(base, address.wrapping_sub(offset as u32)));
        (base, offset)
    }

    fn load(&mut self) {
        let width = self.rng.pick(&Width::LOADS);
        let (rs1, offset) = self.data_address(width);
        let rd = self.dest();
        self.emit([Insn::Load {
            width,
            rd,
            rs1,
            offset,
        }]);
    }

    fn store(&mut self) {
        let width = self.rng.pick(&Width::STORES);
        let (rs1, offset) = self.data_address(width);
        let rs2 = self.source();
        self.emit([Insn::Store {
            width,
            rs1,
            rs2,
            offset,
        }]);
    }

    fn fence(&mut self) {
        let (pred, succ) = (1 + self.rng.below(15), 1 + self.rng.below(15));
        self.emit([Insn::Fence { pred, succ }]);
    }

    /// Emits one to three operations without control flow and returns the byte offset from
    /// instruction `from` to the instruction after them.
    fn skipped(&mut self, from: usize) -> i32 {
        for _ in 0..1 + self.rng.below(3) {
            self.operation(false);
        }
        4 * (self.code.len() - from) as i32
    }

    fn branch(&mut self) {
        let op = self.rng.pick(&BranchOp::ALL);
        let rs1 = self.source();
        // Equal operands make every condition decided: taken or not taken for sure.
        let rs2 = if self.rng.one_in(4) {
            rs1
        } else {
            self.source()
        };
        let at = self.code.len();
        self.emit([Insn::Ebreak]); // Placeholder until the offset is known.
        let offset = self.skipped(at);
        self.code[at] = Insn::Branch {
            op,
            rs1,
            rs2,
            offset,
        };
    }

    fn jal(&mut self) {
        let rd = self.dest();
        let at = self.code.len();
        self.emit([Insn::Ebreak]);
        let offset = self.skipped(at);
        self.code[at] = Insn::Jal { rd, offset };
    }

    /// `auipc base, 0; jalr rd, offset(base)` to the end of the skipped operations; bit 0 of
    /// the offset is set at random, for `jalr` to clear.
    fn jalr(&mut self) {
        let (base, rd) = (self.scratch(), self.dest());
        let at = self.code.len();
        self.emit([Insn::Auipc { rd: base, imm: 0 }, Insn::Ebreak]);
        let offset = self.skipped(at) + self.rng.below(2) as i32;
        self.code[at + 1] = Insn::Jalr {
            rd,
            rs1: base,
            offset,
        };
    }

    fn epilogue(&mut self) {
        // Dump x1..x31 at DATA_BASE: gp is the base, so x3 reads back as DATA_BASE.
        self.emit(li(GP, DATA_BASE));
        for rs2 in 1..32 {
            self.emit([Insn::Store {
                width: Width::W,
                rs1: GP,
                rs2,
                offset: 4 * (rs2 as i32 - 1),
            }]);
        }
        let exit_reg = 1 + self.rng.below(31) as i32;
        let addi = |rd, rs1, imm| Insn::AluImm {
            op: AluImmOp::Addi,
            rd,
            rs1,
            imm,
        };
        let sys = |number: u32| addi(A7, 0, number as i32);
        // write(1, buf, left) until nothing is left, advancing by each return value.
        self.emit([
            addi(A1, GP, 0),
            addi(T0, 0, OUTPUT_LEN as i32),
            // loop:
            addi(A0, 0, fd::STDOUT as i32),
            addi(A2, T0, 0),
            sys(syscall::WRITE),
            Insn::Ecall,
            Insn::Branch {
                op: BranchOp::Bge,
                rs1: 0,
                rs2: A0,
                offset: 24, // to `failed` when a0 <= 0
            },
            Insn::Alu {
                op: AluOp::Add,
                rd: A1,
                rs1: A1,
                rs2: A0,
            },
            Insn::Alu {
                op: AluOp::Sub,
                rd: T0,
                rs1: T0,
                rs2: A0,
            },
            Insn::Branch {
                op: BranchOp::Bne,
                rs1: T0,
                rs2: 0,
                offset: -28, // to `loop`
            },
            Insn::Load {
                width: Width::W,
                rd: A0,
                rs1: GP,
                offset: 4 * (exit_reg - 1),
            },
            Insn::Jal { rd: 0, offset: 8 }, // to `exit`
            // failed:
            addi(A0, 0, WRITE_FAILED as i32),
            // exit:
            sys(syscall::EXIT),
            Insn::Ecall,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic() {
        assert_eq!(RandomProgram::new(7, 300), RandomProgram::new(7, 300));
        assert_ne!(RandomProgram::new(7, 300), RandomProgram::new(8, 300));
    }

    #[test]
    fn never_writes_sp_or_gp_before_the_epilogue() {
        for seed in 0..50 {
            let program = RandomProgram::new(seed, 300);
            // The prologue sets them once each; the epilogue (li, 31 stores, 15 more) sets gp.
            let body = &program.code[2 * 31..program.code.len() - (2 + 31 + 15)];
            for insn in body {
                let rd = match *insn {
                    Insn::Alu { rd, .. }
                    | Insn::AluImm { rd, .. }
                    | Insn::Lui { rd, .. }
                    | Insn::Auipc { rd, .. }
                    | Insn::Jal { rd, .. }
                    | Insn::Jalr { rd, .. }
                    | Insn::Load { rd, .. } => rd,
                    _ => 0,
                };
                assert!(rd != reg::SP as u32 && rd != GP, "seed {seed}: {insn}");
            }
        }
    }

    #[test]
    fn loads_as_an_elf() {
        let program = RandomProgram::new(1, 300);
        assert_eq!(Program::from_elf(&program.elf()), Ok(program.program()));
    }
}
