//! A tiny RV32IM assembler for hand-written test programs: one function per instruction,
//! returning its encoding (through [`Instruction::encode`]), plus helpers that build
//! [`Program`]s. Registers are numbers (`x0`..`x31`).
#![allow(dead_code)]

use opml_elf::{Program, Segment};
use opml_isa::Instruction;

/// Where [`program`] places code.
pub(crate) const CODE: u32 = 0x1_0000;

/// A register number as an [`Instruction`] field.
fn x(index: u32) -> u8 {
    u8::try_from(index).expect("register number")
}

/// One helper per instruction, in assembler operand order, each building the [`Instruction`]
/// and encoding it with [`Instruction::encode`].
macro_rules! helpers {
    ($($name:ident($($arg:ident: $ty:ty),*) => $insn:expr;)*) => {$(
        pub(crate) fn $name($($arg: $ty),*) -> u32 {
            $insn.encode()
        }
    )*};
}

helpers! {
    lui(rd: u32, imm20: u32) => Instruction::Lui { rd: x(rd), imm: imm20 << 12 };
    auipc(rd: u32, imm20: u32) => Instruction::Auipc { rd: x(rd), imm: imm20 << 12 };
    jal(rd: u32, offset: i32) => Instruction::Jal { rd: x(rd), offset };
    jalr(rd: u32, rs1: u32, imm: i32) => Instruction::Jalr { rd: x(rd), rs1: x(rs1), offset: imm };
    beq(rs1: u32, rs2: u32, offset: i32) => Instruction::Beq { rs1: x(rs1), rs2: x(rs2), offset };
    bne(rs1: u32, rs2: u32, offset: i32) => Instruction::Bne { rs1: x(rs1), rs2: x(rs2), offset };
    blt(rs1: u32, rs2: u32, offset: i32) => Instruction::Blt { rs1: x(rs1), rs2: x(rs2), offset };
    bgeu(rs1: u32, rs2: u32, offset: i32) => Instruction::Bgeu { rs1: x(rs1), rs2: x(rs2), offset };
    lb(rd: u32, rs1: u32, imm: i32) => Instruction::Lb { rd: x(rd), rs1: x(rs1), offset: imm };
    lh(rd: u32, rs1: u32, imm: i32) => Instruction::Lh { rd: x(rd), rs1: x(rs1), offset: imm };
    lw(rd: u32, rs1: u32, imm: i32) => Instruction::Lw { rd: x(rd), rs1: x(rs1), offset: imm };
    lbu(rd: u32, rs1: u32, imm: i32) => Instruction::Lbu { rd: x(rd), rs1: x(rs1), offset: imm };
    lhu(rd: u32, rs1: u32, imm: i32) => Instruction::Lhu { rd: x(rd), rs1: x(rs1), offset: imm };
    sb(rs2: u32, rs1: u32, imm: i32) => Instruction::Sb { rs1: x(rs1), rs2: x(rs2), offset: imm };
    sh(rs2: u32, rs1: u32, imm: i32) => Instruction::Sh { rs1: x(rs1), rs2: x(rs2), offset: imm };
    sw(rs2: u32, rs1: u32, imm: i32) => Instruction::Sw { rs1: x(rs1), rs2: x(rs2), offset: imm };
    addi(rd: u32, rs1: u32, imm: i32) => Instruction::Addi { rd: x(rd), rs1: x(rs1), imm };
    andi(rd: u32, rs1: u32, imm: i32) => Instruction::Andi { rd: x(rd), rs1: x(rs1), imm };
    slli(rd: u32, rs1: u32, shamt: u32) => Instruction::Slli { rd: x(rd), rs1: x(rs1), shamt: x(shamt) };
    srli(rd: u32, rs1: u32, shamt: u32) => Instruction::Srli { rd: x(rd), rs1: x(rs1), shamt: x(shamt) };
    add(rd: u32, rs1: u32, rs2: u32) => Instruction::Add { rd: x(rd), rs1: x(rs1), rs2: x(rs2) };
    sub(rd: u32, rs1: u32, rs2: u32) => Instruction::Sub { rd: x(rd), rs1: x(rs1), rs2: x(rs2) };
    xor(rd: u32, rs1: u32, rs2: u32) => Instruction::Xor { rd: x(rd), rs1: x(rs1), rs2: x(rs2) };
    mul(rd: u32, rs1: u32, rs2: u32) => Instruction::Mul { rd: x(rd), rs1: x(rs1), rs2: x(rs2) };
    divu(rd: u32, rs1: u32, rs2: u32) => Instruction::Divu { rd: x(rd), rs1: x(rs1), rs2: x(rs2) };
    rem(rd: u32, rs1: u32, rs2: u32) => Instruction::Rem { rd: x(rd), rs1: x(rs1), rs2: x(rs2) };
    ecall() => Instruction::Ecall;
    ebreak() => Instruction::Ebreak;
}

/// `rd = value` (lui + addi).
pub(crate) fn li(rd: u32, value: u32) -> [u32; 2] {
    let lo = ((value & 0xfff) as i32) << 20 >> 20;
    let hi = value.wrapping_sub(lo as u32) >> 12;
    [lui(rd, hi), addi(rd, rd, lo)]
}

/// Register numbers of the ABI names used here.
pub(crate) const ZERO: u32 = 0;
pub(crate) const SP: u32 = 2;
pub(crate) const T0: u32 = 5;
pub(crate) const T1: u32 = 6;
pub(crate) const T2: u32 = 7;
pub(crate) const S0: u32 = 8;
pub(crate) const S1: u32 = 9;
pub(crate) const A0: u32 = 10;
pub(crate) const A1: u32 = 11;
pub(crate) const A2: u32 = 12;
pub(crate) const A7: u32 = 17;
pub(crate) const T3: u32 = 28;
pub(crate) const T4: u32 = 29;
pub(crate) const T5: u32 = 30;

/// `exit(a0)`.
pub(crate) fn exit() -> [u32; 3] {
    let [a, b] = li(A7, 93);
    [a, b, ecall()]
}

/// A program with `code` executable at [`CODE`] (entry), plus a writable data segment of
/// `data_size` bytes at `0x2_0000` holding `data`.
pub(crate) fn program(code: &[u32], data: &[u8], data_size: u32) -> Program {
    let text: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut segments = vec![Segment {
        vaddr: CODE,
        mem_size: text.len().max(4) as u32,
        data: text,
        executable: true,
    }];
    if data_size > 0 {
        segments.push(Segment {
            vaddr: 0x2_0000,
            data: data.to_vec(),
            mem_size: data_size,
            executable: false,
        });
    }
    Program {
        entry: CODE,
        segments,
    }
}

/// A CPU-bound loop of 16 instructions per iteration (xorshift, a table load and store, a
/// multiply, a counted branch), `iterations` times, then `exit(checksum)`.
pub(crate) fn cpu_loop(iterations: u32) -> Program {
    let mut code = Vec::new();
    code.extend(li(S0, 0x2_0000));
    code.extend(li(T0, iterations));
    code.extend(li(A0, 0x1234_5678));
    code.extend([
        andi(T1, A0, 1020),
        add(T2, S0, T1),
        lw(T3, T2, 0),
        xor(T3, T3, A0),
        add(T3, T3, T0),
        sw(T3, T2, 0),
        slli(T4, A0, 13),
        xor(A0, A0, T4),
        srli(T4, A0, 17),
        xor(A0, A0, T4),
        slli(T4, A0, 5),
        xor(A0, A0, T4),
        mul(T5, A0, T3),
        add(A1, A1, T5),
        addi(T0, T0, -1),
        bne(T0, ZERO, -15 * 4),
        addi(A0, A1, 0),
    ]);
    code.extend(exit());
    program(&code, &[], 4096)
}
