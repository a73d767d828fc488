//! Translation of one block of RV32IM instructions to a Cranelift function.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    AbiParam, BlockArg, InstBuilder, MemFlagsData, Signature, Value, types,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, ir};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Module, default_libcall_names};
use opml_isa::Instruction;

use super::{Block, ENTER, EnterFn, MAX_LEN, MAX_REGION, MAX_REGIONS, PAGE_SLOTS, REGION_PAGES};
use crate::fast::{jit_load, jit_store, layout};

/// Whether `insn` transfers control (and so ends a basic block).
#[inline(always)]
pub(crate) fn ends_block(insn: Instruction) -> bool {
    use Instruction::*;
    matches!(
        insn,
        Jal { .. }
            | Jalr { .. }
            | Beq { .. }
            | Bne { .. }
            | Blt { .. }
            | Bge { .. }
            | Bltu { .. }
            | Bgeu { .. }
    )
}

/// A compiled region's start address, the address of its first instruction and its
/// instructions from there.
pub(crate) type RegionKey = ((u32, u32), Box<[Instruction]>);

/// A Cranelift JIT module, the regions it compiled and the scratch state of its translations.
pub(crate) struct Compiler {
    module: JITModule,
    /// The entry function from Rust into its regions.
    enter: EnterFn,
    /// The compiled regions by their key.
    cache: HashMap<RegionKey, Block>,
    ctx: Context,
    builder: FunctionBuilderContext,
    blocks: u64,
    reused: u64,
    time: Duration,
    /// Most regions this compiler compiles; past it, blocks are interpreted.
    limit: u64,
}

impl Compiler {
    /// The process's compiler; its entry function becomes [`ENTER`].
    pub(crate) fn new() -> Compiler {
        let compiler = Compiler::with_limit(MAX_REGIONS);
        ENTER.get_or_init(|| compiler.enter);
        compiler
    }

    /// A compiler of at most `limit` blocks.
    fn with_limit(limit: u64) -> Compiler {
        let mut flags = settings::builder();
        // `none`: about as fast code on guest blocks as `speed` (measured), compiled faster.
        for (name, value) in [
            ("opt_level", "none"),
            ("is_pic", "false"),
            // Cranelift's tail calls (region links) need frame pointers.
            ("preserve_frame_pointers", "true"),
            // The IR verifier took a fifth of the compile time; the tests run the code.
            ("enable_verifier", "false"),
        ] {
            flags.set(name, value).expect("a Cranelift setting");
        }
        let isa = cranelift_native::builder()
            .expect("a Cranelift backend for this host")
            .finish(settings::Flags::new(flags))
            .expect("a Cranelift ISA for this host");
        let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        let mut ctx = module.make_context();
        let mut builder = FunctionBuilderContext::new();
        let enter = entry_function(&mut module, &mut ctx, &mut builder);
        Compiler {
            enter,
            ctx,
            module,
            cache: HashMap::new(),
            builder,
            blocks: 0,
            reused: 0,
            time: Duration::ZERO,
            limit,
        }
    }

    /// Regions compiled, regions reused from the cache, and time spent compiling.
    pub(crate) fn stats(&self) -> (u64, u64, Duration) {
        (self.blocks, self.reused, self.time)
    }

    /// The region starting at slot `start` of `insns`, if this compiler compiled it before
    /// (for any machine).
    pub(crate) fn cached(&mut self, insns: &[Instruction], start: usize) -> Option<Block> {
        let (_, key) = Region::keyed(insns, start)?;
        self.reuse(&key)
    }

    fn reuse(&mut self, key: &RegionKey) -> Option<Block> {
        let block = self.cache.get(key).copied();
        self.reused += u64::from(block.is_some());
        block
    }

    /// The region starting at slot `start` of `insns`, if its first block has an instruction:
    /// compiled before, or now.
    #[cfg(test)]
    fn compile(&mut self, insns: &[Instruction], start: usize) -> Option<Block> {
        let (region, key) = Region::keyed(insns, start)?;
        self.build(&region, key)
    }

    /// The compiled `region` with `key`: compiled before, or now (if under the limit).
    pub(crate) fn build(&mut self, region: &Region, key: RegionKey) -> Option<Block> {
        if let Some(block) = self.reuse(&key) {
            return Some(block);
        }
        if self.blocks >= self.limit {
            return None;
        }
        let began = Instant::now();
        let module = &mut self.module;
        let ptr = module.target_config().pointer_type();
        let call_conv = module.isa().default_call_conv();
        self.ctx.func.signature = block_signature(ptr);
        let helpers = (
            signature(call_conv, &[ptr, types::I32, types::I32], types::I32),
            signature(
                call_conv,
                &[ptr, types::I32, types::I32, types::I32],
                types::I32,
            ),
        );
        let frontend = module.isa().frontend_config();
        let b = FunctionBuilder::new(&mut self.ctx.func, &mut self.builder);
        Translator::new(b, (ptr, frontend), helpers).region(&key.1, region);
        let code = define(module, &mut self.ctx);
        self.blocks += 1;
        self.time += began.elapsed();
        let block = Block(code as usize);
        self.cache.insert(key, block);
        Some(block)
    }
}

/// The basic blocks one compiled function covers: from its start, every block that a branch,
/// a plain jump (`jal x0`) or a fall-through reaches, inside the start's page and the next one
/// and up to [`MAX_REGION`] instructions in all. Calls (`jal` with a link register), `jalr`
/// and edges leaving the region go through the link table instead.
pub(crate) struct Region {
    /// The basic blocks as (start slot, instructions), the entry first.
    pub(crate) blocks: Vec<(usize, usize)>,
    /// The slots from the first block's start to the last block's end.
    span: std::ops::Range<usize>,
}

impl Region {
    /// The region starting at `start` and its cache key.
    pub(crate) fn keyed(insns: &[Instruction], start: usize) -> Option<(Region, RegionKey)> {
        let region = Region::discover(insns, start)?;
        let key = (
            (4 * start as u32, 4 * region.span.start as u32),
            Box::from(&insns[region.span.clone()]),
        );
        Some((region, key))
    }

    fn discover(insns: &[Instruction], start: usize) -> Option<Region> {
        let first_page = start / PAGE_SLOTS * PAGE_SLOTS;
        let end = insns.len().min(first_page + REGION_PAGES * PAGE_SLOTS);
        let mut blocks = vec![(start, basic_block(insns, start)?)];
        let mut total = blocks[0].1;
        let mut next = 0;
        while next < blocks.len() {
            let (at, len) = blocks[next];
            next += 1;
            for succ in successors(insns, at, len) {
                if !(first_page..end).contains(&succ) || blocks.iter().any(|&(b, _)| b == succ) {
                    continue;
                }
                if let Some(len) = basic_block(insns, succ)
                    && total + len <= MAX_REGION
                {
                    blocks.push((succ, len));
                    total += len;
                }
            }
        }
        let lo = blocks.iter().map(|&(at, _)| at).min()?;
        let hi = blocks.iter().map(|&(at, len)| at + len).max()?;
        Some(Region {
            blocks,
            span: lo..hi,
        })
    }
}

/// The length of the basic block at slot `start`: up to and including its first control
/// transfer, before an instruction that is not compiled, to its page's end and at most
/// [`MAX_LEN`] instructions; `None` if empty.
fn basic_block(insns: &[Instruction], start: usize) -> Option<usize> {
    let page_end = (start / PAGE_SLOTS + 1) * PAGE_SLOTS;
    let mut len = 0;
    for &insn in &insns[start..page_end.min(insns.len()).min(start + MAX_LEN)] {
        if !compilable(4 * (start + len) as u32, insn) {
            break;
        }
        len += 1;
        if ends_block(insn) {
            break;
        }
    }
    (len > 0).then_some(len)
}

/// The slots where the basic block at `start` of `len` instructions may go on inside its
/// function: a branch's two ways, a plain jump's target, the next slot after a block that ends
/// without a control transfer; none after a call or a `jalr`.
fn successors(insns: &[Instruction], start: usize, len: usize) -> Vec<usize> {
    use Instruction::*;
    let last = start + len - 1;
    let target = |offset: i32| ((4 * last as i64 + i64::from(offset)) / 4).try_into().ok();
    match insns[last] {
        Jal { rd: 0, offset } => target(offset).into_iter().collect(),
        Jal { .. } | Jalr { .. } => Vec::new(),
        Beq { offset, .. }
        | Bne { offset, .. }
        | Blt { offset, .. }
        | Bge { offset, .. }
        | Bltu { offset, .. }
        | Bgeu { offset, .. } => target(offset).into_iter().chain([last + 1]).collect(),
        _ => vec![start + len],
    }
}

/// A signature of `params` and one `ret` in `call_conv`.
fn signature(call_conv: CallConv, params: &[types::Type], ret: types::Type) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params
        .extend(params.iter().map(|&ty| AbiParam::new(ty)));
    sig.returns.push(AbiParam::new(ret));
    sig
}

/// A block's signature: `(fast, budget, done) -> done' << 32 | next_pc`, in the `tail`
/// calling convention, so that blocks can tail-call one another.
fn block_signature(ptr: types::Type) -> Signature {
    signature(CallConv::Tail, &[ptr, types::I64, types::I64], types::I64)
}

/// Compiles the function in `ctx` and returns its code's address.
fn define(module: &mut JITModule, ctx: &mut Context) -> *const u8 {
    let id = module
        .declare_anonymous_function(&ctx.func.signature)
        .expect("declare a function");
    module.define_function(id, ctx).expect("compile a function");
    module.clear_context(ctx);
    module.finalize_definitions().expect("finalize a function");
    module.get_finalized_function(id)
}

/// Compiles the entry from Rust into compiled code: `enter(fast, budget, block)` calls the
/// block (the `tail` calling convention, which Rust cannot call) with nothing done yet.
fn entry_function(
    module: &mut JITModule,
    ctx: &mut Context,
    builder: &mut FunctionBuilderContext,
) -> EnterFn {
    let ptr = module.target_config().pointer_type();
    let call_conv = module.isa().default_call_conv();
    ctx.func.signature = signature(call_conv, &[ptr, types::I64, ptr], types::I64);
    let mut b = FunctionBuilder::new(&mut ctx.func, builder);
    let block_sig = b.import_signature(block_signature(ptr));
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let [fast, budget, block] = b.block_params(entry) else {
        unreachable!("three parameters")
    };
    let (fast, budget, block) = (*fast, *budget, *block);
    let none = b.ins().iconst(types::I64, 0);
    let call = b
        .ins()
        .call_indirect(block_sig, block, &[fast, budget, none]);
    let packed = b.inst_results(call)[0];
    b.ins().return_(&[packed]);
    b.finalize(module.isa().frontend_config());
    let code = define(module, ctx);
    // SAFETY: the function was compiled with the signature `EnterFn` describes (a pointer, a
    // u64 and a pointer in, a u64 out, the host's C calling convention).
    unsafe { std::mem::transmute::<*const u8, EnterFn>(code) }
}

/// Whether the block compiler translates `insn` at `pc`: everything but the instructions that
/// always trap or call the host, and jumps and branches to a misaligned target.
fn compilable(pc: u32, insn: Instruction) -> bool {
    use Instruction::*;
    match insn {
        Ecall | Ebreak | Illegal(_) => false,
        Jal { offset, .. }
        | Beq { offset, .. }
        | Bne { offset, .. }
        | Blt { offset, .. }
        | Bge { offset, .. }
        | Bltu { offset, .. }
        | Bgeu { offset, .. } => pc.wrapping_add(offset as u32).is_multiple_of(4),
        _ => true,
    }
}

/// The trusted flags of accesses to the context and to guest pages: aligned, never trapping.
fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Builds one block's function.
struct Translator<'a> {
    b: FunctionBuilder<'a>,
    ptr: types::Type,
    frontend: TargetFrontendConfig,
    /// The guest registers the block touches, as variables.
    regs: [Option<Variable>; 32],
    /// Which of them it writes.
    written: [bool; 32],
    /// Instructions completed before this pass: by the blocks that linked to this one and in
    /// earlier passes of a looping block (i64).
    done: Variable,
    fast: Value,
    budget: Value,
    /// `exit(done: i64, pc: i32, link: i8)`: writes the registers back, then tail-calls the
    /// block at `pc` if `link` and the link table has one, else returns.
    exit: ir::Block,
    load_sig: ir::SigRef,
    store_sig: ir::SigRef,
    block_sig: ir::SigRef,
    /// The region's basic blocks: pc, Cranelift block and length.
    heads: Vec<(u32, ir::Block, u32)>,
}

/// Registers an instruction reads and the one it writes.
fn operands(insn: Instruction) -> ([u8; 2], u8) {
    use Instruction::*;
    match insn {
        Lui { rd, .. } | Auipc { rd, .. } | Jal { rd, .. } => ([0, 0], rd),
        Jalr { rd, rs1, .. }
        | Lb { rd, rs1, .. }
        | Lh { rd, rs1, .. }
        | Lw { rd, rs1, .. }
        | Lbu { rd, rs1, .. }
        | Lhu { rd, rs1, .. }
        | Addi { rd, rs1, .. }
        | Slti { rd, rs1, .. }
        | Sltiu { rd, rs1, .. }
        | Xori { rd, rs1, .. }
        | Ori { rd, rs1, .. }
        | Andi { rd, rs1, .. }
        | Slli { rd, rs1, .. }
        | Srli { rd, rs1, .. }
        | Srai { rd, rs1, .. } => ([rs1, 0], rd),
        Beq { rs1, rs2, .. }
        | Bne { rs1, rs2, .. }
        | Blt { rs1, rs2, .. }
        | Bge { rs1, rs2, .. }
        | Bltu { rs1, rs2, .. }
        | Bgeu { rs1, rs2, .. }
        | Sb { rs1, rs2, .. }
        | Sh { rs1, rs2, .. }
        | Sw { rs1, rs2, .. } => ([rs1, rs2], 0),
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
        | Remu { rd, rs1, rs2 } => ([rs1, rs2], rd),
        Fence | Ecall | Ebreak | Illegal(_) => ([0, 0], 0),
    }
}

impl<'a> Translator<'a> {
    fn new(
        mut b: FunctionBuilder<'a>,
        (ptr, frontend): (types::Type, TargetFrontendConfig),
        (load, store): (Signature, Signature),
    ) -> Translator<'a> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let (fast, budget) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        let before = b.block_params(entry)[2];
        let exit = b.create_block();
        b.append_block_param(exit, types::I64);
        b.append_block_param(exit, types::I32);
        b.append_block_param(exit, types::I8);
        let done = b.declare_var(types::I64);
        b.def_var(done, before);
        Translator {
            load_sig: b.import_signature(load),
            store_sig: b.import_signature(store),
            block_sig: b.import_signature(block_signature(ptr)),
            b,
            ptr,
            frontend,
            regs: [None; 32],
            written: [false; 32],
            done,
            fast,
            budget,
            exit,
            heads: Vec::new(),
        }
    }

    /// Translates `region`, whose instructions from its first slot on are `code`, and
    /// finishes the function.
    fn region(mut self, code: &[Instruction], region: &Region) {
        let first = region.span.start;
        let (start, len) = region.blocks[0];
        let (start, len) = (4 * start as u32, len as u32);
        // Nothing runs unless the budget holds the whole first block.
        let before = self.b.use_var(self.done);
        let fits = self.budget_holds(before, len);
        let (body, refuse) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(refuse);
        self.b.ins().brif(fits, body, &[], refuse, &[]);
        self.b.switch_to_block(refuse);
        self.b.seal_block(refuse);
        let start_pc = self.imm(start);
        let packed = self.pack(before, start_pc);
        self.b.ins().return_(&[packed]);
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        let blocks = || {
            region
                .blocks
                .iter()
                .map(|&(at, len)| &code[at - first..][..len])
        };
        for &insn in blocks().flatten() {
            let (reads, write) = operands(insn);
            for r in reads.into_iter().chain([write]).filter(|&r| r != 0) {
                let r = usize::from(r);
                if self.regs[r].is_none() {
                    let var = self.b.declare_var(types::I32);
                    let value = self.b.ins().load(
                        types::I32,
                        flags(),
                        self.fast,
                        layout::REGS + 4 * r as i32,
                    );
                    self.b.def_var(var, value);
                    self.regs[r] = Some(var);
                }
                self.written[r] |= r == usize::from(write);
            }
        }
        self.heads = region
            .blocks
            .iter()
            .map(|&(at, len)| (4 * at as u32, self.b.create_block(), len as u32))
            .collect();
        self.b.ins().jump(self.heads[0].1, &[]);
        for k in 0..self.heads.len() {
            let (start, head, len) = self.heads[k];
            self.b.switch_to_block(head);
            let block = &code[start as usize / 4 - first..][..len as usize];
            for (i, &insn) in block.iter().enumerate() {
                let pc = start + 4 * i as u32;
                if ends_block(insn) {
                    self.control(insn, len, pc);
                } else {
                    self.straight(insn, i as u32, pc);
                }
            }
            if !ends_block(block[block.len() - 1]) {
                self.go(len, start + 4 * len);
            }
        }
        self.finish_exit();
        self.b.seal_all_blocks();
        self.b.finalize(self.frontend);
    }

    /// Goes on at `target` after `count` instructions of the current basic block: inside the
    /// region if it has a block there and the budget holds it, else through the link table.
    fn go(&mut self, count: u32, target: u32) {
        let Some(&(_, head, len)) = self.heads.iter().find(|&&(at, ..)| at == target) else {
            let target = self.imm(target);
            return self.link(count, target);
        };
        let done = self.b.use_var(self.done);
        let done = self.b.ins().iadd_imm_s(done, i64::from(count));
        let fits = self.budget_holds(done, len);
        let enter = self.b.create_block();
        let target = self.imm(target);
        let no_link = self.b.ins().iconst(types::I8, 0);
        self.b.ins().brif(
            fits,
            enter,
            &[],
            self.exit,
            &[done.into(), target.into(), no_link.into()],
        );
        self.b.switch_to_block(enter);
        self.b.seal_block(enter);
        self.b.def_var(self.done, done);
        self.b.ins().jump(head, &[]);
    }

    /// Whether the budget holds `len` more instructions after `done`: `budget - done >= len`.
    fn budget_holds(&mut self, done: Value, len: u32) -> Value {
        let left = self.b.ins().isub(self.budget, done);
        self.b
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, left, i64::from(len))
    }

    /// Writes back the registers the block writes, then links to the block at `pc` (if asked
    /// and compiled) or returns `done << 32 | pc`.
    fn finish_exit(&mut self) {
        self.b.switch_to_block(self.exit);
        self.b.seal_block(self.exit);
        let params = self.b.block_params(self.exit);
        let (done, pc, link) = (params[0], params[1], params[2]);
        for r in 1..32 {
            if self.written[r] {
                let var = self.regs[r].expect("a written register has a variable");
                let value = self.b.use_var(var);
                self.b
                    .ins()
                    .store(flags(), value, self.fast, layout::REGS + 4 * r as i32);
            }
        }
        let (lookup, found, ret) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(link, lookup, &[], ret, &[]);

        // The link table's entry for `pc`, if `pc` is inside it (it is 4-aligned).
        self.b.switch_to_block(lookup);
        self.b.seal_block(lookup);
        let slot = self.b.ins().ushr_imm_s(pc, 2);
        let slots = self
            .b
            .ins()
            .load(types::I32, flags(), self.fast, layout::LINKS_LEN);
        let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, slot, slots);
        let index = self.b.create_block();
        self.b.ins().brif(inside, index, &[], ret, &[]);
        self.b.switch_to_block(index);
        self.b.seal_block(index);
        let table = self
            .b
            .ins()
            .load(self.ptr, flags(), self.fast, layout::LINKS);
        let slot = self.b.ins().uextend(self.ptr, slot);
        let at = self.b.ins().imul_imm_s(slot, i64::from(self.ptr.bytes()));
        let at = self.b.ins().iadd(table, at);
        let next = self.b.ins().load(self.ptr, flags(), at, 0);
        self.b.ins().brif(next, found, &[], ret, &[]);
        self.b.switch_to_block(found);
        self.b.seal_block(found);
        self.b
            .ins()
            .return_call_indirect(self.block_sig, next, &[self.fast, self.budget, done]);

        self.b.switch_to_block(ret);
        self.b.seal_block(ret);
        let packed = self.pack(done, pc);
        self.b.ins().return_(&[packed]);
    }

    /// `done << 32 | pc`.
    fn pack(&mut self, done: Value, pc: Value) -> Value {
        let high = self.b.ins().ishl_imm_s(done, 32);
        let low = self.b.ins().uextend(types::I64, pc);
        self.b.ins().bor(high, low)
    }

    fn read(&mut self, r: u8) -> Value {
        match r {
            0 => self.b.ins().iconst(types::I32, 0),
            _ => self
                .b
                .use_var(self.regs[usize::from(r)].expect("a declared register")),
        }
    }

    fn write(&mut self, r: u8, value: Value) {
        if r != 0 {
            self.b.def_var(
                self.regs[usize::from(r)].expect("a declared register"),
                value,
            );
        }
    }

    fn imm(&mut self, value: u32) -> Value {
        self.b.ins().iconst(types::I32, i64::from(value as i32))
    }

    /// The exit arguments for `count` instructions of this pass done, continuing at `pc`,
    /// there in a linked block if `link`.
    fn exit_args(&mut self, count: u32, pc: Value, link: bool) -> [BlockArg; 3] {
        let done = self.b.use_var(self.done);
        let done = self.b.ins().iadd_imm_s(done, i64::from(count));
        let link = self.b.ins().iconst(types::I8, i64::from(link));
        [done.into(), pc.into(), link.into()]
    }

    /// Goes on at `pc`, in its block if compiled, with `count` instructions of this pass done.
    fn link(&mut self, count: u32, pc: Value) {
        let args = self.exit_args(count, pc, true);
        self.b.ins().jump(self.exit, &args);
    }

    /// Returns to the caller before the instruction at `pc` if `cond` (non-zero), with `count`
    /// instructions of this pass done; else goes on.
    fn leave_if(&mut self, cond: Value, count: u32, pc: u32) {
        let pc = self.imm(pc);
        let args = self.exit_args(count, pc, false);
        let next = self.b.create_block();
        self.b.ins().brif(cond, self.exit, &args, next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// Leaves the block before instruction `i` (at `pc`) if `addr` is not aligned to `width`.
    fn check_aligned(&mut self, addr: Value, width: u32, i: u32, pc: u32) {
        if width > 1 {
            let low = self.b.ins().band_imm_s(addr, i64::from(width - 1));
            self.leave_if(low, i, pc);
        }
    }

    /// Whether the TLB whose tags are at offset `tags` of the context holds `addr`'s page, and
    /// the context's address plus the offset of that page's pointer in a pointer array.
    fn tlb_entry(&mut self, addr: Value, tags: i32) -> (Value, Value) {
        let pn = self.b.ins().ushr_imm_s(addr, 12);
        let slot = self.b.ins().band_imm_s(pn, (layout::TLB_SIZE - 1) as i64);
        let slot = self.b.ins().uextend(self.ptr, slot);
        let tag_at = self.b.ins().ishl_imm_s(slot, 2);
        let tag_at = self.b.ins().iadd(self.fast, tag_at);
        let tag = self.b.ins().load(types::I32, flags(), tag_at, tags);
        let hit = self.b.ins().icmp(IntCC::Equal, tag, pn);
        let ptr_at = self.b.ins().imul_imm_s(slot, i64::from(self.ptr.bytes()));
        let ptr_at = self.b.ins().iadd(self.fast, ptr_at);
        (hit, ptr_at)
    }

    /// The host address of `addr` in the page at `page`.
    fn host_addr(&mut self, page: Value, addr: Value) -> Value {
        let off = self.b.ins().band_imm_s(addr, 0xfff);
        let off = self.b.ins().uextend(self.ptr, off);
        self.b.ins().iadd(page, off)
    }

    fn load(
        &mut self,
        (rd, rs1, offset): (u8, u8, i32),
        width: u32,
        signed: bool,
        i: u32,
        pc: u32,
    ) {
        let base = self.read(rs1);
        let addr = self.b.ins().iadd_imm_s(base, i64::from(offset));
        self.check_aligned(addr, width, i, pc);
        let (hit, ptr_at) = self.tlb_entry(addr, layout::READ_TAGS);
        let (fast_path, slow_path, merge) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let raw = self.b.append_block_param(merge, types::I32);
        self.b.set_cold_block(slow_path);
        self.b.ins().brif(hit, fast_path, &[], slow_path, &[]);

        self.b.switch_to_block(fast_path);
        self.b.seal_block(fast_path);
        let page = self
            .b
            .ins()
            .load(self.ptr, flags(), ptr_at, layout::READ_PTRS);
        let host = self.host_addr(page, addr);
        let value = match width {
            1 => self.b.ins().uload8(types::I32, flags(), host, 0),
            2 => self.b.ins().uload16(types::I32, flags(), host, 0),
            _ => self.b.ins().load(types::I32, flags(), host, 0),
        };
        self.b.ins().jump(merge, &[value.into()]);

        self.b.switch_to_block(slow_path);
        self.b.seal_block(slow_path);
        let callee = self
            .b
            .ins()
            .iconst(self.ptr, jit_load as *const () as usize as i64);
        let width_arg = self.imm(width);
        let call = self
            .b
            .ins()
            .call_indirect(self.load_sig, callee, &[self.fast, addr, width_arg]);
        let value = self.b.inst_results(call)[0];
        self.b.ins().jump(merge, &[value.into()]);

        self.b.switch_to_block(merge);
        self.b.seal_block(merge);
        let value = match (width, signed) {
            (1, true) => {
                let byte = self.b.ins().ireduce(types::I8, raw);
                self.b.ins().sextend(types::I32, byte)
            }
            (2, true) => {
                let half = self.b.ins().ireduce(types::I16, raw);
                self.b.ins().sextend(types::I32, half)
            }
            _ => raw,
        };
        self.write(rd, value);
    }

    fn store(&mut self, (rs1, rs2, offset): (u8, u8, i32), width: u32, i: u32, pc: u32) {
        let base = self.read(rs1);
        let addr = self.b.ins().iadd_imm_s(base, i64::from(offset));
        self.check_aligned(addr, width, i, pc);
        let value = self.read(rs2);
        let (hit, ptr_at) = self.tlb_entry(addr, layout::WRITE_TAGS);
        let (fast_path, slow_path, next) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.set_cold_block(slow_path);
        self.b.ins().brif(hit, fast_path, &[], slow_path, &[]);

        self.b.switch_to_block(fast_path);
        self.b.seal_block(fast_path);
        let page = self
            .b
            .ins()
            .load(self.ptr, flags(), ptr_at, layout::WRITE_PTRS);
        let host = self.host_addr(page, addr);
        match width {
            1 => self.b.ins().istore8(flags(), value, host, 0),
            2 => self.b.ins().istore16(flags(), value, host, 0),
            _ => self.b.ins().store(flags(), value, host, 0),
        };
        self.b.ins().jump(next, &[]);

        // A store the write TLB misses goes through the context; one into a code page ends the
        // block right after it.
        self.b.switch_to_block(slow_path);
        self.b.seal_block(slow_path);
        let callee = self
            .b
            .ins()
            .iconst(self.ptr, jit_store as *const () as usize as i64);
        let width_arg = self.imm(width);
        let call = self.b.ins().call_indirect(
            self.store_sig,
            callee,
            &[self.fast, addr, width_arg, value],
        );
        let code = self.b.inst_results(call)[0];
        let after = self.imm(pc.wrapping_add(4));
        let args = self.exit_args(i + 1, after, false);
        self.b.ins().brif(code, self.exit, &args, next, &[]);

        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// Translates instruction `i` of the block, at `pc`, which does not transfer control.
    fn straight(&mut self, insn: Instruction, i: u32, pc: u32) {
        use Instruction::*;
        let value = match insn {
            Lui { rd, imm } => (rd, self.imm(imm)),
            Auipc { rd, imm } => (rd, self.imm(pc.wrapping_add(imm))),
            Lb { rd, rs1, offset } => return self.load((rd, rs1, offset), 1, true, i, pc),
            Lh { rd, rs1, offset } => return self.load((rd, rs1, offset), 2, true, i, pc),
            Lw { rd, rs1, offset } => return self.load((rd, rs1, offset), 4, false, i, pc),
            Lbu { rd, rs1, offset } => return self.load((rd, rs1, offset), 1, false, i, pc),
            Lhu { rd, rs1, offset } => return self.load((rd, rs1, offset), 2, false, i, pc),
            Sb { rs1, rs2, offset } => return self.store((rs1, rs2, offset), 1, i, pc),
            Sh { rs1, rs2, offset } => return self.store((rs1, rs2, offset), 2, i, pc),
            Sw { rs1, rs2, offset } => return self.store((rs1, rs2, offset), 4, i, pc),
            Fence => return,
            Addi { rd, rs1, imm } => {
                let a = self.read(rs1);
                (rd, self.b.ins().iadd_imm_s(a, i64::from(imm)))
            }
            Slti { rd, rs1, imm } => {
                let a = self.read(rs1);
                let c = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::SignedLessThan, a, i64::from(imm));
                (rd, self.b.ins().uextend(types::I32, c))
            }
            Sltiu { rd, rs1, imm } => {
                let a = self.read(rs1);
                let c = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::UnsignedLessThan, a, i64::from(imm));
                (rd, self.b.ins().uextend(types::I32, c))
            }
            Xori { rd, rs1, imm } => {
                let a = self.read(rs1);
                (rd, self.b.ins().bxor_imm_s(a, i64::from(imm)))
            }
            Ori { rd, rs1, imm } => {
                let a = self.read(rs1);
                (rd, self.b.ins().bor_imm_s(a, i64::from(imm)))
            }
            Andi { rd, rs1, imm } => {
                let a = self.read(rs1);
                (rd, self.b.ins().band_imm_s(a, i64::from(imm)))
            }
            Slli { rd, rs1, shamt } => {
                let a = self.read(rs1);
                (rd, self.b.ins().ishl_imm_s(a, i64::from(shamt & 31)))
            }
            Srli { rd, rs1, shamt } => {
                let a = self.read(rs1);
                (rd, self.b.ins().ushr_imm_s(a, i64::from(shamt & 31)))
            }
            Srai { rd, rs1, shamt } => {
                let a = self.read(rs1);
                (rd, self.b.ins().sshr_imm_s(a, i64::from(shamt & 31)))
            }
            Add { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().iadd(x, y)),
            Sub { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().isub(x, y)),
            // Cranelift shifts take the amount modulo the width, as RISC-V does.
            Sll { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().ishl(x, y)),
            Srl { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().ushr(x, y)),
            Sra { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().sshr(x, y)),
            Slt { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| {
                let c = b.ins().icmp(IntCC::SignedLessThan, x, y);
                b.ins().uextend(types::I32, c)
            }),
            Sltu { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| {
                let c = b.ins().icmp(IntCC::UnsignedLessThan, x, y);
                b.ins().uextend(types::I32, c)
            }),
            Xor { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().bxor(x, y)),
            Or { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().bor(x, y)),
            And { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().band(x, y)),
            Mul { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().imul(x, y)),
            Mulh { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().smulhi(x, y)),
            Mulhu { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| b.ins().umulhi(x, y)),
            Mulhsu { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| {
                let x = b.ins().sextend(types::I64, x);
                let y = b.ins().uextend(types::I64, y);
                let product = b.ins().imul(x, y);
                let high = b.ins().ushr_imm_s(product, 32);
                b.ins().ireduce(types::I32, high)
            }),
            // Division never reaches the host's divide with a zero divisor or, signed, with
            // MIN / -1: those divide by 1 instead (MIN / 1 = MIN and MIN % 1 = 0 are RISC-V's
            // results), and a zero divisor's result is selected.
            Div { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| {
                let (zero, safe) = signed_divisor(b, x, y);
                let q = b.ins().sdiv(x, safe);
                let all_ones = b.ins().iconst(types::I32, -1);
                b.ins().select(zero, all_ones, q)
            }),
            Rem { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| {
                let (zero, safe) = signed_divisor(b, x, y);
                let r = b.ins().srem(x, safe);
                b.ins().select(zero, x, r)
            }),
            Divu { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| {
                let (zero, safe) = unsigned_divisor(b, y);
                let q = b.ins().udiv(x, safe);
                let all_ones = b.ins().iconst(types::I32, -1);
                b.ins().select(zero, all_ones, q)
            }),
            Remu { rd, rs1, rs2 } => self.binary(rd, rs1, rs2, |b, x, y| {
                let (zero, safe) = unsigned_divisor(b, y);
                let r = b.ins().urem(x, safe);
                b.ins().select(zero, x, r)
            }),
            Jal { .. }
            | Jalr { .. }
            | Beq { .. }
            | Bne { .. }
            | Blt { .. }
            | Bge { .. }
            | Bltu { .. }
            | Bgeu { .. }
            | Ecall
            | Ebreak
            | Illegal(_) => unreachable!("not a straight-line instruction: {insn}"),
        };
        self.write(value.0, value.1);
    }

    fn binary(
        &mut self,
        rd: u8,
        rs1: u8,
        rs2: u8,
        op: impl FnOnce(&mut FunctionBuilder<'a>, Value, Value) -> Value,
    ) -> (u8, Value) {
        let (x, y) = (self.read(rs1), self.read(rs2));
        (rd, op(&mut self.b, x, y))
    }

    /// Translates a basic block's last instruction `insn` (at `pc`, the `len`th), which
    /// transfers control.
    fn control(&mut self, insn: Instruction, len: u32, pc: u32) {
        use Instruction::*;
        let (cond, offset) = match insn {
            Jal { rd, offset } => {
                let link = self.imm(pc.wrapping_add(4));
                self.write(rd, link);
                (None, offset)
            }
            Jalr { rd, rs1, offset } => {
                let base = self.read(rs1);
                let target = self.b.ins().iadd_imm_s(base, i64::from(offset));
                let target = self.b.ins().band_imm_s(target, !1);
                self.check_aligned(target, 4, len - 1, pc);
                let link = self.imm(pc.wrapping_add(4));
                self.write(rd, link);
                return self.link(len, target);
            }
            Beq { rs1, rs2, offset } => (Some((IntCC::Equal, rs1, rs2)), offset),
            Bne { rs1, rs2, offset } => (Some((IntCC::NotEqual, rs1, rs2)), offset),
            Blt { rs1, rs2, offset } => (Some((IntCC::SignedLessThan, rs1, rs2)), offset),
            Bge { rs1, rs2, offset } => (Some((IntCC::SignedGreaterThanOrEqual, rs1, rs2)), offset),
            Bltu { rs1, rs2, offset } => (Some((IntCC::UnsignedLessThan, rs1, rs2)), offset),
            Bgeu { rs1, rs2, offset } => {
                (Some((IntCC::UnsignedGreaterThanOrEqual, rs1, rs2)), offset)
            }
            _ => unreachable!("not a control transfer: {insn}"),
        };
        let target = pc.wrapping_add(offset as u32);
        let Some((cc, rs1, rs2)) = cond else {
            return self.go(len, target);
        };
        let (x, y) = (self.read(rs1), self.read(rs2));
        let c = self.b.ins().icmp(cc, x, y);
        let (taken, fall) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(c, taken, &[], fall, &[]);
        self.b.switch_to_block(taken);
        self.b.seal_block(taken);
        self.go(len, target);
        self.b.switch_to_block(fall);
        self.b.seal_block(fall);
        self.go(len, pc.wrapping_add(4));
    }
}

/// Whether the divisor `y` of `x / y` is zero, and the divisor to give the host's signed
/// divide: 1 where `y` is zero or the quotient overflows (`MIN / -1`), else `y`.
fn signed_divisor(b: &mut FunctionBuilder<'_>, x: Value, y: Value) -> (Value, Value) {
    let zero = b.ins().icmp_imm_s(IntCC::Equal, y, 0);
    let min = b.ins().icmp_imm_s(IntCC::Equal, x, i64::from(i32::MIN));
    let minus_one = b.ins().icmp_imm_s(IntCC::Equal, y, -1);
    let overflow = b.ins().band(min, minus_one);
    let bad = b.ins().bor(zero, overflow);
    let one = b.ins().iconst(types::I32, 1);
    (zero, b.ins().select(bad, one, y))
}

/// Whether the divisor `y` is zero, and the divisor to give the host's unsigned divide: 1
/// where `y` is zero, else `y`.
fn unsigned_divisor(b: &mut FunctionBuilder<'_>, y: Value) -> (Value, Value) {
    let zero = b.ins().icmp_imm_s(IntCC::Equal, y, 0);
    let one = b.ins().iconst(types::I32, 1);
    (zero, b.ins().select(zero, one, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of `n + 1` instructions: `n` additions and a jump back.
    fn block(n: usize) -> Vec<Instruction> {
        let mut insns = vec![
            Instruction::Addi {
                rd: 5,
                rs1: 5,
                imm: 1
            };
            n
        ];
        insns.push(Instruction::Jal {
            rd: 0,
            offset: -4 * n as i32,
        });
        insns
    }

    #[test]
    fn a_compiler_stops_at_its_limit_and_keeps_what_it_compiled() {
        let mut compiler = Compiler::with_limit(2);
        let (one, two, three) = (block(1), block(2), block(3));
        let first = compiler.compile(&one, 0).expect("compiled");
        assert!(compiler.compile(&two, 0).is_some());
        assert!(compiler.compile(&three, 0).is_none(), "past the limit");
        let again = compiler.compile(&one, 0).expect("cached");
        assert_eq!(again, first);
        assert_eq!(compiler.stats().0, 2);
    }

    const ADD: Instruction = Instruction::Addi {
        rd: 5,
        rs1: 5,
        imm: 1,
    };
    const BACK: Instruction = Instruction::Beq {
        rs1: 0,
        rs2: 0,
        offset: -8,
    };

    #[test]
    fn regions_with_the_same_start_and_instructions_at_other_addresses_differ() {
        // Slot 2 is a branch back to slot 0 in one, the first of the same three instructions
        // (looping to itself) in the other.
        let (back, ahead) = (vec![ADD, ADD, BACK], vec![ADD, ADD, ADD, ADD, BACK]);
        let mut compiler = Compiler::new();
        assert_ne!(compiler.compile(&back, 2), compiler.compile(&ahead, 2));
    }

    #[test]
    fn a_region_follows_branches_and_jumps_but_not_calls_and_stays_in_two_pages() {
        use Instruction::*;
        let mut insns = vec![ADD; 3 * PAGE_SLOTS];
        // Slot 0: a branch to slot 4 (or on to slot 1); slot 3: a call to slot 8; slot 5: a
        // jump to the third page; slot 2 * PAGE_SLOTS - 1: a jump back to slot 0.
        insns[0] = Bne {
            rs1: 5,
            rs2: 0,
            offset: 16,
        };
        insns[3] = Jal { rd: 1, offset: 20 };
        insns[5] = Jal {
            rd: 0,
            offset: 4 * (2 * PAGE_SLOTS as i32 - 5),
        };
        insns[PAGE_SLOTS + 10] = Jalr {
            rd: 0,
            rs1: 1,
            offset: 0,
        };
        let region = Region::discover(&insns, 0).expect("a region");
        // Not the call's target, nor the jump's in the third page.
        assert_eq!(region.blocks, [(0, 1), (4, 2), (1, 3)]);
        assert_eq!(region.span, 0..6);
        // Straight code runs on block by block (each at most `MAX_LEN` and inside its page)
        // up to `MAX_REGION` instructions, into the next page but not the one after.
        let region = Region::discover(&insns, PAGE_SLOTS - 2).expect("a region");
        assert_eq!(
            region.blocks,
            [(PAGE_SLOTS - 2, 2), (PAGE_SLOTS, 11)],
            "ends at the jalr"
        );
        let region = Region::discover(&insns, 6).expect("a region");
        assert_eq!(region.blocks.iter().map(|b| b.1).sum::<usize>(), MAX_REGION);
        assert!(region.blocks.iter().all(|b| b.1 <= MAX_LEN));
    }
}
