//! A test machine and instruction encoders written from the RISC-V formats.

use std::collections::HashMap;

use opml_isa::{Context, Flow, Width};

/// The pc the single-instruction tests run at.
pub(crate) const PC: u32 = 0x1000;

/// Register numbers used by the tests.
pub(crate) const A0: u8 = 10;
pub(crate) const A1: u8 = 11;
pub(crate) const A2: u8 = 12;
pub(crate) const A7: u8 = 17;
pub(crate) const T0: u8 = 5;
pub(crate) const T1: u8 = 6;
pub(crate) const T2: u8 = 7;

/// A context call, as the test machine saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Fetch(u32),
    Load(u32, Width),
    Store(u32, Width, u32),
    InputAvailable,
    ReadInput(u32, u32),
    WriteOutput(u32, u32),
    WriteLog(u32, u32),
    Preimage(u32, u32),
}

/// A simple machine: sparse byte memory, input and output vectors. It asserts the
/// preconditions `Context` documents, so a test fails if `execute` breaks them.
#[derive(Default)]
pub(crate) struct TestCtx {
    pub(crate) regs: [u32; 32],
    pub(crate) mem: HashMap<u32, u8>,
    pub(crate) input: Vec<u8>,
    pub(crate) cursor: usize,
    pub(crate) output: Vec<u8>,
    pub(crate) log: Vec<u8>,
    /// The data oracle: 64-byte preimages by key. The test machine does not hash: a test
    /// chooses keys freely (the verifier's check is tested in `opml-proof`).
    pub(crate) preimages: HashMap<[u8; 32], [u8; 64]>,
    pub(crate) events: Vec<Event>,
}

impl TestCtx {
    pub(crate) fn byte(&self, addr: u32) -> u8 {
        self.mem.get(&addr).copied().unwrap_or(0)
    }

    pub(crate) fn bytes(&self, addr: u32, len: u32) -> Vec<u8> {
        (0..len).map(|i| self.byte(addr.wrapping_add(i))).collect()
    }

    pub(crate) fn put(&mut self, addr: u32, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            self.mem.insert(addr.wrapping_add(i as u32), *b);
        }
    }

    pub(crate) fn put_word(&mut self, addr: u32, word: u32) {
        self.put(addr, &word.to_le_bytes());
    }

    fn check_leaf_bound(buf: u32, len: u32) {
        assert!(len >= 1, "zero-length transfer");
        assert!(
            u64::from(buf % 32) + u64::from(len) <= 32,
            "transfer {buf:#x}+{len} crosses a leaf"
        );
    }
}

impl Context for TestCtx {
    fn reg(&self, index: usize) -> u32 {
        if index == 0 { 0 } else { self.regs[index] }
    }

    fn set_reg(&mut self, index: usize, value: u32) {
        assert!((1..32).contains(&index), "set_reg({index})");
        self.regs[index] = value;
    }

    fn fetch(&mut self, pc: u32) -> u32 {
        assert_eq!(pc % 4, 0);
        self.events.push(Event::Fetch(pc));
        u32::from_le_bytes(self.bytes(pc, 4).try_into().unwrap())
    }

    fn load(&mut self, addr: u32, width: Width) -> u32 {
        assert_eq!(
            addr % width as u32,
            0,
            "misaligned load reached the context"
        );
        self.events.push(Event::Load(addr, width));
        let mut le = [0u8; 4];
        for (i, b) in le.iter_mut().take(width as usize).enumerate() {
            *b = self.byte(addr + i as u32);
        }
        u32::from_le_bytes(le)
    }

    fn store(&mut self, addr: u32, width: Width, value: u32) {
        assert_eq!(
            addr % width as u32,
            0,
            "misaligned store reached the context"
        );
        self.events.push(Event::Store(addr, width, value));
        self.put(addr, &value.to_le_bytes()[..width as usize]);
    }

    fn input_available(&mut self) -> u32 {
        self.events.push(Event::InputAvailable);
        let left = self.input.len() - self.cursor;
        left.min(32 - self.cursor % 32) as u32
    }

    fn read_input(&mut self, buf: u32, len: u32) {
        Self::check_leaf_bound(buf, len);
        let available = (self.input.len() - self.cursor).min(32 - self.cursor % 32);
        assert!(len as usize <= available, "read past the chunk");
        self.events.push(Event::ReadInput(buf, len));
        let data = self.input[self.cursor..self.cursor + len as usize].to_vec();
        self.put(buf, &data);
        self.cursor += len as usize;
    }

    fn output_room(&self) -> u32 {
        32 - (self.output.len() % 32) as u32
    }

    fn write_output(&mut self, buf: u32, len: u32) {
        Self::check_leaf_bound(buf, len);
        assert!(len <= self.output_room(), "write past the output chunk");
        self.events.push(Event::WriteOutput(buf, len));
        let data = self.bytes(buf, len);
        self.output.extend_from_slice(&data);
    }

    fn write_log(&mut self, buf: u32, len: u32) {
        Self::check_leaf_bound(buf, len);
        self.events.push(Event::WriteLog(buf, len));
        let data = self.bytes(buf, len);
        self.log.extend_from_slice(&data);
    }

    fn preimage(&mut self, buf: u32, half: u32) -> bool {
        assert_eq!(
            buf % 32,
            0,
            "misaligned preimage buffer reached the context"
        );
        assert!(half <= 1, "preimage half {half} reached the context");
        self.events.push(Event::Preimage(buf, half));
        let key: [u8; 32] = self.bytes(buf, 32).try_into().unwrap();
        let Some(preimage) = self.preimages.get(&key).copied() else {
            return false;
        };
        self.put(buf, &preimage[half as usize * 32..][..32]);
        true
    }
}

/// Runs the instruction `word` at [`PC`] with the given registers set; returns the machine
/// after the step, with the fetch event removed, and the flow.
pub(crate) fn run(word: u32, regs: &[(u8, u32)]) -> (TestCtx, Flow) {
    run_with(word, regs, |_| {})
}

/// Like [`run`], with `setup` preparing memory or streams first.
pub(crate) fn run_with(
    word: u32,
    regs: &[(u8, u32)],
    setup: impl FnOnce(&mut TestCtx),
) -> (TestCtx, Flow) {
    let mut ctx = TestCtx::default();
    for &(r, v) in regs {
        ctx.regs[usize::from(r)] = v;
    }
    setup(&mut ctx);
    ctx.put_word(PC, word);
    let flow = opml_isa::step(&mut ctx, PC);
    assert_eq!(ctx.events.first(), Some(&Event::Fetch(PC)));
    ctx.events.remove(0);
    (ctx, flow)
}

// Encoders for the six base formats, written from the bit layouts of the RISC-V ISA manual.
//
// Deliberately independent of `Instruction::encode`: these tests check `decode` (and `execute`)
// against words built straight from the spec, so a bit-layout mistake shared by the crate's
// encoder and decoder cannot make them agree with each other and pass. Do not replace them with
// `Instruction::encode`.

pub(crate) fn enc_r(opcode: u32, funct3: u32, funct7: u32, rd: u8, rs1: u8, rs2: u8) -> u32 {
    funct7 << 25
        | u32::from(rs2) << 20
        | u32::from(rs1) << 15
        | funct3 << 12
        | u32::from(rd) << 7
        | opcode
}

pub(crate) fn enc_i(opcode: u32, funct3: u32, rd: u8, rs1: u8, imm: i32) -> u32 {
    ((imm as u32) & 0xfff) << 20 | u32::from(rs1) << 15 | funct3 << 12 | u32::from(rd) << 7 | opcode
}

pub(crate) fn enc_s(funct3: u32, rs1: u8, rs2: u8, imm: i32) -> u32 {
    let imm = imm as u32;
    ((imm >> 5) & 0x7f) << 25
        | u32::from(rs2) << 20
        | u32::from(rs1) << 15
        | funct3 << 12
        | (imm & 0x1f) << 7
        | 0x23
}

pub(crate) fn enc_b(funct3: u32, rs1: u8, rs2: u8, imm: i32) -> u32 {
    let imm = imm as u32;
    ((imm >> 12) & 1) << 31
        | ((imm >> 5) & 0x3f) << 25
        | u32::from(rs2) << 20
        | u32::from(rs1) << 15
        | funct3 << 12
        | ((imm >> 1) & 0xf) << 8
        | ((imm >> 11) & 1) << 7
        | 0x63
}

pub(crate) fn enc_u(opcode: u32, rd: u8, imm: u32) -> u32 {
    (imm & 0xffff_f000) | u32::from(rd) << 7 | opcode
}

pub(crate) fn enc_j(rd: u8, imm: i32) -> u32 {
    let imm = imm as u32;
    ((imm >> 20) & 1) << 31
        | ((imm >> 1) & 0x3ff) << 21
        | ((imm >> 11) & 1) << 20
        | ((imm >> 12) & 0xff) << 12
        | u32::from(rd) << 7
        | 0x6f
}

pub(crate) const OP: u32 = 0x33;
pub(crate) const OP_IMM: u32 = 0x13;
pub(crate) const LOAD: u32 = 0x03;
pub(crate) const LUI: u32 = 0x37;
pub(crate) const AUIPC: u32 = 0x17;
pub(crate) const JALR: u32 = 0x67;
pub(crate) const MISC_MEM: u32 = 0x0f;
pub(crate) const SYSTEM: u32 = 0x73;

/// R-type ALU instructions by mnemonic: `(funct3, funct7)`.
pub(crate) fn op_fields(name: &str) -> (u32, u32) {
    match name {
        "add" => (0, 0),
        "sub" => (0, 0x20),
        "sll" => (1, 0),
        "slt" => (2, 0),
        "sltu" => (3, 0),
        "xor" => (4, 0),
        "srl" => (5, 0),
        "sra" => (5, 0x20),
        "or" => (6, 0),
        "and" => (7, 0),
        "mul" => (0, 1),
        "mulh" => (1, 1),
        "mulhsu" => (2, 1),
        "mulhu" => (3, 1),
        "div" => (4, 1),
        "divu" => (5, 1),
        "rem" => (6, 1),
        "remu" => (7, 1),
        _ => panic!("unknown R-type {name}"),
    }
}

/// `name rd, rs1, rs2` for an OP instruction.
pub(crate) fn op(name: &str, rd: u8, rs1: u8, rs2: u8) -> u32 {
    let (funct3, funct7) = op_fields(name);
    enc_r(OP, funct3, funct7, rd, rs1, rs2)
}

/// `name rd, rs1, imm` for an OP-IMM instruction (shifts take the shift amount as `imm`).
pub(crate) fn op_imm(name: &str, rd: u8, rs1: u8, imm: i32) -> u32 {
    let (funct3, imm) = match name {
        "addi" => (0, imm),
        "slti" => (2, imm),
        "sltiu" => (3, imm),
        "xori" => (4, imm),
        "ori" => (6, imm),
        "andi" => (7, imm),
        "slli" => (1, imm),
        "srli" => (5, imm),
        "srai" => (5, imm | 0x400),
        _ => panic!("unknown OP-IMM {name}"),
    };
    enc_i(OP_IMM, funct3, rd, rs1, imm)
}

/// `name rd, offset(rs1)` for a load.
pub(crate) fn load(name: &str, rd: u8, rs1: u8, offset: i32) -> u32 {
    let funct3 = match name {
        "lb" => 0,
        "lh" => 1,
        "lw" => 2,
        "lbu" => 4,
        "lhu" => 5,
        _ => panic!("unknown load {name}"),
    };
    enc_i(LOAD, funct3, rd, rs1, offset)
}

/// `name rs2, offset(rs1)` for a store.
pub(crate) fn store(name: &str, rs1: u8, rs2: u8, offset: i32) -> u32 {
    let funct3 = match name {
        "sb" => 0,
        "sh" => 1,
        "sw" => 2,
        _ => panic!("unknown store {name}"),
    };
    enc_s(funct3, rs1, rs2, offset)
}

/// `name rs1, rs2, offset` for a branch.
pub(crate) fn branch(name: &str, rs1: u8, rs2: u8, offset: i32) -> u32 {
    let funct3 = match name {
        "beq" => 0,
        "bne" => 1,
        "blt" => 4,
        "bge" => 5,
        "bltu" => 6,
        "bgeu" => 7,
        _ => panic!("unknown branch {name}"),
    };
    enc_b(funct3, rs1, rs2, offset)
}

pub(crate) fn jalr(rd: u8, rs1: u8, offset: i32) -> u32 {
    enc_i(JALR, 0, rd, rs1, offset)
}

pub(crate) const ECALL: u32 = 0x0000_0073;
pub(crate) const EBREAK: u32 = 0x0010_0073;
