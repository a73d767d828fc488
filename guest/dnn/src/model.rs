//! The `.opml` v1 reader: [`Model::parse`] validates a whole file and borrows its constants.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use crate::check::check;
use crate::format::{
    CHECKSUM_LEN, DATA_ALIGN, HEADER_LEN, Header, MAGIC, NO_INPUT, NODE_ENTRY_LEN, NodeEntry,
    TENSOR_ENTRY_LEN, TensorEntry, VERSION,
};
use crate::root::{ModelCommitment, TensorMeta, data_root, tensor_commitment};
use crate::tensor::{DType, DataRef, MAX_RANK, Quant, Shape, TensorInfo, TensorRef};
use crate::{Hash, ModelError, Op, Region, sha256};

/// Where a tensor's value comes from; the discriminant is the file's kind code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TensorKind {
    /// Data stored in the file.
    Constant = 0,
    /// Given to the executor.
    Input = 1,
    /// Written by exactly one node.
    NodeOutput = 2,
}

impl TensorKind {
    /// The kind with this file code.
    pub fn from_code(code: u8) -> Option<TensorKind> {
        match code {
            0 => Some(TensorKind::Constant),
            1 => Some(TensorKind::Input),
            2 => Some(TensorKind::NodeOutput),
            _ => None,
        }
    }
}

/// One node: an operator reading earlier tensors and writing one new tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Node {
    op: Op,
    inputs: [u32; 4],
    input_count: u8,
    output: u32,
}

impl Node {
    /// The operator and its parameters.
    pub fn op(&self) -> &Op {
        &self.op
    }

    /// The tensors it reads, in order.
    pub fn inputs(&self) -> &[u32] {
        &self.inputs[..usize::from(self.input_count)]
    }

    /// The tensor it writes.
    pub fn output(&self) -> u32 {
        self.output
    }

    /// The node's 56-byte table entry, exactly as the file stores it (the reader refuses
    /// every other encoding of the same node).
    pub fn entry(&self) -> [u8; NODE_ENTRY_LEN] {
        NodeEntry {
            op: self.op.code(),
            input_count: self.input_count,
            reserved0: 0,
            inputs: self.inputs,
            output: self.output,
            params: self.op.params(),
        }
        .encode()
    }

    /// Decodes node `index`'s table entry and checks it against the tensors it names, as the
    /// reader checks every node: the entry's encoding, the operator and its parameters, the
    /// arity, an output of kind [`TensorKind::NodeOutput`], and the shape rules. `tensor(t)`
    /// gives tensor `t`'s info and kind (an error for an index past the table). `order(t,
    /// is_output)` is called on each tensor as it is checked, for the caller's checks that
    /// inputs are written before and the output only once. [`ModelError::Reserved`] offsets
    /// are within the entry.
    pub fn decode(
        index: u32,
        entry: &[u8; NODE_ENTRY_LEN],
        tensor: impl Fn(u32) -> Result<(TensorInfo, TensorKind), ModelError>,
        mut order: impl FnMut(u32, bool) -> Result<(), ModelError>,
    ) -> Result<Node, ModelError> {
        let (e, node) = (NodeEntry::decode(entry), index);
        if e.reserved0 != 0 {
            return Err(ModelError::Reserved { offset: 3 });
        }
        let (used, unused) = e
            .inputs
            .split_at_checked(usize::from(e.input_count))
            .filter(|(used, _)| !used.is_empty())
            .ok_or(ModelError::Inputs { node })?;
        if unused.iter().any(|&t| t != NO_INPUT) {
            return Err(ModelError::Inputs { node });
        }
        let mut infos = Vec::with_capacity(used.len());
        for &t in used {
            infos.push(tensor(t)?.0);
            order(t, false)?;
        }
        let (out, kind) = tensor(e.output)?;
        if kind != TensorKind::NodeOutput {
            return Err(ModelError::OutputKind {
                node,
                tensor: e.output,
            });
        }
        order(e.output, true)?;
        let op = Op::decode(node, e.op, e.params, infos[0].dtype)?;
        if !op.arity().contains(&used.len()) {
            return Err(ModelError::Inputs { node });
        }
        check(&op, &infos, &out).map_err(|reason| ModelError::Mismatch { node, reason })?;
        Ok(Node {
            op,
            inputs: e.inputs,
            input_count: e.input_count,
            output: e.output,
        })
    }
}

/// One tensor of the table.
#[derive(Clone, Copy, Debug)]
struct Entry<'a> {
    info: TensorInfo,
    kind: TensorKind,
    /// A constant's elements.
    data: Option<DataRef<'a>>,
}

/// A validated model whose constants borrow from the file buffer.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    checksum: Hash,
    tensors: Vec<Entry<'a>>,
    nodes: Vec<Node>,
    inputs: Vec<u32>,
    outputs: Vec<u32>,
}

impl<'a> Model<'a> {
    /// Parses and validates a `.opml` v1 file held in `bytes`, which must place the data region
    /// at a 16-aligned address (read the file into an [`AlignedBytes`](crate::AlignedBytes)).
    ///
    /// Refuses, with the [`ModelError`] saying why, every file that `docs/dnn.md` rules out;
    /// a model that parses runs without panicking on any inputs of its declared shapes.
    pub fn parse(bytes: &'a [u8]) -> Result<Model<'a>, ModelError> {
        let too_short = ModelError::TooShort(bytes.len());
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(too_short);
        }
        let (head, _) = bytes.split_first_chunk().ok_or(too_short)?;
        let header = Header::decode(head);
        if header.magic != MAGIC {
            return Err(ModelError::BadMagic);
        }
        if header.version != VERSION {
            return Err(ModelError::Version(header.version));
        }
        let (body, checksum) = bytes.split_last_chunk::<CHECKSUM_LEN>().ok_or(too_short)?;
        if sha256(&[body]) != *checksum {
            return Err(ModelError::Checksum);
        }
        if let Some(offset) = header.nonzero_reserved() {
            return Err(ModelError::Reserved { offset });
        }
        let regions = locate(&header, body.len())?;
        if !(header.data_offset as usize).is_multiple_of(DATA_ALIGN) {
            return Err(ModelError::DataAlignment);
        }
        let data_start = bytes
            .as_ptr()
            .addr()
            .wrapping_add(header.data_offset as usize);
        if !data_start.is_multiple_of(DATA_ALIGN) {
            return Err(ModelError::BufferAlignment);
        }
        let [tensors, nodes, inputs, outputs, data] = regions.map(|range| &body[range]);

        let tensors = read_tensors(tensors, header.tensors_offset as usize, data)?;
        let inputs = read_inputs(inputs, &tensors)?;
        let nodes = read_nodes(nodes, header.nodes_offset as usize, &tensors)?;
        let outputs = words(outputs);
        for &index in &outputs {
            kind_of(&tensors, index)?;
        }
        Ok(Model {
            checksum: *checksum,
            tensors,
            nodes,
            inputs,
            outputs,
        })
    }

    /// The file's checksum: SHA-256 of everything before it.
    pub fn checksum(&self) -> &Hash {
        &self.checksum
    }

    /// The number of tensors.
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }

    /// Dtype, shape and quantization of tensor `index`.
    pub fn tensor(&self, index: u32) -> Option<TensorInfo> {
        Some(self.tensors.get(index as usize)?.info)
    }

    /// Where tensor `index` comes from.
    pub fn kind(&self, index: u32) -> Option<TensorKind> {
        Some(self.tensors.get(index as usize)?.kind)
    }

    /// Tensor `index`, if it is a constant: a view into the file buffer.
    pub fn constant(&self, index: u32) -> Option<TensorRef<'a>> {
        let entry = self.tensors.get(index as usize)?;
        TensorRef::new(entry.info.shape, entry.data?, entry.info.quant).ok()
    }

    /// The commitment of tensor `index` (`docs/dnn.md`, "Model root"): its metadata word and,
    /// for a constant, the root of its data; the zero word for the data of other tensors.
    pub fn tensor_commitment(&self, index: u32) -> Option<Hash> {
        Some(tensor_commitment(
            &self.meta(index)?,
            &self.data_root(index)?,
        ))
    }

    /// Tensor `index`'s metadata word's content: its info and kind.
    pub fn meta(&self, index: u32) -> Option<TensorMeta> {
        let entry = self.tensors.get(index as usize)?;
        Some(TensorMeta {
            info: entry.info,
            kind: entry.kind,
        })
    }

    /// The data root of tensor `index` if it is a constant (hashing its data); the zero word
    /// for other tensors, whose data the model does not hold.
    pub fn data_root(&self, index: u32) -> Option<Hash> {
        let entry = self.tensors.get(index as usize)?;
        Some(entry.data.map_or([0; 32], |data| data_root(data.bytes())))
    }

    /// The model root, every tensor and node commitment and their inclusion proofs, computed
    /// in one pass over the constants.
    pub fn commit(&self) -> ModelCommitment {
        ModelCommitment::new(self)
    }

    /// The model root (`docs/dnn.md`, "Model root"): one hash committing to the graph and to
    /// each tensor separately. Use [`Model::commit`] to get proofs too.
    pub fn root(&self) -> Hash {
        self.commit().root()
    }

    /// The nodes, in execution order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The graph inputs, in the order the executor takes them.
    pub fn inputs(&self) -> &[u32] {
        &self.inputs
    }

    /// The graph outputs, in the order the executor returns them (any tensors).
    pub fn outputs(&self) -> &[u32] {
        &self.outputs
    }
}

/// The byte ranges of the tables and the data region within `body` (the file without its
/// checksum): each between the header and the end of `body`, none overlapping another. Empty
/// ones are `0..0` and not checked.
fn locate(h: &Header, body_len: usize) -> Result<[Range<usize>; 5], ModelError> {
    let tables = [
        (
            Region::Tensors,
            h.tensors_offset,
            h.tensor_count,
            TENSOR_ENTRY_LEN,
        ),
        (Region::Nodes, h.nodes_offset, h.node_count, NODE_ENTRY_LEN),
        (Region::Inputs, h.inputs_offset, h.input_count, 4),
        (Region::Outputs, h.outputs_offset, h.output_count, 4),
        (Region::Data, h.data_offset, h.data_len, 1),
    ];
    let mut ranges: [Range<usize>; 5] = Default::default();
    for (range, &(region, offset, count, size)) in ranges.iter_mut().zip(&tables) {
        let start = u64::from(offset);
        let end = start + u64::from(count) * size as u64;
        if count == 0 {
            continue;
        }
        if start < HEADER_LEN as u64 || end > body_len as u64 {
            return Err(ModelError::OutOfBounds(region));
        }
        *range = start as usize..end as usize;
    }
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i + 1) {
            if !a.is_empty() && !b.is_empty() && a.start < b.end && b.start < a.end {
                return Err(ModelError::Overlap(tables[i].0, tables[j].0));
            }
        }
    }
    Ok(ranges)
}

/// Little-endian `u32`s.
fn words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .as_chunks()
        .0
        .iter()
        .map(|w| u32::from_le_bytes(*w))
        .collect()
}

/// The kind of tensor `index`, which must exist.
fn kind_of(tensors: &[Entry<'_>], index: u32) -> Result<TensorKind, ModelError> {
    tensors
        .get(index as usize)
        .map(|t| t.kind)
        .ok_or(ModelError::TensorIndex { index })
}

/// Decodes and validates the tensor table (`offset`: its position in the file); constants
/// borrow from `data`, the data region.
fn read_tensors<'a>(
    table: &[u8],
    offset: usize,
    data: &'a [u8],
) -> Result<Vec<Entry<'a>>, ModelError> {
    let mut tensors = Vec::new();
    // (start, end, tensor) of every constant's bytes, to find overlaps.
    let mut ranges = Vec::new();
    for (i, bytes) in table.as_chunks::<TENSOR_ENTRY_LEN>().0.iter().enumerate() {
        let (e, tensor) = (TensorEntry::decode(bytes), i as u32);
        if let Some(at) = e.nonzero_reserved() {
            return Err(ModelError::Reserved {
                offset: offset + i * TENSOR_ENTRY_LEN + at,
            });
        }
        let code = e.dtype;
        let dtype = DType::from_code(code).ok_or(ModelError::DType { tensor, code })?;
        let code = e.kind;
        let kind = TensorKind::from_code(code).ok_or(ModelError::Kind { tensor, code })?;
        if dtype.block().is_some() && kind != TensorKind::Constant {
            return Err(ModelError::BlockKind { tensor });
        }
        let shape = shape(e.rank, e.dims).ok_or(ModelError::Shape { tensor })?;
        let size = dtype.byte_len(&shape).ok_or(ModelError::Shape { tensor })?;
        if size > i32::MAX as u64 || size != u64::from(e.len) {
            return Err(ModelError::Length { tensor });
        }
        let quant = Quant {
            scale: f32::from_bits(e.scale),
            zero_point: e.zero_point,
        };
        let info = TensorInfo {
            dtype,
            shape,
            quant,
        };
        if !info.valid_quant() {
            return Err(ModelError::Quant { tensor });
        }
        let elements = if kind == TensorKind::Constant {
            let (start, len) = (e.offset as usize, e.len as usize);
            if !start.is_multiple_of(DATA_ALIGN) {
                return Err(ModelError::ConstantAlignment { tensor });
            }
            let bytes = start
                .checked_add(len)
                .and_then(|end| data.get(start..end))
                .ok_or(ModelError::DataRange { tensor })?;
            ranges.push((start, start + len, tensor));
            // The data region is 16-aligned in memory and so is `start`: this cannot fail.
            Some(DataRef::from_bytes(dtype, bytes).ok_or(ModelError::BufferAlignment)?)
        } else if e.offset != 0 {
            return Err(ModelError::DataRange { tensor });
        } else {
            None
        };
        tensors.push(Entry {
            info,
            kind,
            data: elements,
        });
    }
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(ModelError::ConstantOverlap { tensor: pair[1].2 });
        }
    }
    Ok(tensors)
}

/// The shape of a tensor entry: rank ≤ 4, used dimensions ≥ 1, unused ones 1.
fn shape(rank: u8, dims: [u32; MAX_RANK]) -> Option<Shape> {
    let (used, unused) = dims.split_at_checked(usize::from(rank))?;
    if unused.iter().any(|&d| d != 1) {
        return None;
    }
    Shape::new(used).ok()
}

/// The graph input list: each an input tensor, listed once, and every input tensor listed.
fn read_inputs(list: &[u8], tensors: &[Entry<'_>]) -> Result<Vec<u32>, ModelError> {
    let inputs = words(list);
    let mut listed = vec![false; tensors.len()];
    for &tensor in &inputs {
        let kind = kind_of(tensors, tensor)?;
        let seen = core::mem::replace(&mut listed[tensor as usize], true);
        if kind != TensorKind::Input || seen {
            return Err(ModelError::GraphInput { tensor });
        }
    }
    match tensors
        .iter()
        .zip(&listed)
        .position(|(t, &listed)| t.kind == TensorKind::Input && !listed)
    {
        Some(tensor) => Err(ModelError::GraphInput {
            tensor: tensor as u32,
        }),
        None => Ok(inputs),
    }
}

/// Decodes and validates the node table (`offset`: its position in the file); every
/// node-output tensor must be written by exactly one node.
fn read_nodes(table: &[u8], offset: usize, tensors: &[Entry<'_>]) -> Result<Vec<Node>, ModelError> {
    let mut written = vec![false; tensors.len()];
    let mut nodes = Vec::new();
    for (i, bytes) in table.as_chunks::<NODE_ENTRY_LEN>().0.iter().enumerate() {
        let node = i as u32;
        let entry = |t: u32| {
            let e = tensors
                .get(t as usize)
                .ok_or(ModelError::TensorIndex { index: t })?;
            Ok((e.info, e.kind))
        };
        let order = |tensor: u32, is_output: bool| {
            let slot = &mut written[tensor as usize];
            if is_output && core::mem::replace(slot, true) {
                return Err(ModelError::WrittenTwice { node, tensor });
            }
            if !is_output && tensors[tensor as usize].kind == TensorKind::NodeOutput && !*slot {
                return Err(ModelError::Undefined { node, tensor });
            }
            Ok(())
        };
        let decoded = Node::decode(node, bytes, entry, order).map_err(|error| match error {
            ModelError::Reserved { offset: at } => ModelError::Reserved {
                offset: offset + i * NODE_ENTRY_LEN + at,
            },
            other => other,
        })?;
        nodes.push(decoded);
    }
    match tensors
        .iter()
        .zip(&written)
        .position(|(t, &written)| t.kind == TensorKind::NodeOutput && !written)
    {
        Some(tensor) => Err(ModelError::Unwritten {
            tensor: tensor as u32,
        }),
        None => Ok(nodes),
    }
}
