//! A GGUF v3 reader: metadata, tensor infos and tensor data of a GGUF file, borrowed from the
//! file's bytes.
//!
//! [`Gguf::parse`] checks the whole layout before it returns: the magic and version (3 only),
//! every metadata value (all GGUF value types, arrays nested up to [`MAX_ARRAY_DEPTH`] levels,
//! UTF-8 strings, no duplicate keys), `general.alignment` (a nonzero power of two, default
//! [`DEFAULT_ALIGNMENT`]), and every tensor info (at most [`MAX_DIMS`] dimensions, a known
//! [`GgmlType`], rows a whole number of blocks, element and byte counts without overflow, an
//! aligned offset, its bytes inside the file, no duplicate names, no overlap with another
//! tensor). Any input gives a [`GgufError`], never a panic; counts read from the file are
//! checked against the bytes left before anything is allocated for them.
//!
//! Tensor data is returned raw ([`Gguf::tensor_bytes`]) for every type, and dequantized to f32
//! ([`Gguf::dequantize`], [`Gguf::dequantize_rows`]) for F32, F16, Q4_1 and Q8_0, with the block
//! formats and f16 conversion of [`opml_llm::quant`]. Dimensions are in ggml order: `dims[0]` is
//! the row length (the contiguous one).
//!
//! ```no_run
//! let bytes = std::fs::read("model.gguf")?;
//! let gguf = opml_gguf::Gguf::parse(&bytes)?;
//! let layers = gguf.u32("llama.block_count")?;
//! let tokens = gguf.str_array("tokenizer.ggml.tokens")?;
//! let norm = gguf.tensor("output_norm.weight").expect("a llama model");
//! let weights = gguf.dequantize(norm)?;
//! # let _ = (layers, tokens, weights);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use opml_llm::quant::{BlockFormat, f16_to_f32};

/// The first four bytes of a GGUF file.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// The only GGUF version this reader accepts.
pub const VERSION: u32 = 3;
/// The alignment of the data section and of tensor offsets without `general.alignment`.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The metadata key that sets the alignment (a `u32`).
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// The most dimensions a tensor may have (ggml's `GGML_MAX_DIMS`).
pub const MAX_DIMS: usize = 4;
/// The deepest nesting of metadata arrays: an array of arrays is depth 2.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// The smallest encoded metadata key/value pair: an empty key (8), a type (4), a one-byte value.
const MIN_KV_BYTES: usize = 8 + 4 + 1;
/// The smallest encoded tensor info: an empty name (8), `n_dims` (4), a type (4), an offset (8).
const MIN_TENSOR_INFO_BYTES: usize = 8 + 4 + 4 + 8;
/// The most key/value pairs or tensors to reserve room for before reading them (the tables grow
/// as items are read, so a false count in a large file reserves little).
const MAX_RESERVE: usize = 4096;

/// Why a file is not a valid GGUF v3 file, or why a request on it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GgufError {
    /// The file does not start with `GGUF`.
    BadMagic {
        /// The first bytes of the file (fewer than four if it is shorter).
        found: Vec<u8>,
    },
    /// A GGUF version other than 3.
    UnsupportedVersion {
        /// The version in the file.
        version: u32,
    },
    /// The file ends inside an item.
    Truncated {
        /// Where the item starts.
        offset: u64,
        /// The bytes the item needs.
        needed: u64,
        /// The bytes left in the file from `offset`.
        available: u64,
        /// What was being read.
        context: String,
    },
    /// A count in the file is larger than the rest of the file can hold.
    CountTooLarge {
        /// Where the count is.
        offset: u64,
        /// The count.
        count: u64,
        /// What it counts.
        context: String,
    },
    /// A string is not UTF-8.
    InvalidUtf8 {
        /// Where the string's bytes start.
        offset: u64,
        /// Which string.
        context: String,
    },
    /// A metadata value type that GGUF does not define.
    UnknownValueType {
        /// Where the type is.
        offset: u64,
        /// The type id.
        type_id: u32,
        /// Which value.
        context: String,
    },
    /// A bool that is neither 0 nor 1.
    InvalidBool {
        /// Where the byte is.
        offset: u64,
        /// The byte.
        value: u8,
        /// Which value.
        context: String,
    },
    /// Arrays nested deeper than [`MAX_ARRAY_DEPTH`].
    NestingTooDeep {
        /// Where the array one level too deep starts.
        offset: u64,
        /// Which value.
        context: String,
    },
    /// Two metadata pairs with the same key.
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// `general.alignment` is zero or not a power of two.
    BadAlignment {
        /// The value in the file.
        alignment: u32,
    },
    /// A tensor with more than [`MAX_DIMS`] dimensions.
    TooManyDims {
        /// The tensor.
        tensor: String,
        /// Its `n_dims`.
        n_dims: u32,
    },
    /// A tensor type id that ggml does not define.
    UnknownGgmlType {
        /// The tensor.
        tensor: String,
        /// The type id.
        type_id: u32,
    },
    /// A tensor's element or byte count overflows.
    SizeOverflow {
        /// The tensor.
        tensor: String,
        /// Its dimensions.
        dims: Vec<u64>,
    },
    /// A tensor of a block type whose rows are not a whole number of blocks.
    RowNotBlockMultiple {
        /// The tensor.
        tensor: String,
        /// Its row length (`dims[0]`).
        row: u64,
        /// The block size of its type.
        block: u64,
    },
    /// Two tensors with the same name.
    DuplicateTensor {
        /// The name.
        tensor: String,
    },
    /// A tensor offset that is not a multiple of the alignment.
    MisalignedTensor {
        /// The tensor.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// A tensor whose bytes are not all inside the file.
    TensorOutOfBounds {
        /// The tensor.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// Its size in bytes.
        size: u64,
        /// The size of the data section.
        data_len: u64,
    },
    /// Two tensors whose bytes overlap.
    OverlappingTensors {
        /// The tensor with the lower offset.
        first: String,
        /// The tensor starting inside it.
        second: String,
    },
    /// A metadata key that is not in the file.
    MissingKey {
        /// The key.
        key: String,
    },
    /// A metadata value of another type than asked for.
    WrongType {
        /// The key.
        key: String,
        /// The type asked for.
        expected: String,
        /// The type in the file.
        found: String,
    },
    /// Dequantization of a tensor type this reader cannot decode.
    UnsupportedType {
        /// The tensor.
        tensor: String,
        /// Its type.
        ggml_type: GgmlType,
    },
    /// Rows outside a tensor, or a tensor info that does not belong to this file.
    BadRequest {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
}

impl GgufError {
    /// Replaces the context of the variants that have one.
    fn in_context(mut self, what: impl FnOnce() -> String) -> Self {
        match &mut self {
            GgufError::Truncated { context, .. }
            | GgufError::CountTooLarge { context, .. }
            | GgufError::InvalidUtf8 { context, .. }
            | GgufError::UnknownValueType { context, .. }
            | GgufError::InvalidBool { context, .. }
            | GgufError::NestingTooDeep { context, .. } => *context = what(),
            _ => {}
        }
        self
    }
}

impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgufError::BadMagic { found } => {
                write!(f, "not a GGUF file: magic {found:02x?}, expected \"GGUF\"")
            }
            GgufError::UnsupportedVersion { version } => {
                write!(
                    f,
                    "GGUF version {version} is not supported (only {VERSION})"
                )
            }
            GgufError::Truncated {
                offset,
                needed,
                available,
                context,
            } => write!(
                f,
                "truncated {context} at offset {offset}: needs {needed} bytes, {available} left"
            ),
            GgufError::CountTooLarge {
                offset,
                count,
                context,
            } => write!(
                f,
                "{context} at offset {offset}: count {count} exceeds what the rest of the file can hold"
            ),
            GgufError::InvalidUtf8 { offset, context } => {
                write!(f, "{context} at offset {offset} is not valid UTF-8")
            }
            GgufError::UnknownValueType {
                offset,
                type_id,
                context,
            } => write!(
                f,
                "{context} at offset {offset}: unknown value type {type_id}"
            ),
            GgufError::InvalidBool {
                offset,
                value,
                context,
            } => write!(
                f,
                "{context} at offset {offset}: bool byte {value} is not 0 or 1"
            ),
            GgufError::NestingTooDeep { offset, context } => write!(
                f,
                "{context} at offset {offset}: arrays nested deeper than {MAX_ARRAY_DEPTH}"
            ),
            GgufError::DuplicateKey { key } => write!(f, "duplicate metadata key {key:?}"),
            GgufError::BadAlignment { alignment } => write!(
                f,
                "{ALIGNMENT_KEY} = {alignment} is not a nonzero power of two"
            ),
            GgufError::TooManyDims { tensor, n_dims } => write!(
                f,
                "tensor {tensor:?} has {n_dims} dimensions (at most {MAX_DIMS})"
            ),
            GgufError::UnknownGgmlType { tensor, type_id } => {
                write!(f, "tensor {tensor:?} has unknown ggml type {type_id}")
            }
            GgufError::SizeOverflow { tensor, dims } => {
                write!(f, "tensor {tensor:?}: the size of dims {dims:?} overflows")
            }
            GgufError::RowNotBlockMultiple { tensor, row, block } => write!(
                f,
                "tensor {tensor:?}: row length {row} is not a multiple of the block size {block}"
            ),
            GgufError::DuplicateTensor { tensor } => write!(f, "duplicate tensor {tensor:?}"),
            GgufError::MisalignedTensor {
                tensor,
                offset,
                alignment,
            } => write!(
                f,
                "tensor {tensor:?}: offset {offset} is not a multiple of the alignment {alignment}"
            ),
            GgufError::TensorOutOfBounds {
                tensor,
                offset,
                size,
                data_len,
            } => write!(
                f,
                "tensor {tensor:?}: {size} bytes at offset {offset} do not fit in the {data_len}-byte data section"
            ),
            GgufError::OverlappingTensors { first, second } => {
                write!(f, "tensors {first:?} and {second:?} overlap")
            }
            GgufError::MissingKey { key } => write!(f, "metadata key {key:?} is missing"),
            GgufError::WrongType {
                key,
                expected,
                found,
            } => write!(f, "metadata key {key:?} is {found}, expected {expected}"),
            GgufError::UnsupportedType { tensor, ggml_type } => write!(
                f,
                "tensor {tensor:?}: dequantizing {ggml_type} is not supported (F32, F16, Q4_1, Q8_0 are)"
            ),
            GgufError::BadRequest { tensor, reason } => write!(f, "tensor {tensor:?}: {reason}"),
        }
    }
}

impl std::error::Error for GgufError {}

/// A metadata value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `u8` (id 0).
    U8,
    /// `i8` (id 1).
    I8,
    /// `u16` (id 2).
    U16,
    /// `i16` (id 3).
    I16,
    /// `u32` (id 4).
    U32,
    /// `i32` (id 5).
    I32,
    /// `f32` (id 6).
    F32,
    /// `bool`, one byte 0 or 1 (id 7).
    Bool,
    /// A UTF-8 string: a `u64` length and the bytes (id 8).
    String,
    /// An array: an element type, a `u64` count and the elements (id 9).
    Array,
    /// `u64` (id 10).
    U64,
    /// `i64` (id 11).
    I64,
    /// `f64` (id 12).
    F64,
}

impl ValueType {
    /// The type with GGUF id `id`.
    pub const fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => ValueType::U8,
            1 => ValueType::I8,
            2 => ValueType::U16,
            3 => ValueType::I16,
            4 => ValueType::U32,
            5 => ValueType::I32,
            6 => ValueType::F32,
            7 => ValueType::Bool,
            8 => ValueType::String,
            9 => ValueType::Array,
            10 => ValueType::U64,
            11 => ValueType::I64,
            12 => ValueType::F64,
            _ => return None,
        })
    }

    /// The GGUF id.
    pub const fn id(self) -> u32 {
        match self {
            ValueType::U8 => 0,
            ValueType::I8 => 1,
            ValueType::U16 => 2,
            ValueType::I16 => 3,
            ValueType::U32 => 4,
            ValueType::I32 => 5,
            ValueType::F32 => 6,
            ValueType::Bool => 7,
            ValueType::String => 8,
            ValueType::Array => 9,
            ValueType::U64 => 10,
            ValueType::I64 => 11,
            ValueType::F64 => 12,
        }
    }

    /// The lowercase name (`u8`, …, `string`, `array`, …).
    pub const fn name(self) -> &'static str {
        match self {
            ValueType::U8 => "u8",
            ValueType::I8 => "i8",
            ValueType::U16 => "u16",
            ValueType::I16 => "i16",
            ValueType::U32 => "u32",
            ValueType::I32 => "i32",
            ValueType::F32 => "f32",
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::Array => "array",
            ValueType::U64 => "u64",
            ValueType::I64 => "i64",
            ValueType::F64 => "f64",
        }
    }

    /// The fewest bytes a value of this type takes (an empty string, an empty array).
    const fn min_bytes(self) -> usize {
        match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => 1,
            ValueType::U16 | ValueType::I16 => 2,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 4,
            ValueType::U64 | ValueType::I64 | ValueType::F64 | ValueType::String => 8,
            ValueType::Array => 4 + 8,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metadata value. Strings borrow the file's bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// `u8`.
    U8(u8),
    /// `i8`.
    I8(i8),
    /// `u16`.
    U16(u16),
    /// `i16`.
    I16(i16),
    /// `u32`.
    U32(u32),
    /// `i32`.
    I32(i32),
    /// `f32`.
    F32(f32),
    /// `bool`.
    Bool(bool),
    /// A string.
    String(&'a str),
    /// An array (of one element type).
    Array(Array<'a>),
    /// `u64`.
    U64(u64),
    /// `i64`.
    I64(i64),
    /// `f64`.
    F64(f64),
}

impl Value<'_> {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// The type as text, with arrays' element types: `u32`, `array<string>`,
    /// `array<array<i32>>`.
    pub fn type_description(&self) -> String {
        match self {
            Value::Array(array) => array.type_description(),
            other => other.value_type().name().to_owned(),
        }
    }
}

/// A metadata array: a vector of its element type. Nested arrays may differ in element type.
#[derive(Clone, Debug, PartialEq)]
pub enum Array<'a> {
    /// `u8` elements.
    U8(Vec<u8>),
    /// `i8` elements.
    I8(Vec<i8>),
    /// `u16` elements.
    U16(Vec<u16>),
    /// `i16` elements.
    I16(Vec<i16>),
    /// `u32` elements.
    U32(Vec<u32>),
    /// `i32` elements.
    I32(Vec<i32>),
    /// `f32` elements.
    F32(Vec<f32>),
    /// `bool` elements.
    Bool(Vec<bool>),
    /// String elements, borrowed from the file.
    String(Vec<&'a str>),
    /// Array elements.
    Array(Vec<Array<'a>>),
    /// `u64` elements.
    U64(Vec<u64>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// `f64` elements.
    F64(Vec<f64>),
}

impl Array<'_> {
    /// The element type.
    pub fn element_type(&self) -> ValueType {
        match self {
            Array::U8(_) => ValueType::U8,
            Array::I8(_) => ValueType::I8,
            Array::U16(_) => ValueType::U16,
            Array::I16(_) => ValueType::I16,
            Array::U32(_) => ValueType::U32,
            Array::I32(_) => ValueType::I32,
            Array::F32(_) => ValueType::F32,
            Array::Bool(_) => ValueType::Bool,
            Array::String(_) => ValueType::String,
            Array::Array(_) => ValueType::Array,
            Array::U64(_) => ValueType::U64,
            Array::I64(_) => ValueType::I64,
            Array::F64(_) => ValueType::F64,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Array::U8(v) => v.len(),
            Array::I8(v) => v.len(),
            Array::U16(v) => v.len(),
            Array::I16(v) => v.len(),
            Array::U32(v) => v.len(),
            Array::I32(v) => v.len(),
            Array::F32(v) => v.len(),
            Array::Bool(v) => v.len(),
            Array::String(v) => v.len(),
            Array::Array(v) => v.len(),
            Array::U64(v) => v.len(),
            Array::I64(v) => v.len(),
            Array::F64(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type as text: `array<string>`; nested arrays show their first element's type
    /// (`array<array<i32>>`) or `array<array>` when empty.
    pub fn type_description(&self) -> String {
        match self {
            Array::Array(inner) => match inner.first() {
                Some(first) => format!("array<{}>", first.type_description()),
                None => "array<array>".to_owned(),
            },
            other => format!("array<{}>", other.element_type()),
        }
    }
}

/// A ggml tensor type. The reader knows every type's block layout size, so it lists and bounds
/// tensors of any of them; [`Gguf::dequantize`] decodes F32, F16, Q4_1 and Q8_0.
#[allow(missing_docs, non_camel_case_types)] // The variants are ggml's type names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
    NVFP4,
    Q1_0,
}

/// Every type: (type, ggml id, name, values per block, bytes per block), from ggml's
/// `type_traits` (Q8_1's 36 bytes are ggml's `sizeof(block_q8_1)`).
const GGML_TYPES: [(GgmlType, u32, &str, u64, u64); 34] = [
    (GgmlType::F32, 0, "F32", 1, 4),
    (GgmlType::F16, 1, "F16", 1, 2),
    (GgmlType::Q4_0, 2, "Q4_0", 32, 18),
    (GgmlType::Q4_1, 3, "Q4_1", 32, 20),
    (GgmlType::Q5_0, 6, "Q5_0", 32, 22),
    (GgmlType::Q5_1, 7, "Q5_1", 32, 24),
    (GgmlType::Q8_0, 8, "Q8_0", 32, 34),
    (GgmlType::Q8_1, 9, "Q8_1", 32, 36),
    (GgmlType::Q2_K, 10, "Q2_K", 256, 84),
    (GgmlType::Q3_K, 11, "Q3_K", 256, 110),
    (GgmlType::Q4_K, 12, "Q4_K", 256, 144),
    (GgmlType::Q5_K, 13, "Q5_K", 256, 176),
    (GgmlType::Q6_K, 14, "Q6_K", 256, 210),
    (GgmlType::Q8_K, 15, "Q8_K", 256, 292),
    (GgmlType::IQ2_XXS, 16, "IQ2_XXS", 256, 66),
    (GgmlType::IQ2_XS, 17, "IQ2_XS", 256, 74),
    (GgmlType::IQ3_XXS, 18, "IQ3_XXS", 256, 98),
    (GgmlType::IQ1_S, 19, "IQ1_S", 256, 50),
    (GgmlType::IQ4_NL, 20, "IQ4_NL", 32, 18),
    (GgmlType::IQ3_S, 21, "IQ3_S", 256, 110),
    (GgmlType::IQ2_S, 22, "IQ2_S", 256, 82),
    (GgmlType::IQ4_XS, 23, "IQ4_XS", 256, 136),
    (GgmlType::I8, 24, "I8", 1, 1),
    (GgmlType::I16, 25, "I16", 1, 2),
    (GgmlType::I32, 26, "I32", 1, 4),
    (GgmlType::I64, 27, "I64", 1, 8),
    (GgmlType::F64, 28, "F64", 1, 8),
    (GgmlType::IQ1_M, 29, "IQ1_M", 256, 56),
    (GgmlType::BF16, 30, "BF16", 1, 2),
    (GgmlType::TQ1_0, 34, "TQ1_0", 256, 54),
    (GgmlType::TQ2_0, 35, "TQ2_0", 256, 66),
    (GgmlType::MXFP4, 39, "MXFP4", 32, 17),
    (GgmlType::NVFP4, 40, "NVFP4", 64, 36),
    (GgmlType::Q1_0, 41, "Q1_0", 128, 18),
];

impl GgmlType {
    /// Every type ggml defines, in id order.
    pub fn all() -> impl Iterator<Item = GgmlType> {
        GGML_TYPES.iter().map(|t| t.0)
    }

    fn entry(self) -> &'static (GgmlType, u32, &'static str, u64, u64) {
        GGML_TYPES
            .iter()
            .find(|t| t.0 == self)
            .unwrap_or(&GGML_TYPES[0])
    }

    /// The type with ggml id `id`.
    pub fn from_id(id: u32) -> Option<Self> {
        GGML_TYPES.iter().find(|t| t.1 == id).map(|t| t.0)
    }

    /// The ggml id (`GGML_TYPE_*`).
    pub fn id(self) -> u32 {
        self.entry().1
    }

    /// ggml's name: `F32`, `Q4_1`, …
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// Values per block (1 for plain types).
    pub fn block_size(self) -> u64 {
        self.entry().3
    }

    /// Bytes per block.
    pub fn type_size(self) -> u64 {
        self.entry().4
    }

    /// Whether [`Gguf::dequantize`] decodes this type.
    pub fn can_dequantize(self) -> bool {
        matches!(
            self,
            GgmlType::F32 | GgmlType::F16 | GgmlType::Q4_1 | GgmlType::Q8_0
        )
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor's description from the file, checked by [`Gguf::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo<'a> {
    name: &'a str,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    offset: u64,
    elements: u64,
    size: u64,
}

impl<'a> TensorInfo<'a> {
    /// The name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The dimensions in ggml order (`dims[0]` is the row length); empty for a scalar.
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    /// The type.
    pub fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// The offset of the tensor's bytes in the data section.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The number of elements (the product of the dimensions).
    pub fn elements(&self) -> u64 {
        self.elements
    }

    /// The row length: `dims[0]`, or 1 for a scalar.
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// The number of rows: the elements over the row length (0 when rows are empty).
    pub fn rows(&self) -> u64 {
        self.elements.checked_div(self.row_len()).unwrap_or(0)
    }

    /// The size of the tensor's bytes.
    pub fn byte_size(&self) -> u64 {
        self.size
    }

    /// The size of one row's bytes.
    pub fn row_bytes(&self) -> u64 {
        self.row_len() / self.ggml_type.block_size() * self.ggml_type.type_size()
    }
}

/// A parsed GGUF v3 file, borrowing its bytes.
#[derive(Clone)]
pub struct Gguf<'a> {
    bytes: &'a [u8],
    metadata: Vec<(&'a str, Value<'a>)>,
    keys: HashMap<&'a str, usize>,
    tensors: Vec<TensorInfo<'a>>,
    names: HashMap<&'a str, usize>,
    alignment: u64,
    data_offset: u64,
}

impl fmt::Debug for Gguf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the bytes: a model is hundreds of megabytes.
        f.debug_struct("Gguf")
            .field("len", &self.bytes.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

/// A cursor over the file's bytes; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

type Result<T, E = GgufError> = std::result::Result<T, E>;

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn offset(&self) -> u64 {
        self.pos as u64
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.bytes.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(GgufError::Truncated {
                offset: self.offset(),
                needed: n as u64,
                available: self.remaining() as u64,
                context: String::new(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A `u64` count of items of at least `min_bytes` each, which the rest of the file must be
    /// able to hold.
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let offset = self.offset();
        let count = self.u64()?;
        match usize::try_from(count) {
            Ok(n) if n <= self.remaining() / min_bytes.max(1) => Ok(n),
            _ => Err(GgufError::CountTooLarge {
                offset,
                count,
                context: String::new(),
            }),
        }
    }

    fn string(&mut self) -> Result<&'a str> {
        let len = self.count(1)?;
        let offset = self.offset();
        std::str::from_utf8(self.take(len)?).map_err(|_| GgufError::InvalidUtf8 {
            offset,
            context: String::new(),
        })
    }

    fn value_type(&mut self) -> Result<ValueType> {
        let offset = self.offset();
        let id = self.u32()?;
        ValueType::from_id(id).ok_or(GgufError::UnknownValueType {
            offset,
            type_id: id,
            context: String::new(),
        })
    }

    fn bool(&mut self) -> Result<bool> {
        let offset = self.offset();
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(GgufError::InvalidBool {
                offset,
                value,
                context: String::new(),
            }),
        }
    }

    /// `count` fixed-size little-endian values (the count was checked against the bytes left).
    fn fixed<const N: usize, T>(&mut self, count: usize, f: fn([u8; N]) -> T) -> Result<Vec<T>> {
        let bytes = self.take(count * N)?;
        Ok(bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect())
    }

    fn value(&mut self, ty: ValueType, depth: usize) -> Result<Value<'a>> {
        Ok(match ty {
            ValueType::U8 => Value::U8(self.u8()?),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array()?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array()?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array()?)),
            ValueType::U32 => Value::U32(self.u32()?),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array()?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array()?)),
            ValueType::Bool => Value::Bool(self.bool()?),
            ValueType::String => Value::String(self.string()?),
            ValueType::Array => Value::Array(self.array_value(depth + 1)?),
            ValueType::U64 => Value::U64(self.u64()?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array()?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array()?)),
        })
    }

    /// An array at nesting level `depth` (1 for a top-level array).
    fn array_value(&mut self, depth: usize) -> Result<Array<'a>> {
        if depth > MAX_ARRAY_DEPTH {
            return Err(GgufError::NestingTooDeep {
                offset: self.offset(),
                context: String::new(),
            });
        }
        let ty = self.value_type()?;
        let n = self.count(ty.min_bytes())?;
        Ok(match ty {
            ValueType::U8 => Array::U8(self.take(n)?.to_vec()),
            ValueType::I8 => Array::I8(self.fixed(n, i8::from_le_bytes)?),
            ValueType::U16 => Array::U16(self.fixed(n, u16::from_le_bytes)?),
            ValueType::I16 => Array::I16(self.fixed(n, i16::from_le_bytes)?),
            ValueType::U32 => Array::U32(self.fixed(n, u32::from_le_bytes)?),
            ValueType::I32 => Array::I32(self.fixed(n, i32::from_le_bytes)?),
            ValueType::F32 => Array::F32(self.fixed(n, f32::from_le_bytes)?),
            ValueType::Bool => Array::Bool((0..n).map(|_| self.bool()).collect::<Result<_>>()?),
            ValueType::String => {
                Array::String((0..n).map(|_| self.string()).collect::<Result<_>>()?)
            }
            ValueType::Array => Array::Array(
                (0..n)
                    .map(|_| self.array_value(depth + 1))
                    .collect::<Result<_>>()?,
            ),
            ValueType::U64 => Array::U64(self.fixed(n, u64::from_le_bytes)?),
            ValueType::I64 => Array::I64(self.fixed(n, i64::from_le_bytes)?),
            ValueType::F64 => Array::F64(self.fixed(n, f64::from_le_bytes)?),
        })
    }
}

impl<'a> Gguf<'a> {
    /// Parses and checks a whole GGUF v3 file (see the crate documentation for the checks).
    pub fn parse(bytes: &'a [u8]) -> Result<Gguf<'a>> {
        let mut r = Reader { bytes, pos: 0 };
        if bytes.get(..4) != Some(&MAGIC[..]) {
            return Err(GgufError::BadMagic {
                found: bytes[..bytes.len().min(4)].to_vec(),
            });
        }
        r.pos = 4;
        let header = || "header".to_owned();
        let version = r.u32().map_err(|e| e.in_context(header))?;
        if version != VERSION {
            return Err(GgufError::UnsupportedVersion { version });
        }
        let tensor_count = r
            .count(MIN_TENSOR_INFO_BYTES)
            .map_err(|e| e.in_context(|| "tensor count".to_owned()))?;
        let kv_count = r
            .count(MIN_KV_BYTES)
            .map_err(|e| e.in_context(|| "metadata count".to_owned()))?;

        let mut metadata = Vec::with_capacity(kv_count.min(MAX_RESERVE));
        let mut keys = HashMap::with_capacity(kv_count.min(MAX_RESERVE));
        for i in 0..kv_count {
            let key = r
                .string()
                .map_err(|e| e.in_context(|| format!("metadata key #{i}")))?;
            let value = r
                .value_type()
                .and_then(|ty| r.value(ty, 0))
                .map_err(|e| e.in_context(|| format!("metadata value of {key:?}")))?;
            if keys.insert(key, metadata.len()).is_some() {
                return Err(GgufError::DuplicateKey {
                    key: key.to_owned(),
                });
            }
            metadata.push((key, value));
        }

        let alignment = match keys.get(ALIGNMENT_KEY).map(|&i| &metadata[i].1) {
            None => DEFAULT_ALIGNMENT,
            Some(&Value::U32(a)) if a.is_power_of_two() => u64::from(a),
            Some(&Value::U32(a)) => return Err(GgufError::BadAlignment { alignment: a }),
            Some(other) => {
                return Err(GgufError::WrongType {
                    key: ALIGNMENT_KEY.to_owned(),
                    expected: "u32".to_owned(),
                    found: other.type_description(),
                });
            }
        };

        // Each tensor info takes at least MIN_TENSOR_INFO_BYTES, but the metadata came first:
        // check the count again against what is left.
        if tensor_count > r.remaining() / MIN_TENSOR_INFO_BYTES {
            return Err(GgufError::CountTooLarge {
                offset: 8,
                count: tensor_count as u64,
                context: "tensor count (after the metadata)".to_owned(),
            });
        }
        let mut tensors = Vec::with_capacity(tensor_count.min(MAX_RESERVE));
        let mut names = HashMap::with_capacity(tensor_count.min(MAX_RESERVE));
        for i in 0..tensor_count {
            let name = r
                .string()
                .map_err(|e| e.in_context(|| format!("name of tensor #{i}")))?;
            let info = Self::tensor_info(&mut r, name)
                .map_err(|e| e.in_context(|| format!("tensor info of {name:?}")))?;
            if names.insert(name, tensors.len()).is_some() {
                return Err(GgufError::DuplicateTensor {
                    tensor: name.to_owned(),
                });
            }
            tensors.push(info);
        }

        let file_len = bytes.len() as u64;
        let data_offset = r.offset().next_multiple_of(alignment);
        let data_len = file_len.saturating_sub(data_offset);
        for t in &tensors {
            if t.offset % alignment != 0 {
                return Err(GgufError::MisalignedTensor {
                    tensor: t.name.to_owned(),
                    offset: t.offset,
                    alignment,
                });
            }
            if data_offset > file_len
                || t.offset
                    .checked_add(t.size)
                    .is_none_or(|end| end > data_len)
            {
                return Err(GgufError::TensorOutOfBounds {
                    tensor: t.name.to_owned(),
                    offset: t.offset,
                    size: t.size,
                    data_len,
                });
            }
        }
        // Empty tensors hold no bytes: they overlap nothing.
        let mut order: Vec<&TensorInfo> = tensors.iter().filter(|t| t.size > 0).collect();
        order.sort_unstable_by_key(|t| (t.offset, t.size));
        for pair in order.windows(2) {
            // In bounds: offset + size cannot overflow.
            if pair[0].offset + pair[0].size > pair[1].offset {
                return Err(GgufError::OverlappingTensors {
                    first: pair[0].name.to_owned(),
                    second: pair[1].name.to_owned(),
                });
            }
        }

        Ok(Gguf {
            bytes,
            metadata,
            keys,
            tensors,
            names,
            alignment,
            data_offset,
        })
    }

    /// The rest of a tensor info after its name, with its sizes checked.
    fn tensor_info(r: &mut Reader<'a>, name: &'a str) -> Result<TensorInfo<'a>> {
        let n_dims = r.u32()?;
        if n_dims as usize > MAX_DIMS {
            return Err(GgufError::TooManyDims {
                tensor: name.to_owned(),
                n_dims,
            });
        }
        let dims = (0..n_dims).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
        let type_id = r.u32()?;
        let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownGgmlType {
            tensor: name.to_owned(),
            type_id,
        })?;
        let offset = r.u64()?;
        let overflow = || GgufError::SizeOverflow {
            tensor: name.to_owned(),
            dims: dims.clone(),
        };
        // ggml keeps element counts in i64.
        let elements = dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(overflow)?;
        let block = ggml_type.block_size();
        let row = dims.first().copied().unwrap_or(1);
        if row % block != 0 {
            return Err(GgufError::RowNotBlockMultiple {
                tensor: name.to_owned(),
                row,
                block,
            });
        }
        let size = (elements / block)
            .checked_mul(ggml_type.type_size())
            .ok_or_else(overflow)?;
        // A row's bytes overflow when another dimension is 0.
        (row / block)
            .checked_mul(ggml_type.type_size())
            .ok_or_else(overflow)?;
        Ok(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            elements,
            size,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The GGUF version (always [`VERSION`]).
    pub fn version(&self) -> u32 {
        VERSION
    }

    /// The alignment of the data section and tensor offsets.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Where the data section starts in the file (tensor offsets are relative to it).
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Every metadata pair, in file order.
    pub fn metadata(&self) -> &[(&'a str, Value<'a>)] {
        &self.metadata
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.keys.get(key).map(|&i| &self.metadata[i].1)
    }

    fn typed<'s, T>(
        &'s self,
        key: &str,
        expected: &str,
        pick: impl FnOnce(&'s Value<'a>) -> Option<T>,
    ) -> Result<T> {
        let value = self.get(key).ok_or_else(|| GgufError::MissingKey {
            key: key.to_owned(),
        })?;
        pick(value).ok_or_else(|| GgufError::WrongType {
            key: key.to_owned(),
            expected: expected.to_owned(),
            found: value.type_description(),
        })
    }

    /// The `u32` value of `key`.
    pub fn u32(&self, key: &str) -> Result<u32> {
        self.typed(key, "u32", |v| match *v {
            Value::U32(x) => Some(x),
            _ => None,
        })
    }

    /// The `u64` value of `key`.
    pub fn u64(&self, key: &str) -> Result<u64> {
        self.typed(key, "u64", |v| match *v {
            Value::U64(x) => Some(x),
            _ => None,
        })
    }

    /// The `f32` value of `key`.
    pub fn f32(&self, key: &str) -> Result<f32> {
        self.typed(key, "f32", |v| match *v {
            Value::F32(x) => Some(x),
            _ => None,
        })
    }

    /// The `bool` value of `key`.
    pub fn bool(&self, key: &str) -> Result<bool> {
        self.typed(key, "bool", |v| match *v {
            Value::Bool(x) => Some(x),
            _ => None,
        })
    }

    /// The string value of `key`.
    pub fn str(&self, key: &str) -> Result<&'a str> {
        self.typed(key, "string", |v| match *v {
            Value::String(x) => Some(x),
            _ => None,
        })
    }

    /// The string array value of `key`.
    pub fn str_array(&self, key: &str) -> Result<&[&'a str]> {
        self.typed(key, "array<string>", |v| match v {
            Value::Array(Array::String(x)) => Some(x.as_slice()),
            _ => None,
        })
    }

    /// The `i32` array value of `key`.
    pub fn i32_array(&self, key: &str) -> Result<&[i32]> {
        self.typed(key, "array<i32>", |v| match v {
            Value::Array(Array::I32(x)) => Some(x.as_slice()),
            _ => None,
        })
    }

    /// Every tensor info, in file order.
    pub fn tensors(&self) -> &[TensorInfo<'a>] {
        &self.tensors
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo<'a>> {
        self.names.get(name).map(|&i| &self.tensors[i])
    }

    /// The bytes of a tensor of this file (empty for an info from another file that does not
    /// fit this one).
    pub fn tensor_bytes(&self, info: &TensorInfo<'_>) -> &'a [u8] {
        self.range(info, 0, info.size).unwrap_or_default()
    }

    /// `len` bytes at `start` into the tensor's bytes, if inside the file.
    fn range(&self, info: &TensorInfo<'_>, start: u64, len: u64) -> Option<&'a [u8]> {
        let from = self
            .data_offset
            .checked_add(info.offset)?
            .checked_add(start)?;
        let to = from.checked_add(len)?;
        self.bytes
            .get(usize::try_from(from).ok()?..usize::try_from(to).ok()?)
    }

    /// The tensor's values as f32 (F32, F16, Q4_1 and Q8_0 tensors), in memory order.
    pub fn dequantize(&self, info: &TensorInfo<'_>) -> Result<Vec<f32>> {
        self.dequantize_rows(info, 0..info.rows())
    }

    /// The values of rows `rows` of the tensor (rows of `dims[0]` values) as f32.
    pub fn dequantize_rows(&self, info: &TensorInfo<'_>, rows: Range<u64>) -> Result<Vec<f32>> {
        let bad = |reason: String| GgufError::BadRequest {
            tensor: info.name.to_owned(),
            reason,
        };
        let decode: fn(&[u8], &mut [f32]) = match info.ggml_type {
            GgmlType::F32 => |bytes, out| {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            },
            GgmlType::F16 => |bytes, out| {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f16_to_f32(u16::from_le_bytes([c[0], c[1]]));
                }
            },
            GgmlType::Q4_1 => |bytes, out| BlockFormat::Q4_1.dequantize(bytes, out),
            GgmlType::Q8_0 => |bytes, out| BlockFormat::Q8_0.dequantize(bytes, out),
            ggml_type => {
                return Err(GgufError::UnsupportedType {
                    tensor: info.name.to_owned(),
                    ggml_type,
                });
            }
        };
        if self.tensor(info.name) != Some(info) {
            return Err(bad("not a tensor of this file".to_owned()));
        }
        if rows.start > rows.end || rows.end > info.rows() {
            return Err(bad(format!(
                "rows {rows:?} outside its {} rows",
                info.rows()
            )));
        }
        let n = rows.end - rows.start;
        let row_bytes = info.row_bytes();
        // Inside the tensor, which parse checked to be inside the file: no overflow.
        let bytes = self
            .range(info, rows.start * row_bytes, n * row_bytes)
            .ok_or_else(|| bad("bytes outside the file".to_owned()))?;
        let values = usize::try_from(n * info.row_len())
            .map_err(|_| bad("too many values for this platform".to_owned()))?;
        let mut out = vec![0f32; values];
        decode(bytes, &mut out);
        Ok(out)
    }
}
