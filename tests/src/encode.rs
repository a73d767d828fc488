//! RV32IM instructions as the random program generator builds them, encoded through
//! [`opml_isa::Instruction::encode`] and printed in GNU assembler syntax for listings.
//!
//! [`Insn`] stays separate from [`Instruction`] for two reasons: a `fence` here carries its
//! predecessor and successor sets (the generator draws them at random; `Instruction::Fence`
//! has none), and its `Display` is what `riscv64-unknown-elf-as` accepts (`tests/encoder.rs`
//! checks the words against it): branch and jump targets as `.+offset`, `lui`/`auipc` with the
//! 20-bit immediate and `x` register names, where `Instruction`'s disassembly writes a bare
//! `+16`, which the assembler would read as an absolute address.
//!
//! Registers are numbers `0..32`. Branch and jump offsets are relative to the instruction and
//! must be even and in range; immediates must fit their field. Out-of-range operands are a bug
//! in the caller and panic when encoding.

use std::fmt;

use opml_isa::Instruction;

/// Register-register operations (`OP` opcode), the M extension included.
#[allow(missing_docs)] // The variants are the mnemonics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
}

impl AluOp {
    /// The RV32I operations.
    pub const BASE: [AluOp; 10] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Sll,
        AluOp::Slt,
        AluOp::Sltu,
        AluOp::Xor,
        AluOp::Srl,
        AluOp::Sra,
        AluOp::Or,
        AluOp::And,
    ];
    /// The M extension.
    pub const MULDIV: [AluOp; 8] = [
        AluOp::Mul,
        AluOp::Mulh,
        AluOp::Mulhsu,
        AluOp::Mulhu,
        AluOp::Div,
        AluOp::Divu,
        AluOp::Rem,
        AluOp::Remu,
    ];

    /// The mnemonic.
    fn mnemonic(self) -> &'static str {
        match self {
            AluOp::Add => "add",
            AluOp::Sub => "sub",
            AluOp::Sll => "sll",
            AluOp::Slt => "slt",
            AluOp::Sltu => "sltu",
            AluOp::Xor => "xor",
            AluOp::Srl => "srl",
            AluOp::Sra => "sra",
            AluOp::Or => "or",
            AluOp::And => "and",
            AluOp::Mul => "mul",
            AluOp::Mulh => "mulh",
            AluOp::Mulhsu => "mulhsu",
            AluOp::Mulhu => "mulhu",
            AluOp::Div => "div",
            AluOp::Divu => "divu",
            AluOp::Rem => "rem",
            AluOp::Remu => "remu",
        }
    }
}

/// Register-immediate operations (`OP-IMM` opcode). Shifts take a 5-bit amount as immediate.
#[allow(missing_docs)] // The variants are the mnemonics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluImmOp {
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
}

impl AluImmOp {
    /// Every operation.
    pub const ALL: [AluImmOp; 9] = [
        AluImmOp::Addi,
        AluImmOp::Slti,
        AluImmOp::Sltiu,
        AluImmOp::Xori,
        AluImmOp::Ori,
        AluImmOp::Andi,
        AluImmOp::Slli,
        AluImmOp::Srli,
        AluImmOp::Srai,
    ];

    /// Whether the immediate is a shift amount.
    pub fn is_shift(self) -> bool {
        matches!(self, AluImmOp::Slli | AluImmOp::Srli | AluImmOp::Srai)
    }

    /// The mnemonic.
    fn mnemonic(self) -> &'static str {
        match self {
            AluImmOp::Addi => "addi",
            AluImmOp::Slti => "slti",
            AluImmOp::Sltiu => "sltiu",
            AluImmOp::Xori => "xori",
            AluImmOp::Ori => "ori",
            AluImmOp::Andi => "andi",
            AluImmOp::Slli => "slli",
            AluImmOp::Srli => "srli",
            AluImmOp::Srai => "srai",
        }
    }
}

/// Conditional branches.
#[allow(missing_docs)] // The variants are the mnemonics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchOp {
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
}

impl BranchOp {
    /// Every branch.
    pub const ALL: [BranchOp; 6] = [
        BranchOp::Beq,
        BranchOp::Bne,
        BranchOp::Blt,
        BranchOp::Bge,
        BranchOp::Bltu,
        BranchOp::Bgeu,
    ];

    /// The mnemonic.
    fn mnemonic(self) -> &'static str {
        match self {
            BranchOp::Beq => "beq",
            BranchOp::Bne => "bne",
            BranchOp::Blt => "blt",
            BranchOp::Bge => "bge",
            BranchOp::Bltu => "bltu",
            BranchOp::Bgeu => "bgeu",
        }
    }
}

/// Memory access widths and signedness: loads use all five, stores the first three.
#[allow(missing_docs)] // The variants are the mnemonic suffixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    B,
    H,
    W,
    Bu,
    Hu,
}

impl Width {
    /// Every load width.
    pub const LOADS: [Width; 5] = [Width::B, Width::H, Width::W, Width::Bu, Width::Hu];
    /// Every store width.
    pub const STORES: [Width; 3] = [Width::B, Width::H, Width::W];

    /// Bytes accessed.
    pub fn bytes(self) -> u32 {
        match self {
            Width::B | Width::Bu => 1,
            Width::H | Width::Hu => 2,
            Width::W => 4,
        }
    }

    /// The mnemonic suffix.
    fn suffix(self) -> &'static str {
        match self {
            Width::B => "b",
            Width::H => "h",
            Width::W => "w",
            Width::Bu => "bu",
            Width::Hu => "hu",
        }
    }
}

/// One RV32IM instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// `op rd, rs1, rs2`.
    Alu {
        /// Operation.
        op: AluOp,
        /// Destination.
        rd: u32,
        /// First operand.
        rs1: u32,
        /// Second operand.
        rs2: u32,
    },
    /// `op rd, rs1, imm`: a signed 12-bit immediate, or a shift amount `0..32`.
    AluImm {
        /// Operation.
        op: AluImmOp,
        /// Destination.
        rd: u32,
        /// Operand.
        rs1: u32,
        /// Immediate.
        imm: i32,
    },
    /// `lui rd, imm`: `rd = imm << 12`, `imm` in `0..2^20`.
    Lui {
        /// Destination.
        rd: u32,
        /// Upper 20 bits.
        imm: u32,
    },
    /// `auipc rd, imm`: `rd = pc + (imm << 12)`, `imm` in `0..2^20`.
    Auipc {
        /// Destination.
        rd: u32,
        /// Upper 20 bits.
        imm: u32,
    },
    /// `jal rd, offset`.
    Jal {
        /// Link register.
        rd: u32,
        /// Signed 21-bit even offset from this instruction.
        offset: i32,
    },
    /// `jalr rd, offset(rs1)`.
    Jalr {
        /// Link register.
        rd: u32,
        /// Base.
        rs1: u32,
        /// Signed 12-bit offset.
        offset: i32,
    },
    /// `bxx rs1, rs2, offset`.
    Branch {
        /// Condition.
        op: BranchOp,
        /// First operand.
        rs1: u32,
        /// Second operand.
        rs2: u32,
        /// Signed 13-bit even offset from this instruction.
        offset: i32,
    },
    /// `lx rd, offset(rs1)`.
    Load {
        /// Width and extension.
        width: Width,
        /// Destination.
        rd: u32,
        /// Base.
        rs1: u32,
        /// Signed 12-bit offset.
        offset: i32,
    },
    /// `sx rs2, offset(rs1)`: `Bu` and `Hu` are not stores.
    Store {
        /// Width.
        width: Width,
        /// Base.
        rs1: u32,
        /// Value.
        rs2: u32,
        /// Signed 12-bit offset.
        offset: i32,
    },
    /// `fence pred, succ`: the 4-bit `iorw` sets, both non-empty.
    Fence {
        /// Predecessor set.
        pred: u32,
        /// Successor set.
        succ: u32,
    },
    /// `ecall`.
    Ecall,
    /// `ebreak`.
    Ebreak,
}

/// A register number as an [`Instruction`] field.
fn reg(r: u32) -> u8 {
    assert!(r < 32, "register x{r} does not exist");
    r as u8
}

/// A 20-bit upper immediate as the value [`Instruction::Lui`] and [`Instruction::Auipc`] hold.
fn upper(imm: u32) -> u32 {
    assert!(
        imm < 1 << 20,
        "upper immediate {imm:#x} does not fit in 20 bits"
    );
    imm << 12
}

impl Insn {
    /// The `opml-isa` instruction this is. A `fence` becomes [`Instruction::Fence`], which does
    /// not carry the predecessor and successor sets.
    ///
    /// # Panics
    ///
    /// If a register or upper immediate is out of range, a shift amount is not `0..32`, or a
    /// store has an unsigned width.
    pub fn instruction(self) -> Instruction {
        match self {
            Insn::Alu { op, rd, rs1, rs2 } => {
                let (rd, rs1, rs2) = (reg(rd), reg(rs1), reg(rs2));
                match op {
                    AluOp::Add => Instruction::Add { rd, rs1, rs2 },
                    AluOp::Sub => Instruction::Sub { rd, rs1, rs2 },
                    AluOp::Sll => Instruction::Sll { rd, rs1, rs2 },
                    AluOp::Slt => Instruction::Slt { rd, rs1, rs2 },
                    AluOp::Sltu => Instruction::Sltu { rd, rs1, rs2 },
                    AluOp::Xor => Instruction::Xor { rd, rs1, rs2 },
                    AluOp::Srl => Instruction::Srl { rd, rs1, rs2 },
                    AluOp::Sra => Instruction::Sra { rd, rs1, rs2 },
                    AluOp::Or => Instruction::Or { rd, rs1, rs2 },
                    AluOp::And => Instruction::And { rd, rs1, rs2 },
                    AluOp::Mul => Instruction::Mul { rd, rs1, rs2 },
                    AluOp::Mulh => Instruction::Mulh { rd, rs1, rs2 },
                    AluOp::Mulhsu => Instruction::Mulhsu { rd, rs1, rs2 },
                    AluOp::Mulhu => Instruction::Mulhu { rd, rs1, rs2 },
                    AluOp::Div => Instruction::Div { rd, rs1, rs2 },
                    AluOp::Divu => Instruction::Divu { rd, rs1, rs2 },
                    AluOp::Rem => Instruction::Rem { rd, rs1, rs2 },
                    AluOp::Remu => Instruction::Remu { rd, rs1, rs2 },
                }
            }
            Insn::AluImm { op, rd, rs1, imm } => {
                let (rd, rs1) = (reg(rd), reg(rs1));
                let shamt = || {
                    assert!((0..32).contains(&imm), "shift amount {imm} out of range");
                    imm as u8
                };
                match op {
                    AluImmOp::Addi => Instruction::Addi { rd, rs1, imm },
                    AluImmOp::Slti => Instruction::Slti { rd, rs1, imm },
                    AluImmOp::Sltiu => Instruction::Sltiu { rd, rs1, imm },
                    AluImmOp::Xori => Instruction::Xori { rd, rs1, imm },
                    AluImmOp::Ori => Instruction::Ori { rd, rs1, imm },
                    AluImmOp::Andi => Instruction::Andi { rd, rs1, imm },
                    AluImmOp::Slli => Instruction::Slli {
                        rd,
                        rs1,
                        shamt: shamt(),
                    },
                    AluImmOp::Srli => Instruction::Srli {
                        rd,
                        rs1,
                        shamt: shamt(),
                    },
                    AluImmOp::Srai => Instruction::Srai {
                        rd,
                        rs1,
                        shamt: shamt(),
                    },
                }
            }
            Insn::Lui { rd, imm } => Instruction::Lui {
                rd: reg(rd),
                imm: upper(imm),
            },
            Insn::Auipc { rd, imm } => Instruction::Auipc {
                rd: reg(rd),
                imm: upper(imm),
            },
            Insn::Jal { rd, offset } => Instruction::Jal {
                rd: reg(rd),
                offset,
            },
            Insn::Jalr { rd, rs1, offset } => Instruction::Jalr {
                rd: reg(rd),
                rs1: reg(rs1),
                offset,
            },
            Insn::Branch {
                op,
                rs1,
                rs2,
                offset,
            } => {
                let (rs1, rs2) = (reg(rs1), reg(rs2));
                match op {
                    BranchOp::Beq => Instruction::Beq { rs1, rs2, offset },
                    BranchOp::Bne => Instruction::Bne { rs1, rs2, offset },
                    BranchOp::Blt => Instruction::Blt { rs1, rs2, offset },
                    BranchOp::Bge => Instruction::Bge { rs1, rs2, offset },
                    BranchOp::Bltu => Instruction::Bltu { rs1, rs2, offset },
                    BranchOp::Bgeu => Instruction::Bgeu { rs1, rs2, offset },
                }
            }
            Insn::Load {
                width,
                rd,
                rs1,
                offset,
            } => {
                let (rd, rs1) = (reg(rd), reg(rs1));
                match width {
                    Width::B => Instruction::Lb { rd, rs1, offset },
                    Width::H => Instruction::Lh { rd, rs1, offset },
                    Width::W => Instruction::Lw { rd, rs1, offset },
                    Width::Bu => Instruction::Lbu { rd, rs1, offset },
                    Width::Hu => Instruction::Lhu { rd, rs1, offset },
                }
            }
            Insn::Store {
                width,
                rs1,
                rs2,
                offset,
            } => {
                let (rs1, rs2) = (reg(rs1), reg(rs2));
                match width {
                    Width::B => Instruction::Sb { rs1, rs2, offset },
                    Width::H => Instruction::Sh { rs1, rs2, offset },
                    Width::W => Instruction::Sw { rs1, rs2, offset },
                    Width::Bu | Width::Hu => panic!("no unsigned stores"),
                }
            }
            Insn::Fence { .. } => Instruction::Fence,
            Insn::Ecall => Instruction::Ecall,
            Insn::Ebreak => Instruction::Ebreak,
        }
    }

    /// The instruction word: [`Instruction::encode`] of [`Insn::instruction`], except that a
    /// `fence` keeps its predecessor and successor sets (`Instruction::Fence` encodes only
    /// `fence iorw, iorw`).
    ///
    /// # Panics
    ///
    /// If a register, immediate or offset is out of range, or a branch or jump offset is odd.
    pub fn encode(self) -> u32 {
        match self {
            Insn::Fence { pred, succ } => {
                assert!((1..16).contains(&pred) && (1..16).contains(&succ));
                pred << 24 | succ << 20 | 0x0f
            }
            insn => insn.instruction().encode(),
        }
    }
}

/// `iorw` letters of a fence set.
fn fence_set(set: u32) -> String {
    "iorw"
        .chars()
        .enumerate()
        .filter(|&(bit, _)| set & (8 >> bit) != 0)
        .map(|(_, letter)| letter)
        .collect()
}

/// GNU assembler syntax; branch and jump targets are written `.+offset`.
impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Insn::Alu { op, rd, rs1, rs2 } => write!(f, "{} x{rd}, x{rs1}, x{rs2}", op.mnemonic()),
            Insn::AluImm { op, rd, rs1, imm } => {
                write!(f, "{} x{rd}, x{rs1}, {imm}", op.mnemonic())
            }
            Insn::Lui { rd, imm } => write!(f, "lui x{rd}, {imm:#x}"),
            Insn::Auipc { rd, imm } => write!(f, "auipc x{rd}, {imm:#x}"),
            Insn::Jal { rd, offset } => write!(f, "jal x{rd}, .{offset:+}"),
            Insn::Jalr { rd, rs1, offset } => write!(f, "jalr x{rd}, {offset}(x{rs1})"),
            Insn::Branch {
                op,
                rs1,
                rs2,
                offset,
            } => write!(f, "{} x{rs1}, x{rs2}, .{offset:+}", op.mnemonic()),
            Insn::Load {
                width,
                rd,
                rs1,
                offset,
            } => write!(f, "l{} x{rd}, {offset}(x{rs1})", width.suffix()),
            Insn::Store {
                width,
                rs1,
                rs2,
                offset,
            } => write!(f, "s{} x{rs2}, {offset}(x{rs1})", width.suffix()),
            Insn::Fence { pred, succ } => {
                write!(f, "fence {}, {}", fence_set(pred), fence_set(succ))
            }
            Insn::Ecall => f.write_str("ecall"),
            Insn::Ebreak => f.write_str("ebreak"),
        }
    }
}

/// `rd = value`: `lui` then `addi`, always two instructions.
pub fn li(rd: u32, value: u32) -> [Insn; 2] {
    let low = ((value & 0xfff) as i32) << 20 >> 20;
    let high = value.wrapping_sub(low as u32) >> 12;
    [
        Insn::Lui { rd, imm: high },
        Insn::AluImm {
            op: AluImmOp::Addi,
            rd,
            rs1: rd,
            imm: low,
        },
    ]
}
