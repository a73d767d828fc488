//! The graph phase of two-phase opML disputes, on the host (`docs/dnn.md`, "Graph phase").
//!
//! A DNN task is a model (an `.opml` file, named on chain by its model root) and an input. Its
//! run is a sequence of coarse steps over the graph state `S(i)`: load the input, one step per
//! node, finish. [`GraphPhase`] computes every state natively ([`opml_dnn::phase::GraphRun`],
//! the fast path) and is the program-defined top phase of the dispute game
//! ([`opml_game::ProgramPhase`]); a disputed coarse step is re-done in the VM by the
//! `graph-step` guest ([`GraphPhase::vm_step`], the proving path), which reads the model and
//! the tensors through the data oracle from the preimages [`GraphPhase::preimages`] serves.

use std::fmt;
use std::sync::Arc;

use opml_dnn::phase::{Coarse, GraphRun, Preimage, Tamper};
use opml_dnn::{AlignedBytes, Hash, Model, ModelError, Op};
use opml_game::ProgramPhase;
use opml_vm::{ExitStatus, Machine, PreimageSource, Preimages};

/// The program ID of the node step program (`graph-step`), the step program of every graph
/// task whatever its model.
pub const STEP_PROGRAM_ID: Hash = opml_methods::GRAPH_STEP_ID;
/// The node step program's ELF.
pub const STEP_PROGRAM_ELF: &[u8] = opml_methods::GRAPH_STEP_ELF;

/// Why a graph phase could not be set up or a step re-done.
#[derive(Debug)]
pub enum GraphError {
    /// The model file does not parse.
    Model(ModelError),
    /// The step program did not load (a build problem, never an input's).
    Load(String),
    /// The step program's run stopped without halting.
    Vm(String),
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Model(error) => write!(f, "the model does not parse: {error}"),
            GraphError::Load(why) => write!(f, "the node step program does not load: {why}"),
            GraphError::Vm(why) => write!(f, "the node step program's run failed: {why}"),
        }
    }
}

impl std::error::Error for GraphError {}

impl From<ModelError> for GraphError {
    fn from(error: ModelError) -> GraphError {
        GraphError::Model(error)
    }
}

/// A graph task's run as a program-defined phase: its states, computed once natively, and the
/// data to re-do any of its steps in the VM. Clones share the run.
#[derive(Clone, Debug)]
pub struct GraphPhase {
    file: Arc<AlignedBytes>,
    run: Arc<GraphRun>,
}

/// What the VM's run of one coarse step gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmStep {
    /// How the step program halted.
    pub status: ExitStatus,
    /// Its output (`S(j)` after a clean exit).
    pub output: Vec<u8>,
    /// Instructions executed.
    pub steps: u64,
    /// Preimages served to it.
    pub preimages: usize,
}

impl GraphPhase {
    /// The honest run of the model in `file` (a whole `.opml` file) on `input` (the graph
    /// inputs' data, concatenated in the model's order). A wrong input length is not an
    /// error: the run is refused at its first step, as the step program refuses it.
    pub fn new(file: &[u8], input: &[u8]) -> Result<GraphPhase, GraphError> {
        GraphPhase::build(file, |model| GraphRun::new(model, input))
    }

    /// An adversary's run with node `k`'s output altered ([`GraphRun::with_fault`]).
    pub fn with_fault(file: &[u8], input: &[u8], k: u32) -> Result<GraphPhase, GraphError> {
        GraphPhase::build(file, |model| GraphRun::with_fault(model, input, k))
    }

    /// The phase of `run`, a run of the model in `file` computed elsewhere.
    pub fn from_run(file: Arc<AlignedBytes>, run: GraphRun) -> GraphPhase {
        GraphPhase {
            file,
            run: Arc::new(run),
        }
    }

    /// An adversary's run whose node outputs `tamper` changes ([`GraphRun::with_tamper`]).
    pub fn with_tamper(
        file: &[u8],
        input: &[u8],
        tamper: &Tamper<'_>,
    ) -> Result<GraphPhase, GraphError> {
        GraphPhase::build(file, |model| GraphRun::with_tamper(model, input, tamper))
    }

    fn build(
        file: &[u8],
        run: impl FnOnce(&Model<'_>) -> GraphRun,
    ) -> Result<GraphPhase, GraphError> {
        let file = Arc::new(AlignedBytes::from_slice(file));
        let run = Arc::new(run(&Model::parse(&file)?));
        Ok(GraphPhase { file, run })
    }

    /// The model (parsed again from the file held: the reader validated it before).
    pub fn model(&self) -> Model<'_> {
        Model::parse(&self.file).expect("the file parsed when the phase was built")
    }

    /// The run.
    pub fn run(&self) -> &GraphRun {
        &self.run
    }

    /// The number of coarse steps, `m` (load, every node, finish).
    pub fn step_count(&self) -> u64 {
        self.run.step_count()
    }

    /// `S(i)`.
    pub fn state(&self, i: u64) -> Hash {
        self.run.state(i)
    }

    /// What coarse step `j` does, in words: "load the input (3136 bytes)", "node 4 (Conv2d):
    /// output 1×32×13×13 f32, reads 9.5 KB", "finish: the outputs (44 bytes)", or "nothing".
    pub fn describe_step(&self, j: u64) -> String {
        let model = self.model();
        let kb = |bytes: usize| format!("{:.1} KB", bytes as f64 / 1024.0);
        match Coarse::of(j, model.nodes().len() as u32) {
            Coarse::Load => format!("load the input ({} bytes)", self.run.input().len()),
            Coarse::Node(k) => {
                let node = &model.nodes()[k as usize];
                let metas = self.run.metas();
                let out = metas[node.output() as usize].info;
                let dims: Vec<String> = out.shape.dims().iter().map(u32::to_string).collect();
                let reads: usize = node
                    .inputs()
                    .iter()
                    .map(|&t| metas[t as usize].byte_len())
                    .sum();
                let dtype = out.dtype.name();
                format!(
                    "node {k} ({}): output {} {dtype}, reads {}",
                    node.op().name(),
                    dims.join("×"),
                    kb(reads)
                )
            }
            Coarse::Finish => format!(
                "finish: the graph outputs ({} bytes)",
                self.run.output().map_or(0, <[u8]>::len)
            ),
            Coarse::Idle => "nothing (past the last step)".to_owned(),
        }
    }

    /// The coarse step of the node that reads the most data (its inputs and weights): the
    /// one whose re-doing in the VM is the heaviest, the demos' default disputed step.
    pub fn heaviest_step(&self) -> u64 {
        let model = self.model();
        let metas = self.run.metas();
        let reads = |k: usize| -> usize {
            let node = &model.nodes()[k];
            node.inputs()
                .iter()
                .map(|&t| metas[t as usize].byte_len())
                .sum()
        };
        let k = (0..model.nodes().len())
            .max_by_key(|&k| reads(k))
            .unwrap_or(0);
        k as u64 + 2
    }

    /// The preimages the node step program reads to re-do coarse step `j`.
    pub fn preimages(&self, j: u64) -> Preimages {
        let mut map = Preimages::new();
        self.run.preimages(&self.model(), j, &mut |p: Preimage| {
            map.insert(p);
        });
        map
    }

    /// The node step program's input for coarse step `j`: `S(j − 1) ‖ be64(j)`.
    pub fn step_input(&self, j: u64) -> [u8; 40] {
        graph_step::input(&self.state(j.saturating_sub(1)), j)
    }

    /// Re-does coarse step `j` in the VM: the node step program from `S(j − 1)`, its oracle
    /// served from [`preimages`](Self::preimages), for at most `max_steps` instructions.
    pub fn vm_step(&self, j: u64, max_steps: u64) -> Result<VmStep, GraphError> {
        let mut machine = Machine::load(STEP_PROGRAM_ELF, self.step_input(j).to_vec())
            .map_err(|error| GraphError::Load(error.to_string()))?;
        let preimages = self.preimages(j);
        let served = preimages.len();
        machine.set_preimages(Arc::new(preimages));
        machine.run(max_steps);
        if let Some(error) = machine.host_error() {
            return Err(GraphError::Vm(error.to_string()));
        }
        Ok(VmStep {
            status: machine.status(),
            output: machine.output().to_vec(),
            steps: machine.step_count(),
            preimages: served,
        })
    }
}

impl GraphPhase {
    /// The most instructions the node step program takes to re-do any coarse step of this
    /// run in the VM, and that step; a step that has not halted after `limit` instructions
    /// stops the count there (it returns `limit` and that step).
    ///
    /// Every coarse step's run must fit the game's lower phases (`2^{Σ lower heights}`
    /// instructions), or no side could end its descent there in a clean exit. Finding the
    /// longest re-does every step once in the VM: about the cost of the whole model in the VM.
    pub fn longest_step(&self, limit: u64) -> Result<(u64, u64), GraphError> {
        let mut longest = (0, 1);
        for j in 1..=self.step_count() {
            let step = self.vm_step(j, limit)?;
            if step.steps > longest.0 {
                longest = (step.steps, j);
            }
            if step.steps >= limit {
                break;
            }
        }
        Ok(longest)
    }
}

/// The margin [`GraphPhase::step_bound`] puts on a group representative's instructions:
/// `× 5/4`, for the data dependence of a node's run inside its group (soft-float special cases,
/// the arguments of `sin`/`cos`, the length of the token sequence an embedding reads).
pub const STEP_MARGIN: (u64, u64) = (5, 4);

/// A bound on the instructions of every coarse step's run in the VM, from
/// [`GraphPhase::step_bound`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepBound {
    /// The bound: the most of every step re-done exactly and of every representative's
    /// instructions × [`STEP_MARGIN`] (at least `limit` if a run did not halt within it).
    pub bound: u64,
    /// The coarse step that gives the bound.
    pub step: u64,
    /// The instructions measured on that step (before any margin).
    pub measured: u64,
    /// Groups of node steps (node steps alike but for their data).
    pub groups: usize,
    /// Coarse steps re-done in the VM.
    pub redone: usize,
}

impl GraphPhase {
    /// The coarse steps of the nodes, grouped by what fixes the cost of their run in the VM:
    /// the op and its parameters (but a position or index, which only selects data: `Rope`'s
    /// position, `TokenEmbedding`'s index, `Sample`'s position), and the dtype, shape,
    /// quantization and kind of every input and of the output; for the ops over a growing
    /// sequence (`Concat`, `Attention`, `TokenEmbedding`), the shapes but their first
    /// dimension, the sequence's length. Groups in order of their first node; each group's
    /// steps in order.
    pub fn step_groups(&self) -> Vec<Vec<u64>> {
        let model = self.model();
        let metas = self.run.metas();
        let mut index = std::collections::HashMap::<String, usize>::new();
        let mut groups: Vec<Vec<u64>> = Vec::new();
        for (k, node) in model.nodes().iter().enumerate() {
            let op = match *node.op() {
                Op::Rope { head_dim, base, .. } => Op::Rope {
                    head_dim,
                    position: 0,
                    base,
                },
                Op::TokenEmbedding { .. } => Op::TokenEmbedding { index: 0 },
                Op::Sample { .. } => Op::Sample { position: 0 },
                // Blocks of rows of one matrix: the same work wherever they start.
                Op::QLinear { .. } => Op::QLinear { first_row: 0 },
                op => op,
            };
            // The ops over a growing sequence (the KV cache, the token ids): one group whatever
            // its length, whose representative is the longest (see `step_bound`).
            let sequence = matches!(
                op,
                Op::Concat | Op::Attention { .. } | Op::TokenEmbedding { .. }
            );
            let tensor = |t: u32| {
                let meta = &metas[t as usize];
                let mut dims = meta.info.shape.dims().to_vec();
                if sequence && let Some(first) = dims.first_mut() {
                    *first = 0;
                }
                (meta.info.dtype, dims, meta.info.quant, meta.kind)
            };
            let inputs: Vec<_> = node.inputs().iter().map(|&t| tensor(t)).collect();
            let key = format!("{op:?} {inputs:?} {:?}", tensor(node.output()));
            let next = groups.len();
            let g = *index.entry(key).or_insert(next);
            if g == next {
                groups.push(Vec::new());
            }
            groups[g].push(k as u64 + 2);
        }
        groups
    }

    /// A bound on the instructions the node step program takes to re-do any coarse step of
    /// this run in the VM, without re-doing every step ([`longest_step`](Self::longest_step)
    /// does, about the cost of the whole model in the VM: impossible for an LLM graph of
    /// 10^4 nodes and more). It re-does in the VM: the load and finish steps; every step of
    /// the ops whose cost depends on their data beyond soft-float (`Sample`, whose top-p sorts
    /// as much of the vocabulary as the logits need; `Tokenize`); and, for each other
    /// [group](Self::step_groups), its last step of the most bytes read and written (the
    /// longest sequence, the latest position: the largest `Rope` angles), counted ×
    /// [`STEP_MARGIN`]. A sequence op's run is taken to grow with its sequence. Runs on every
    /// core; stops early once a run reaches `limit` (then `bound ≥ limit`).
    ///
    /// Residual risk: a node whose run exceeds its group representative's by more than the
    /// margin (inputs of the same shapes whose values take a much slower soft-float path). The
    /// native run's data being the same for both sides, a task where this happens can only be
    /// one whose disputed node lands on that slow member.
    pub fn step_bound(&self, limit: u64) -> Result<StepBound, GraphError> {
        let model = self.model();
        let nodes = model.nodes();
        // (step, whether a margin applies)
        let mut work: Vec<(u64, bool)> = vec![(1, false), (self.step_count(), false)];
        let groups = self.step_groups();
        let metas = self.run.metas();
        // The bytes a node step reads and writes: the longest sequence of its group.
        let bytes = |j: u64| -> usize {
            let node = &nodes[(j - 2) as usize];
            let read: usize = node
                .inputs()
                .iter()
                .map(|&t| metas[t as usize].byte_len())
                .sum();
            read + metas[node.output() as usize].byte_len()
        };
        for group in &groups {
            let last = *group.last().expect("a group has a step");
            let op = nodes[(last - 2) as usize].op();
            if matches!(op, Op::Sample { .. } | Op::Tokenize) {
                work.extend(group.iter().map(|&j| (j, false)));
            } else {
                let most = group.iter().map(|&j| bytes(j)).max().unwrap_or(0);
                let rep = group.iter().rev().find(|&&j| bytes(j) == most);
                work.push((*rep.unwrap_or(&last), true));
            }
        }
        let (num, den) = STEP_MARGIN;
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(work.len());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let reached = std::sync::atomic::AtomicBool::new(false);
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| -> Result<Vec<(u64, u64, u64)>, GraphError> {
                        use std::sync::atomic::Ordering::Relaxed;
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Relaxed);
                            if i >= work.len() || reached.load(Relaxed) {
                                return Ok(out);
                            }
                            let (j, margin) = work[i];
                            let steps = self.vm_step(j, limit)?.steps;
                            let bound = if margin {
                                (u128::from(steps) * u128::from(num)).div_ceil(u128::from(den))
                            } else {
                                u128::from(steps)
                            };
                            let bound = u64::try_from(bound).unwrap_or(u64::MAX);
                            if steps >= limit {
                                reached.store(true, Relaxed);
                            }
                            out.push((bound, j, steps));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("a bound thread does not panic"))
                .collect::<Vec<_>>()
        });
        let mut best = StepBound {
            bound: 0,
            step: 1,
            measured: 0,
            groups: groups.len(),
            redone: 0,
        };
        for result in results {
            for (bound, step, measured) in result? {
                best.redone += 1;
                if (bound, std::cmp::Reverse(step)) > (best.bound, std::cmp::Reverse(best.step)) {
                    (best.bound, best.step, best.measured) = (bound, step, measured);
                }
            }
        }
        Ok(best)
    }
}

impl ProgramPhase for GraphPhase {
    type Error = GraphError;

    fn step_count(&self) -> u64 {
        self.run.step_count()
    }

    fn commitment(&mut self, i: u64) -> Result<Hash, GraphError> {
        Ok(self.run.state(i))
    }

    fn step_program_id(&self) -> Hash {
        STEP_PROGRAM_ID
    }

    fn step_input(&mut self, i: u64) -> Result<Vec<u8>, GraphError> {
        Ok(GraphPhase::step_input(self, i).to_vec())
    }

    fn step_preimages(&mut self, i: u64) -> Result<Option<Arc<dyn PreimageSource>>, GraphError> {
        Ok(Some(Arc::new(self.preimages(i))))
    }
}
