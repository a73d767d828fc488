//! Instruction and syscall semantics.

use opml_platform::{TrapCause, errno, fd, memory::LEAF_SIZE, reg, syscall};
use opml_state::ExitStatus;

use crate::{Context, Flow, Instruction, Width, decode};

/// The flow of a trap with `cause`.
#[inline(always)]
fn trap(cause: TrapCause) -> Flow {
    Flow::Halt(ExitStatus::Trapped(cause))
}

/// Register `index` of an instruction field.
#[inline(always)]
fn get<C: Context>(ctx: &C, index: u8) -> u32 {
    ctx.reg(usize::from(index))
}

/// Writes `value` to `rd` unless `rd` is `x0`.
#[inline(always)]
fn set<C: Context>(ctx: &mut C, rd: u8, value: u32) {
    if rd != 0 {
        ctx.set_reg(usize::from(rd), value);
    }
}

/// `pc + offset`, wrapping around the address space.
#[inline(always)]
fn offset(pc: u32, offset: i32) -> u32 {
    pc.wrapping_add(offset as u32)
}

/// A jump to `target`: link `rd` and continue there, or trap if `target` is not 4-aligned
/// (then `rd` is not written).
#[inline(always)]
fn jump<C: Context>(ctx: &mut C, pc: u32, rd: u8, target: u32) -> Flow {
    if !target.is_multiple_of(4) {
        return trap(TrapCause::MisalignedFetch);
    }
    set(ctx, rd, pc.wrapping_add(4));
    Flow::Next(target)
}

/// A conditional branch: continue at `pc + offset` if `taken` (trapping if that is not
/// 4-aligned), else at `pc + 4`.
#[inline(always)]
fn branch(pc: u32, taken: bool, offset_: i32) -> Flow {
    if !taken {
        return Flow::Next(pc.wrapping_add(4));
    }
    let target = offset(pc, offset_);
    if !target.is_multiple_of(4) {
        return trap(TrapCause::MisalignedFetch);
    }
    Flow::Next(target)
}

/// Whether `addr` is aligned to `width`.
#[inline(always)]
fn aligned(addr: u32, width: Width) -> bool {
    addr & (width as u32 - 1) == 0
}

/// A load of `width` at `rs1 + offset` into `rd`, sign-extended from bit `8 * width - 1` when
/// `signed`; traps without touching memory or `rd` if the address is misaligned.
#[inline(always)]
fn load<C: Context>(
    ctx: &mut C,
    pc: u32,
    (rd, rs1, offset_): (u8, u8, i32),
    width: Width,
    signed: bool,
) -> Flow {
    let addr = offset(get(ctx, rs1), offset_);
    if !aligned(addr, width) {
        return trap(TrapCause::MisalignedLoad);
    }
    let raw = ctx.load(addr, width);
    let value = match (width, signed) {
        (Width::Byte, true) => raw as u8 as i8 as u32,
        (Width::Half, true) => raw as u16 as i16 as u32,
        _ => raw,
    };
    set(ctx, rd, value);
    Flow::Next(pc.wrapping_add(4))
}

/// A store of the low `width` bytes of `rs2` at `rs1 + offset`; traps without touching memory
/// if the address is misaligned.
#[inline(always)]
fn store<C: Context>(
    ctx: &mut C,
    pc: u32,
    (rs1, rs2, offset_): (u8, u8, i32),
    width: Width,
) -> Flow {
    let addr = offset(get(ctx, rs1), offset_);
    if !aligned(addr, width) {
        return trap(TrapCause::MisalignedStore);
    }
    let value = get(ctx, rs2);
    ctx.store(addr, width, value);
    Flow::Next(pc.wrapping_add(4))
}

/// Bytes from `buf` to the end of its 32-byte memory leaf (`1..=32`).
#[inline(always)]
fn leaf_room(buf: u32) -> u32 {
    LEAF_SIZE - buf % LEAF_SIZE
}

/// A negated errno as the `a0` result of a syscall.
#[inline(always)]
fn neg(errno: u32) -> u32 {
    0u32.wrapping_sub(errno)
}

/// The `read` syscall; returns `a0`. The input is asked for its available count only when
/// there is something to read (`fd == 0`, `len > 0`): that is when a step proof carries an input
/// chunk.
#[inline(always)]
fn sys_read<C: Context>(ctx: &mut C, file: u32, buf: u32, len: u32) -> u32 {
    if file != fd::STDIN {
        return neg(errno::EBADF);
    }
    if len == 0 {
        return 0;
    }
    let available = ctx.input_available();
    if available == 0 {
        return 0;
    }
    let n = len.min(available).min(leaf_room(buf));
    ctx.read_input(buf, n);
    n
}

/// The `write` syscall; returns `a0`.
#[inline(always)]
fn sys_write<C: Context>(ctx: &mut C, file: u32, buf: u32, len: u32) -> u32 {
    match file {
        fd::STDOUT => {
            let n = len.min(ctx.output_room()).min(leaf_room(buf));
            if n > 0 {
                ctx.write_output(buf, n);
            }
            n
        }
        fd::STDERR => {
            let n = len.min(leaf_room(buf));
            if n > 0 {
                ctx.write_log(buf, n);
            }
            n
        }
        _ => neg(errno::EBADF),
    }
}

/// The `preimage` syscall; returns `a0`, or `None` if the machine lacks the preimage. A `buf`
/// that is not 32-byte aligned or a `half` above 1 is refused with `-EINVAL` before memory is
/// touched.
#[inline(always)]
fn sys_preimage<C: Context>(ctx: &mut C, buf: u32, half: u32) -> Option<u32> {
    if !buf.is_multiple_of(LEAF_SIZE) || half > 1 {
        return Some(neg(errno::EINVAL));
    }
    ctx.preimage(buf, half).then_some(0)
}

/// `ecall`: the syscall numbered by `a7`, with arguments `a0, a1, a2` and its result in `a0`
/// (see the syscall table of `docs/vm-spec.md`).
#[inline(always)]
fn ecall<C: Context>(ctx: &mut C, pc: u32) -> Flow {
    let a0 = ctx.reg(reg::A0);
    let a1 = ctx.reg(reg::A1);
    let a2 = ctx.reg(reg::A2);
    let result = match ctx.reg(reg::A7) {
        syscall::EXIT | syscall::EXIT_GROUP => return Flow::Halt(ExitStatus::Exited(a0)),
        syscall::READ => sys_read(ctx, a0, a1, a2),
        syscall::WRITE => sys_write(ctx, a0, a1, a2),
        syscall::PREIMAGE => match sys_preimage(ctx, a0, a1) {
            Some(result) => result,
            None => return Flow::Blocked,
        },
        _ => neg(errno::ENOSYS),
    };
    ctx.set_reg(reg::A0, result);
    Flow::Next(pc.wrapping_add(4))
}

/// High 32 bits of a 64-bit product.
#[inline(always)]
fn high(product: u64) -> u32 {
    (product >> 32) as u32
}

/// Executes `insn`, the instruction at `pc`, against `ctx`.
///
/// Returns where execution continues, or how the machine halts (an `exit` syscall or a trap;
/// `pc` then stays at this instruction), or [`Flow::Blocked`] when the context lacks the
/// preimage a `preimage` syscall asks for. A trapping instruction has no other effect: no
/// register is written and no memory or stream is touched past the access that trapped, which
/// never happens (alignment is checked before memory is touched). Context calls are made in
/// the order their leaves and chunks appear in a step proof.
#[inline(always)]
pub fn execute<C: Context>(ctx: &mut C, pc: u32, insn: Instruction) -> Flow {
    use Instruction::*;
    let next = pc.wrapping_add(4);
    let value = match insn {
        Lui { rd, imm } => {
            set(ctx, rd, imm);
            return Flow::Next(next);
        }
        Auipc { rd, imm } => {
            set(ctx, rd, pc.wrapping_add(imm));
            return Flow::Next(next);
        }
        Jal { rd, offset: o } => return jump(ctx, pc, rd, offset(pc, o)),
        Jalr { rd, rs1, offset: o } => {
            let target = offset(get(ctx, rs1), o) & !1;
            return jump(ctx, pc, rd, target);
        }
        Beq { rs1, rs2, offset } => {
            return branch(pc, get(ctx, rs1) == get(ctx, rs2), offset);
        }
        Bne { rs1, rs2, offset } => {
            return branch(pc, get(ctx, rs1) != get(ctx, rs2), offset);
        }
        Blt { rs1, rs2, offset } => {
            return branch(pc, (get(ctx, rs1) as i32) < get(ctx, rs2) as i32, offset);
        }
        Bge { rs1, rs2, offset } => {
            return branch(pc, get(ctx, rs1) as i32 >= get(ctx, rs2) as i32, offset);
        }
        Bltu { rs1, rs2, offset } => return branch(pc, get(ctx, rs1) < get(ctx, rs2), offset),
        Bgeu { rs1, rs2, offset } => return branch(pc, get(ctx, rs1) >= get(ctx, rs2), offset),
        Lb { rd, rs1, offset } => return load(ctx, pc, (rd, rs1, offset), Width::Byte, true),
        Lh { rd, rs1, offset } => return load(ctx, pc, (rd, rs1, offset), Width::Half, true),
        Lw { rd, rs1, offset } => return load(ctx, pc, (rd, rs1, offset), Width::Word, false),
        Lbu { rd, rs1, offset } => return load(ctx, pc, (rd, rs1, offset), Width::Byte, false),
        Lhu { rd, rs1, offset } => return load(ctx, pc, (rd, rs1, offset), Width::Half, false),
        Sb { rs1, rs2, offset } => return store(ctx, pc, (rs1, rs2, offset), Width::Byte),
        Sh { rs1, rs2, offset } => return store(ctx, pc, (rs1, rs2, offset), Width::Half),
        Sw { rs1, rs2, offset } => return store(ctx, pc, (rs1, rs2, offset), Width::Word),
        Addi { rd, rs1, imm } => (rd, get(ctx, rs1).wrapping_add(imm as u32)),
        Slti { rd, rs1, imm } => (rd, ((get(ctx, rs1) as i32) < imm) as u32),
        Sltiu { rd, rs1, imm } => (rd, (get(ctx, rs1) < imm as u32) as u32),
        Xori { rd, rs1, imm } => (rd, get(ctx, rs1) ^ imm as u32),
        Ori { rd, rs1, imm } => (rd, get(ctx, rs1) | imm as u32),
        Andi { rd, rs1, imm } => (rd, get(ctx, rs1) & imm as u32),
        Slli { rd, rs1, shamt } => (rd, get(ctx, rs1) << (shamt & 31)),
        Srli { rd, rs1, shamt } => (rd, get(ctx, rs1) >> (shamt & 31)),
        Srai { rd, rs1, shamt } => (rd, ((get(ctx, rs1) as i32) >> (shamt & 31)) as u32),
        Add { rd, rs1, rs2 } => (rd, get(ctx, rs1).wrapping_add(get(ctx, rs2))),
        Sub { rd, rs1, rs2 } => (rd, get(ctx, rs1).wrapping_sub(get(ctx, rs2))),
        Sll { rd, rs1, rs2 } => (rd, get(ctx, rs1) << (get(ctx, rs2) & 31)),
        Slt { rd, rs1, rs2 } => (rd, ((get(ctx, rs1) as i32) < get(ctx, rs2) as i32) as u32),
        Sltu { rd, rs1, rs2 } => (rd, (get(ctx, rs1) < get(ctx, rs2)) as u32),
        Xor { rd, rs1, rs2 } => (rd, get(ctx, rs1) ^ get(ctx, rs2)),
        Srl { rd, rs1, rs2 } => (rd, get(ctx, rs1) >> (get(ctx, rs2) & 31)),
        Sra { rd, rs1, rs2 } => (rd, ((get(ctx, rs1) as i32) >> (get(ctx, rs2) & 31)) as u32),
        Or { rd, rs1, rs2 } => (rd, get(ctx, rs1) | get(ctx, rs2)),
        And { rd, rs1, rs2 } => (rd, get(ctx, rs1) & get(ctx, rs2)),
        Mul { rd, rs1, rs2 } => (rd, get(ctx, rs1).wrapping_mul(get(ctx, rs2))),
        Mulh { rd, rs1, rs2 } => {
            let product = i64::from(get(ctx, rs1) as i32) * i64::from(get(ctx, rs2) as i32);
            (rd, high(product as u64))
        }
        Mulhsu { rd, rs1, rs2 } => {
            // A signed 32-bit times an unsigned 32-bit value always fits in an i64.
            let product = i64::from(get(ctx, rs1) as i32) * i64::from(get(ctx, rs2));
            (rd, high(product as u64))
        }
        Mulhu { rd, rs1, rs2 } => (
            rd,
            high(u64::from(get(ctx, rs1)) * u64::from(get(ctx, rs2))),
        ),
        Div { rd, rs1, rs2 } => {
            let (a, b) = (get(ctx, rs1) as i32, get(ctx, rs2) as i32);
            // Division by zero gives -1; wrapping_div gives INT_MIN for INT_MIN / -1.
            (
                rd,
                if b == 0 {
                    u32::MAX
                } else {
                    a.wrapping_div(b) as u32
                },
            )
        }
        Divu { rd, rs1, rs2 } => {
            let (a, b) = (get(ctx, rs1), get(ctx, rs2));
            (rd, a.checked_div(b).unwrap_or(u32::MAX))
        }
        Rem { rd, rs1, rs2 } => {
            let (a, b) = (get(ctx, rs1) as i32, get(ctx, rs2) as i32);
            // Remainder by zero gives the dividend; wrapping_rem gives 0 for INT_MIN % -1.
            (
                rd,
                if b == 0 {
                    a as u32
                } else {
                    a.wrapping_rem(b) as u32
                },
            )
        }
        Remu { rd, rs1, rs2 } => {
            let (a, b) = (get(ctx, rs1), get(ctx, rs2));
            (rd, a.checked_rem(b).unwrap_or(a))
        }
        Fence => return Flow::Next(next),
        Ecall => return ecall(ctx, pc),
        Ebreak => return trap(TrapCause::Breakpoint),
        Illegal(_) => return trap(TrapCause::IllegalInstruction),
    };
    set(ctx, value.0, value.1);
    Flow::Next(next)
}

/// One step of a running machine at `pc`: trap [`TrapCause::MisalignedFetch`] if `pc` is not
/// 4-aligned (nothing is fetched), else fetch, [`decode`] and [`execute`].
///
/// The caller keeps the status and the step counter (see "One step" in `docs/vm-spec.md`).
#[inline(always)]
pub fn step<C: Context>(ctx: &mut C, pc: u32) -> Flow {
    if !pc.is_multiple_of(4) {
        return trap(TrapCause::MisalignedFetch);
    }
    let word = ctx.fetch(pc);
    execute(ctx, pc, decode(word))
}
