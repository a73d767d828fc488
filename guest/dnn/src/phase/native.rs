//! The native graph executor: every state `S(0..=m)` of a graph run in one pass (the fast
//! path). It computes each node with the same kernel dispatch as the step program
//! ([`compute`]); with the crate's `parallel` feature the big kernels use every core, with
//! results equal bit for bit. Tested against [`step`](super::step) node by node.

use alloc::vec;
use alloc::vec::Vec;

use crate::graph::{compute, windowed};
use crate::model::{Model, TensorKind};
use crate::phase::state::{Refusal, ZERO, byte_commitment, coarse_steps, start, state, task};
use crate::root::{MerkleTree, ModelCommitment, TensorMeta, tensor_commitment};
use crate::tensor::{DataRef, TensorRef};
use crate::{AlignedBytes, Hash};

/// How an adversary's run changes node outputs: `(node, inputs, output bytes)`.
pub type Tamper<'t> = dyn Fn(u32, &[TensorRef<'_>], &mut [u8]) + 't;

/// A whole graph run: its states, and what a step program re-doing any of its steps reads.
#[derive(Clone, Debug)]
pub struct GraphRun {
    commitment: ModelCommitment,
    model_root: Hash,
    input: Vec<u8>,
    task: Hash,
    metas: Vec<TensorMeta>,
    /// `S(0)` to the last state (`S(m)`, or the refused state).
    states: Vec<Hash>,
    /// The data of every graph input and node output written, by tensor.
    data: Vec<Option<AlignedBytes>>,
    /// The coarse step that wrote each slot (0: never, or a constant).
    written_at: Vec<u64>,
    /// The byte commitment of each slot's data once written (zero before), hashed once.
    commitments: Vec<Hash>,
    output: Option<Vec<u8>>,
    refusal: Option<Refusal>,
}

impl GraphRun {
    /// Runs `model` on `input` (the graph inputs' data, concatenated in the model's input
    /// order), keeping every state and every tensor written.
    pub fn new(model: &Model<'_>, input: &[u8]) -> GraphRun {
        GraphRun::run(model, input, None)
    }

    /// An adversary's run: node `k`'s output has its first byte's lowest bit flipped, and
    /// every later state follows from it, so the run looks consistent everywhere but at node
    /// `k` (for dispute tests and demos).
    pub fn with_fault(model: &Model<'_>, input: &[u8], k: u32) -> GraphRun {
        GraphRun::with_tamper(model, input, &|node, _, output| {
            if node == k {
                output[0] ^= 1;
            }
        })
    }

    /// An adversary's run: after each node computes its output, `tamper(node, inputs, output)`
    /// may change the output's bytes (a lazy server skipping work, a liar changing a result);
    /// every later state follows from what it left.
    pub fn with_tamper(model: &Model<'_>, input: &[u8], tamper: &Tamper<'_>) -> GraphRun {
        GraphRun::run(model, input, Some(tamper))
    }

    fn run(model: &Model<'_>, input: &[u8], tamper: Option<&Tamper<'_>>) -> GraphRun {
        let commitment = model.commit();
        let model_root = commitment.root();
        let task = task(&model_root, &byte_commitment(input));
        let metas: Vec<TensorMeta> = (0..model.tensor_count() as u32)
            .filter_map(|t| model.meta(t))
            .collect();
        let mut run = GraphRun {
            data: vec![None; metas.len()],
            written_at: vec![0; metas.len()],
            commitments: vec![ZERO; metas.len()],
            states: vec![start(&task)],
            commitment,
            model_root,
            input: input.to_vec(),
            task,
            metas,
            output: None,
            refusal: None,
        };
        if let Err(refusal) = run.execute(model, tamper) {
            let values = if run.states.len() == 1 {
                ZERO
            } else {
                run.values().root()
            };
            run.states.push(state(&task, &values, &refusal.word()));
            run.refusal = Some(refusal);
        }
        run
    }

    fn execute(&mut self, model: &Model<'_>, tamper: Option<&Tamper<'_>>) -> Result<(), Refusal> {
        let sizes: Vec<usize> = model.inputs().iter().map(|&t| self.len(t)).collect();
        if sizes.iter().sum::<usize>() != self.input.len() {
            return Err(Refusal::InputLength);
        }
        let mut values = MerkleTree::new(self.commitment.tensors());
        let mut at = 0;
        for (&t, len) in model.inputs().iter().zip(sizes) {
            let part = AlignedBytes::from_slice(&self.input[at..at + len]);
            at += len;
            self.write(&mut values, t, part, 1);
        }
        self.states.push(state(&self.task, &values.root(), &ZERO));
        for (k, node) in model.nodes().iter().enumerate() {
            let args = node
                .inputs()
                .iter()
                .map(|&t| self.tensor(model, t))
                .collect::<Option<Vec<_>>>()
                .ok_or(Refusal::Compute)?;
            let out = self.metas[node.output() as usize].info;
            let args = windowed(node, &args, &out).map_err(|_| Refusal::Compute)?;
            let output = compute(node, &args, &out).map_err(|_| Refusal::Compute)?;
            let mut bytes = AlignedBytes::from_slice(output.as_ref().data().bytes());
            if let Some(tamper) = tamper {
                tamper(k as u32, &args, &mut bytes);
            }
            self.write(&mut values, node.output(), bytes, k as u64 + 2);
            self.states.push(state(&self.task, &values.root(), &ZERO));
        }
        let mut output = Vec::new();
        for &t in model.outputs() {
            let tensor = self.tensor(model, t).ok_or(Refusal::Order)?;
            output.extend_from_slice(tensor.data().bytes());
        }
        let result = byte_commitment(&output);
        self.states.push(state(&self.task, &values.root(), &result));
        self.output = Some(output);
        Ok(())
    }

    /// Writes `bytes` into slot `t` at coarse step `step`.
    fn write(&mut self, values: &mut MerkleTree, t: u32, bytes: AlignedBytes, step: u64) {
        let c = byte_commitment(&bytes);
        values.set(t as usize, tensor_commitment(&self.metas[t as usize], &c));
        self.data[t as usize] = Some(bytes);
        self.written_at[t as usize] = step;
        self.commitments[t as usize] = c;
    }

    /// The byte commitment of slot `t`'s data, if written.
    pub(crate) fn byte_commitment(&self, t: u32) -> Option<&Hash> {
        self.data[t as usize]
            .as_ref()
            .map(|_| &self.commitments[t as usize])
    }

    fn len(&self, t: u32) -> usize {
        self.metas[t as usize].byte_len()
    }

    /// Tensor `t` as the run has it: a constant of `model`, or data written (`None` if not).
    pub fn tensor<'s>(&'s self, model: &Model<'s>, t: u32) -> Option<TensorRef<'s>> {
        if model.kind(t)? == TensorKind::Constant {
            return model.constant(t);
        }
        let info = self.metas.get(t as usize)?.info;
        let bytes = self.data.get(t as usize)?.as_ref()?;
        TensorRef::new(
            info.shape,
            DataRef::from_bytes(info.dtype, bytes)?,
            info.quant,
        )
        .ok()
    }

    /// The model's commitment.
    pub fn commitment(&self) -> &ModelCommitment {
        &self.commitment
    }

    /// The model root.
    pub fn model_root(&self) -> &Hash {
        &self.model_root
    }

    /// The task word.
    pub fn task(&self) -> &Hash {
        &self.task
    }

    /// The input.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// The number of coarse steps, `m` (load, every node, finish).
    pub fn step_count(&self) -> u64 {
        coarse_steps(self.commitment.header().node_count)
    }

    /// `S(i)`, the last state for every `i` past it.
    pub fn state(&self, i: u64) -> Hash {
        let last = self.states.len() - 1;
        self.states[(i as usize).min(last)]
    }

    /// Every state computed: `S(0)` to the last (`m + 1` of them unless refused).
    pub fn states(&self) -> &[Hash] {
        &self.states
    }

    /// The graph outputs' data, concatenated (`None` if refused).
    pub fn output(&self) -> Option<&[u8]> {
        self.output.as_deref()
    }

    /// Why the run was refused, if it was.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    /// Every tensor's metadata.
    pub fn metas(&self) -> &[TensorMeta] {
        &self.metas
    }

    /// The data written into slot `t` by the run (graph inputs and node outputs).
    pub fn written(&self, t: u32) -> Option<&[u8]> {
        Some(self.data.get(t as usize)?.as_ref()?)
    }

    /// The coarse step that wrote slot `t` (0: not written by the run).
    pub(crate) fn written_step(&self, t: u32) -> u64 {
        self.written_at[t as usize]
    }

    /// The values tree after the last step that wrote a slot.
    pub fn values(&self) -> MerkleTree {
        self.values_at(u64::MAX)
    }

    /// The values tree of `S(i)` (for `i ≥ 1`; `S(0)` has none): the model's tensor tree
    /// with every slot written by step `i` or before.
    pub fn values_at(&self, i: u64) -> MerkleTree {
        let mut leaves = self.commitment.tensors().to_vec();
        for (t, leaf) in leaves.iter_mut().enumerate() {
            if self.data[t].is_some() && self.written_at[t] <= i {
                *leaf = tensor_commitment(&self.metas[t], &self.commitments[t]);
            }
        }
        MerkleTree::new(&leaves)
    }
}
