//! Decoder and disassembler tests.

use opml_isa::{Instruction, decode};

use crate::common::*;

#[test]
fn instruction_is_small() {
    assert!(size_of::<Instruction>() <= 8);
}

#[test]
fn encoders_match_assembler_output() {
    // Words produced by a RISC-V assembler for the instruction in the comment.
    assert_eq!(op("add", A0, A1, A2), 0x00c5_8533); // add a0, a1, a2
    assert_eq!(op("mul", A0, A1, A2), 0x02c5_8533); // mul a0, a1, a2
    assert_eq!(op_imm("addi", 23, 31, 2047), 0x7fff_8b93); // addi x23, x31, 2047
    assert_eq!(op_imm("srai", 7, 23, 0), 0x400b_d393); // srai x7, x23, 0
    assert_eq!(load("lw", T0, 2, -4), 0xffc1_2283); // lw t0, -4(sp)
    assert_eq!(store("sw", 12, 13, -7), 0xfed6_2ca3); // sw x13, -7(x12)
    assert_eq!(branch("beq", 10, 14, -4096), 0x80e5_0063); // beq x10, x14, .-4096
    assert_eq!(branch("bgeu", 31, 8, 18), 0x008f_f963); // bgeu x31, x8, .+18
    assert_eq!(enc_u(LUI, 17, 0x123a_b000), 0x123a_b8b7); // lui x17, 0x123ab
    assert_eq!(enc_j(26, 46), 0x02e0_0d6f); // jal x26, .+46
    assert_eq!(enc_j(31, -0x10_0000), 0x8000_0fef); // jal x31, .-0x100000
}

/// Every RV32IM instruction with the instruction the decoder must produce.
fn legal_cases() -> Vec<(u32, Instruction)> {
    use Instruction::*;
    let (rd, rs1, rs2) = (A0, A1, A2);
    let mut cases = vec![
        (
            enc_u(LUI, rd, 0xfedc_b000),
            Lui {
                rd,
                imm: 0xfedc_b000,
            },
        ),
        (enc_u(AUIPC, rd, 0x0000_1000), Auipc { rd, imm: 0x1000 }),
        (enc_j(1, -8), Jal { rd: 1, offset: -8 }),
        (
            enc_j(0, 0xf_fffe),
            Jal {
                rd: 0,
                offset: 0xf_fffe,
            },
        ),
        (
            jalr(1, rs1, -2048),
            Jalr {
                rd: 1,
                rs1,
                offset: -2048,
            },
        ),
        (
            branch("beq", rs1, rs2, 16),
            Beq {
                rs1,
                rs2,
                offset: 16,
            },
        ),
        (
            branch("bne", rs1, rs2, -4),
            Bne {
                rs1,
                rs2,
                offset: -4,
            },
        ),
        (
            branch("blt", rs1, rs2, 4094),
            Blt {
                rs1,
                rs2,
                offset: 4094,
            },
        ),
        (
            branch("bge", rs1, rs2, -4096),
            Bge {
                rs1,
                rs2,
                offset: -4096,
            },
        ),
        (
            branch("bltu", rs1, rs2, 2),
            Bltu {
                rs1,
                rs2,
                offset: 2,
            },
        ),
        (
            branch("bgeu", rs1, rs2, 8),
            Bgeu {
                rs1,
                rs2,
                offset: 8,
            },
        ),
        (
            load("lb", rd, rs1, -1),
            Lb {
                rd,
                rs1,
                offset: -1,
            },
        ),
        (load("lh", rd, rs1, 2), Lh { rd, rs1, offset: 2 }),
        (
            load("lw", rd, rs1, 2047),
            Lw {
                rd,
                rs1,
                offset: 2047,
            },
        ),
        (load("lbu", rd, rs1, 0), Lbu { rd, rs1, offset: 0 }),
        (
            load("lhu", rd, rs1, -2048),
            Lhu {
                rd,
                rs1,
                offset: -2048,
            },
        ),
        (
            store("sb", rs1, rs2, -2048),
            Sb {
                rs1,
                rs2,
                offset: -2048,
            },
        ),
        (
            store("sh", rs1, rs2, 2047),
            Sh {
                rs1,
                rs2,
                offset: 2047,
            },
        ),
        (
            store("sw", rs1, rs2, -4),
            Sw {
                rs1,
                rs2,
                offset: -4,
            },
        ),
        (op_imm("addi", rd, rs1, -1), Addi { rd, rs1, imm: -1 }),
        (op_imm("slti", rd, rs1, 5), Slti { rd, rs1, imm: 5 }),
        (
            op_imm("sltiu", rd, rs1, -2048),
            Sltiu {
                rd,
                rs1,
                imm: -2048,
            },
        ),
        (op_imm("xori", rd, rs1, -1), Xori { rd, rs1, imm: -1 }),
        (
            op_imm("ori", rd, rs1, 0x7ff),
            Ori {
                rd,
                rs1,
                imm: 0x7ff,
            },
        ),
        (op_imm("andi", rd, rs1, 0xff), Andi { rd, rs1, imm: 0xff }),
        (op_imm("slli", rd, rs1, 31), Slli { rd, rs1, shamt: 31 }),
        (op_imm("srli", rd, rs1, 1), Srli { rd, rs1, shamt: 1 }),
        (op_imm("srai", rd, rs1, 17), Srai { rd, rs1, shamt: 17 }),
        (enc_i(MISC_MEM, 0, 0, 0, 0x0ff), Fence),
        // fence with nonzero fm/pred/succ, rd and rs1: still a fence.
        (enc_i(MISC_MEM, 0, 5, 9, -1), Fence),
        (ECALL, Ecall),
        (EBREAK, Ebreak),
    ];
    type MakeR = fn(u8, u8, u8) -> Instruction;
    let ops: [(&str, MakeR); 18] = [
        ("add", |rd, rs1, rs2| Add { rd, rs1, rs2 }),
        ("sub", |rd, rs1, rs2| Sub { rd, rs1, rs2 }),
        ("sll", |rd, rs1, rs2| Sll { rd, rs1, rs2 }),
        ("slt", |rd, rs1, rs2| Slt { rd, rs1, rs2 }),
        ("sltu", |rd, rs1, rs2| Sltu { rd, rs1, rs2 }),
        ("xor", |rd, rs1, rs2| Xor { rd, rs1, rs2 }),
        ("srl", |rd, rs1, rs2| Srl { rd, rs1, rs2 }),
        ("sra", |rd, rs1, rs2| Sra { rd, rs1, rs2 }),
        ("or", |rd, rs1, rs2| Or { rd, rs1, rs2 }),
        ("and", |rd, rs1, rs2| And { rd, rs1, rs2 }),
        ("mul", |rd, rs1, rs2| Mul { rd, rs1, rs2 }),
        ("mulh", |rd, rs1, rs2| Mulh { rd, rs1, rs2 }),
        ("mulhsu", |rd, rs1, rs2| Mulhsu { rd, rs1, rs2 }),
        ("mulhu", |rd, rs1, rs2| Mulhu { rd, rs1, rs2 }),
        ("div", |rd, rs1, rs2| Div { rd, rs1, rs2 }),
        ("divu", |rd, rs1, rs2| Divu { rd, rs1, rs2 }),
        ("rem", |rd, rs1, rs2| Rem { rd, rs1, rs2 }),
        ("remu", |rd, rs1, rs2| Remu { rd, rs1, rs2 }),
    ];
    for (name, make) in ops {
        cases.push((op(name, 31, 0, 17), make(31, 0, 17)));
    }
    cases
}

#[test]
fn every_instruction_decodes() {
    let cases = legal_cases();
    // 40 RV32IM instructions plus fence (twice), ecall, ebreak and jal twice.
    assert_eq!(cases.len(), 50);
    for (word, expected) in cases {
        assert_eq!(decode(word), expected, "word {word:#010x}");
    }
}

#[test]
fn register_fields_reach_every_register() {
    for r in 0..32u8 {
        assert_eq!(
            decode(op("xor", r, 31 - r, r / 2)),
            Instruction::Xor {
                rd: r,
                rs1: 31 - r,
                rs2: r / 2
            }
        );
    }
}

#[test]
fn immediates_sign_extend() {
    assert_eq!(
        decode(0xffff_8b93),
        Instruction::Addi {
            rd: 23,
            rs1: 31,
            imm: -1
        }
    );
    assert_eq!(
        decode(0x80e5_0063),
        Instruction::Beq {
            rs1: 10,
            rs2: 14,
            offset: -4096
        }
    );
    assert_eq!(
        decode(0x8000_0fef),
        Instruction::Jal {
            rd: 31,
            offset: -0x10_0000
        }
    );
    assert_eq!(
        decode(0xfed6_2ca3),
        Instruction::Sw {
            rs1: 12,
            rs2: 13,
            offset: -7
        }
    );
}

#[test]
fn illegal_encodings_decode_to_illegal() {
    let illegal = [
        0x0000_0000,                         // all zero
        0xffff_ffff,                         // all ones
        0x0000_4501,                         // compressed c.li a0, 0 (low bits 01)
        0x0000_0001,                         // compressed c.nop
        0x3000_2573,                         // csrr a0, mstatus
        0x3410_1073,                         // csrw mepc, zero
        0x0000_100f,                         // fence.i
        0x3020_0073,                         // mret
        0x1050_0073,                         // wfi
        0x0000_0873,                         // ecall with rd != 0
        0x0008_0073,                         // ecall with rs1 != 0
        0x0020_0073,                         // SYSTEM imm 2 (uret)
        0x0010_8073,                         // ebreak with rs1 != 0
        0x0000_2007,                         // flw (F extension)
        0x0000_202f,                         // A extension
        jalr(1, 2, 0) | 1 << 12,             // jalr funct3 = 001
        jalr(1, 2, 0) | 7 << 12,             // jalr funct3 = 111
        enc_r(OP, 0, 0x40, A0, A1, A2),      // add with funct7 1000000
        enc_r(OP, 0, 0x02, A0, A1, A2),      // funct7 0000010
        enc_r(OP, 1, 0x20, A0, A1, A2),      // sll with funct7 0100000
        enc_r(OP, 7, 0x20, A0, A1, A2),      // and with funct7 0100000
        enc_i(OP_IMM, 1, A0, A1, 0x400 | 3), // slli with imm[11:5] = 0100000
        enc_i(OP_IMM, 1, A0, A1, 0x20),      // slli shamt bit 5 (RV64 only)
        enc_i(OP_IMM, 5, A0, A1, 0x20),      // srli shamt bit 5
        enc_i(OP_IMM, 5, A0, A1, 0x420),     // srai shamt bit 5
        enc_i(OP_IMM, 5, A0, A1, 0x200),     // srli with imm[11:5] = 0010000
        enc_i(LOAD, 3, A0, A1, 0),           // ld (RV64)
        enc_i(LOAD, 6, A0, A1, 0),           // lwu (RV64)
        enc_i(LOAD, 7, A0, A1, 0),
        enc_s(3, A1, A2, 0), // sd (RV64)
        enc_s(4, A1, A2, 0),
        enc_b(2, A1, A2, 8),         // branch funct3 010
        enc_b(3, A1, A2, 8),         // branch funct3 011
        enc_i(MISC_MEM, 2, 0, 0, 0), // MISC-MEM funct3 010
        0x0000_001b,                 // OP-IMM-32 (RV64)
        0x0000_003b,                 // OP-32 (RV64)
    ];
    for word in illegal {
        assert_eq!(
            decode(word),
            Instruction::Illegal(word),
            "word {word:#010x}"
        );
    }
    // Every other SYSTEM word is illegal.
    for word in [
        ECALL | 1 << 7,
        ECALL | 1 << 20 | 1 << 15,
        SYSTEM | 0x1000_0000,
    ] {
        assert_eq!(decode(word), Instruction::Illegal(word));
    }
}

#[test]
fn disassembly() {
    let cases = [
        (op("add", A0, A1, A2), "add a0, a1, a2"),
        (op("mulhsu", 0, 31, 8), "mulhsu zero, t6, s0"),
        (load("lw", T0, 2, -4), "lw t0, -4(sp)"),
        (load("lbu", A0, A1, 7), "lbu a0, 7(a1)"),
        (store("sw", 2, 1, 12), "sw ra, 12(sp)"),
        (branch("beq", A0, 0, 16), "beq a0, zero, +16"),
        (branch("bltu", T1, T2, -8), "bltu t1, t2, -8"),
        (enc_j(1, 2048), "jal ra, +2048"),
        (enc_j(0, -4), "jal zero, -4"),
        (jalr(0, 1, 0), "jalr zero, 0(ra)"),
        (enc_u(LUI, A0, 0x1234_5000), "lui a0, 0x12345"),
        (enc_u(AUIPC, 3, 0xffff_f000), "auipc gp, 0xfffff"),
        (op_imm("addi", 2, 2, -16), "addi sp, sp, -16"),
        (op_imm("srai", 18, 27, 31), "srai s2, s11, 31"),
        (enc_i(MISC_MEM, 0, 0, 0, 0x0ff), "fence"),
        (ECALL, "ecall"),
        (EBREAK, "ebreak"),
        (0, "illegal 0x00000000"),
        (0x3000_2573, "illegal 0x30002573"),
    ];
    for (word, text) in cases {
        assert_eq!(decode(word).to_string(), text);
    }
}

#[test]
fn abi_names_follow_the_calling_convention() {
    let names: Vec<&str> = (0..32).map(opml_isa::abi_name).collect();
    assert_eq!(&names[..4], ["zero", "ra", "sp", "gp"]);
    assert_eq!(names[8], "s0");
    assert_eq!(names[10], "a0");
    assert_eq!(names[17], "a7");
    assert_eq!(names[18], "s2");
    assert_eq!(names[27], "s11");
    assert_eq!(names[31], "t6");
}

/// The legality rule of `docs/vm-spec.md`, written out independently of the decoder.
fn legal_per_spec(word: u32) -> bool {
    let funct3 = (word >> 12) & 7;
    let funct7 = word >> 25;
    match word & 0x7f {
        0x37 | 0x17 | 0x6f => true,                  // lui, auipc, jal
        0x67 => funct3 == 0,                         // jalr
        0x63 => !matches!(funct3, 2 | 3),            // branches
        0x03 => matches!(funct3, 0 | 1 | 2 | 4 | 5), // loads
        0x23 => matches!(funct3, 0..=2),             // stores
        0x13 => match funct3 {
            1 => funct7 == 0,                   // slli
            5 => funct7 == 0 || funct7 == 0x20, // srli, srai
            _ => true,
        },
        0x33 => funct7 == 0 || funct7 == 1 || (funct7 == 0x20 && matches!(funct3, 0 | 5)),
        0x0f => funct3 == 0, // fence
        0x73 => word == ECALL || word == EBREAK,
        _ => false,
    }
}

#[test]
fn legality_matches_the_spec_on_many_words() {
    // Every opcode x funct3 x a spread of funct7 values, then pseudo-random words.
    let mut words = Vec::new();
    for opcode in 0..128u32 {
        for funct3 in 0..8u32 {
            for funct7 in [0u32, 1, 2, 0x20, 0x21, 0x40, 0x7f] {
                words
                    .push(funct7 << 25 | 0x15 << 20 | 0xa << 15 | funct3 << 12 | 0x3 << 7 | opcode);
                words.push(funct7 << 25 | funct3 << 12 | opcode);
            }
        }
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200_000 {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words.push((x >> 16) as u32);
        words.push((x >> 16) as u32 | 0x3); // low bits 11: a 32-bit encoding
    }
    for word in words {
        let insn = decode(word);
        let legal = !matches!(insn, Instruction::Illegal(_));
        assert_eq!(
            legal,
            legal_per_spec(word),
            "word {word:#010x} decoded to {insn:?}"
        );
        if !legal {
            assert_eq!(insn, Instruction::Illegal(word));
        }
        assert_eq!(insn.to_string().starts_with("illegal"), !legal);
    }
}
