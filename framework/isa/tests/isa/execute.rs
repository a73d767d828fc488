//! Instruction semantics, one test per group with values from the RISC-V spec.

use opml_isa::{Flow, Width};
use opml_platform::TrapCause;
use opml_state::ExitStatus;

use crate::common::*;

const NEXT: Flow = Flow::Next(PC + 4);
const INT_MIN: u32 = 0x8000_0000;

fn trapped(cause: TrapCause) -> Flow {
    Flow::Halt(ExitStatus::Trapped(cause))
}

/// `name a0, a1, a2` with `a1 = x`, `a2 = y`; returns `a0`.
fn alu(name: &str, x: u32, y: u32) -> u32 {
    let (ctx, flow) = run(op(name, A0, A1, A2), &[(A1, x), (A2, y)]);
    assert_eq!(flow, NEXT);
    assert!(ctx.events.is_empty());
    ctx.regs[usize::from(A0)]
}

/// `name a0, a1, imm` with `a1 = x`; returns `a0`.
fn alu_imm(name: &str, x: u32, imm: i32) -> u32 {
    let (ctx, flow) = run(op_imm(name, A0, A1, imm), &[(A1, x)]);
    assert_eq!(flow, NEXT);
    ctx.regs[usize::from(A0)]
}

#[test]
fn add_sub() {
    assert_eq!(alu("add", 5, 7), 12);
    assert_eq!(alu("add", 0xffff_ffff, 1), 0);
    assert_eq!(alu("sub", 5, 7), 0xffff_fffe);
    assert_eq!(alu("sub", 0, 1), 0xffff_ffff);
    assert_eq!(alu("sub", INT_MIN, 1), 0x7fff_ffff);
}

#[test]
fn logic() {
    assert_eq!(alu("xor", 0xff00_ff00, 0x0ff0_0ff0), 0xf0f0_f0f0);
    assert_eq!(alu("or", 0xff00_0000, 0x0000_00ff), 0xff00_00ff);
    assert_eq!(alu("and", 0xff00_ff00, 0x0ff0_0ff0), 0x0f00_0f00);
}

#[test]
fn compare() {
    assert_eq!(alu("slt", 0xffff_ffff, 1), 1); // -1 < 1
    assert_eq!(alu("slt", 1, 0xffff_ffff), 0);
    assert_eq!(alu("slt", 3, 3), 0);
    assert_eq!(alu("sltu", 0xffff_ffff, 1), 0);
    assert_eq!(alu("sltu", 1, 0xffff_ffff), 1);
    assert_eq!(alu("sltu", 0, 0), 0);
}

#[test]
fn register_shifts_use_the_low_five_bits() {
    assert_eq!(alu("sll", 1, 31), INT_MIN);
    assert_eq!(alu("sll", 1, 32), 1);
    assert_eq!(alu("sll", 1, 33), 2);
    assert_eq!(alu("sll", 3, 0xffff_ffe1), 6);
    assert_eq!(alu("srl", INT_MIN, 31), 1);
    assert_eq!(alu("srl", INT_MIN, 63), 1);
    assert_eq!(alu("srl", 0xf0, 36), 0xf);
    assert_eq!(alu("sra", INT_MIN, 31), 0xffff_ffff);
    assert_eq!(alu("sra", INT_MIN, 4), 0xf800_0000);
    assert_eq!(alu("sra", 0x4000_0000, 30), 1);
    assert_eq!(alu("sra", 0xffff_fff0, 0x24), 0xffff_ffff);
}

#[test]
fn multiply() {
    assert_eq!(alu("mul", 6, 7), 42);
    assert_eq!(alu("mul", 0x1_0000, 0x1_0000), 0);
    assert_eq!(alu("mul", 0xffff_ffff, 0xffff_ffff), 1);
    assert_eq!(alu("mul", 0xffff_fffd, 5), 0xffff_fff1); // -3 * 5 = -15
    // mulh: signed x signed.
    assert_eq!(alu("mulh", 0xffff_ffff, 0xffff_ffff), 0); // (-1)(-1) = 1
    assert_eq!(alu("mulh", INT_MIN, INT_MIN), 0x4000_0000); // 2^62
    assert_eq!(alu("mulh", INT_MIN, 1), 0xffff_ffff); // -2^31
    assert_eq!(alu("mulh", 0x7fff_ffff, 0x7fff_ffff), 0x3fff_ffff);
    // mulhsu: signed x unsigned.
    assert_eq!(alu("mulhsu", 0xffff_ffff, 0xffff_ffff), 0xffff_ffff); // -(2^32 - 1)
    assert_eq!(alu("mulhsu", 2, 0xffff_ffff), 1); // 2^33 - 2
    assert_eq!(alu("mulhsu", INT_MIN, 0xffff_ffff), 0x8000_0000); // -2^63 + 2^31
    // mulhu: unsigned x unsigned.
    assert_eq!(alu("mulhu", 0xffff_ffff, 0xffff_ffff), 0xffff_fffe);
    assert_eq!(alu("mulhu", 0x1_0000, 0x1_0000), 1);
    assert_eq!(alu("mulhu", INT_MIN, 2), 1);
}

#[test]
fn divide() {
    assert_eq!(alu("div", 20, 6), 3);
    assert_eq!(alu("div", (-7i32) as u32, 2), (-3i32) as u32); // rounds toward zero
    assert_eq!(alu("div", 7, (-2i32) as u32), (-3i32) as u32);
    assert_eq!(alu("divu", 0xffff_fffe, 2), 0x7fff_ffff);
    assert_eq!(alu("rem", (-7i32) as u32, 2), (-1i32) as u32); // sign of the dividend
    assert_eq!(alu("rem", 7, (-2i32) as u32), 1);
    assert_eq!(alu("remu", 0xffff_ffff, 10), 5);
}

#[test]
fn divide_by_zero() {
    assert_eq!(alu("div", 5, 0), 0xffff_ffff);
    assert_eq!(alu("div", INT_MIN, 0), 0xffff_ffff);
    assert_eq!(alu("divu", 5, 0), 0xffff_ffff);
    assert_eq!(alu("rem", 5, 0), 5);
    assert_eq!(alu("rem", (-5i32) as u32, 0), (-5i32) as u32);
    assert_eq!(alu("remu", 0xdead_beef, 0), 0xdead_beef);
}

#[test]
fn signed_overflow() {
    assert_eq!(alu("div", INT_MIN, 0xffff_ffff), INT_MIN);
    assert_eq!(alu("rem", INT_MIN, 0xffff_ffff), 0);
    // Unsigned division of the same bits is ordinary.
    assert_eq!(alu("divu", INT_MIN, 0xffff_ffff), 0);
    assert_eq!(alu("remu", INT_MIN, 0xffff_ffff), INT_MIN);
}

#[test]
fn immediates() {
    assert_eq!(alu_imm("addi", 5, -6), 0xffff_ffff);
    assert_eq!(alu_imm("addi", 0xffff_ffff, 1), 0);
    assert_eq!(alu_imm("addi", 1, 2047), 2048);
    assert_eq!(alu_imm("slti", 0xffff_fff0, -1), 1); // -16 < -1
    assert_eq!(alu_imm("slti", 0, -1), 0);
    // sltiu compares against the sign-extended immediate as unsigned.
    assert_eq!(alu_imm("sltiu", 0xffff_fffe, -1), 1);
    assert_eq!(alu_imm("sltiu", 0xffff_ffff, -1), 0);
    assert_eq!(alu_imm("sltiu", 0, 1), 1); // seqz
    assert_eq!(alu_imm("sltiu", 5, 1), 0);
    assert_eq!(alu_imm("xori", 0x1234_5678, -1), 0xedcb_a987); // not
    assert_eq!(alu_imm("xori", 0xff, 0x0f), 0xf0);
    assert_eq!(alu_imm("ori", 0x1000_0000, -2048), 0xffff_f800);
    assert_eq!(alu_imm("andi", 0x1234_5678, 0xff), 0x78);
    assert_eq!(alu_imm("andi", 0x1234_5678, -16), 0x1234_5670);
}

#[test]
fn immediate_shifts() {
    assert_eq!(alu_imm("slli", 1, 31), INT_MIN);
    assert_eq!(alu_imm("slli", 0x8000_0001, 1), 2);
    assert_eq!(alu_imm("slli", 7, 0), 7);
    assert_eq!(alu_imm("srli", INT_MIN, 31), 1);
    assert_eq!(alu_imm("srli", 0xffff_ffff, 4), 0x0fff_ffff);
    assert_eq!(alu_imm("srai", INT_MIN, 31), 0xffff_ffff);
    assert_eq!(alu_imm("srai", 0xffff_ff00, 4), 0xffff_fff0);
    assert_eq!(alu_imm("srai", 0x7fff_ffff, 30), 1);
}

#[test]
fn lui_auipc() {
    let (ctx, flow) = run(enc_u(LUI, A0, 0xdead_b000), &[(A0, 0x123)]);
    assert_eq!((flow, ctx.regs[10]), (NEXT, 0xdead_b000));
    let (ctx, flow) = run(enc_u(AUIPC, A0, 0x0001_0000), &[]);
    assert_eq!((flow, ctx.regs[10]), (NEXT, PC + 0x1_0000));
    // auipc wraps around the address space.
    let (ctx, _) = run(enc_u(AUIPC, A0, 0xffff_f000), &[]);
    assert_eq!(ctx.regs[10], 0);
}

#[test]
fn writes_to_x0_are_discarded() {
    // The test context asserts that `set_reg(0, _)` is never called.
    for word in [
        op("add", 0, A1, A1),
        op("div", 0, A1, 0),
        op_imm("addi", 0, 0, 5),
        enc_u(LUI, 0, 0x1000),
        enc_u(AUIPC, 0, 0x1000),
        enc_j(0, 8),
        jalr(0, A1, 0),
    ] {
        let (ctx, flow) = run(word, &[(A1, 0x2000)]);
        assert!(matches!(flow, Flow::Next(_)), "{word:#x}");
        assert_eq!(ctx.regs[0], 0);
    }
    // x0 reads as zero as a source.
    assert_eq!(alu_imm("addi", 0, 0), 0);
    let (ctx, _) = run(op("sub", A0, 0, A1), &[(A1, 1)]);
    assert_eq!(ctx.regs[10], 0xffff_ffff);
    // A load into x0 still reads memory (it is a data access), but writes nothing.
    let (ctx, flow) = run_with(load("lw", 0, A1, 0), &[(A1, 0x2000)], |c| {
        c.put_word(0x2000, 7)
    });
    assert_eq!(flow, NEXT);
    assert_eq!(ctx.events, [Event::Load(0x2000, Width::Word)]);
}

#[test]
fn jal_links_and_jumps() {
    let (ctx, flow) = run(enc_j(1, 0x100), &[]);
    assert_eq!(flow, Flow::Next(PC + 0x100));
    assert_eq!(ctx.regs[1], PC + 4);
    let (ctx, flow) = run(enc_j(1, -0x1000), &[]);
    assert_eq!(flow, Flow::Next(0));
    assert_eq!(ctx.regs[1], PC + 4);
    // Backwards past address zero wraps.
    let (_, flow) = run(enc_j(0, -0x1004), &[]);
    assert_eq!(flow, Flow::Next(0xffff_fffc));
}

#[test]
fn jal_to_a_misaligned_target_traps_without_linking() {
    let (ctx, flow) = run(enc_j(1, 6), &[(1, 0x55)]);
    assert_eq!(flow, trapped(TrapCause::MisalignedFetch));
    assert_eq!(ctx.regs[1], 0x55);
}

#[test]
fn jalr_links_and_clears_bit_zero() {
    let (ctx, flow) = run(jalr(1, A1, 0x10), &[(A1, 0x2000)]);
    assert_eq!(flow, Flow::Next(0x2010));
    assert_eq!(ctx.regs[1], PC + 4);
    let (_, flow) = run(jalr(0, A1, -4), &[(A1, 0x2000)]);
    assert_eq!(flow, Flow::Next(0x1ffc));
    // Bit 0 of the target is cleared.
    let (ctx, flow) = run(jalr(1, A1, 0), &[(A1, 0x2001)]);
    assert_eq!(flow, Flow::Next(0x2000));
    assert_eq!(ctx.regs[1], PC + 4);
    let (_, flow) = run(jalr(1, A1, 1), &[(A1, 0x2000)]);
    assert_eq!(flow, Flow::Next(0x2000));
    // rd == rs1: the target uses the old value.
    let (ctx, flow) = run(jalr(A1, A1, 8), &[(A1, 0x3000)]);
    assert_eq!(flow, Flow::Next(0x3008));
    assert_eq!(ctx.regs[11], PC + 4);
}

#[test]
fn jalr_to_a_misaligned_target_traps_without_linking() {
    for (base, imm) in [(0x2002, 0), (0x2003, 0), (0x2000, 2), (0x2000, -1)] {
        let (ctx, flow) = run(jalr(1, A1, imm), &[(A1, base), (1, 0x77)]);
        assert_eq!(
            flow,
            trapped(TrapCause::MisalignedFetch),
            "{base:#x}{imm:+}"
        );
        assert_eq!(ctx.regs[1], 0x77);
    }
}

#[test]
fn branches() {
    let m1 = 0xffff_ffff; // -1
    // (name, a1, a2, taken)
    let cases = [
        ("beq", 5, 5, true),
        ("beq", 5, 6, false),
        ("bne", 5, 6, true),
        ("bne", 5, 5, false),
        ("blt", m1, 1, true),
        ("blt", 1, m1, false),
        ("blt", 3, 3, false),
        ("bge", 1, m1, true),
        ("bge", 3, 3, true),
        ("bge", m1, 1, false),
        ("bltu", 1, m1, true),
        ("bltu", m1, 1, false),
        ("bltu", 3, 3, false),
        ("bgeu", m1, 1, true),
        ("bgeu", 3, 3, true),
        ("bgeu", 1, m1, false),
    ];
    for (name, x, y, taken) in cases {
        for offset in [16, -16] {
            let (ctx, flow) = run(branch(name, A1, A2, offset), &[(A1, x), (A2, y)]);
            let expected = if taken {
                PC.wrapping_add(offset as u32)
            } else {
                PC + 4
            };
            assert_eq!(flow, Flow::Next(expected), "{name} {x:#x} {y:#x} {offset}");
            assert!(ctx.events.is_empty());
        }
    }
    // Comparisons against x0.
    let (_, flow) = run(branch("beq", A1, 0, 8), &[(A1, 0)]);
    assert_eq!(flow, Flow::Next(PC + 8));
}

#[test]
fn misaligned_branch_targets_trap_only_when_taken() {
    let (_, flow) = run(branch("beq", A1, A2, 6), &[(A1, 1), (A2, 1)]);
    assert_eq!(flow, trapped(TrapCause::MisalignedFetch));
    let (_, flow) = run(branch("bne", A1, A2, -2), &[(A1, 1), (A2, 2)]);
    assert_eq!(flow, trapped(TrapCause::MisalignedFetch));
    let (_, flow) = run(branch("beq", A1, A2, 6), &[(A1, 1), (A2, 2)]);
    assert_eq!(flow, NEXT);
    let (_, flow) = run(branch("bltu", A1, A2, 2), &[(A1, 2), (A2, 1)]);
    assert_eq!(flow, NEXT);
}

/// Memory for the load tests: `0x80 0x81 0x7f 0xff` at 0x2000, `0x01 0x80 0x34 0x12` at 0x2004.
fn load_mem(ctx: &mut TestCtx) {
    ctx.put(0x2000, &[0x80, 0x81, 0x7f, 0xff, 0x01, 0x80, 0x34, 0x12]);
}

/// `name a0, offset(a1)` with `a1 = base` over [`load_mem`]; returns `a0` and the events.
fn do_load(name: &str, base: u32, offset: i32) -> (Flow, u32, Vec<Event>) {
    let (ctx, flow) = run_with(
        load(name, A0, A1, offset),
        &[(A1, base), (A0, 0xaaaa)],
        load_mem,
    );
    (flow, ctx.regs[10], ctx.events)
}

#[test]
fn loads_extend_per_width() {
    let cases = [
        ("lb", 0x2000, 0, 0xffff_ff80),
        ("lb", 0x2000, 2, 0x7f),
        ("lbu", 0x2000, 0, 0x80),
        ("lbu", 0x2003, 0, 0xff),
        ("lh", 0x2000, 0, 0xffff_8180),
        ("lh", 0x2000, 2, 0xffff_ff7f),
        ("lh", 0x2004, 0, 0xffff_8001),
        ("lh", 0x2008, -2, 0x1234),
        ("lhu", 0x2000, 0, 0x8180),
        ("lhu", 0x2004, 0, 0x8001),
        ("lw", 0x2000, 0, 0xff7f_8180),
        ("lw", 0x2008, -4, 0x1234_8001),
        ("lw", 0x1ffc, 4, 0xff7f_8180),
        ("lw", 0x3000, 0, 0),
    ];
    for (name, base, offset, expected) in cases {
        let (flow, value, events) = do_load(name, base, offset);
        assert_eq!(flow, NEXT, "{name} {offset}({base:#x})");
        assert_eq!(value, expected, "{name} {offset}({base:#x})");
        assert_eq!(events.len(), 1);
    }
    // Byte loads at any address.
    assert_eq!(do_load("lbu", 0x2001, 0).1, 0x81);
    assert_eq!(do_load("lb", 0x2002, 1).1, 0xffff_ffff);
}

#[test]
fn misaligned_loads_trap_without_effects() {
    for (name, base, offset) in [
        ("lh", 0x2001, 0),
        ("lhu", 0x2000, 3),
        ("lw", 0x2002, 0),
        ("lw", 0x2000, 1),
        ("lw", 0x2004, -1),
    ] {
        let (flow, value, events) = do_load(name, base, offset);
        assert_eq!(flow, trapped(TrapCause::MisalignedLoad), "{name}");
        assert_eq!(value, 0xaaaa, "rd must not be written");
        assert!(events.is_empty(), "memory must not be touched");
    }
}

#[test]
fn stores_write_little_endian() {
    let value = 0x1234_5678;
    let cases: [(&str, u32, i32, &[u8]); 5] = [
        ("sb", 0x2001, 0, &[0, 0x78, 0, 0]),
        ("sh", 0x2000, 2, &[0, 0, 0x78, 0x56]),
        ("sw", 0x2004, -4, &[0x78, 0x56, 0x34, 0x12]),
        ("sb", 0x2003, 0, &[0, 0, 0, 0x78]),
        ("sh", 0x2000, 0, &[0x78, 0x56, 0, 0]),
    ];
    for (name, base, offset, expected) in cases {
        let (ctx, flow) = run(store(name, A1, A2, offset), &[(A1, base), (A2, value)]);
        assert_eq!(flow, NEXT);
        assert_eq!(ctx.bytes(0x2000, 4), expected, "{name} {offset}({base:#x})");
        assert_eq!(ctx.bytes(0x2004, 4), [0; 4]);
        assert_eq!(ctx.events.len(), 1);
    }
    // A store of x0 writes zero.
    let (ctx, _) = run_with(store("sw", A1, 0, 0), &[(A1, 0x2000)], |c| {
        c.put_word(0x2000, 0xffff_ffff)
    });
    assert_eq!(ctx.bytes(0x2000, 4), [0; 4]);
}

#[test]
fn misaligned_stores_trap_without_effects() {
    for (name, base, offset) in [("sh", 0x2001, 0), ("sw", 0x2002, 0), ("sw", 0x2000, -1)] {
        let (ctx, flow) = run(
            store(name, A1, A2, offset),
            &[(A1, base), (A2, 0xffff_ffff)],
        );
        assert_eq!(flow, trapped(TrapCause::MisalignedStore), "{name}");
        assert!(ctx.events.is_empty());
        assert_eq!(ctx.mem.len(), 4, "only the instruction is in memory");
    }
}

#[test]
fn fence_is_a_no_op() {
    let (ctx, flow) = run(enc_i(MISC_MEM, 0, A0, A1, 0x0ff), &[(A1, 3)]);
    assert_eq!(flow, NEXT);
    assert_eq!(ctx.regs[10], 0);
    assert!(ctx.events.is_empty());
}

#[test]
fn ebreak_and_illegal_trap() {
    let (_, flow) = run(EBREAK, &[]);
    assert_eq!(flow, trapped(TrapCause::Breakpoint));
    for word in [0, 0x3000_2573, 0x0000_100f, jalr(1, 2, 0) | 1 << 12] {
        let (ctx, flow) = run(word, &[(1, 9)]);
        assert_eq!(flow, trapped(TrapCause::IllegalInstruction), "{word:#x}");
        assert_eq!(ctx.regs[1], 9);
        assert!(ctx.events.is_empty());
    }
}

#[test]
fn step_at_a_misaligned_pc_traps_without_fetching() {
    for pc in [0x1001, 0x1002, 0x1003] {
        let mut ctx = TestCtx::default();
        let flow = opml_isa::step(&mut ctx, pc);
        assert_eq!(flow, trapped(TrapCause::MisalignedFetch));
        assert!(ctx.events.is_empty());
    }
}

#[test]
fn step_runs_a_small_program() {
    // sum = 0; for i in 1..=10 { sum += i }; exit(sum)
    let program = [
        op_imm("addi", A0, 0, 0),   // a0 = 0
        op_imm("addi", T0, 0, 10),  // t0 = 10
        op("add", A0, A0, T0),      // loop: a0 += t0
        op_imm("addi", T0, T0, -1), // t0 -= 1
        branch("bne", T0, 0, -8),   // if t0 != 0 goto loop
        op_imm("addi", A7, 0, 93),  // a7 = exit
        ECALL,
    ];
    let mut ctx = TestCtx::default();
    for (i, word) in program.iter().enumerate() {
        ctx.put_word(PC + 4 * i as u32, *word);
    }
    let mut pc = PC;
    let mut steps = 0;
    let status = loop {
        steps += 1;
        match opml_isa::step(&mut ctx, pc) {
            Flow::Next(next) => pc = next,
            Flow::Halt(status) => break status,
            Flow::Blocked => panic!("the program makes no preimage call"),
        }
    };
    assert_eq!(status, ExitStatus::Exited(55));
    assert_eq!(steps, 2 + 3 * 10 + 2);
    assert_eq!(pc, PC + 24);
}
