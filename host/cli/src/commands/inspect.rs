//! `opml state`, `opml witness`, `opml program-id` and `opml disasm`: looking inside a run.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use opml_elf::Program;
use opml_proof::ProofItem;
use opml_vm::Machine;
use serde_json::{Value, json};

use crate::guest_input::{GuestArgs, read_file};
use crate::json;
use crate::progress;
use crate::symbols::Symbols;

/// Arguments of `opml state`.
#[derive(Args)]
pub(crate) struct StateArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// The step to stop at (0 is the initial state). A run that halts earlier stops there.
    #[arg(long, value_name = "N")]
    step: u64,
    /// Print only the state hash instead of the JSON state.
    #[arg(long)]
    hash_only: bool,
}

/// Arguments of `opml witness`.
#[derive(Args)]
pub(crate) struct WitnessArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// The step to prove: the witness takes the state after `N` steps to the state after `N + 1`.
    #[arg(long, value_name = "N")]
    step: u64,
    /// Write the JSON here instead of stdout.
    #[arg(short, long, value_name = "FILE.json")]
    out: Option<PathBuf>,
}

/// Arguments of `opml program-id`.
#[derive(Args)]
pub(crate) struct ProgramIdArgs {
    /// The guest program: a static RV32IM ELF executable.
    elf: PathBuf,
}

/// Arguments of `opml disasm`.
#[derive(Args)]
pub(crate) struct DisasmArgs {
    /// The guest program: a static RV32IM ELF executable.
    elf: PathBuf,
}

/// Runs `machine` fast to step `target` (or to its halt), with a progress bar; fails if the
/// guest reads a preimage the machine was not given.
fn advance(machine: &mut Machine, target: u64) -> Result<()> {
    let left = target.saturating_sub(machine.step_count());
    progress::run(machine, left, progress::steps_bar(Some(target), "seeking"))?;
    Ok(())
}

/// Prints the state after `--step` steps.
pub(crate) fn state(args: StateArgs) -> Result<u8> {
    let mut machine = args.guest.load()?.machine;
    advance(&mut machine, args.step)?;
    let state = machine.state();
    if args.hash_only {
        println!("{}", json::hex(&state.hash()));
    } else {
        println!("{}", serde_json::to_string_pretty(&json::state(&state))?);
    }
    Ok(0)
}

/// Dumps the witness of step `--step` as JSON.
pub(crate) fn witness(args: WitnessArgs) -> Result<u8> {
    if let Some(path) = &args.out {
        crate::out_path::check(path, "--out")?;
    }
    let loaded = args.guest.load()?;
    let mut machine = loaded.machine;
    advance(&mut machine, args.step)?;
    if machine.step_count() < args.step {
        anyhow::bail!(
            "the guest halted after {} steps ({}); there is no step {}",
            machine.step_count(),
            machine.status(),
            args.step
        );
    }
    let pc = machine.pc();
    let witness = machine.prove_step()?;
    let post_hash = machine.state_hash();
    let instruction = machine_instruction(&witness);
    let report = json!({
        "step": args.step,
        "pc": pc,
        "location": loaded.symbols.locate(pc),
        "instruction": instruction,
        "pre_state": json::state(&witness.state),
        "post_state_hash": json::hex(&post_hash),
        "items": witness.items.iter().map(item_json).collect::<Vec<Value>>(),
        "state_data": json::hex(&witness.state_data()),
        "proof": json::hex(&witness.encode_proof()),
    });
    let text = serde_json::to_string_pretty(&report)? + "\n";
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(0)
}

/// The disassembled instruction a witness proves, from its fetch proof.
fn machine_instruction(witness: &opml_proof::StepWitness) -> Option<String> {
    let Some(ProofItem::Memory { proof, .. }) = witness.items.first() else {
        return None;
    };
    let offset = (witness.state.pc % opml_platform::memory::LEAF_SIZE) as usize;
    let word = u32::from_le_bytes(proof.leaf[offset..offset + 4].try_into().ok()?);
    Some(opml_isa::decode(word).to_string())
}

fn item_json(item: &ProofItem) -> Value {
    match item {
        ProofItem::Memory { leaf_index, proof } => json!({
            "kind": "memory",
            "address": leaf_index << opml_platform::memory::LEAF_SIZE_LOG2,
            "leaf": json::hex(&proof.leaf),
            "siblings": proof.siblings.iter().map(|s| json::hex(s)).collect::<Vec<_>>(),
        }),
        ProofItem::Input(chunk) => json!({
            "kind": "input",
            "remaining": chunk.remaining,
            "data": json::hex(&chunk.data),
            "next": json::hex(&chunk.next),
        }),
        ProofItem::Preimage(preimage) => json!({
            "kind": "preimage",
            "key": json::hex(&opml_state::sha256(preimage)),
            "preimage": json::hex(preimage),
        }),
    }
}

/// Prints the program ID.
pub(crate) fn program_id(args: ProgramIdArgs) -> Result<u8> {
    let elf = read_file(&args.elf)?;
    let id =
        opml_vm::program_id(&elf).with_context(|| format!("cannot load {}", args.elf.display()))?;
    println!("{}", json::hex(&id));
    Ok(0)
}

/// Disassembles the executable sections (or, in an ELF without section headers, the
/// executable segments), labelling function starts.
pub(crate) fn disasm(args: DisasmArgs) -> Result<u8> {
    use object::{Object, ObjectSection, SectionKind};

    let elf = read_file(&args.elf)?;
    let program =
        Program::from_elf(&elf).with_context(|| format!("cannot load {}", args.elf.display()))?;
    let symbols = Symbols::parse(&elf);
    let mut ranges: Vec<(u32, Vec<u8>)> = object::File::parse(&*elf)
        .map(|file| {
            file.sections()
                .filter(|s| s.kind() == SectionKind::Text)
                .filter_map(|s| Some((u32::try_from(s.address()).ok()?, s.data().ok()?.to_vec())))
                .collect()
        })
        .unwrap_or_default();
    if ranges.is_empty() {
        ranges = program
            .segments
            .iter()
            .filter(|s| s.executable)
            .map(|s| (s.vaddr, s.data.clone()))
            .collect();
    }
    for (start, bytes) in ranges {
        for (i, word) in bytes.chunks_exact(4).enumerate() {
            let pc = start + 4 * i as u32;
            if let Some(name) = symbols.describe(pc).filter(|f| f.ends_with("+0x0")) {
                println!("\n<{}>:", name.trim_end_matches("+0x0"));
            }
            let word = u32::from_le_bytes(word.try_into().expect("4 bytes"));
            println!("  {pc:08x}:  {word:08x}  {}", opml_isa::decode(word));
        }
    }
    Ok(0)
}
