//! The decoded instruction and its disassembly.

use core::fmt;

/// One decoded RV32IM instruction.
///
/// Register fields are indices `0..32`; immediates are already sign-extended (`i32`) or, for
/// `lui`/`auipc`, the upper-immediate value with its low 12 bits zero (`u32`). Branch and jump
/// offsets are relative to the instruction's own pc. The type is `Copy` and 8 bytes, so the fast
/// executor can cache decoded instructions densely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// `rd = imm`.
    Lui {
        /// Destination register.
        rd: u8,
        /// Upper immediate, low 12 bits zero.
        imm: u32,
    },
    /// `rd = pc + imm`.
    Auipc {
        /// Destination register.
        rd: u8,
        /// Upper immediate, low 12 bits zero.
        imm: u32,
    },
    /// `rd = pc + 4; pc += offset`.
    Jal {
        /// Link register.
        rd: u8,
        /// Jump offset from this instruction (even).
        offset: i32,
    },
    /// `rd = pc + 4; pc = (rs1 + offset) & !1`.
    Jalr {
        /// Link register.
        rd: u8,
        /// Base register.
        rs1: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Branch if `rs1 == rs2`.
    Beq {
        /// First operand.
        rs1: u8,
        /// Second operand.
        rs2: u8,
        /// Branch offset from this instruction (even).
        offset: i32,
    },
    /// Branch if `rs1 != rs2`.
    Bne {
        /// First operand.
        rs1: u8,
        /// Second operand.
        rs2: u8,
        /// Branch offset from this instruction (even).
        offset: i32,
    },
    /// Branch if `rs1 < rs2`, signed.
    Blt {
        /// First operand.
        rs1: u8,
        /// Second operand.
        rs2: u8,
        /// Branch offset from this instruction (even).
        offset: i32,
    },
    /// Branch if `rs1 >= rs2`, signed.
    Bge {
        /// First operand.
        rs1: u8,
        /// Second operand.
        rs2: u8,
        /// Branch offset from this instruction (even).
        offset: i32,
    },
    /// Branch if `rs1 < rs2`, unsigned.
    Bltu {
        /// First operand.
        rs1: u8,
        /// Second operand.
        rs2: u8,
        /// Branch offset from this instruction (even).
        offset: i32,
    },
    /// Branch if `rs1 >= rs2`, unsigned.
    Bgeu {
        /// First operand.
        rs1: u8,
        /// Second operand.
        rs2: u8,
        /// Branch offset from this instruction (even).
        offset: i32,
    },
    /// Load a byte, sign-extended.
    Lb {
        /// Destination register.
        rd: u8,
        /// Base register.
        rs1: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Load a halfword, sign-extended.
    Lh {
        /// Destination register.
        rd: u8,
        /// Base register.
        rs1: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Load a word.
    Lw {
        /// Destination register.
        rd: u8,
        /// Base register.
        rs1: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Load a byte, zero-extended.
    Lbu {
        /// Destination register.
        rd: u8,
        /// Base register.
        rs1: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Load a halfword, zero-extended.
    Lhu {
        /// Destination register.
        rd: u8,
        /// Base register.
        rs1: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Store the low byte of `rs2`.
    Sb {
        /// Base register.
        rs1: u8,
        /// Value register.
        rs2: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Store the low halfword of `rs2`.
    Sh {
        /// Base register.
        rs1: u8,
        /// Value register.
        rs2: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// Store `rs2`.
    Sw {
        /// Base register.
        rs1: u8,
        /// Value register.
        rs2: u8,
        /// Offset added to `rs1`.
        offset: i32,
    },
    /// `rd = rs1 + imm`.
    Addi {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Sign-extended immediate.
        imm: i32,
    },
    /// `rd = (rs1 < imm) as u32`, signed.
    Slti {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Sign-extended immediate.
        imm: i32,
    },
    /// `rd = (rs1 < imm as u32) as u32`, unsigned (the immediate is sign-extended first).
    Sltiu {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Sign-extended immediate.
        imm: i32,
    },
    /// `rd = rs1 ^ imm`.
    Xori {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Sign-extended immediate.
        imm: i32,
    },
    /// `rd = rs1 | imm`.
    Ori {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Sign-extended immediate.
        imm: i32,
    },
    /// `rd = rs1 & imm`.
    Andi {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Sign-extended immediate.
        imm: i32,
    },
    /// `rd = rs1 << shamt`.
    Slli {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Shift amount, `0..32`.
        shamt: u8,
    },
    /// `rd = rs1 >> shamt`, logical.
    Srli {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Shift amount, `0..32`.
        shamt: u8,
    },
    /// `rd = rs1 >> shamt`, arithmetic.
    Srai {
        /// Destination register.
        rd: u8,
        /// Source register.
        rs1: u8,
        /// Shift amount, `0..32`.
        shamt: u8,
    },
    /// `rd = rs1 + rs2`.
    Add {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = rs1 - rs2`.
    Sub {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = rs1 << (rs2 & 31)`.
    Sll {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = (rs1 < rs2) as u32`, signed.
    Slt {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = (rs1 < rs2) as u32`, unsigned.
    Sltu {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = rs1 ^ rs2`.
    Xor {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = rs1 >> (rs2 & 31)`, logical.
    Srl {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = rs1 >> (rs2 & 31)`, arithmetic.
    Sra {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = rs1 | rs2`.
    Or {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// `rd = rs1 & rs2`.
    And {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// Low 32 bits of `rs1 * rs2`.
    Mul {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// High 32 bits of `rs1 * rs2`, both signed.
    Mulh {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// High 32 bits of `rs1 * rs2`, `rs1` signed, `rs2` unsigned.
    Mulhsu {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// High 32 bits of `rs1 * rs2`, both unsigned.
    Mulhu {
        /// Destination register.
        rd: u8,
        /// First source register.
        rs1: u8,
        /// Second source register.
        rs2: u8,
    },
    /// Signed division, rounding toward zero.
    Div {
        /// Destination register.
        rd: u8,
        /// Dividend register.
        rs1: u8,
        /// Divisor register.
        rs2: u8,
    },
    /// Unsigned division.
    Divu {
        /// Destination register.
        rd: u8,
        /// Dividend register.
        rs1: u8,
        /// Divisor register.
        rs2: u8,
    },
    /// Signed remainder (sign of the dividend).
    Rem {
        /// Destination register.
        rd: u8,
        /// Dividend register.
        rs1: u8,
        /// Divisor register.
        rs2: u8,
    },
    /// Unsigned remainder.
    Remu {
        /// Destination register.
        rd: u8,
        /// Dividend register.
        rs1: u8,
        /// Divisor register.
        rs2: u8,
    },
    /// `fence` (any predecessor/successor set): a no-op on this single-hart machine.
    Fence,
    /// `ecall`: a syscall, number in `a7`.
    Ecall,
    /// `ebreak`: traps with a breakpoint.
    Ebreak,
    /// A word that is not a legal RV32IM instruction; executing it traps.
    Illegal(u32),
}

/// ABI names of the integer registers, indexed by register number.
pub const ABI_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

/// The ABI name of register `index` (taken modulo 32).
pub fn abi_name(index: u8) -> &'static str {
    ABI_NAMES[usize::from(index & 31)]
}

impl Instruction {
    /// The assembler mnemonic (`"illegal"` for [`Instruction::Illegal`]).
    pub fn mnemonic(&self) -> &'static str {
        use Instruction::*;
        match self {
            Lui { .. } => "lui",
            Auipc { .. } => "auipc",
            Jal { .. } => "jal",
            Jalr { .. } => "jalr",
            Beq { .. } => "beq",
            Bne { .. } => "bne",
            Blt { .. } => "blt",
            Bge { .. } => "bge",
            Bltu { .. } => "bltu",
            Bgeu { .. } => "bgeu",
            Lb { .. } => "lb",
            Lh { .. } => "lh",
            Lw { .. } => "lw",
            Lbu { .. } => "lbu",
            Lhu { .. } => "lhu",
            Sb { .. } => "sb",
            Sh { .. } => "sh",
            Sw { .. } => "sw",
            Addi { .. } => "addi",
            Slti { .. } => "slti",
            Sltiu { .. } => "sltiu",
            Xori { .. } => "xori",
            Ori { .. } => "ori",
            Andi { .. } => "andi",
            Slli { .. } => "slli",
            Srli { .. } => "srli",
            Srai { .. } => "srai",
            Add { .. } => "add",
            Sub { .. } => "sub",
            Sll { .. } => "sll",
            Slt { .. } => "slt",
            Sltu { .. } => "sltu",
            Xor { .. } => "xor",
            Srl { .. } => "srl",
            Sra { .. } => "sra",
            Or { .. } => "or",
            And { .. } => "and",
            Mul { .. } => "mul",
            Mulh { .. } => "mulh",
            Mulhsu { .. } => "mulhsu",
            Mulhu { .. } => "mulhu",
            Div { .. } => "div",
            Divu { .. } => "divu",
            Rem { .. } => "rem",
            Remu { .. } => "remu",
            Fence => "fence",
            Ecall => "ecall",
            Ebreak => "ebreak",
            Illegal(_) => "illegal",
        }
    }
}

/// A pc-relative offset written with its sign, as `+16` or `-8`.
struct Relative(i32);

impl fmt::Display for Relative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{}", self.0.unsigned_abs())
        } else {
            write!(f, "+{}", self.0)
        }
    }
}

/// Disassembly in the usual assembler syntax with ABI register names: `add a0, a1, a2`,
/// `lw t0, -4(sp)`, `beq a0, zero, +16` (offsets relative to the instruction), `lui a0, 0x12345`,
/// `ecall`, `illegal 0x00000000`.
impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Instruction::*;
        let name = self.mnemonic();
        match *self {
            Lui { rd, imm } | Auipc { rd, imm } => {
                write!(f, "{name} {}, {:#x}", abi_name(rd), imm >> 12)
            }
            Jal { rd, offset } => write!(f, "{name} {}, {}", abi_name(rd), Relative(offset)),
            Jalr { rd, rs1, offset }
            | Lb { rd, rs1, offset }
            | Lh { rd, rs1, offset }
            | Lw { rd, rs1, offset }
            | Lbu { rd, rs1, offset }
            | Lhu { rd, rs1, offset } => {
                write!(f, "{name} {}, {offset}({})", abi_name(rd), abi_name(rs1))
            }
            Beq { rs1, rs2, offset }
            | Bne { rs1, rs2, offset }
            | Blt { rs1, rs2, offset }
            | Bge { rs1, rs2, offset }
            | Bltu { rs1, rs2, offset }
            | Bgeu { rs1, rs2, offset } => write!(
                f,
                "{name} {}, {}, {}",
                abi_name(rs1),
                abi_name(rs2),
                Relative(offset)
            ),
            Sb { rs1, rs2, offset } | Sh { rs1, rs2, offset } | Sw { rs1, rs2, offset } => {
                write!(f, "{name} {}, {offset}({})", abi_name(rs2), abi_name(rs1))
            }
            Addi { rd, rs1, imm }
            | Slti { rd, rs1, imm }
            | Sltiu { rd, rs1, imm }
            | Xori { rd, rs1, imm }
            | Ori { rd, rs1, imm }
            | Andi { rd, rs1, imm } => {
                write!(f, "{name} {}, {}, {imm}", abi_name(rd), abi_name(rs1))
            }
            Slli { rd, rs1, shamt } | Srli { rd, rs1, shamt } | Srai { rd, rs1, shamt } => {
                write!(f, "{name} {}, {}, {shamt}", abi_name(rd), abi_name(rs1))
            }
            Add { rd, rs1, rs2 }
            | Sub { rd, rs1, rs2 }
            | Sll { rd, rs1, rs2 }
            | Slt { rd, rs1, rs2 }
            | Sltu { rd, rs1, rs2 }
            | Xor { rd, rs1, rs2 }
            | Srl { rd, rs1, rs2 }
            | Sra { rd, rs1, rs2 }
            | Or { rd, rs1, rs2 }
            | And { rd, rs1, rs2 }
            | Mul { rd, rs1, rs2 }
            | Mulh { rd, rs1, rs2 }
            | Mulhsu { rd, rs1, rs2 }
            | Mulhu { rd, rs1, rs2 }
            | Div { rd, rs1, rs2 }
            | Divu { rd, rs1, rs2 }
            | Rem { rd, rs1, rs2 }
            | Remu { rd, rs1, rs2 } => write!(
                f,
                "{name} {}, {}, {}",
                abi_name(rd),
                abi_name(rs1),
                abi_name(rs2)
            ),
            Fence | Ecall | Ebreak => f.write_str(name),
            Illegal(word) => write!(f, "{name} {word:#010x}"),
        }
    }
}
