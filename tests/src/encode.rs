//! A small RV32IM encoder, independent of `opml-isa`, with GNU assembler syntax for listings.
//!
//! Registers are numbers `0..32`. Branch and jump offsets are relative to the instruction and
//! must be even and in range; immediates must fit their field. Out-of-range operands are a bug
//! in the caller and panic when encoding.

use std::fmt;

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

    /// `(funct7, funct3, mnemonic)`.
    fn fields(self) -> (u32, u32, &'static str) {
        match self {
            AluOp::Add => (0x00, 0, "add"),
            AluOp::Sub => (0x20, 0, "sub"),
            AluOp::Sll => (0x00, 1, "sll"),
            AluOp::Slt => (0x00, 2, "slt"),
            AluOp::Sltu => (0x00, 3, "sltu"),
            AluOp::Xor => (0x00, 4, "xor"),
            AluOp::Srl => (0x00, 5, "srl"),
            AluOp::Sra => (0x20, 5, "sra"),
            AluOp::Or => (0x00, 6, "or"),
            AluOp::And => (0x00, 7, "and"),
            AluOp::Mul => (0x01, 0, "mul"),
            AluOp::Mulh => (0x01, 1, "mulh"),
            AluOp::Mulhsu => (0x01, 2, "mulhsu"),
            AluOp::Mulhu => (0x01, 3, "mulhu"),
            AluOp::Div => (0x01, 4, "div"),
            AluOp::Divu => (0x01, 5, "divu"),
            AluOp::Rem => (0x01, 6, "rem"),
            AluOp::Remu => (0x01, 7, "remu"),
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

    /// `(funct3, mnemonic)`.
    fn fields(self) -> (u32, &'static str) {
        match self {
            AluImmOp::Addi => (0, "addi"),
            AluImmOp::Slti => (2, "slti"),
            AluImmOp::Sltiu => (3, "sltiu"),
            AluImmOp::Xori => (4, "xori"),
            AluImmOp::Ori => (6, "ori"),
            AluImmOp::Andi => (7, "andi"),
            AluImmOp::Slli => (1, "slli"),
            AluImmOp::Srli => (5, "srli"),
            AluImmOp::Srai => (5, "srai"),
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

    /// `(funct3, mnemonic)`.
    fn fields(self) -> (u32, &'static str) {
        match self {
            BranchOp::Beq => (0, "beq"),
            BranchOp::Bne => (1, "bne"),
            BranchOp::Blt => (4, "blt"),
            BranchOp::Bge => (5, "bge"),
            BranchOp::Bltu => (6, "bltu"),
            BranchOp::Bgeu => (7, "bgeu"),
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

    /// `(funct3, mnemonic suffix)`.
    fn fields(self) -> (u32, &'static str) {
        match self {
            Width::B => (0, "b"),
            Width::H => (1, "h"),
            Width::W => (2, "w"),
            Width::Bu => (4, "bu"),
            Width::Hu => (5, "hu"),
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

fn reg(r: u32) -> u32 {
    assert!(r < 32, "register x{r} does not exist");
    r
}

/// The low `bits` bits of a signed immediate that must fit in them.
fn signed(imm: i32, bits: u32) -> u32 {
    let limit = 1i64 << (bits - 1);
    assert!(
        (-limit..limit).contains(&i64::from(imm)),
        "immediate {imm} does not fit in {bits} bits"
    );
    imm as u32 & ((1 << bits) - 1)
}

fn upper(imm: u32) -> u32 {
    assert!(
        imm < 1 << 20,
        "upper immediate {imm:#x} does not fit in 20 bits"
    );
    imm << 12
}

fn r_type(funct7: u32, rs2: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    funct7 << 25 | reg(rs2) << 20 | reg(rs1) << 15 | funct3 << 12 | reg(rd) << 7 | opcode
}

fn i_type(imm: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    imm << 20 | reg(rs1) << 15 | funct3 << 12 | reg(rd) << 7 | opcode
}

impl Insn {
    /// The instruction word.
    ///
    /// # Panics
    ///
    /// If a register, immediate or offset is out of range, or a branch or jump offset is odd.
    pub fn encode(self) -> u32 {
        match self {
            Insn::Alu { op, rd, rs1, rs2 } => {
                let (funct7, funct3, _) = op.fields();
                r_type(funct7, rs2, rs1, funct3, rd, 0x33)
            }
            Insn::AluImm { op, rd, rs1, imm } => {
                let (funct3, _) = op.fields();
                let imm = if op.is_shift() {
                    assert!((0..32).contains(&imm), "shift amount {imm} out of range");
                    let funct7 = if op == AluImmOp::Srai { 0x20 } else { 0 };
                    funct7 << 5 | imm as u32
                } else {
                    signed(imm, 12)
                };
                i_type(imm, rs1, funct3, rd, 0x13)
            }
            Insn::Lui { rd, imm } => upper(imm) | reg(rd) << 7 | 0x37,
            Insn::Auipc { rd, imm } => upper(imm) | reg(rd) << 7 | 0x17,
            Insn::Jal { rd, offset } => {
                assert!(offset % 2 == 0, "odd jump offset {offset}");
                let imm = signed(offset, 21);
                let scrambled = (imm >> 20 & 1) << 31
                    | (imm >> 1 & 0x3ff) << 21
                    | (imm >> 11 & 1) << 20
                    | (imm >> 12 & 0xff) << 12;
                scrambled | reg(rd) << 7 | 0x6f
            }
            Insn::Jalr { rd, rs1, offset } => i_type(signed(offset, 12), rs1, 0, rd, 0x67),
            Insn::Branch {
                op,
                rs1,
                rs2,
                offset,
            } => {
                assert!(offset % 2 == 0, "odd branch offset {offset}");
                let imm = signed(offset, 13);
                let (funct3, _) = op.fields();
                let high = (imm >> 12 & 1) << 6 | (imm >> 5 & 0x3f);
                let low = (imm >> 1 & 0xf) << 1 | (imm >> 11 & 1);
                r_type(high, rs2, rs1, funct3, low, 0x63)
            }
            Insn::Load {
                width,
                rd,
                rs1,
                offset,
            } => i_type(signed(offset, 12), rs1, width.fields().0, rd, 0x03),
            Insn::Store {
                width,
                rs1,
                rs2,
                offset,
            } => {
                assert!(Width::STORES.contains(&width), "no unsigned stores");
                let imm = signed(offset, 12);
                r_type(imm >> 5, rs2, rs1, width.fields().0, imm & 0x1f, 0x23)
            }
            Insn::Fence { pred, succ } => {
                assert!((1..16).contains(&pred) && (1..16).contains(&succ));
                pred << 24 | succ << 20 | 0x0f
            }
            Insn::Ecall => 0x0000_0073,
            Insn::Ebreak => 0x0010_0073,
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
            Insn::Alu { op, rd, rs1, rs2 } => write!(f, "{} x{rd}, x{rs1}, x{rs2}", op.fields().2),
            Insn::AluImm { op, rd, rs1, imm } => {
                write!(f, "{} x{rd}, x{rs1}, {imm}", op.fields().1)
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
            } => write!(f, "{} x{rs1}, x{rs2}, .{offset:+}", op.fields().1),
            Insn::Load {
                width,
                rd,
                rs1,
                offset,
            } => write!(f, "l{} x{rd}, {offset}(x{rs1})", width.fields().1),
            Insn::Store {
                width,
                rs1,
                rs2,
                offset,
            } => write!(f, "s{} x{rs2}, {offset}(x{rs1})", width.fields().1),
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
