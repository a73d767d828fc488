//! Tensors: dtype, shape, quantization, owned ([`Tensor`]) and borrowed ([`TensorRef`]) data, and
//! the tensor hash.
//!
//! A tensor's data always has exactly the element count of its shape: the constructors check it,
//! and the fields are private.

use alloc::vec::Vec;

pub use opml_llm::quant::{BlockFormat, QK};

use crate::{DnnError, Hash};

/// The quiet NaN every f32 result's NaNs are replaced with.
const CANONICAL_NAN: u32 = 0x7fc0_0000;

/// `x`, with any NaN replaced by the canonical quiet NaN `0x7fc0_0000` (`-0.0` stays `-0.0`).
pub fn canonical(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(CANONICAL_NAN)
    } else {
        x
    }
}

/// The element type of a tensor; the discriminant is the file's dtype code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DType {
    /// IEEE-754 binary32.
    F32 = 0,
    /// Signed byte: quantized activations and weights.
    I8 = 1,
    /// Signed 32-bit integer: biases of quantized layers, ids, argmax results.
    I32 = 2,
    /// GGML Q4_1 blocks of [`QK`] values along the last axis (constants only).
    Q4_1 = 3,
    /// GGML Q8_0 blocks of [`QK`] values along the last axis (constants only).
    Q8_0 = 4,
}

impl DType {
    /// The dtype with this file code.
    pub fn from_code(code: u8) -> Option<DType> {
        match code {
            0 => Some(DType::F32),
            1 => Some(DType::I8),
            2 => Some(DType::I32),
            3 => Some(DType::Q4_1),
            4 => Some(DType::Q8_0),
            _ => None,
        }
    }

    /// The dtype's name in `docs/dnn.md`: `f32`, `i8`, `i32`, `q4_1`, `q8_0`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::I8 => "i8",
            DType::I32 => "i32",
            DType::Q4_1 => "q4_1",
            DType::Q8_0 => "q8_0",
        }
    }

    /// The block format of a block-quantized dtype.
    pub fn block(self) -> Option<BlockFormat> {
        match self {
            DType::Q4_1 => Some(BlockFormat::Q4_1),
            DType::Q8_0 => Some(BlockFormat::Q8_0),
            DType::F32 | DType::I8 | DType::I32 => None,
        }
    }

    /// The byte length of a tensor of this dtype and shape: `None` for a block dtype whose
    /// last dimension is not a multiple of [`QK`], or past `u64`.
    pub fn byte_len(self, shape: &Shape) -> Option<u64> {
        let count = shape.count() as u64;
        match self {
            DType::F32 | DType::I32 => count.checked_mul(4),
            DType::I8 => Some(count),
            DType::Q4_1 | DType::Q8_0 => {
                let format = self.block()?;
                shape
                    .last()
                    .is_multiple_of(QK)
                    .then(|| count / QK as u64 * format.block_bytes() as u64)
            }
        }
    }
}

/// The largest rank.
pub const MAX_RANK: usize = 4;

/// A shape of rank 0..=4, row-major. Every dimension is at least 1 and the element count fits in
/// a `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    rank: u8,
    /// Used dimensions, then 1s.
    dims: [u32; MAX_RANK],
}

impl Shape {
    /// The shape with these dimensions: at most 4, each at least 1, at most `u32::MAX` elements.
    pub fn new(dims: &[u32]) -> Result<Shape, DnnError> {
        let mut padded = [1; MAX_RANK];
        padded
            .get_mut(..dims.len())
            .ok_or(DnnError::Shape)?
            .copy_from_slice(dims);
        let count = dims.iter().try_fold(1u32, |n, &d| n.checked_mul(d));
        if dims.contains(&0) || count.is_none() {
            return Err(DnnError::Shape);
        }
        Ok(Shape {
            rank: dims.len() as u8,
            dims: padded,
        })
    }

    /// The shape of rank 0 (one element).
    pub const SCALAR: Shape = Shape {
        rank: 0,
        dims: [1; MAX_RANK],
    };

    /// The rank.
    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// The used dimensions.
    pub fn dims(&self) -> &[u32] {
        &self.dims[..self.rank()]
    }

    /// The four dimensions as stored in the file and hashed: the used ones, then 1s.
    pub fn padded(&self) -> [u32; MAX_RANK] {
        self.dims
    }

    /// The number of elements (1 for rank 0).
    pub fn count(&self) -> usize {
        self.dims.iter().map(|&d| d as usize).product()
    }

    /// The last dimension (1 for rank 0).
    pub fn last(&self) -> usize {
        self.dims().last().map_or(1, |&d| d as usize)
    }
}

/// Quantization of an i8 tensor: `real = scale × (q − zero_point)`. Informative for i32 biases
/// (`scale = scale_input × scale_weight`), unused for f32. Two are equal when bit-identical.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quant {
    /// Real value of one quantization step.
    pub scale: f32,
    /// The quantized value of real 0.
    pub zero_point: i32,
}

impl PartialEq for Quant {
    fn eq(&self, other: &Quant) -> bool {
        self.scale.to_bits() == other.scale.to_bits() && self.zero_point == other.zero_point
    }
}

impl Eq for Quant {}

/// What the model declares about a tensor: dtype, shape and quantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Shape,
    /// Quantization (meaningful for i8).
    pub quant: Quant,
}

impl TensorInfo {
    /// Whether the quantization is one the reader accepts: for i8, a finite positive scale and
    /// a zero point in -128..=127; anything for other dtypes.
    pub fn valid_quant(&self) -> bool {
        let Quant { scale, zero_point } = self.quant;
        self.dtype != DType::I8
            || (scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zero_point))
    }
}

/// The element types of tensors: `f32`, `i8`, `i32`.
pub trait Element: Copy + PartialOrd {
    /// The dtype of this element type.
    const DTYPE: DType;
    /// The value as every operation outputs it: [`canonical`] for f32, itself for integers.
    fn canonical(self) -> Self;
    /// The elements of `data`, if they have this type.
    fn slice(data: DataRef<'_>) -> Option<&[Self]>;
    /// Owned data of this type.
    fn into_data(values: Vec<Self>) -> Data;
}

macro_rules! element {
    ($t:ty, $variant:ident, $canonical:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn canonical(self) -> Self {
                $canonical(self)
            }
            fn slice(data: DataRef<'_>) -> Option<&[Self]> {
                match data {
                    DataRef::$variant(values) => Some(values),
                    _ => None,
                }
            }
            fn into_data(values: Vec<Self>) -> Data {
                Data::$variant(values)
            }
        }

        impl From<Vec<$t>> for Data {
            fn from(values: Vec<$t>) -> Data {
                Data::$variant(values)
            }
        }
    };
}

element!(f32, F32, canonical);
element!(i8, I8, core::convert::identity);
element!(i32, I32, core::convert::identity);

/// Owned tensor elements.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// f32 elements.
    F32(Vec<f32>),
    /// i8 elements.
    I8(Vec<i8>),
    /// i32 elements.
    I32(Vec<i32>),
    /// Whole blocks of a block-quantized format.
    Blocks(BlockFormat, Vec<u8>),
}

/// Borrowed tensor elements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DataRef<'a> {
    /// f32 elements.
    F32(&'a [f32]),
    /// i8 elements.
    I8(&'a [i8]),
    /// i32 elements.
    I32(&'a [i32]),
    /// Whole blocks of a block-quantized format.
    Blocks(BlockFormat, &'a [u8]),
}

impl Data {
    /// Borrows the elements.
    pub fn as_ref(&self) -> DataRef<'_> {
        match self {
            Data::F32(v) => DataRef::F32(v),
            Data::I8(v) => DataRef::I8(v),
            Data::I32(v) => DataRef::I32(v),
            Data::Blocks(format, v) => DataRef::Blocks(*format, v),
        }
    }
}

impl<'a> DataRef<'a> {
    /// Views little-endian `bytes` as elements of `dtype`, without copying. `None` if the
    /// length is not a multiple of the element (or block) size or `bytes` is not aligned for it.
    pub fn from_bytes(dtype: DType, bytes: &'a [u8]) -> Option<DataRef<'a>> {
        Some(match dtype {
            DType::F32 => DataRef::F32(bytemuck::try_cast_slice(bytes).ok()?),
            DType::I8 => DataRef::I8(bytemuck::cast_slice(bytes)),
            DType::I32 => DataRef::I32(bytemuck::try_cast_slice(bytes).ok()?),
            DType::Q4_1 | DType::Q8_0 => {
                let format = dtype.block()?;
                let whole = bytes.len().is_multiple_of(format.block_bytes());
                DataRef::Blocks(format, whole.then_some(bytes)?)
            }
        })
    }

    /// The elements as little-endian bytes.
    pub fn bytes(self) -> &'a [u8] {
        match self {
            DataRef::F32(v) => bytemuck::cast_slice(v),
            DataRef::I8(v) => bytemuck::cast_slice(v),
            DataRef::I32(v) => bytemuck::cast_slice(v),
            DataRef::Blocks(_, v) => v,
        }
    }

    /// The element type.
    pub fn dtype(self) -> DType {
        match self {
            DataRef::F32(_) => DType::F32,
            DataRef::I8(_) => DType::I8,
            DataRef::I32(_) => DType::I32,
            DataRef::Blocks(BlockFormat::Q4_1, _) => DType::Q4_1,
            DataRef::Blocks(BlockFormat::Q8_0, _) => DType::Q8_0,
        }
    }

    /// The number of elements.
    pub fn count(self) -> usize {
        match self {
            DataRef::F32(v) => v.len(),
            DataRef::I8(v) => v.len(),
            DataRef::I32(v) => v.len(),
            DataRef::Blocks(format, v) => v.len() / format.block_bytes() * QK,
        }
    }

    /// An owned copy, every element [`Element::canonical`].
    pub fn to_canonical(self) -> Data {
        fn copy<T: Element>(values: &[T]) -> Data {
            T::into_data(values.iter().map(|v| v.canonical()).collect())
        }
        match self {
            DataRef::F32(v) => copy(v),
            DataRef::I8(v) => copy(v),
            DataRef::I32(v) => copy(v),
            DataRef::Blocks(format, v) => Data::Blocks(format, v.to_vec()),
        }
    }
}

/// A borrowed tensor: shape, elements (typically a constant inside the model buffer) and
/// quantization.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorRef<'a> {
    shape: Shape,
    data: DataRef<'a>,
    quant: Quant,
}

impl<'a> TensorRef<'a> {
    /// A tensor of `shape` over `data`; fails if the element counts differ.
    pub fn new(shape: Shape, data: DataRef<'a>, quant: Quant) -> Result<TensorRef<'a>, DnnError> {
        check_count(&shape, data)?;
        Ok(TensorRef { shape, data, quant })
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The elements.
    pub fn data(&self) -> DataRef<'a> {
        self.data
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The quantization.
    pub fn quant(&self) -> Quant {
        self.quant
    }

    /// Dtype, shape and quantization.
    pub fn info(&self) -> TensorInfo {
        TensorInfo {
            dtype: self.dtype(),
            shape: self.shape,
            quant: self.quant,
        }
    }

    /// The elements, if they have type `T`.
    pub fn values<T: Element>(&self) -> Option<&'a [T]> {
        T::slice(self.data)
    }

    /// The tensor hash: `sha256(dtype u8 ‖ rank u8 ‖ dims (4 × u32 LE, unused 1) ‖ data LE)`.
    pub fn hash(&self) -> Hash {
        let mut head = [0u8; 2 + 4 * MAX_RANK];
        head[0] = self.dtype() as u8;
        head[1] = self.shape.rank;
        for (chunk, dim) in head[2..].chunks_exact_mut(4).zip(self.shape.dims) {
            chunk.copy_from_slice(&dim.to_le_bytes());
        }
        crate::sha256(&[&head, self.data.bytes()])
    }

    /// An owned copy.
    pub fn to_tensor(&self) -> Tensor {
        let data = match self.data {
            DataRef::F32(v) => Data::F32(v.to_vec()),
            DataRef::I8(v) => Data::I8(v.to_vec()),
            DataRef::I32(v) => Data::I32(v.to_vec()),
            DataRef::Blocks(format, v) => Data::Blocks(format, v.to_vec()),
        };
        Tensor {
            shape: self.shape,
            data,
            quant: self.quant,
        }
    }
}

/// An owned tensor: shape, elements and quantization.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Shape,
    data: Data,
    quant: Quant,
}

impl Tensor {
    /// A tensor of `shape` holding `data`, quantization zero; fails if the element counts
    /// differ.
    pub fn new(shape: Shape, data: Data) -> Result<Tensor, DnnError> {
        check_count(&shape, data.as_ref())?;
        Ok(Tensor {
            shape,
            data,
            quant: Quant::default(),
        })
    }

    /// An f32 tensor with these dimensions and values.
    pub fn f32(dims: &[u32], values: Vec<f32>) -> Result<Tensor, DnnError> {
        Tensor::new(Shape::new(dims)?, Data::F32(values))
    }

    /// An i8 tensor with these dimensions, values and quantization.
    pub fn i8(dims: &[u32], values: Vec<i8>, quant: Quant) -> Result<Tensor, DnnError> {
        Ok(Tensor::new(Shape::new(dims)?, Data::I8(values))?.with_quant(quant))
    }

    /// An i32 tensor with these dimensions and values.
    pub fn i32(dims: &[u32], values: Vec<i32>) -> Result<Tensor, DnnError> {
        Tensor::new(Shape::new(dims)?, Data::I32(values))
    }

    /// The same tensor with quantization `quant`.
    pub fn with_quant(self, quant: Quant) -> Tensor {
        Tensor { quant, ..self }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The elements.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.as_ref().dtype()
    }

    /// The quantization.
    pub fn quant(&self) -> Quant {
        self.quant
    }

    /// The elements, if they have type `T`.
    pub fn values<T: Element>(&self) -> Option<&[T]> {
        T::slice(self.data.as_ref())
    }

    /// Takes the elements.
    pub fn into_data(self) -> Data {
        self.data
    }

    /// Borrows the tensor.
    pub fn as_ref(&self) -> TensorRef<'_> {
        TensorRef {
            shape: self.shape,
            data: self.data.as_ref(),
            quant: self.quant,
        }
    }

    /// Dtype, shape and quantization.
    pub fn info(&self) -> TensorInfo {
        self.as_ref().info()
    }

    /// The tensor hash (see [`TensorRef::hash`]).
    pub fn hash(&self) -> Hash {
        self.as_ref().hash()
    }
}

impl<'a> From<&'a Tensor> for TensorRef<'a> {
    fn from(tensor: &'a Tensor) -> TensorRef<'a> {
        tensor.as_ref()
    }
}

fn check_count(shape: &Shape, data: DataRef<'_>) -> Result<(), DnnError> {
    let (expected, got) = (shape.count(), data.count());
    if matches!(data, DataRef::Blocks(..)) && !shape.last().is_multiple_of(QK) {
        return Err(DnnError::Shape);
    }
    if expected == got {
        Ok(())
    } else {
        Err(DnnError::DataLength { expected, got })
    }
}
