//! The one decoder: a word to an [`Instruction`].

use rrs_lib::InstructionProcessor;
use rrs_lib::instruction_formats::{BType, IType, ITypeShamt, JType, RType, SType, UType};

use crate::Instruction;

/// `ecall`, the only legal `SYSTEM` word besides [`EBREAK`].
const ECALL: u32 = 0x0000_0073;
/// `ebreak`.
const EBREAK: u32 = 0x0010_0073;

/// Decodes one instruction word.
///
/// Legal are exactly the RV32IM base encodings with every fixed field as the ISA requires (see
/// `docs/vm-spec.md`, "Decoding: what is legal"); every other word, including compressed,
/// CSR, `fence.i`, `mret`, `wfi` and the all-zero word, decodes to [`Instruction::Illegal`].
///
/// The standard opcodes are decoded by `rrs-lib`. On top of it this checks what `rrs-lib` leaves
/// out: `SYSTEM` (only `ecall`/`ebreak`), `funct3 = 000` for `jalr` and `imm[11:5] = 0` for
/// `slli` (`srli`/`srai`/register shifts and `M` are checked by `rrs-lib` itself).
pub fn decode(word: u32) -> Instruction {
    match word {
        ECALL => Instruction::Ecall,
        EBREAK => Instruction::Ebreak,
        _ => rrs_lib::process_instruction(&mut Builder { word }, word)
            .unwrap_or(Instruction::Illegal(word)),
    }
}

/// The `rrs-lib` visitor that builds an [`Instruction`] for the word it holds.
struct Builder {
    /// The word being decoded, for the checks `rrs-lib` does not make.
    word: u32,
}

/// A register field of `rrs-lib` (always `0..32`) as the `u8` an [`Instruction`] holds.
fn r(index: usize) -> u8 {
    (index & 31) as u8
}

macro_rules! r_type {
    ($($method:ident => $variant:ident),* $(,)?) => {$(
        fn $method(&mut self, d: RType) -> Instruction {
            Instruction::$variant { rd: r(d.rd), rs1: r(d.rs1), rs2: r(d.rs2) }
        }
    )*};
}

macro_rules! i_type {
    ($($method:ident => $variant:ident),* $(,)?) => {$(
        fn $method(&mut self, d: IType) -> Instruction {
            Instruction::$variant { rd: r(d.rd), rs1: r(d.rs1), imm: d.imm }
        }
    )*};
}

macro_rules! load {
    ($($method:ident => $variant:ident),* $(,)?) => {$(
        fn $method(&mut self, d: IType) -> Instruction {
            Instruction::$variant { rd: r(d.rd), rs1: r(d.rs1), offset: d.imm }
        }
    )*};
}

macro_rules! store {
    ($($method:ident => $variant:ident),* $(,)?) => {$(
        fn $method(&mut self, d: SType) -> Instruction {
            Instruction::$variant { rs1: r(d.rs1), rs2: r(d.rs2), offset: d.imm }
        }
    )*};
}

macro_rules! branch {
    ($($method:ident => $variant:ident),* $(,)?) => {$(
        fn $method(&mut self, d: BType) -> Instruction {
            Instruction::$variant { rs1: r(d.rs1), rs2: r(d.rs2), offset: d.imm }
        }
    )*};
}

macro_rules! shift_imm {
    ($($method:ident => $variant:ident),* $(,)?) => {$(
        fn $method(&mut self, d: ITypeShamt) -> Instruction {
            Instruction::$variant { rd: r(d.rd), rs1: r(d.rs1), shamt: d.shamt as u8 }
        }
    )*};
}

impl InstructionProcessor for Builder {
    type InstructionResult = Instruction;

    r_type! {
        process_add => Add, process_sub => Sub, process_sll => Sll, process_slt => Slt,
        process_sltu => Sltu, process_xor => Xor, process_srl => Srl, process_sra => Sra,
        process_or => Or, process_and => And,
        process_mul => Mul, process_mulh => Mulh, process_mulhsu => Mulhsu,
        process_mulhu => Mulhu, process_div => Div, process_divu => Divu,
        process_rem => Rem, process_remu => Remu,
    }

    i_type! {
        process_addi => Addi, process_slti => Slti, process_sltui => Sltiu,
        process_xori => Xori, process_ori => Ori, process_andi => Andi,
    }

    // rrs-lib checks imm[11:5] for srli (0) and srai (0100000) but not for slli.
    shift_imm! { process_srli => Srli, process_srai => Srai }

    fn process_slli(&mut self, d: ITypeShamt) -> Instruction {
        if d.funct7 != 0 {
            return Instruction::Illegal(self.word);
        }
        Instruction::Slli {
            rd: r(d.rd),
            rs1: r(d.rs1),
            shamt: d.shamt as u8,
        }
    }

    load! {
        process_lb => Lb, process_lh => Lh, process_lw => Lw,
        process_lbu => Lbu, process_lhu => Lhu,
    }

    store! { process_sb => Sb, process_sh => Sh, process_sw => Sw }

    branch! {
        process_beq => Beq, process_bne => Bne, process_blt => Blt,
        process_bge => Bge, process_bltu => Bltu, process_bgeu => Bgeu,
    }

    fn process_lui(&mut self, d: UType) -> Instruction {
        Instruction::Lui {
            rd: r(d.rd),
            imm: d.imm as u32,
        }
    }

    fn process_auipc(&mut self, d: UType) -> Instruction {
        Instruction::Auipc {
            rd: r(d.rd),
            imm: d.imm as u32,
        }
    }

    fn process_jal(&mut self, d: JType) -> Instruction {
        Instruction::Jal {
            rd: r(d.rd),
            offset: d.imm,
        }
    }

    // rrs-lib does not check funct3 of JALR; the ISA requires 000.
    fn process_jalr(&mut self, d: IType) -> Instruction {
        if d.funct3 != 0 {
            return Instruction::Illegal(self.word);
        }
        Instruction::Jalr {
            rd: r(d.rd),
            rs1: r(d.rs1),
            offset: d.imm,
        }
    }

    // rrs-lib only passes funct3 = 000 here (fence.i has 001); pred/succ/fm, rd and rs1 are
    // ignored by the spec.
    fn process_fence(&mut self, _: IType) -> Instruction {
        Instruction::Fence
    }
}
