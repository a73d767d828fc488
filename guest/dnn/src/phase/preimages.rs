//! The data a node step reads: every 64-byte preimage that coarse step `j` of a run opens, so
//! that a host can serve the step program's data oracle (`docs/vm-spec.md`, "Data oracle").
//! All of it is derived from public data: the model and the task input.

use alloc::vec::Vec;

use crate::model::{Model, TensorKind};
use crate::phase::GraphRun;
use crate::phase::state::{Coarse, Refusal, byte_commitment, len_word};
use crate::root::{MerkleTree, chunks, data_root, node};
use crate::{Hash, NODE_ENTRY_LEN};

/// A 64-byte preimage: two 32-byte halves.
pub type Preimage = [u8; 64];

fn pair(left: &Hash, right: &Hash) -> Preimage {
    let mut bytes = [0; 64];
    bytes[..32].copy_from_slice(left);
    bytes[32..].copy_from_slice(right);
    bytes
}

/// Every inner node of `tree`.
fn tree(tree: &MerkleTree, sink: &mut impl FnMut(Preimage)) {
    tree.inner_nodes().for_each(|(l, r)| sink(pair(l, r)));
}

/// Every inner node of the data tree of `bytes`.
fn data(bytes: &[u8], sink: &mut impl FnMut(Preimage)) {
    tree(&MerkleTree::new(&chunks(bytes)), sink);
}

/// `u32`s as little-endian bytes.
fn words(list: &[u32]) -> Vec<u8> {
    list.iter().flat_map(|w| w.to_le_bytes()).collect()
}

impl GraphRun {
    /// Calls `sink` with every preimage that coarse step `j` (from `S(j − 1)`) opens, and
    /// possibly more (whole trees rather than paths; the data of only the tensors it reads).
    /// `model` must be the model of the run.
    pub fn preimages(&self, model: &Model<'_>, j: u64, sink: &mut impl FnMut(Preimage)) {
        let c = self.commitment();
        let previous = j.saturating_sub(1);
        let loaded = previous >= 1 && self.refusal() != Some(Refusal::InputLength);
        let values = if loaded {
            self.values_at(previous)
        } else {
            MerkleTree::new(&[])
        };
        let result = self.result_word(previous);
        let inner = node(&values.root(), &result);
        sink(pair(self.task(), &inner));
        sink(pair(&values.root(), &result));
        let input_commitment = byte_commitment(self.input());
        sink(pair(self.model_root(), &input_commitment));
        let header = c.header().encode();
        let tensors = MerkleTree::new(c.tensors());
        let nodes = MerkleTree::new(c.nodes());
        let (inputs, outputs) = (words(model.inputs()), words(model.outputs()));
        let io = (data_root(&inputs), data_root(&outputs));
        let graph = (nodes.root(), node(&io.0, &io.1));
        let body = (node(&graph.0, &graph.1), tensors.root());
        sink(pair(&header, &node(&body.0, &body.1)));
        sink(pair(&body.0, &body.1));
        sink(pair(&graph.0, &graph.1));
        sink(pair(&io.0, &io.1));
        data(&inputs, sink);
        data(&outputs, sink);
        match Coarse::of(j, c.header().node_count) {
            Coarse::Load => {
                self.slots(model, &tensors, 0, sink);
                sink(pair(
                    &len_word(self.input().len() as u64),
                    &data_root(self.input()),
                ));
                data(self.input(), sink);
            }
            Coarse::Node(k) => {
                tree(&nodes, sink);
                let node = &model.nodes()[k as usize];
                let mut entry = [0; 64];
                entry[..NODE_ENTRY_LEN].copy_from_slice(&node.entry());
                sink(entry);
                self.slots(model, &values, previous, sink);
                node.inputs()
                    .iter()
                    .for_each(|&t| self.read(model, t, sink));
            }
            Coarse::Finish => {
                self.slots(model, &values, previous, sink);
                model
                    .outputs()
                    .iter()
                    .for_each(|&t| self.read(model, t, sink));
            }
            Coarse::Idle => {}
        }
    }

    /// Every inner node of the slot tree `values` and every slot's preimage after step `at`.
    fn slots(
        &self,
        model: &Model<'_>,
        values: &MerkleTree,
        at: u64,
        sink: &mut impl FnMut(Preimage),
    ) {
        tree(values, sink);
        for (t, meta) in self.metas().iter().enumerate() {
            sink(pair(&meta.encode(), &self.slot_word(model, t as u32, at)));
        }
    }

    /// The data of tensor `t`: a written tensor's byte commitment and data tree, or a
    /// constant's data tree.
    fn read(&self, model: &Model<'_>, t: u32, sink: &mut impl FnMut(Preimage)) {
        if let Some(bytes) = self.written(t) {
            sink(pair(&len_word(bytes.len() as u64), &data_root(bytes)));
            data(bytes, sink);
        } else if let Some(constant) = model.constant(t) {
            data(constant.data().bytes(), sink);
        }
    }

    /// The result word of `S(i)`.
    fn result_word(&self, i: u64) -> Hash {
        let last = self.states().len() as u64 - 1;
        if i < last {
            return [0; 32];
        }
        match (self.refusal(), self.output()) {
            (Some(refusal), _) => refusal.word(),
            (None, Some(output)) => byte_commitment(output),
            (None, None) => [0; 32],
        }
    }

    /// What slot `t` holds after step `at`: a constant's data root, the byte commitment of
    /// data written by then, or zero.
    fn slot_word(&self, model: &Model<'_>, t: u32, at: u64) -> Hash {
        if model.kind(t) == Some(TensorKind::Constant) {
            // Hashed once, when the run committed to the model.
            return self.commitment().data_roots()[t as usize];
        }
        match self.byte_commitment(t) {
            Some(c) if self.written_step(t) <= at => *c,
            _ => [0; 32],
        }
    }
}
