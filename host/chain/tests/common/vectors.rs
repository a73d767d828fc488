//! The step vectors: one hand-encoded step per RV32IM instruction, edge case and syscall
//! outcome, proved by the VM and checked by the Rust verifier. `tests/vectors.rs` writes them
//! to `contracts/test/vectors/steps.json` for the Solidity tests; `tests/equivalence.rs` runs
//! them through the EVM.

use std::sync::Arc;

use opml_elf::{Program, Segment};
use opml_platform::{TrapCause, errno, fd, memory, reg, status, syscall};
use opml_proof::{ProofItem, StepWitness};
use opml_state::{Hash, input, layout, merkle};
use opml_tests::encode::{AluImmOp, AluOp, BranchOp, Insn, Width, li};
use opml_vm::{Machine, Preimage, Preimages};
use serde_json::Value;

/// Where the vector programs' code starts (and their entry point).
pub const CODE: u32 = memory::TEXT_START;
/// Where their data segment starts.
pub const DATA: u32 = 0x2_0000;
/// Size of the data segment.
const DATA_SIZE: u32 = 0x1000;
/// An address far outside the image: memory there is zero and its leaf never written.
const FAR: u32 = 0x8000_0000;

const T0: u32 = 5;
const T1: u32 = 6;
const T2: u32 = 7;
const A0: u32 = reg::A0 as u32;
const A1: u32 = reg::A1 as u32;
const A2: u32 = reg::A2 as u32;
const A7: u32 = reg::A7 as u32;

/// One step vector: a pre-state, its proof and the post-state hash.
pub struct Vector {
    /// A unique name, `snake_case`.
    pub name: String,
    /// The witness of the step.
    pub witness: StepWitness,
    /// The hash of the state after the step.
    pub post: Hash,
}

/// The data segment's initial bytes: negative and positive bytes, halves and words at known
/// offsets (`0..4`: `0xb4a39281`, all bytes negative; `4..8`: `0x44536271`, all positive),
/// then a pattern.
fn data() -> Vec<u8> {
    let mut data = vec![0x81, 0x92, 0xa3, 0xb4, 0x71, 0x62, 0x53, 0x44];
    data.extend((8..256u32).map(|i| (i.wrapping_mul(0x9d) ^ 0x5a) as u8));
    data
}

/// A step to record: registers set by `li`, then `pre` (straight-line code, which may make
/// syscalls), then the instruction under test `word`, then `after` (e.g. a jump's target).
struct Case<'a> {
    name: &'a str,
    regs: Vec<(u32, u32)>,
    pre: Vec<Insn>,
    word: u32,
    after: Vec<u32>,
    input: Vec<u8>,
    entry_offset: u32,
    /// A data-oracle preimage whose key is stored at this data address before the run.
    preimage: Option<(u32, Preimage)>,
}

impl<'a> Case<'a> {
    fn new(name: &'a str, word: u32) -> Case<'a> {
        Case {
            name,
            regs: Vec::new(),
            pre: Vec::new(),
            word,
            after: Vec::new(),
            input: Vec::new(),
            entry_offset: 0,
            preimage: None,
        }
    }

    /// Stores the key of `preimage` at `addr` (in the data segment) and gives the machine the
    /// preimage.
    fn preimage(mut self, addr: u32, preimage: Preimage) -> Case<'a> {
        self.preimage = Some((addr, preimage));
        self
    }

    fn regs(mut self, regs: &[(u32, u32)]) -> Case<'a> {
        self.regs.extend_from_slice(regs);
        self
    }

    fn pre(mut self, pre: &[Insn]) -> Case<'a> {
        self.pre.extend_from_slice(pre);
        self
    }

    fn after(mut self, after: &[u32]) -> Case<'a> {
        self.after.extend_from_slice(after);
        self
    }

    fn input(mut self, input: &[u8]) -> Case<'a> {
        self.input = input.to_vec();
        self
    }

    /// The machine just before the instruction under test.
    fn machine(&self) -> Machine {
        let mut words: Vec<u32> = self.pre.iter().map(|insn| insn.encode()).collect();
        for &(rd, value) in &self.regs {
            words.extend(li(rd, value).map(Insn::encode));
        }
        let setup = words.len();
        words.push(self.word);
        words.extend(&self.after);
        // Padding, so that a step past the tested instruction fetches `ebreak`, not zero.
        words.push(Insn::Ebreak.encode());
        let code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut data = data();
        let mut preimages = Preimages::new();
        if let Some((addr, preimage)) = self.preimage {
            let key = preimages.insert(preimage);
            let at = (addr - DATA) as usize;
            data.resize(data.len().max(at + 32), 0);
            data[at..at + 32].copy_from_slice(&key);
        }
        let program = Program {
            entry: CODE + self.entry_offset,
            segments: vec![
                Segment {
                    vaddr: CODE,
                    mem_size: code.len() as u32,
                    data: code,
                    executable: true,
                },
                Segment {
                    vaddr: DATA,
                    data,
                    mem_size: DATA_SIZE,
                    executable: false,
                },
            ],
        };
        let mut machine = Machine::from_program(&program, self.input.clone()).expect("load");
        machine.set_preimages(Arc::new(preimages));
        machine.run(setup as u64);
        if self.entry_offset == 0 {
            assert_eq!(
                (machine.pc(), machine.status().is_halted()),
                (CODE + 4 * setup as u32, false),
                "{}: the setup did not reach the instruction under test",
                self.name
            );
        }
        machine
    }
}

/// Records the step of `case`; checks it with the Rust verifier.
fn record(case: &Case<'_>) -> Vector {
    vector(case.name, case.machine())
}

/// The step from `machine`'s current state, checked with the Rust verifier.
fn vector(name: &str, mut machine: Machine) -> Vector {
    let witness = machine
        .prove_step()
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    let post = machine.state_hash();
    assert_eq!(witness.verify(), Ok(post), "{name}: the verifier disagrees");
    Vector {
        name: name.to_owned(),
        witness,
        post,
    }
}

fn alu(op: AluOp, rd: u32) -> u32 {
    Insn::Alu {
        op,
        rd,
        rs1: T0,
        rs2: T1,
    }
    .encode()
}

fn alu_imm(op: AluImmOp, rd: u32, imm: i32) -> u32 {
    Insn::AluImm {
        op,
        rd,
        rs1: T0,
        imm,
    }
    .encode()
}

fn load(width: Width, rd: u32, offset: i32) -> u32 {
    Insn::Load {
        width,
        rd,
        rs1: T0,
        offset,
    }
    .encode()
}

fn store(width: Width, offset: i32) -> u32 {
    Insn::Store {
        width,
        rs1: T0,
        rs2: T1,
        offset,
    }
    .encode()
}

fn branch(op: BranchOp, offset: i32) -> u32 {
    Insn::Branch {
        op,
        rs1: T0,
        rs2: T1,
        offset,
    }
    .encode()
}

/// `li` of several registers as a flat instruction list (for `pre`).
fn set(regs: &[(u32, u32)]) -> Vec<Insn> {
    regs.iter().flat_map(|&(rd, value)| li(rd, value)).collect()
}

/// A syscall made during setup.
fn ecall(number: u32, a0: u32, a1: u32, a2: u32) -> Vec<Insn> {
    let mut code = set(&[(A7, number), (A0, a0), (A1, a1), (A2, a2)]);
    code.push(Insn::Ecall);
    code
}

/// The instruction under test is `ecall` with these arguments.
fn syscall_case(name: &str, number: u32, a0: u32, a1: u32, a2: u32) -> Case<'_> {
    Case::new(name, Insn::Ecall.encode()).regs(&[(A7, number), (A0, a0), (A1, a1), (A2, a2)])
}

/// The name of an R-type operation (`AluOp::Mulhsu` -> `mulhsu`).
fn lower<T: std::fmt::Debug>(op: T) -> String {
    format!("{op:?}").to_lowercase()
}

/// `IllegalInstruction` -> `ILLEGAL_INSTRUCTION`.
fn screaming<T: std::fmt::Debug>(value: T) -> String {
    let mut out = String::new();
    for (index, c) in format!("{value:?}").chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Every vector, in a fixed order.
pub fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    let mut add = |case: Case<'_>| out.push(record(&case));

    // --- Register-register ALU and M extension: generic operands (shift amount 19).
    let (a, b) = (0xdead_beef, 0x1234_5673);
    for op in AluOp::BASE.into_iter().chain(AluOp::MULDIV) {
        add(Case::new(&lower(op), alu(op, T2)).regs(&[(T0, a), (T1, b)]));
    }
    let edge: &[(&str, AluOp, u32, u32)] = &[
        ("sll_shift_mask", AluOp::Sll, 0x8765_4321, 0xffff_ffe5),
        ("srl_shift_mask", AluOp::Srl, 0x8765_4321, 0x0000_0125),
        ("sra_negative", AluOp::Sra, 0x8765_4321, 31),
        ("sra_shift_mask", AluOp::Sra, 0x8765_4321, 0xffff_ffe4),
        ("sub_wraps", AluOp::Sub, 0, 1),
        ("add_wraps", AluOp::Add, 0xffff_ffff, 2),
        ("slt_negative_lt_positive", AluOp::Slt, 0x8000_0000, 1),
        ("sltu_negative_not_lt_positive", AluOp::Sltu, 0x8000_0000, 1),
        ("mul_wraps", AluOp::Mul, 0x8000_0001, 0xffff_ffff),
        ("mulh_negative", AluOp::Mulh, 0x8000_0000, 0x8000_0000),
        ("mulhsu_negative", AluOp::Mulhsu, 0xffff_ffff, 0xffff_ffff),
        ("mulhu_max", AluOp::Mulhu, 0xffff_ffff, 0xffff_ffff),
        ("div_by_zero", AluOp::Div, 1234, 0),
        ("divu_by_zero", AluOp::Divu, 1234, 0),
        ("rem_by_zero", AluOp::Rem, 0x8000_1234, 0),
        ("remu_by_zero", AluOp::Remu, 0x8000_1234, 0),
        ("div_overflow", AluOp::Div, 0x8000_0000, 0xffff_ffff),
        ("rem_overflow", AluOp::Rem, 0x8000_0000, 0xffff_ffff),
        ("div_negative_truncates", AluOp::Div, (-7i32) as u32, 2),
        ("rem_negative_dividend", AluOp::Rem, (-7i32) as u32, 2),
        ("rem_negative_divisor", AluOp::Rem, 7, (-2i32) as u32),
        ("divu_large", AluOp::Divu, 0xffff_fffe, 3),
        ("remu_large", AluOp::Remu, 0xffff_fffe, 3),
    ];
    for &(name, op, a, b) in edge {
        add(Case::new(name, alu(op, T2)).regs(&[(T0, a), (T1, b)]));
    }
    add(Case::new("add_x0_destination", alu(AluOp::Add, 0)).regs(&[(T0, 5), (T1, 6)]));
    add(Case::new("mul_x0_destination", alu(AluOp::Mul, 0)).regs(&[(T0, 5), (T1, 6)]));

    // --- Register-immediate ALU.
    for op in AluImmOp::ALL {
        let imm = if op.is_shift() { 7 } else { 0x5a5 };
        add(Case::new(&lower(op), alu_imm(op, T2, imm)).regs(&[(T0, a)]));
    }
    let edge: &[(&str, AluImmOp, u32, i32)] = &[
        ("addi_negative_immediate", AluImmOp::Addi, 5, -2048),
        ("addi_max_immediate", AluImmOp::Addi, 5, 2047),
        ("slti_negative_immediate", AluImmOp::Slti, 0xffff_f000, -1),
        (
            "sltiu_immediate_sign_extended",
            AluImmOp::Sltiu,
            0xffff_fffe,
            -1,
        ),
        ("xori_not", AluImmOp::Xori, 0x1234_5678, -1),
        ("ori_negative_immediate", AluImmOp::Ori, 0x1234_5678, -256),
        ("andi_negative_immediate", AluImmOp::Andi, 0x1234_5678, -16),
        ("slli_31", AluImmOp::Slli, 0xffff_ffff, 31),
        ("srli_31", AluImmOp::Srli, 0x8000_0000, 31),
        ("srai_31", AluImmOp::Srai, 0x8000_0000, 31),
        ("srai_0", AluImmOp::Srai, 0x8000_0000, 0),
    ];
    for &(name, op, a, imm) in edge {
        add(Case::new(name, alu_imm(op, T2, imm)).regs(&[(T0, a)]));
    }
    add(Case::new("addi_x0_destination", alu_imm(AluImmOp::Addi, 0, 1)).regs(&[(T0, 5)]));
    add(Case::new(
        "lui",
        Insn::Lui {
            rd: T2,
            imm: 0xfffff,
        }
        .encode(),
    ));
    add(Case::new(
        "lui_x0_destination",
        Insn::Lui { rd: 0, imm: 1 }.encode(),
    ));
    add(Case::new(
        "auipc",
        Insn::Auipc {
            rd: T2,
            imm: 0x80000,
        }
        .encode(),
    ));
    add(Case::new(
        "auipc_zero",
        Insn::Auipc { rd: T2, imm: 0 }.encode(),
    ));

    // --- Jumps.
    let nop = Insn::AluImm {
        op: AluImmOp::Addi,
        rd: 0,
        rs1: 0,
        imm: 0,
    }
    .encode();
    add(Case::new("jal", Insn::Jal { rd: 1, offset: 8 }.encode()).after(&[nop, nop]));
    add(Case::new(
        "jal_backward",
        Insn::Jal { rd: 1, offset: -8 }.encode(),
    ));
    add(Case::new(
        "jal_x0_destination",
        Insn::Jal { rd: 0, offset: 4 }.encode(),
    ));
    add(Case::new(
        "jal_misaligned",
        Insn::Jal { rd: 1, offset: 6 }.encode(),
    ));
    let jalr = |rd, offset| {
        Insn::Jalr {
            rd,
            rs1: T0,
            offset,
        }
        .encode()
    };
    add(Case::new("jalr", jalr(1, 4)).regs(&[(T0, CODE + 0x40)]));
    add(Case::new("jalr_clears_bit0", jalr(1, 1)).regs(&[(T0, CODE + 0x40)]));
    add(Case::new("jalr_odd_base", jalr(1, 0)).regs(&[(T0, CODE + 0x41)]));
    add(Case::new("jalr_negative_offset", jalr(1, -4)).regs(&[(T0, CODE + 0x40)]));
    add(Case::new("jalr_rd_is_rs1", jalr(T0, 8)).regs(&[(T0, CODE + 0x40)]));
    add(Case::new("jalr_misaligned", jalr(1, 2)).regs(&[(T0, CODE + 0x40)]));
    add(Case::new("jalr_x0_destination", jalr(0, 0)).regs(&[(T0, CODE + 0x40)]));

    // --- Branches: taken and not taken, signed and unsigned comparisons.
    for op in BranchOp::ALL {
        // (a, b) such that the branch is taken, then not taken.
        let (taken, not_taken) = match op {
            BranchOp::Beq => ((7, 7), (7, 8)),
            BranchOp::Bne => ((7, 8), (7, 7)),
            BranchOp::Blt => ((0xffff_ffff, 1), (1, 0xffff_ffff)),
            BranchOp::Bge => ((1, 0xffff_ffff), (0xffff_ffff, 1)),
            BranchOp::Bltu => ((1, 0xffff_ffff), (0xffff_ffff, 1)),
            BranchOp::Bgeu => ((0xffff_ffff, 1), (1, 0xffff_ffff)),
        };
        let name = lower(op);
        add(Case::new(&format!("{name}_taken"), branch(op, 12))
            .regs(&[(T0, taken.0), (T1, taken.1)]));
        add(Case::new(&format!("{name}_not_taken"), branch(op, 12))
            .regs(&[(T0, not_taken.0), (T1, not_taken.1)]));
    }
    add(Case::new("bge_equal_taken", branch(BranchOp::Bge, -16)).regs(&[(T0, 3), (T1, 3)]));
    add(Case::new("beq_misaligned_taken", branch(BranchOp::Beq, 6)).regs(&[(T0, 1), (T1, 1)]));
    add(Case::new("beq_misaligned_not_taken", branch(BranchOp::Beq, 6)).regs(&[(T0, 1), (T1, 2)]));

    // --- Loads.
    for width in Width::LOADS {
        add(Case::new(&format!("l{}", lower(width)), load(width, T2, 0)).regs(&[(T0, DATA)]));
    }
    let edge: &[(&str, Width, u32, i32)] = &[
        ("lb_positive", Width::B, DATA, 4),
        ("lh_positive", Width::H, DATA, 4),
        ("lw_positive", Width::W, DATA, 4),
        ("lbu_high_byte", Width::Bu, DATA, 3),
        ("lh_offset_2", Width::H, DATA, 2),
        ("lhu_offset_2", Width::Hu, DATA, 2),
        ("lw_negative_offset", Width::W, DATA + 0x24, -4),
        ("lw_leaf_end", Width::W, DATA + 28, 0),
        ("lb_leaf_end", Width::B, DATA, 31),
        ("lw_far_memory", Width::W, FAR, 0),
        ("lw_address_wraps", Width::W, 0xffff_fffc, 8),
        ("lh_misaligned", Width::H, DATA, 1),
        ("lhu_misaligned", Width::Hu, DATA, 3),
        ("lw_misaligned_2", Width::W, DATA, 2),
        ("lw_misaligned_1", Width::W, DATA, 1),
    ];
    for &(name, width, base, offset) in edge {
        add(Case::new(name, load(width, T2, offset)).regs(&[(T0, base)]));
    }
    add(Case::new("lw_x0_destination", load(Width::W, 0, 0)).regs(&[(T0, DATA)]));
    add(Case::new("lb_x0_destination", load(Width::B, 0, 0)).regs(&[(T0, DATA)]));
    // The base register holds the instruction's own address (set by `li`): the load reads the
    // fetch leaf and reuses its proof.
    add(Case::new("lw_fetch_leaf", load(Width::W, T2, 0)).pre(&set(&[(T0, CODE + 0x10)])));

    // --- Stores.
    for width in Width::STORES {
        add(Case::new(&format!("s{}", lower(width)), store(width, 4))
            .regs(&[(T0, DATA), (T1, 0xcafe_f00d)]));
    }
    let edge: &[(&str, Width, u32, i32)] = &[
        ("sw_negative_offset", Width::W, DATA + 0x40, -4),
        ("sw_leaf_end", Width::W, DATA + 28, 0),
        ("sb_leaf_end", Width::B, DATA, 31),
        ("sh_offset_2", Width::H, DATA, 2),
        ("sw_far_memory", Width::W, FAR, 0),
        ("sw_fresh_page", Width::W, DATA + 0x2000, 0),
        ("sh_misaligned", Width::H, DATA, 1),
        ("sw_misaligned_2", Width::W, DATA, 2),
        ("sw_misaligned_3", Width::W, DATA, 3),
    ];
    for &(name, width, base, offset) in edge {
        add(Case::new(name, store(width, offset)).regs(&[(T0, base), (T1, 0x8765_4321)]));
    }
    add(Case::new("sw_zero_value", store(Width::W, 0)).regs(&[(T0, DATA), (T1, 0)]));
    // Self-modifying store into the leaf the instruction was fetched from.
    add(Case::new("sw_fetch_leaf", store(Width::W, 4))
        .pre(&set(&[(T0, CODE + 0x10), (T1, 0x0010_0073)])));

    // --- Fence, illegal encodings, ebreak.
    add(Case::new(
        "fence",
        Insn::Fence {
            pred: 0xf,
            succ: 0xf,
        }
        .encode(),
    ));
    add(Case::new("fence_tso", 0x8330_000f));
    add(Case::new("illegal_zero_word", 0));
    add(Case::new("illegal_all_ones", 0xffff_ffff));
    add(Case::new("illegal_csrrw", 0x3400_9073));
    add(Case::new("illegal_fence_i", 0x0000_100f));
    add(Case::new("illegal_compressed", 0x0000_4501));
    add(Case::new("illegal_slli_funct7", 0x0200_1293 | (T0 << 15)));
    add(Case::new("illegal_jalr_funct3", 0x0000_1067 | (T0 << 15)));
    add(Case::new("illegal_mret", 0x3020_0073));
    add(Case::new("ebreak", Insn::Ebreak.encode()));

    // --- Syscalls.
    let input: Vec<u8> = (0..100u32).map(|i| (i * 3 + 1) as u8).collect();
    let buf = DATA + 0x100;
    add(syscall_case("exit", syscall::EXIT, 7, 0, 0));
    add(syscall_case(
        "exit_group",
        syscall::EXIT_GROUP,
        0xffff_ffff,
        0,
        0,
    ));
    add(syscall_case("read_partial", syscall::READ, fd::STDIN, buf, 10).input(&input));
    add(syscall_case("read_whole_chunk", syscall::READ, fd::STDIN, buf, 1000).input(&input));
    add(syscall_case(
        "read_buffer_crosses_leaf",
        syscall::READ,
        fd::STDIN,
        buf + 28,
        10,
    )
    .input(&input));
    add(
        syscall_case("read_crosses_chunk_end", syscall::READ, fd::STDIN, buf, 20)
            .input(&input)
            .pre(&ecall(syscall::READ, fd::STDIN, buf, 20)),
    );
    add(
        syscall_case("read_to_end_of_input", syscall::READ, fd::STDIN, buf, 50)
            .input(&input[..40])
            .pre(&ecall(syscall::READ, fd::STDIN, buf, 32)),
    );
    add(syscall_case("read_short_input", syscall::READ, fd::STDIN, buf, 50).input(&input[..5]));
    add(
        syscall_case("read_at_eof", syscall::READ, fd::STDIN, buf, 5)
            .input(&input[..10])
            .pre(&ecall(syscall::READ, fd::STDIN, buf, 10)),
    );
    add(syscall_case(
        "read_empty_input",
        syscall::READ,
        fd::STDIN,
        buf,
        5,
    ));
    add(syscall_case("read_len_zero", syscall::READ, fd::STDIN, buf, 0).input(&input));
    add(syscall_case("read_bad_fd", syscall::READ, fd::STDOUT, buf, 5).input(&input));
    add(syscall_case("read_fetch_leaf", syscall::READ, fd::STDIN, CODE + 0x24, 4).input(&input));
    add(syscall_case("read_far_memory", syscall::READ, fd::STDIN, FAR + 3, 8).input(&input));
    add(syscall_case(
        "write_stdout",
        syscall::WRITE,
        fd::STDOUT,
        DATA,
        5,
    ));
    add(syscall_case(
        "write_stdout_buffer_crosses_leaf",
        syscall::WRITE,
        fd::STDOUT,
        DATA + 30,
        10,
    ));
    add(syscall_case(
        "write_stdout_fills_tail",
        syscall::WRITE,
        fd::STDOUT,
        DATA,
        10,
    )
    .pre(&ecall(syscall::WRITE, fd::STDOUT, DATA + 0x20, 27)));
    add(syscall_case(
        "write_stdout_exact_tail",
        syscall::WRITE,
        fd::STDOUT,
        DATA,
        32,
    ));
    add(syscall_case(
        "write_stdout_after_fold",
        syscall::WRITE,
        fd::STDOUT,
        DATA,
        3,
    )
    .pre(&ecall(syscall::WRITE, fd::STDOUT, DATA + 0x20, 32)));
    add(syscall_case(
        "write_stdout_len_zero",
        syscall::WRITE,
        fd::STDOUT,
        DATA,
        0,
    ));
    add(syscall_case(
        "write_stdout_fetch_leaf",
        syscall::WRITE,
        fd::STDOUT,
        CODE + 0x24,
        8,
    ));
    add(syscall_case(
        "write_stderr",
        syscall::WRITE,
        fd::STDERR,
        DATA,
        10,
    ));
    add(syscall_case(
        "write_stderr_buffer_crosses_leaf",
        syscall::WRITE,
        fd::STDERR,
        DATA + 30,
        10,
    ));
    add(syscall_case("write_bad_fd", syscall::WRITE, 3, DATA, 10));
    add(syscall_case(
        "write_stdin_bad_fd",
        syscall::WRITE,
        fd::STDIN,
        DATA,
        10,
    ));
    // The data oracle: a key in a data leaf, replaced by either half of its preimage; the
    // refusals (misaligned buf, half > 1) touch only the fetch leaf.
    let preimage: Preimage = std::array::from_fn(|i| (i as u8).wrapping_mul(0x35) ^ 0xc3);
    let key_at = DATA + 0x40;
    for (name, buf, half) in [
        ("preimage_half0", key_at, 0),
        ("preimage_half1", key_at, 1),
        ("preimage_misaligned", key_at + 4, 0),
        ("preimage_half2", key_at, 2),
        ("preimage_half_max", key_at, u32::MAX),
    ] {
        add(syscall_case(name, syscall::PREIMAGE, buf, half, 0).preimage(key_at, preimage));
    }
    add(
        syscall_case("preimage_fresh_page", syscall::PREIMAGE, DATA + 0x800, 1, 0)
            .preimage(DATA + 0x800, preimage),
    );
    add(syscall_case("unknown_syscall", 222, 1, 2, 3));
    add(syscall_case("unknown_syscall_zero", 0, 1, 2, 3));

    // --- Machine states.
    let mut halted = Case::new("halted_exited", Insn::Ecall.encode())
        .regs(&[(A7, syscall::EXIT), (A0, 3)])
        .machine();
    halted.run(1);
    out.push(vector("halted_exited", halted));
    let mut trapped = Case::new("halted_trapped", Insn::Ebreak.encode()).machine();
    trapped.run(1);
    out.push(vector("halted_trapped", trapped));
    let mut misaligned = Case::new("misaligned_pc", nop);
    misaligned.entry_offset = 2;
    out.push(record(&misaligned));
    let mut misaligned = Case::new("misaligned_pc_odd", nop);
    misaligned.entry_offset = 1;
    out.push(record(&misaligned));

    let mut names: Vec<&str> = out.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), out.len(), "vector names are unique");
    out
}

/// The constants of the packed state and the step proof, the syscall numbers, the trap codes
/// and the errno values, all from the Rust crates.
pub fn constants() -> Vec<(String, u64)> {
    let mut c = Vec::new();
    let mut put = |name: &str, value: u64| c.push((name.to_owned(), value));
    put("STATE_LEN", layout::STATE_LEN as u64);
    put("MASK_LEN", merkle::MASK_LEN as u64);
    put("MAX_PROOF_LEN", merkle::MAX_PROOF_LEN as u64);
    put("CHUNK_PROOF_LEN", input::CHUNK_PROOF_LEN as u64);
    put("MEMORY_ROOT", layout::MEMORY_ROOT as u64);
    put("INPUT_LINK", layout::INPUT_LINK as u64);
    put("OUTPUT_ACC", layout::OUTPUT_ACC as u64);
    put("OUTPUT_TAIL", layout::OUTPUT_TAIL as u64);
    put("PC", layout::PC as u64);
    put("INPUT_CURSOR", layout::INPUT_CURSOR as u64);
    put("OUTPUT_LEN", layout::OUTPUT_LEN as u64);
    put("STEP", layout::STEP as u64);
    put("STATUS", layout::STATUS as u64);
    put("EXIT_CODE", layout::EXIT_CODE as u64);
    put("REGS", layout::REGS as u64);
    put("REG_COUNT", reg::COUNT as u64);
    put("LEAF_SIZE", u64::from(memory::LEAF_SIZE));
    put("LEAF_SIZE_LOG2", u64::from(memory::LEAF_SIZE_LOG2));
    put("CHUNK_LEN", input::CHUNK_LEN as u64);
    put("MERKLE_DEPTH", merkle::DEPTH as u64);
    put("SYS_READ", u64::from(syscall::READ));
    put("SYS_WRITE", u64::from(syscall::WRITE));
    put("SYS_EXIT", u64::from(syscall::EXIT));
    put("SYS_EXIT_GROUP", u64::from(syscall::EXIT_GROUP));
    put("SYS_PREIMAGE", u64::from(syscall::PREIMAGE));
    put("PREIMAGE_LEN", memory::PREIMAGE_LEN as u64);
    put("EINVAL", u64::from(errno::EINVAL));
    put("FD_STDIN", u64::from(fd::STDIN));
    put("FD_STDOUT", u64::from(fd::STDOUT));
    put("FD_STDERR", u64::from(fd::STDERR));
    put("EBADF", u64::from(errno::EBADF));
    put("ENOSYS", u64::from(errno::ENOSYS));
    put("REG_A0", reg::A0 as u64);
    put("REG_A1", reg::A1 as u64);
    put("REG_A2", reg::A2 as u64);
    put("REG_A7", reg::A7 as u64);
    put("STATUS_RUNNING", u64::from(status::RUNNING));
    put("STATUS_EXITED", u64::from(status::EXITED));
    put("STATUS_TRAPPED", u64::from(status::TRAPPED));
    for cause in TrapCause::ALL {
        put(
            &format!("TRAP_{}", screaming(cause)),
            u64::from(cause.code()),
        );
    }
    c
}

/// The proof items of `witness` in order: `M` a memory proof, `I` an input chunk, `P` a
/// preimage.
pub fn shape(witness: &StepWitness) -> String {
    witness
        .items
        .iter()
        .map(|item| match item {
            ProofItem::Memory { .. } => 'M',
            ProofItem::Input(_) => 'I',
            ProofItem::Preimage(_) => 'P',
        })
        .collect()
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// `contracts/test/vectors/steps.json`, as the Solidity tests read it.
///
/// Written by hand rather than through `serde_json::Map`, whose key order depends on a cargo
/// feature (`preserve_order`) that other crates in the build may turn on.
pub fn steps_json(vectors: &[Vector]) -> String {
    let constants: Vec<String> = constants()
        .iter()
        .map(|(name, value)| format!("    \"{name}\": {value}"))
        .collect();
    let mut out = format!("{{\n  \"constants\": {{\n{}\n  }}", constants.join(",\n"));
    let mut array = |key: &str, items: Vec<String>| {
        let items: Vec<String> = items.iter().map(|item| format!("    \"{item}\"")).collect();
        out.push_str(&format!(",\n  \"{key}\": [\n{}\n  ]", items.join(",\n")));
    };
    array(
        "zeroHashes",
        merkle::ZERO_HASHES[..merkle::DEPTH]
            .iter()
            .map(|hash| hex0x(hash))
            .collect(),
    );
    array("names", vectors.iter().map(|v| v.name.clone()).collect());
    array(
        "stateData",
        vectors
            .iter()
            .map(|v| hex0x(&v.witness.state_data()))
            .collect(),
    );
    array(
        "proofs",
        vectors
            .iter()
            .map(|v| hex0x(&v.witness.encode_proof()))
            .collect(),
    );
    array("posts", vectors.iter().map(|v| hex0x(&v.post)).collect());
    // The proof's items in order: M a memory proof, I an input chunk, P a preimage.
    array(
        "shapes",
        vectors.iter().map(|v| shape(&v.witness)).collect(),
    );
    out.push_str("\n}\n");
    // It is JSON.
    let _: Value = serde_json::from_str(&out).expect("valid JSON");
    out
}

/// The input of the InputOracle vector: 1000 bytes.
pub fn oracle_input() -> Vec<u8> {
    (0..1000u32)
        .map(|i| (i.wrapping_mul(0x3b) >> 2) as u8 ^ 0xa5)
        .collect()
}

/// `contracts/test/vectors/input.json`: an input and its commitment.
pub fn input_json() -> String {
    let input = oracle_input();
    format!(
        "{{\n  \"input\": \"{}\",\n  \"commitment\": \"{}\"\n}}\n",
        hex0x(&input),
        hex0x(&input::commitment(&input))
    )
}
