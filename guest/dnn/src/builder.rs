//! The `.opml` v1 writer: [`ModelBuilder`] lays out tensors, nodes and constants and seals the
//! file with its checksum. It writes what it is told; [`Model::parse`](crate::Model::parse)
//! judges the result.

use alloc::vec::Vec;

use crate::format::{
    CHECKSUM_LEN, DATA_ALIGN, HEADER_LEN, Header, MAGIC, NO_INPUT, NODE_ENTRY_LEN, NodeEntry,
    TENSOR_ENTRY_LEN, TensorEntry, VERSION,
};
use crate::model::TensorKind;
use crate::{AlignedBytes, Op, TensorInfo, TensorRef, sha256};

/// Builds a `.opml` v1 file. Tensor indices are handed out in the order tensors are added.
///
/// ```
/// use opml_dnn::{DType, Epilogue, Model, ModelBuilder, Op, Quant, Shape, Tensor, TensorInfo};
///
/// let f32_info = |dims: &[u32]| TensorInfo {
///     dtype: DType::F32,
///     shape: Shape::new(dims).unwrap(),
///     quant: Quant::default(),
/// };
/// let mut b = ModelBuilder::new();
/// let x = b.input(f32_info(&[1, 2]));
/// let w = b.constant(&Tensor::f32(&[3, 2], vec![1.0; 6]).unwrap());
/// let dense = Op::Dense(Epilogue { requant: None, relu: true });
/// let y = b.node(dense, &[x, w], f32_info(&[1, 3]));
/// b.output(y);
/// let file = b.finish();
/// assert!(Model::parse(&file).is_ok());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ModelBuilder {
    tensors: Vec<TensorEntry>,
    nodes: Vec<NodeEntry>,
    inputs: Vec<u32>,
    outputs: Vec<u32>,
    data: Vec<u8>,
}

impl ModelBuilder {
    /// An empty model.
    pub fn new() -> ModelBuilder {
        ModelBuilder::default()
    }

    /// Adds a graph input (the next one in the executor's input order); returns its index.
    pub fn input(&mut self, info: TensorInfo) -> u32 {
        let index = self.tensor(info, TensorKind::Input, 0);
        self.inputs.push(index);
        index
    }

    /// Adds a constant, copying its data into the data region; returns its index.
    pub fn constant<'t>(&mut self, tensor: impl Into<TensorRef<'t>>) -> u32 {
        let tensor = tensor.into();
        self.data
            .resize(self.data.len().next_multiple_of(DATA_ALIGN), 0);
        let offset = u32_of(self.data.len());
        self.data.extend_from_slice(tensor.data().bytes());
        self.tensor(tensor.info(), TensorKind::Constant, offset)
    }

    /// Adds a node running `op` on `inputs`, writing a new tensor described by `output`;
    /// returns the output's index.
    ///
    /// # Panics
    ///
    /// If there are more than 4 inputs (a node entry has 4 slots).
    pub fn node(&mut self, op: Op, inputs: &[u32], output: TensorInfo) -> u32 {
        assert!(inputs.len() <= 4, "a node has at most 4 inputs");
        let index = self.tensor(output, TensorKind::NodeOutput, 0);
        let mut slots = [NO_INPUT; 4];
        slots[..inputs.len()].copy_from_slice(inputs);
        self.nodes.push(NodeEntry {
            op: op.code(),
            input_count: inputs.len() as u8,
            inputs: slots,
            output: index,
            params: op.params(),
            ..NodeEntry::default()
        });
        index
    }

    /// Appends tensor `index` to the graph outputs.
    pub fn output(&mut self, index: u32) {
        self.outputs.push(index);
    }

    /// The file: header, tensor table, node table, input and output lists, the data region
    /// (16-aligned), then the checksum.
    ///
    /// # Panics
    ///
    /// If the file would not fit the format's 32-bit offsets (4 GiB).
    pub fn finish(&self) -> AlignedBytes {
        let tensors_offset = HEADER_LEN;
        let nodes_offset = tensors_offset + self.tensors.len() * TENSOR_ENTRY_LEN;
        let inputs_offset = nodes_offset + self.nodes.len() * NODE_ENTRY_LEN;
        let outputs_offset = inputs_offset + self.inputs.len() * 4;
        let data_offset = (outputs_offset + self.outputs.len() * 4).next_multiple_of(DATA_ALIGN);
        let header = Header {
            magic: MAGIC,
            version: VERSION,
            tensor_count: u32_of(self.tensors.len()),
            node_count: u32_of(self.nodes.len()),
            input_count: u32_of(self.inputs.len()),
            output_count: u32_of(self.outputs.len()),
            tensors_offset: u32_of(tensors_offset),
            nodes_offset: u32_of(nodes_offset),
            inputs_offset: u32_of(inputs_offset),
            outputs_offset: u32_of(outputs_offset),
            data_offset: u32_of(data_offset),
            data_len: u32_of(self.data.len()),
            ..Header::default()
        };
        let mut file = Vec::with_capacity(data_offset + self.data.len() + CHECKSUM_LEN);
        file.extend_from_slice(&header.encode());
        for tensor in &self.tensors {
            file.extend_from_slice(&tensor.encode());
        }
        for node in &self.nodes {
            file.extend_from_slice(&node.encode());
        }
        for index in self.inputs.iter().chain(&self.outputs) {
            file.extend_from_slice(&index.to_le_bytes());
        }
        file.resize(data_offset, 0);
        file.extend_from_slice(&self.data);
        let checksum = sha256(&[&file]);
        file.extend_from_slice(&checksum);
        AlignedBytes::from_slice(&file)
    }

    fn tensor(&mut self, info: TensorInfo, kind: TensorKind, offset: u32) -> u32 {
        let index = u32_of(self.tensors.len());
        self.tensors.push(TensorEntry {
            dtype: info.dtype as u8,
            rank: info.shape.rank() as u8,
            kind: kind as u8,
            dims: info.shape.padded(),
            offset,
            len: u32_of(info.dtype.byte_len(&info.shape).unwrap_or(u64::MAX) as usize),
            scale: info.quant.scale.to_bits(),
            zero_point: info.quant.zero_point,
            ..TensorEntry::default()
        });
        index
    }
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).expect("an .opml file is smaller than 4 GiB")
}
