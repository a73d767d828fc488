//! The native run of an LLM task (the fast path: every kernel on every core), honest or lying.

use opml_dnn::phase::GraphRun;
use opml_dnn::{Model, Op};
use opml_graph::GraphPhase;
use opml_llm::task::Task;

use crate::config::{Llama, LlamaError};
use crate::graph::LlmGraph;

/// How a dishonest server departs from the honest run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lie {
    /// It changes the generated token at `position` (its lowest bit), and carries on from it.
    Token {
        /// A generated position (`n ≤ position < P`).
        position: u32,
    },
    /// It is lazy: it skips transformer block `layer` at every position (both residual adds
    /// pass their input through).
    SkipLayer {
        /// The block skipped.
        layer: u32,
    },
}

/// A task's run: its graph, every graph state, and the tokens.
#[derive(Debug)]
pub struct Generation {
    /// The task's graph.
    pub graph: LlmGraph,
    /// The run as the graph phase of a dispute: states and every tensor written.
    pub phase: GraphPhase,
}

impl Generation {
    /// Runs `task` on `llama`, honestly or with a [`Lie`].
    pub fn new(
        llama: &Llama<'_>,
        task: &Task<'_>,
        lie: Option<Lie>,
    ) -> Result<Generation, LlamaError> {
        Generation::of(LlmGraph::build(llama, task)?, lie)
    }

    /// Runs a task's `graph` ([`LlmGraph::build`]), honestly or with a [`Lie`]: the honest and
    /// the lying run of one task share one graph.
    pub fn of(graph: LlmGraph, lie: Option<Lie>) -> Result<Generation, LlamaError> {
        let model = Model::parse(&graph.file)
            .map_err(|e| LlamaError::Unsupported(format!("the graph does not parse: {e}")))?;
        let run = match lie {
            None => GraphRun::new(&model, &graph.input),
            Some(Lie::Token { position }) => {
                let node = graph.sample_node(position).ok_or_else(|| {
                    LlamaError::Unsupported(format!("position {position} is not generated"))
                })?;
                GraphRun::with_fault(&model, &graph.input, node)
            }
            Some(Lie::SkipLayer { layer }) => {
                let nodes = model.nodes();
                let skipped = |k: u32| {
                    graph.labels[k as usize].layer == Some(layer)
                        && nodes[k as usize].op() == &Op::Add
                };
                GraphRun::with_tamper(&model, &graph.input, &|k, inputs, output| {
                    if skipped(k) {
                        output.copy_from_slice(inputs[0].data().bytes());
                    }
                })
            }
        };
        let phase = GraphPhase::from_run(graph.file.clone(), run);
        Ok(Generation { graph, phase })
    }

    /// The run: every graph state and tensor written.
    pub fn run(&self) -> &GraphRun {
        self.phase.run()
    }

    /// Every token: the prompt's, then the generated ones (empty if the run was refused).
    pub fn tokens(&self) -> Vec<u32> {
        self.run()
            .output()
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// The generated tokens.
    pub fn generated(&self) -> Vec<u32> {
        let tokens = self.tokens();
        tokens
            .get(self.graph.prompt_tokens as usize..)
            .unwrap_or_default()
            .to_vec()
    }

    /// The generated text (invalid UTF-8 replaced), up to the first end-of-sequence token.
    pub fn text(&self, llama: &Llama<'_>) -> String {
        let generated = self.generated();
        let end = generated
            .iter()
            .position(|&t| t == llama.eos)
            .unwrap_or(generated.len());
        let bytes = llama.tables().decode(&generated[..end]).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
