//! The node step: coarse step `j` of the graph phase computed from `S(j − 1)` alone, reading
//! everything through a data oracle (`docs/dnn.md`, "The node step"). This is the proving path:
//! the `graph-step` guest runs it in the VM with the VM's oracle, the host runs it natively
//! over a preimage map to check the native executor.
//!
//! Every hash it follows is opened by the oracle, which (in the VM, and on chain) guarantees
//! that a preimage is the key's, so a walk is checked as it goes: the hashing a step does is
//! the oracle's, `O(data read + log n)`, and the only hashes it computes itself are the
//! commitments of the node's output and the `O(log n)` path of its slot.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::format::{NODE_ENTRY_LEN, NodeEntry};
use crate::graph::{compute, window};
use crate::model::{Node, TensorKind};
use crate::phase::state::{Coarse, Refusal, ZERO, byte_commitment, len_word, state, written_slot};
use crate::root::{CHUNK, RootHeader, TensorMeta, depth, node};
use crate::tensor::{DataRef, Shape, TensorRef};
use crate::{AlignedBytes, Hash, ModelError};

/// A data oracle: the 64-byte preimage of a key (two 32-byte children, or 64 data bytes).
pub trait Oracle {
    /// Why the oracle has no answer (a host without the data; never a guest's concern).
    type Error;

    /// The preimage of `key`.
    fn preimage(&mut self, key: &Hash) -> Result<[u8; 64], Self::Error>;
}

/// `S(j)` from `S(j − 1)` = `previous`: load, one node, finish, or unchanged (a finished or
/// refused state, step 0, or a step past the last). An input or graph the step cannot use
/// ends the run refused ([`Refusal`]); only a missing preimage is an error.
pub fn step<O: Oracle>(previous: &Hash, j: u64, oracle: &mut O) -> Result<Hash, O::Error> {
    let mut reader = Reader {
        oracle,
        overlay: BTreeMap::new(),
    };
    match reader.step(previous, j) {
        Ok(next) => Ok(next),
        Err(Stop::Oracle(error)) => Err(error),
        Err(Stop::Refuse(refusal, task, values)) => Ok(state(&task, &values, &refusal.word())),
    }
}

/// Why a step did not compute its state the ordinary way.
enum Stop<E> {
    /// The oracle failed.
    Oracle(E),
    /// The run is refused; the state keeps its task and values.
    Refuse(Refusal, Hash, Hash),
}

/// The pieces of `S(j − 1)` a step works with.
struct Frame {
    task: Hash,
    values: Hash,
    header: RootHeader,
    tensors_root: Hash,
    nodes_root: Hash,
    io: Hash,
    input_commitment: Hash,
}

/// A walk over oracle data, with the nodes this step created on top (so a slot can be
/// written after another).
struct Reader<'o, O> {
    oracle: &'o mut O,
    overlay: BTreeMap<Hash, [u8; 64]>,
}

type Halves = (Hash, Hash);

impl<O: Oracle> Reader<'_, O> {
    fn open(&mut self, key: &Hash) -> Result<Halves, Stop<O::Error>> {
        let bytes = match self.overlay.get(key) {
            Some(bytes) => *bytes,
            None => self.oracle.preimage(key).map_err(Stop::Oracle)?,
        };
        let (left, right) = bytes.split_at(32);
        Ok((left.try_into().expect("32"), right.try_into().expect("32")))
    }

    /// `H(left ‖ right)`, remembered so later walks can open it.
    fn make(&mut self, left: &Hash, right: &Hash) -> Hash {
        let key = node(left, right);
        let mut bytes = [0; 64];
        bytes[..32].copy_from_slice(left);
        bytes[32..].copy_from_slice(right);
        self.overlay.insert(key, bytes);
        key
    }

    fn step(&mut self, previous: &Hash, j: u64) -> Result<Hash, Stop<O::Error>> {
        let (task, inner) = self.open(previous)?;
        let (values, result) = self.open(&inner)?;
        if result != ZERO || j == 0 {
            return Ok(*previous);
        }
        let (model_root, input_commitment) = self.open(&task)?;
        let (header, body) = self.open(&model_root)?;
        let refuse = |refusal| Stop::Refuse(refusal, task, values);
        let header = RootHeader::decode(&header).map_err(|_| refuse(Refusal::Header))?;
        let (graph, tensors_root) = self.open(&body)?;
        let (nodes_root, io) = self.open(&graph)?;
        let frame = Frame {
            task,
            values,
            header,
            tensors_root,
            nodes_root,
            io,
            input_commitment,
        };
        let loaded = values != ZERO;
        match Coarse::of(j, header.node_count) {
            Coarse::Load if !loaded => self.load(&frame),
            Coarse::Node(k) if loaded => self.node(&frame, k),
            Coarse::Finish if loaded => self.finish(&frame),
            _ => Ok(*previous),
        }
    }

    /// Step 1: every graph input's slot gets its part of the input.
    fn load(&mut self, f: &Frame) -> Result<Hash, Stop<O::Error>> {
        let refuse = |refusal| Stop::Refuse(refusal, f.task, f.values);
        let (input_io, _) = self.open(&f.io)?;
        let inputs = self.words(&input_io, f.header.input_count)?;
        let mut slots = Vec::with_capacity(inputs.len());
        let mut total = 0u64;
        for &t in &inputs {
            let (meta, c) = self.slot(&f.tensors_root, f.header.tensor_count, t, f)?;
            if meta.kind != TensorKind::Input || c != ZERO {
                return Err(refuse(Refusal::Tensor));
            }
            total += meta.byte_len() as u64;
            slots.push((t, meta));
        }
        let (len, data) = self.open(&f.input_commitment)?;
        if len != len_word(total) {
            return Err(refuse(Refusal::InputLength));
        }
        let bytes = self.data(&data, total as usize)?;
        let mut values = f.tensors_root;
        let mut at = 0;
        for (t, meta) in slots {
            let part = &bytes[at..at + meta.byte_len()];
            at += part.len();
            values = self.write(
                &values,
                f.header.tensor_count,
                t,
                &written_slot(&meta, part),
            )?;
        }
        Ok(state(&f.task, &values, &ZERO))
    }

    /// Steps 2 to n + 1: node `k` reads its inputs from their slots and writes its output's.
    fn node(&mut self, f: &Frame, k: u32) -> Result<Hash, Stop<O::Error>> {
        let refuse = |refusal| Stop::Refuse(refusal, f.task, f.values);
        let leaf = self.leaf(&f.nodes_root, f.header.node_count, k)?;
        let (head, tail) = self.open(&leaf)?;
        let mut entry = [0; NODE_ENTRY_LEN];
        entry[..32].copy_from_slice(&head);
        entry[32..].copy_from_slice(&tail[..NODE_ENTRY_LEN - 32]);
        if tail[NODE_ENTRY_LEN - 32..].iter().any(|&b| b != 0) {
            return Err(refuse(Refusal::Node));
        }
        let raw = NodeEntry::decode(&entry);
        let count = usize::from(raw.input_count).min(raw.inputs.len());
        let mut slots = Vec::with_capacity(count + 1);
        for &t in raw.inputs[..count].iter().chain([&raw.output]) {
            if t >= f.header.tensor_count {
                return Err(refuse(Refusal::Node));
            }
            slots.push((t, self.slot(&f.values, f.header.tensor_count, t, f)?));
        }
        let lookup = |t: u32| {
            let (_, (meta, _)) = slots
                .iter()
                .find(|(index, _)| *index == t)
                .ok_or(ModelError::TensorIndex { index: t })?;
            Ok((meta.info, meta.kind))
        };
        let decoded =
            Node::decode(k, &entry, lookup, |_, _| Ok(())).map_err(|_| refuse(Refusal::Node))?;
        let (_, (out, written)) = slots[count];
        if written != ZERO {
            return Err(refuse(Refusal::Order));
        }
        // Each input whole, or only the window of it the kernel reads (which may depend on
        // the inputs before it).
        let mut data: Vec<(AlignedBytes, Shape)> = Vec::with_capacity(count);
        for (i, (_, (meta, c))) in slots[..count].iter().enumerate() {
            let earlier = tensors(&data, &slots).ok_or(refuse(Refusal::Tensor))?;
            let window = window(&decoded, i, &meta.info, &earlier, &out.info)
                .map_err(|_| refuse(Refusal::Compute))?;
            drop(earlier);
            data.push(match window {
                None => (self.value(meta, c, f, 0, meta.byte_len())?, meta.info.shape),
                Some(w) => {
                    let len = meta.info.dtype.byte_len(&w.shape).unwrap_or(u64::MAX);
                    let len = usize::try_from(len).map_err(|_| refuse(Refusal::Tensor))?;
                    (self.value(meta, c, f, w.start, len)?, w.shape)
                }
            });
        }
        let args = tensors(&data, &slots).ok_or(refuse(Refusal::Tensor))?;
        let output = compute(&decoded, &args, &out.info).map_err(|_| refuse(Refusal::Compute))?;
        let slot = written_slot(&out, output.as_ref().data().bytes());
        let values = self.write(&f.values, f.header.tensor_count, decoded.output(), &slot)?;
        Ok(state(&f.task, &values, &ZERO))
    }

    /// Step n + 2: the result commits to the graph outputs' data, concatenated.
    fn finish(&mut self, f: &Frame) -> Result<Hash, Stop<O::Error>> {
        let (_, output_io) = self.open(&f.io)?;
        let outputs = self.words(&output_io, f.header.output_count)?;
        let mut bytes = Vec::new();
        for t in outputs {
            let (meta, c) = self.slot(&f.values, f.header.tensor_count, t, f)?;
            bytes.extend_from_slice(&self.value(&meta, &c, f, 0, meta.byte_len())?);
        }
        Ok(state(&f.task, &f.values, &byte_commitment(&bytes)))
    }

    /// Bytes `start .. start + len` of the data of a tensor whose slot holds `meta` and `c`: a
    /// constant's from its data root, a written tensor's from its byte commitment. Refused if
    /// not written, or if the bytes are not the tensor's.
    fn value(
        &mut self,
        meta: &TensorMeta,
        c: &Hash,
        f: &Frame,
        start: usize,
        len: usize,
    ) -> Result<AlignedBytes, Stop<O::Error>> {
        let total = meta.byte_len();
        if start.checked_add(len).is_none_or(|end| end > total) {
            return Err(Stop::Refuse(Refusal::Tensor, f.task, f.values));
        }
        let root = if meta.kind == TensorKind::Constant {
            *c
        } else if *c == ZERO {
            return Err(Stop::Refuse(Refusal::Order, f.task, f.values));
        } else {
            let (word, root) = self.open(c)?;
            if word != len_word(total as u64) {
                return Err(Stop::Refuse(Refusal::Tensor, f.task, f.values));
            }
            root
        };
        self.data_range(&root, total, start, len)
    }

    /// Slot `t` of the tree `root` over `count` tensor slots, opened: its metadata and `c`.
    fn slot(
        &mut self,
        root: &Hash,
        count: u32,
        t: u32,
        f: &Frame,
    ) -> Result<(TensorMeta, Hash), Stop<O::Error>> {
        if t >= count {
            return Err(Stop::Refuse(Refusal::Tensor, f.task, f.values));
        }
        let leaf = self.leaf(root, count, t)?;
        let (meta, c) = self.open(&leaf)?;
        let meta = TensorMeta::decode(&meta)
            .ok()
            .filter(TensorMeta::valid_quant)
            .ok_or(Stop::Refuse(Refusal::Tensor, f.task, f.values))?;
        Ok((meta, c))
    }

    /// Leaf `index` (below `count`) of the tree `root` over `count` leaves.
    fn leaf(&mut self, root: &Hash, count: u32, index: u32) -> Result<Hash, Stop<O::Error>> {
        let mut at = *root;
        for level in (0..depth(u64::from(count))).rev() {
            let (left, right) = self.open(&at)?;
            at = if index >> level & 1 == 0 { left } else { right };
        }
        Ok(at)
    }

    /// The root of the tree `root` over `count` leaves with leaf `index` replaced by `leaf`.
    fn write(
        &mut self,
        root: &Hash,
        count: u32,
        index: u32,
        leaf: &Hash,
    ) -> Result<Hash, Stop<O::Error>> {
        let levels = depth(u64::from(count));
        let mut siblings = Vec::with_capacity(levels);
        let mut at = *root;
        for level in (0..levels).rev() {
            let (left, right) = self.open(&at)?;
            let right_side = index >> level & 1 == 1;
            siblings.push(if right_side { left } else { right });
            at = if right_side { right } else { left };
        }
        let mut acc = *leaf;
        for (level, sibling) in siblings.iter().rev().enumerate() {
            acc = if index >> level & 1 == 0 {
                self.make(&acc, sibling)
            } else {
                self.make(sibling, &acc)
            };
        }
        Ok(acc)
    }

    /// `count` little-endian u32s under the data root `root`.
    fn words(&mut self, root: &Hash, count: u32) -> Result<Vec<u32>, Stop<O::Error>> {
        let bytes = self.data(root, count as usize * 4)?;
        Ok(bytes
            .as_chunks::<4>()
            .0
            .iter()
            .map(|w| u32::from_le_bytes(*w))
            .collect())
    }

    /// The first `len` bytes under the data root `root` (`root::data_root`'s tree).
    fn data(&mut self, root: &Hash, len: usize) -> Result<AlignedBytes, Stop<O::Error>> {
        self.data_range(root, len, 0, len)
    }

    /// Bytes `start .. start + len` (within `total`) of the `total` bytes under the data root
    /// `root`, opening only the subtrees that hold them.
    fn data_range(
        &mut self,
        root: &Hash,
        total: usize,
        start: usize,
        len: usize,
    ) -> Result<AlignedBytes, Stop<O::Error>> {
        let mut out = AlignedBytes::zeroed(len);
        let chunks = total.div_ceil(CHUNK);
        if chunks == 1 {
            out.copy_from_slice(&root[start..start + len]);
        } else if chunks > 1 && len > 0 {
            self.fill(root, depth(chunks as u64), 0, start, &mut out)?;
        }
        Ok(out)
    }

    /// Fills `out`, the bytes from `start` on, from the subtree `key` of `levels` levels whose
    /// first chunk is chunk `first`, skipping subtrees outside them.
    fn fill(
        &mut self,
        key: &Hash,
        levels: usize,
        first: usize,
        start: usize,
        out: &mut [u8],
    ) -> Result<(), Stop<O::Error>> {
        let (left, right) = self.open(key)?;
        let half = 1 << (levels - 1);
        let end = start + out.len();
        for (child, chunk) in [(left, first), (right, first + half)] {
            let span = if levels == 1 { 1 } else { half };
            let (lo, hi) = (chunk * CHUNK, (chunk + span) * CHUNK);
            if hi <= start || lo >= end {
                continue;
            }
            if levels == 1 {
                let (from, to) = (lo.max(start), hi.min(end));
                out[from - start..to - start].copy_from_slice(&child[from - lo..to - lo]);
            } else {
                self.fill(&child, levels - 1, chunk, start, out)?;
            }
        }
        Ok(())
    }
}

/// Tensors over the data read so far: `(bytes, shape)` of the first inputs, with the dtype and
/// quantization of their slots.
fn tensors<'d>(
    data: &'d [(AlignedBytes, Shape)],
    slots: &[(u32, (TensorMeta, Hash))],
) -> Option<Vec<TensorRef<'d>>> {
    data.iter()
        .zip(slots)
        .map(|((bytes, shape), (_, (meta, _)))| {
            let elements = DataRef::from_bytes(meta.info.dtype, bytes)?;
            TensorRef::new(*shape, elements, meta.info.quant).ok()
        })
        .collect()
}
