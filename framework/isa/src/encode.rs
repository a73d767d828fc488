//! The encoder: an [`Instruction`] back to its word, the inverse of [`decode`](crate::decode).

use crate::Instruction;

/// `fence iorw, iorw`: the word [`Instruction::Fence`] encodes to.
const FENCE: u32 = 0x0ff0_000f;
/// `ecall`.
const ECALL: u32 = 0x0000_0073;
/// `ebreak`.
const EBREAK: u32 = 0x0010_0073;

/// A register field, checked to be `0..32`.
fn reg(index: u8) -> u32 {
    assert!(index < 32, "register x{index} does not exist");
    u32::from(index)
}

/// The low `bits` bits of a signed immediate that must fit in them.
fn signed(imm: i32, bits: u32) -> u32 {
    let limit = 1i64 << (bits - 1);
    assert!(
        (-limit..limit).contains(&i64::from(imm)),
        "immediate {imm} does not fit in {bits} signed bits"
    );
    imm as u32 & ((1 << bits) - 1)
}

/// An even signed offset of `bits` bits (branches and `jal`).
fn even(offset: i32, bits: u32) -> u32 {
    assert!(offset % 2 == 0, "odd jump or branch offset {offset}");
    signed(offset, bits)
}

/// An upper immediate: its low 12 bits must be zero.
fn upper(imm: u32) -> u32 {
    assert!(
        imm & 0xfff == 0,
        "upper immediate {imm:#x} has low bits set"
    );
    imm
}

fn r_type(opcode: u32, funct3: u32, funct7: u32, rd: u8, rs1: u8, rs2: u8) -> u32 {
    funct7 << 25 | reg(rs2) << 20 | reg(rs1) << 15 | funct3 << 12 | reg(rd) << 7 | opcode
}

fn i_type(opcode: u32, funct3: u32, rd: u8, rs1: u8, imm: i32) -> u32 {
    signed(imm, 12) << 20 | reg(rs1) << 15 | funct3 << 12 | reg(rd) << 7 | opcode
}

fn shift(funct3: u32, funct7: u32, rd: u8, rs1: u8, shamt: u8) -> u32 {
    assert!(shamt < 32, "shift amount {shamt} out of range");
    r_type(0x13, funct3, funct7, rd, rs1, shamt)
}

fn s_type(funct3: u32, rs1: u8, rs2: u8, offset: i32) -> u32 {
    let imm = signed(offset, 12);
    (imm >> 5) << 25 | reg(rs2) << 20 | reg(rs1) << 15 | funct3 << 12 | (imm & 0x1f) << 7 | 0x23
}

fn b_type(funct3: u32, rs1: u8, rs2: u8, offset: i32) -> u32 {
    let imm = even(offset, 13);
    (imm >> 12 & 1) << 31
        | (imm >> 5 & 0x3f) << 25
        | reg(rs2) << 20
        | reg(rs1) << 15
        | funct3 << 12
        | (imm >> 1 & 0xf) << 8
        | (imm >> 11 & 1) << 7
        | 0x63
}

fn j_type(rd: u8, offset: i32) -> u32 {
    let imm = even(offset, 21);
    (imm >> 20 & 1) << 31
        | (imm >> 1 & 0x3ff) << 21
        | (imm >> 11 & 1) << 20
        | (imm >> 12 & 0xff) << 12
        | reg(rd) << 7
        | 0x6f
}

impl Instruction {
    /// The instruction word: `decode(insn.encode()) == insn` for every instruction with its
    /// fields in range, and `decode(word).encode() == word` for every word except the `fence`
    /// encodings other than [`FENCE`](Instruction::Fence).
    ///
    /// [`Instruction::Illegal`] encodes to the word it holds. [`Instruction::Fence`] carries no
    /// fields (every `MISC-MEM` word with `funct3 = 000` decodes to it, whatever its
    /// predecessor/successor sets, `fm`, `rd` and `rs1`), so it encodes to the one canonical
    /// form, `fence iorw, iorw` (`0x0ff0000f`), which is what the assembler emits for a bare
    /// `fence`.
    ///
    /// # Panics
    ///
    /// If a register is not `0..32`, an immediate or offset does not fit its field, a branch or
    /// jump offset is odd, a shift amount is not `0..32`, or an upper immediate has any of its
    /// low 12 bits set. [`decode`](crate::decode) never builds such an instruction.
    pub fn encode(self) -> u32 {
        use Instruction::*;
        match self {
            Lui { rd, imm } => upper(imm) | reg(rd) << 7 | 0x37,
            Auipc { rd, imm } => upper(imm) | reg(rd) << 7 | 0x17,
            Jal { rd, offset } => j_type(rd, offset),
            Jalr { rd, rs1, offset } => i_type(0x67, 0, rd, rs1, offset),
            Beq { rs1, rs2, offset } => b_type(0, rs1, rs2, offset),
            Bne { rs1, rs2, offset } => b_type(1, rs1, rs2, offset),
            Blt { rs1, rs2, offset } => b_type(4, rs1, rs2, offset),
            Bge { rs1, rs2, offset } => b_type(5, rs1, rs2, offset),
            Bltu { rs1, rs2, offset } => b_type(6, rs1, rs2, offset),
            Bgeu { rs1, rs2, offset } => b_type(7, rs1, rs2, offset),
            Lb { rd, rs1, offset } => i_type(0x03, 0, rd, rs1, offset),
            Lh { rd, rs1, offset } => i_type(0x03, 1, rd, rs1, offset),
            Lw { rd, rs1, offset } => i_type(0x03, 2, rd, rs1, offset),
            Lbu { rd, rs1, offset } => i_type(0x03, 4, rd, rs1, offset),
            Lhu { rd, rs1, offset } => i_type(0x03, 5, rd, rs1, offset),
            Sb { rs1, rs2, offset } => s_type(0, rs1, rs2, offset),
            Sh { rs1, rs2, offset } => s_type(1, rs1, rs2, offset),
            Sw { rs1, rs2, offset } => s_type(2, rs1, rs2, offset),
            Addi { rd, rs1, imm } => i_type(0x13, 0, rd, rs1, imm),
            Slti { rd, rs1, imm } => i_type(0x13, 2, rd, rs1, imm),
            Sltiu { rd, rs1, imm } => i_type(0x13, 3, rd, rs1, imm),
            Xori { rd, rs1, imm } => i_type(0x13, 4, rd, rs1, imm),
            Ori { rd, rs1, imm } => i_type(0x13, 6, rd, rs1, imm),
            Andi { rd, rs1, imm } => i_type(0x13, 7, rd, rs1, imm),
            Slli { rd, rs1, shamt } => shift(1, 0x00, rd, rs1, shamt),
            Srli { rd, rs1, shamt } => shift(5, 0x00, rd, rs1, shamt),
            Srai { rd, rs1, shamt } => shift(5, 0x20, rd, rs1, shamt),
            Add { rd, rs1, rs2 } => r_type(0x33, 0, 0x00, rd, rs1, rs2),
            Sub { rd, rs1, rs2 } => r_type(0x33, 0, 0x20, rd, rs1, rs2),
            Sll { rd, rs1, rs2 } => r_type(0x33, 1, 0x00, rd, rs1, rs2),
            Slt { rd, rs1, rs2 } => r_type(0x33, 2, 0x00, rd, rs1, rs2),
            Sltu { rd, rs1, rs2 } => r_type(0x33, 3, 0x00, rd, rs1, rs2),
            Xor { rd, rs1, rs2 } => r_type(0x33, 4, 0x00, rd, rs1, rs2),
            Srl { rd, rs1, rs2 } => r_type(0x33, 5, 0x00, rd, rs1, rs2),
            Sra { rd, rs1, rs2 } => r_type(0x33, 5, 0x20, rd, rs1, rs2),
            Or { rd, rs1, rs2 } => r_type(0x33, 6, 0x00, rd, rs1, rs2),
            And { rd, rs1, rs2 } => r_type(0x33, 7, 0x00, rd, rs1, rs2),
            Mul { rd, rs1, rs2 } => r_type(0x33, 0, 0x01, rd, rs1, rs2),
            Mulh { rd, rs1, rs2 } => r_type(0x33, 1, 0x01, rd, rs1, rs2),
            Mulhsu { rd, rs1, rs2 } => r_type(0x33, 2, 0x01, rd, rs1, rs2),
            Mulhu { rd, rs1, rs2 } => r_type(0x33, 3, 0x01, rd, rs1, rs2),
            Div { rd, rs1, rs2 } => r_type(0x33, 4, 0x01, rd, rs1, rs2),
            Divu { rd, rs1, rs2 } => r_type(0x33, 5, 0x01, rd, rs1, rs2),
            Rem { rd, rs1, rs2 } => r_type(0x33, 6, 0x01, rd, rs1, rs2),
            Remu { rd, rs1, rs2 } => r_type(0x33, 7, 0x01, rd, rs1, rs2),
            Fence => FENCE,
            Ecall => ECALL,
            Ebreak => EBREAK,
            Illegal(word) => word,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Instruction, decode};

    /// xorshift64, so the test needs no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn word(&mut self) -> u32 {
            (self.next() >> 16) as u32
        }
        fn reg(&mut self) -> u8 {
            (self.next() % 32) as u8
        }
        /// A signed value of `bits` bits.
        fn signed(&mut self, bits: u32) -> i32 {
            (self.word() as i32) << (32 - bits) >> (32 - bits)
        }
    }

    /// One instance of every variant (except `Illegal`), with random fields in range.
    fn every_variant(rng: &mut Rng) -> Vec<Instruction> {
        use Instruction::*;
        let (rd, rs1, rs2) = (rng.reg(), rng.reg(), rng.reg());
        let upper = rng.word() & !0xfff;
        let jump = rng.signed(21) & !1;
        let branch = rng.signed(13) & !1;
        let offset = rng.signed(12);
        let shamt = rng.reg();
        vec![
            Lui { rd, imm: upper },
            Auipc { rd, imm: upper },
            Jal { rd, offset: jump },
            Jalr { rd, rs1, offset },
            Beq {
                rs1,
                rs2,
                offset: branch,
            },
            Bne {
                rs1,
                rs2,
                offset: branch,
            },
            Blt {
                rs1,
                rs2,
                offset: branch,
            },
            Bge {
                rs1,
                rs2,
                offset: branch,
            },
            Bltu {
                rs1,
                rs2,
                offset: branch,
            },
            Bgeu {
                rs1,
                rs2,
                offset: branch,
            },
            Lb { rd, rs1, offset },
            Lh { rd, rs1, offset },
            Lw { rd, rs1, offset },
            Lbu { rd, rs1, offset },
            Lhu { rd, rs1, offset },
            Sb { rs1, rs2, offset },
            Sh { rs1, rs2, offset },
            Sw { rs1, rs2, offset },
            Addi {
                rd,
                rs1,
                imm: offset,
            },
            Slti {
                rd,
                rs1,
                imm: offset,
            },
            Sltiu {
                rd,
                rs1,
                imm: offset,
            },
            Xori {
                rd,
                rs1,
                imm: offset,
            },
            Ori {
                rd,
                rs1,
                imm: offset,
            },
            Andi {
                rd,
                rs1,
                imm: offset,
            },
            Slli { rd, rs1, shamt },
            Srli { rd, rs1, shamt },
            Srai { rd, rs1, shamt },
            Add { rd, rs1, rs2 },
            Sub { rd, rs1, rs2 },
            Sll { rd, rs1, rs2 },
            Slt { rd, rs1, rs2 },
            Sltu { rd, rs1, rs2 },
            Xor { rd, rs1, rs2 },
            Srl { rd, rs1, rs2 },
            Sra { rd, rs1, rs2 },
            Or { rd, rs1, rs2 },
            And { rd, rs1, rs2 },
            Mul { rd, rs1, rs2 },
            Mulh { rd, rs1, rs2 },
            Mulhsu { rd, rs1, rs2 },
            Mulhu { rd, rs1, rs2 },
            Div { rd, rs1, rs2 },
            Divu { rd, rs1, rs2 },
            Rem { rd, rs1, rs2 },
            Remu { rd, rs1, rs2 },
            Fence,
            Ecall,
            Ebreak,
        ]
    }

    #[test]
    fn decode_inverts_encode_for_every_variant() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            for insn in every_variant(&mut rng) {
                assert_eq!(
                    decode(insn.encode()),
                    insn,
                    "{insn:?} -> {:#010x}",
                    insn.encode()
                );
            }
        }
    }

    #[test]
    fn field_extremes_round_trip() {
        use Instruction::*;
        for insn in [
            Jal {
                rd: 31,
                offset: -(1 << 20),
            },
            Jal {
                rd: 1,
                offset: (1 << 20) - 2,
            },
            Bgeu {
                rs1: 31,
                rs2: 31,
                offset: -4096,
            },
            Beq {
                rs1: 0,
                rs2: 0,
                offset: 4094,
            },
            Sw {
                rs1: 31,
                rs2: 31,
                offset: -2048,
            },
            Lw {
                rd: 31,
                rs1: 31,
                offset: 2047,
            },
            Lui {
                rd: 31,
                imm: 0xffff_f000,
            },
            Srai {
                rd: 31,
                rs1: 31,
                shamt: 31,
            },
        ] {
            assert_eq!(decode(insn.encode()), insn);
        }
    }

    #[test]
    fn encode_inverts_decode_for_words_with_one_encoding() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut legal = 0;
        for _ in 0..500_000 {
            for word in [rng.word(), rng.word() | 0x3] {
                let insn = decode(word);
                if insn == Instruction::Fence {
                    // Every fence set, `fm`, `rd` and `rs1` decode to the one `Fence`.
                    assert_eq!(insn.encode(), 0x0ff0_000f);
                    continue;
                }
                legal += usize::from(!matches!(insn, Instruction::Illegal(_)));
                assert_eq!(insn.encode(), word, "{word:#010x} decoded to {insn:?}");
            }
        }
        // Random words hit most opcodes; make sure the legal ones were really exercised.
        assert!(legal > 100_000, "only {legal} legal words");
    }

    #[test]
    fn encode_inverts_decode_for_every_legal_opcode_pattern() {
        // Every opcode x funct3 x a spread of funct7 values with random register fields, so the
        // rare legal encodings (M extension, shifts, `sub`/`sra`) are all covered.
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for opcode in 0..128u32 {
            for funct3 in 0..8u32 {
                for funct7 in [0u32, 1, 0x20, 0x21, 0x7f] {
                    for _ in 0..16 {
                        let fields = rng.word() & 0x01ff_8f80; // rs2, rs1, rd
                        let word = funct7 << 25 | fields | funct3 << 12 | opcode;
                        let insn = decode(word);
                        if insn != Instruction::Fence {
                            assert_eq!(insn.encode(), word, "{word:#010x} decoded to {insn:?}");
                        }
                    }
                }
            }
        }
        for word in [0x0000_0073, 0x0010_0073] {
            assert_eq!(decode(word).encode(), word);
        }
    }

    #[test]
    fn fence_encodes_as_fence_iorw_iorw() {
        assert_eq!(Instruction::Fence.encode(), 0x0ff0_000f);
        assert_eq!(decode(0x0ff0_000f), Instruction::Fence);
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn out_of_range_immediates_panic() {
        Instruction::Addi {
            rd: 1,
            rs1: 1,
            imm: 2048,
        }
        .encode();
    }
}
