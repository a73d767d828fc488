//! A tiny RV32IM assembler for hand-written test programs: one function per instruction,
//! returning its encoding. Registers are numbers (`x0`..`x31`).
#![allow(dead_code)]

use opml_elf::{Program, Segment};

/// Where [`program`] places code.
pub(crate) const CODE: u32 = 0x1_0000;

fn r(funct7: u32, rs2: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}
fn i(imm: i32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}
fn s(imm: i32, rs2: u32, rs1: u32, funct3: u32) -> u32 {
    let imm = imm as u32;
    ((imm >> 5 & 0x7f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (funct3 << 12)
        | ((imm & 0x1f) << 7)
        | 0x23
}
fn b(offset: i32, rs2: u32, rs1: u32, funct3: u32) -> u32 {
    let o = offset as u32;
    ((o >> 12 & 1) << 31)
        | ((o >> 5 & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (funct3 << 12)
        | ((o >> 1 & 0xf) << 8)
        | ((o >> 11 & 1) << 7)
        | 0x63
}

pub(crate) fn lui(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x37
}
pub(crate) fn auipc(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x17
}
pub(crate) fn jal(rd: u32, offset: i32) -> u32 {
    let o = offset as u32;
    ((o >> 20 & 1) << 31)
        | ((o >> 1 & 0x3ff) << 21)
        | ((o >> 11 & 1) << 20)
        | ((o >> 12 & 0xff) << 12)
        | (rd << 7)
        | 0x6f
}
pub(crate) fn jalr(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x67)
}
pub(crate) fn beq(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b(offset, rs2, rs1, 0)
}
pub(crate) fn bne(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b(offset, rs2, rs1, 1)
}
pub(crate) fn blt(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b(offset, rs2, rs1, 4)
}
pub(crate) fn bgeu(rs1: u32, rs2: u32, offset: i32) -> u32 {
    b(offset, rs2, rs1, 7)
}
pub(crate) fn lb(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x03)
}
pub(crate) fn lh(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 1, rd, 0x03)
}
pub(crate) fn lw(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 2, rd, 0x03)
}
pub(crate) fn lbu(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 4, rd, 0x03)
}
pub(crate) fn lhu(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 5, rd, 0x03)
}
pub(crate) fn sb(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, rs2, rs1, 0)
}
pub(crate) fn sh(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, rs2, rs1, 1)
}
pub(crate) fn sw(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, rs2, rs1, 2)
}
pub(crate) fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x13)
}
pub(crate) fn andi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 7, rd, 0x13)
}
pub(crate) fn slli(rd: u32, rs1: u32, shamt: u32) -> u32 {
    i(shamt as i32, rs1, 1, rd, 0x13)
}
pub(crate) fn srli(rd: u32, rs1: u32, shamt: u32) -> u32 {
    i(shamt as i32, rs1, 5, rd, 0x13)
}
pub(crate) fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(0, rs2, rs1, 0, rd, 0x33)
}
pub(crate) fn sub(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(0x20, rs2, rs1, 0, rd, 0x33)
}
pub(crate) fn xor(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(0, rs2, rs1, 4, rd, 0x33)
}
pub(crate) fn mul(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 0, rd, 0x33)
}
pub(crate) fn divu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 5, rd, 0x33)
}
pub(crate) fn rem(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 6, rd, 0x33)
}
pub(crate) const ECALL: u32 = 0x0000_0073;
pub(crate) const EBREAK: u32 = 0x0010_0073;

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
    [a, b, ECALL]
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
