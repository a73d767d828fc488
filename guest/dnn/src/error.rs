//! Why a model file is refused ([`ModelError`]) and why a run fails ([`DnnError`]).

use core::fmt;

/// A region of a `.opml` file that the header locates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// The tensor table.
    Tensors,
    /// The node table.
    Nodes,
    /// The list of graph inputs.
    Inputs,
    /// The list of graph outputs.
    Outputs,
    /// The constant data region.
    Data,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Region::Tensors => "tensor table",
            Region::Nodes => "node table",
            Region::Inputs => "graph input list",
            Region::Outputs => "graph output list",
            Region::Data => "data region",
        })
    }
}

/// Why [`Model::parse`](crate::Model::parse) refuses a file. Tensor and node fields are indices
/// into the file's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// The file (this many bytes) is shorter than a header and a checksum.
    TooShort(usize),
    /// The file does not start with [`MAGIC`](crate::MAGIC).
    BadMagic,
    /// The file has this version, not [`VERSION`](crate::VERSION).
    Version(u32),
    /// The trailing checksum is not the SHA-256 of the rest of the file.
    Checksum,
    /// The flags or a reserved field, at this byte offset of the file, are not zero.
    Reserved {
        /// Byte offset of the field.
        offset: usize,
    },
    /// A region does not lie between the header and the checksum.
    OutOfBounds(Region),
    /// Two regions overlap.
    Overlap(Region, Region),
    /// The data region's offset in the file is not a multiple of 16.
    DataAlignment,
    /// The buffer holding the file does not put the data region at a 16-aligned address.
    BufferAlignment,
    /// A tensor has an unknown dtype code.
    DType {
        /// The tensor.
        tensor: u32,
        /// Its dtype code.
        code: u8,
    },
    /// A block-quantized tensor is not a constant.
    BlockKind {
        /// The tensor.
        tensor: u32,
    },
    /// A tensor has an unknown kind code.
    Kind {
        /// The tensor.
        tensor: u32,
        /// Its kind code.
        code: u8,
    },
    /// A tensor's rank exceeds 4, a dimension is 0, or an unused dimension is not 1.
    Shape {
        /// The tensor.
        tensor: u32,
    },
    /// A tensor's byte size exceeds `i32::MAX` or differs from its `len` field.
    Length {
        /// The tensor.
        tensor: u32,
    },
    /// An i8 tensor's scale is not finite and positive, or its zero point is not in -128..=127.
    Quant {
        /// The tensor.
        tensor: u32,
    },
    /// A constant's data lies outside the data region, or a non-constant has a data offset.
    DataRange {
        /// The tensor.
        tensor: u32,
    },
    /// A constant's data offset is not a multiple of 16.
    ConstantAlignment {
        /// The tensor.
        tensor: u32,
    },
    /// A constant's data overlaps another constant's.
    ConstantOverlap {
        /// The tensor.
        tensor: u32,
    },
    /// A node has an unknown operator code.
    Op {
        /// The node.
        node: u32,
        /// Its operator code.
        code: u16,
    },
    /// A node's input count is not one its operator takes, or an unused input slot is not
    /// `u32::MAX`.
    Inputs {
        /// The node.
        node: u32,
    },
    /// A node or the graph input or output list names a tensor past the tensor table.
    TensorIndex {
        /// The index.
        index: u32,
    },
    /// A node reads a tensor that no earlier node wrote.
    Undefined {
        /// The node.
        node: u32,
        /// The tensor.
        tensor: u32,
    },
    /// A node writes a constant or a graph input.
    OutputKind {
        /// The node.
        node: u32,
        /// The tensor.
        tensor: u32,
    },
    /// A node writes a tensor that an earlier node wrote.
    WrittenTwice {
        /// The node.
        node: u32,
        /// The tensor.
        tensor: u32,
    },
    /// A node's parameters are out of range, or an unused parameter is not 0.
    Params {
        /// The node.
        node: u32,
    },
    /// A node's input or output shapes, dtypes or quantization do not fit its operator.
    Mismatch {
        /// The node.
        node: u32,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A graph input entry is not an input tensor or is listed twice, or an input tensor is not
    /// listed.
    GraphInput {
        /// The tensor.
        tensor: u32,
    },
    /// A node-output tensor that no node writes.
    Unwritten {
        /// The tensor.
        tensor: u32,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::TooShort(len) => write!(f, "file of {len} bytes is too short"),
            ModelError::BadMagic => f.write_str("not an .opml file (bad magic)"),
            ModelError::Version(v) => write!(f, "unsupported .opml version {v}"),
            ModelError::Checksum => f.write_str("checksum mismatch"),
            ModelError::Reserved { offset } => {
                write!(f, "reserved field at byte {offset} is not zero")
            }
            ModelError::OutOfBounds(region) => write!(f, "{region} lies outside the file body"),
            ModelError::Overlap(a, b) => write!(f, "{a} overlaps {b}"),
            ModelError::DataAlignment => f.write_str("data offset is not 16-aligned"),
            ModelError::BufferAlignment => {
                f.write_str("data region is not 16-aligned in memory (use AlignedBytes)")
            }
            ModelError::DType { tensor, code } => {
                write!(f, "tensor {tensor}: unknown dtype {code}")
            }
            ModelError::Kind { tensor, code } => write!(f, "tensor {tensor}: unknown kind {code}"),
            ModelError::BlockKind { tensor } => {
                write!(
                    f,
                    "tensor {tensor}: a block-quantized tensor must be a constant"
                )
            }
            ModelError::Shape { tensor } => write!(f, "tensor {tensor}: invalid shape"),
            ModelError::Length { tensor } => write!(f, "tensor {tensor}: invalid byte length"),
            ModelError::Quant { tensor } => {
                write!(f, "tensor {tensor}: invalid scale or zero point")
            }
            ModelError::DataRange { tensor } => write!(f, "tensor {tensor}: invalid data range"),
            ModelError::ConstantAlignment { tensor } => {
                write!(f, "tensor {tensor}: data offset is not 16-aligned")
            }
            ModelError::ConstantOverlap { tensor } => {
                write!(f, "tensor {tensor}: data overlaps another constant")
            }
            ModelError::Op { node, code } => write!(f, "node {node}: unknown operator {code}"),
            ModelError::Inputs { node } => write!(f, "node {node}: invalid inputs"),
            ModelError::TensorIndex { index } => write!(f, "tensor index {index} out of range"),
            ModelError::Undefined { node, tensor } => {
                write!(f, "node {node} reads tensor {tensor} before it is defined")
            }
            ModelError::OutputKind { node, tensor } => {
                write!(
                    f,
                    "node {node} writes tensor {tensor}, a constant or graph input"
                )
            }
            ModelError::WrittenTwice { node, tensor } => {
                write!(f, "node {node} writes tensor {tensor} a second time")
            }
            ModelError::Params { node } => write!(f, "node {node}: invalid parameters"),
            ModelError::Mismatch { node, reason } => write!(f, "node {node}: {reason}"),
            ModelError::GraphInput { tensor } => write!(f, "invalid graph input {tensor}"),
            ModelError::Unwritten { tensor } => write!(f, "no node writes tensor {tensor}"),
        }
    }
}

impl core::error::Error for ModelError {}

/// Why building a tensor or running a model fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnnError {
    /// A shape has a rank above 4, a dimension of 0, or more than `u32::MAX` elements.
    Shape,
    /// Tensor data has `got` elements where its shape has `expected`.
    DataLength {
        /// Elements of the shape.
        expected: usize,
        /// Elements of the data.
        got: usize,
    },
    /// `got` input tensors were given where `expected` are needed.
    InputCount {
        /// Tensors needed.
        expected: usize,
        /// Tensors given.
        got: usize,
    },
    /// Input tensor `index` has another dtype or shape than the model declares.
    Input {
        /// Position among the given inputs.
        index: usize,
    },
    /// An `Embedding` id is outside `0..vocab`.
    EmbeddingId {
        /// The id.
        id: i32,
        /// Rows of the table.
        vocab: usize,
    },
    /// There is no node with this index.
    NodeIndex(usize),
    /// An LLM task record or the tokenizer tables are invalid, or the prompt does not have the
    /// token count the graph was built for.
    Task,
    /// A tensor the executor needs is missing, or an operator got a dtype it cannot take. The
    /// checks of [`Model::parse`](crate::Model::parse) rule this out; the executor reports it
    /// rather than panic.
    Malformed,
}

impl fmt::Display for DnnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnnError::Shape => f.write_str("invalid shape"),
            DnnError::DataLength { expected, got } => {
                write!(f, "tensor data has {got} elements, its shape {expected}")
            }
            DnnError::InputCount { expected, got } => {
                write!(f, "{got} input tensors given, {expected} expected")
            }
            DnnError::Input { index } => {
                write!(f, "input {index} does not match the model's dtype or shape")
            }
            DnnError::EmbeddingId { id, vocab } => {
                write!(f, "embedding id {id} outside 0..{vocab}")
            }
            DnnError::NodeIndex(index) => write!(f, "no node {index}"),
            DnnError::Task => f.write_str(
                "invalid LLM task record or tokenizer tables, or a prompt of another token count",
            ),
            DnnError::Malformed => f.write_str("model inconsistent with its operators"),
        }
    }
}

impl core::error::Error for DnnError {}
