//! The graph run of a real task (the dispute's native path) against the engine (the fast
//! path), and what the model says.

mod common;

use opml_dnn::Model;
use opml_llama::{Engine, Generation, Lie};
use opml_llm::sample::Sampling;
use opml_llm::task::Task;

const GREEDY: Sampling = Sampling {
    temperature: 0.0,
    top_k: 0,
    top_p: 1.0,
    seed: 0,
};

fn task(prompt: &str, tokens: u32, sampling: Sampling, chat: bool) -> Task<'_> {
    Task {
        chat,
        tokens,
        sampling,
        prompt,
    }
}

/// Every logit of the graph run equals the engine's, and so do the tokens.
fn graph_equals_engine(task: &Task<'_>) -> Generation {
    let llama = common::llama();
    let generation = Generation::new(llama, task, None).expect("the graph builds");
    assert_eq!(
        generation.run().refusal(),
        None,
        "the honest run is not refused"
    );
    let tokens = generation.tokens();
    let n = generation.graph.prompt_tokens as usize;
    assert_eq!(tokens.len(), generation.graph.positions as usize);

    let model = Model::parse(&generation.graph.file).expect("the graph parses");
    // The logits: the input of each sample node.
    let logits: Vec<u32> = (0..generation.graph.labels.len() as u32)
        .filter(|&k| generation.graph.labels[k as usize].what == "sample")
        .map(|k| model.nodes()[k as usize].inputs()[0])
        .collect();
    assert_eq!(logits.len(), task.tokens as usize);

    let mut engine = Engine::new(llama);
    let mut x = Vec::new();
    for (p, &token) in tokens.iter().enumerate().take(tokens.len() - 1) {
        x = engine.feed(token);
        if p + 1 >= n {
            let graph_logits = generation
                .run()
                .tensor(&model, logits[p + 1 - n])
                .expect("the logits are written");
            let graph_logits: &[f32] = graph_logits.values().expect("f32 logits");
            let logits = engine.logits(&x);
            assert!(
                logits
                    .iter()
                    .zip(graph_logits)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "logits at position {p} differ between the engine and the graph"
            );
        }
    }
    drop(x);
    let mut engine = Engine::new(llama);
    let generated = engine.generate(&tokens[..n], task.tokens, &task.sampling);
    assert_eq!(generated, generation.generated());
    generation
}

#[test]
fn greedy_generation_is_the_engines_and_knows_paris() {
    let t = task("The capital of France is", 4, GREEDY, false);
    let generation = graph_equals_engine(&t);
    let text = generation.text(common::llama());
    assert!(text.contains("Paris"), "generated {text:?}");
}

#[test]
fn sampled_chat_generation_is_the_engines() {
    let sampling = Sampling {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        seed: 7,
    };
    graph_equals_engine(&task("Name a colour.", 3, sampling, true));
}

#[test]
fn liars_depart_where_they_lie() {
    let llama = common::llama();
    let t = task("One, two, three,", 3, GREEDY, false);
    let honest = Generation::new(llama, &t, None).expect("honest");
    let n = honest.graph.prompt_tokens;
    let token = Generation::new(llama, &t, Some(Lie::Token { position: n + 1 })).expect("liar");
    let (h, l) = (honest.generated(), token.generated());
    assert_eq!(h[0], l[0], "the token before the lie is the same");
    assert_eq!(h[1] ^ 1, l[1], "the lie flips the token's lowest bit");
    let first_diff = |a: &Generation, b: &Generation| {
        (0..a.run().step_count()).find(|&i| a.run().state(i) != b.run().state(i))
    };
    let j = first_diff(&honest, &token).expect("the runs differ");
    let sample = honest.graph.sample_node(n + 1).expect("a sample node");
    assert_eq!(
        j,
        u64::from(sample) + 2,
        "the first differing state is the lie's node"
    );

    let lazy = Generation::new(llama, &t, Some(Lie::SkipLayer { layer: 3 })).expect("lazy");
    let j = first_diff(&honest, &lazy).expect("a skipped layer changes the run");
    let label = honest.graph.labels[(j - 2) as usize];
    assert_eq!(
        (label.position, label.layer, label.what),
        (0, Some(3), "attention residual")
    );
}

#[test]
fn a_prompt_of_another_token_count_is_refused() {
    let llama = common::llama();
    let t = task("Hello there", 2, GREEDY, false);
    let generation = Generation::new(llama, &t, None).expect("builds");
    // The same graph on a record of the same length whose prompt has 11 tokens, not 2.
    let record = task("12345678901", 2, GREEDY, false).encode();
    assert_eq!(record.len(), generation.graph.input.len());
    let model = Model::parse(&generation.graph.file).expect("parses");
    let run = opml_dnn::phase::GraphRun::new(&model, &record);
    assert_eq!(run.refusal(), Some(opml_dnn::phase::Refusal::Compute));
    assert_eq!(run.output(), None);
}
