//! What disputing an LLM generation costs, measured: the native graph run of a task (the graph
//! phase), and for the heaviest node of each kind, its VM run (instructions, seconds) against
//! its native run (α = VM time ÷ native time), and the host's time to serve the step's data.
//!
//! ```text
//! cargo run --release -p opml-llama --example dispute_costs -- [PROMPT_WORDS] [TOKENS]
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use std::sync::Arc;

use opml_dnn::phase::Coarse;
use opml_dnn::{Model, TensorKind, run_node};
use opml_gguf::Gguf;
use opml_graph::STEP_PROGRAM_ELF;
use opml_llama::{Generation, Llama, smollm2_path};
use opml_llm::sample::Sampling;
use opml_llm::task::Task;
use opml_vm::Machine;

/// English prose for prompts of any length (the first `words` words).
const TEXT: &str = "The history of the printing press begins in the fifteenth century, when \
    craftsmen in several European cities experimented with movable metal type. Before that \
    time, books were copied by hand, and a single volume could take a scribe many months to \
    finish. The new machines changed the speed and the cost of making books, and within a few \
    decades printers worked in hundreds of towns. Scholars exchanged texts more easily, \
    merchants printed price lists and maps, and ordinary readers found pamphlets, calendars \
    and stories that had never been available to them before.";

fn main() {
    let mut args = std::env::args().skip(1);
    let words: usize = args.next().map_or(50, |a| a.parse().expect("PROMPT_WORDS"));
    let tokens: u32 = args.next().map_or(64, |a| a.parse().expect("TOKENS"));
    let prompt: String = TEXT
        .split_whitespace()
        .take(words)
        .collect::<Vec<_>>()
        .join(" ");
    let bytes = std::fs::read(smollm2_path()).expect("the model (toolchain/llm/install.sh)");
    let gguf = Gguf::parse(&bytes).expect("GGUF");
    let llama = Llama::from_gguf(&gguf).expect("llama");
    let task = Task {
        chat: false,
        tokens,
        sampling: Sampling {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        },
        prompt: &prompt,
    };
    let started = Instant::now();
    let generation = Generation::new(&llama, &task, None).expect("the run");
    let native = started.elapsed().as_secs_f64();
    let graph = &generation.graph;
    let m = generation.run().step_count();
    let top = 64 - (m - 1).leading_zeros();
    println!(
        "task: {} prompt tokens + {tokens} generated = {} positions; {} nodes, m = {m} coarse \
         steps, graph phase of height {top}",
        graph.prompt_tokens,
        graph.positions,
        graph.labels.len()
    );
    println!(
        "native graph run (every state, every tensor hashed), all cores: {native:.2} s \
         ({:.1} generated tokens/s over the whole task)",
        f64::from(tokens) / native
    );
    println!(
        "generated: {:?}",
        generation
            .text(&llama)
            .chars()
            .take(120)
            .collect::<String>()
    );

    // The heaviest node of each kind: the one reading the most bytes, at the last position.
    let model = Model::parse(&graph.file).expect("parses");
    let metas = generation.run().metas();
    let mut heaviest: BTreeMap<(&str, &str), (usize, u32)> = BTreeMap::new();
    for (k, label) in graph.labels.iter().enumerate() {
        let node = &model.nodes()[k];
        let reads: usize = node
            .inputs()
            .iter()
            .map(|&t| metas[t as usize].byte_len())
            .sum();
        let entry = heaviest
            .entry((label.what, node.op().name()))
            .or_insert((0, 0));
        if reads >= entry.0 {
            *entry = (reads, k as u32);
        }
    }
    println!(
        "\n| node | instructions in the VM | VM s | VM MIPS (interpreter) | serving its data, s | native ms | α |\n\
         |---|---|---|---|---|---|---|"
    );
    let mut largest = (0, String::new());
    for ((what, op), (_, k)) in heaviest {
        let j = u64::from(k) + 2;
        assert_eq!(Coarse::of(j, graph.labels.len() as u32), Coarse::Node(k));
        // The host serves the step's data (its preimages), then the VM runs the step program.
        let started = Instant::now();
        let preimages = generation.phase.preimages(j);
        let serve_s = started.elapsed().as_secs_f64();
        let mut machine = Machine::load(STEP_PROGRAM_ELF, generation.phase.step_input(j).to_vec())
            .expect("the node step program loads");
        machine.set_preimages(Arc::new(preimages));
        let mut interpreted = machine.clone();
        interpreted.set_jit(None);
        let started = Instant::now();
        machine.run(1 << 32);
        let vm_s = started.elapsed().as_secs_f64();
        let steps = machine.step_count();
        // The same step with the interpreter only, for the block compiler's gain.
        let started = Instant::now();
        interpreted.run(1 << 32);
        let interpreted_s = started.elapsed().as_secs_f64();
        assert_eq!(interpreted.state_hash(), machine.state_hash());
        assert_eq!(
            machine.output(),
            generation.run().state(j),
            "VM == native at step {j}"
        );
        let node = &model.nodes()[k as usize];
        let inputs: Vec<_> = node
            .inputs()
            .iter()
            .filter(|&&t| model.kind(t) != Some(TensorKind::Constant))
            .map(|&t| generation.run().tensor(&model, t).expect("written"))
            .collect();
        let reps = 20;
        let started = Instant::now();
        for _ in 0..reps {
            run_node(&model, k as usize, &inputs).expect("the node runs");
        }
        let native_s = started.elapsed().as_secs_f64() / f64::from(reps);
        println!(
            "| {what} ({op}), {} | {:.3e} | {vm_s:.3} | {:.0} ({:.0}) | {serve_s:.2} | {:.3} | {:.0} |",
            graph.describe(k),
            steps as f64,
            steps as f64 / vm_s / 1e6,
            steps as f64 / interpreted_s / 1e6,
            native_s * 1e3,
            vm_s / native_s
        );
        if steps > largest.0 {
            largest = (steps, format!("{what} ({op})"));
        }
    }
    let lower = 64 - largest.0.leading_zeros();
    println!(
        "\nlargest node: {} at {:.3e} instructions: lower phases of 2^{lower}; with the graph \
         phase of height {top} a game covers 2^{} steps ({})",
        largest.1,
        largest.0 as f64,
        top + lower,
        if top + lower <= 40 {
            "within the 2^40 rule"
        } else {
            "MORE than the 2^40 a game may cover"
        }
    );
}
