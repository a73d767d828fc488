//! Test support: a tiny GGUF writer, a sample file with every value type, and the real model.
#![allow(dead_code)] // Each test binary uses part of it.

use std::path::PathBuf;

/// A metadata value to write.
#[derive(Clone, Debug)]
pub(crate) enum V {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    /// An array: the element type id and the elements (which must be of that type).
    Array(u32, Vec<V>),
    U64(u64),
    I64(i64),
    F64(f64),
    /// Any type id followed by raw bytes.
    Raw(u32, Vec<u8>),
}

impl V {
    pub(crate) fn type_id(&self) -> u32 {
        match self {
            V::U8(_) => 0,
            V::I8(_) => 1,
            V::U16(_) => 2,
            V::I16(_) => 3,
            V::U32(_) => 4,
            V::I32(_) => 5,
            V::F32(_) => 6,
            V::Bool(_) => 7,
            V::Str(_) => 8,
            V::Array(..) => 9,
            V::U64(_) => 10,
            V::I64(_) => 11,
            V::F64(_) => 12,
            V::Raw(t, _) => *t,
        }
    }
}

pub(crate) fn s(text: &str) -> V {
    V::Str(text.to_owned())
}

/// A tensor to write: its data is placed at the next aligned offset unless `offset` is set.
#[derive(Clone, Debug)]
pub(crate) struct T {
    pub(crate) name: String,
    pub(crate) dims: Vec<u64>,
    pub(crate) type_id: u32,
    pub(crate) data: Vec<u8>,
    pub(crate) offset: Option<u64>,
}

pub(crate) fn t(name: &str, dims: &[u64], type_id: u32, data: Vec<u8>) -> T {
    T {
        name: name.to_owned(),
        dims: dims.to_vec(),
        type_id,
        data,
        offset: None,
    }
}

/// A written file and where its u64 count and length fields are (for mutations).
pub(crate) struct Built {
    pub(crate) bytes: Vec<u8>,
    pub(crate) length_fields: Vec<usize>,
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    length_fields: Vec<usize>,
}

impl Writer {
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn count(&mut self, n: usize) {
        self.length_fields.push(self.out.len());
        self.u64(n as u64);
    }
    fn str(&mut self, text: &str) {
        self.count(text.len());
        self.out.extend_from_slice(text.as_bytes());
    }
    fn value(&mut self, v: &V) {
        match v {
            V::U8(x) => self.out.push(*x),
            V::I8(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            V::U16(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            V::I16(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            V::U32(x) => self.u32(*x),
            V::I32(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            V::F32(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            V::Bool(x) => self.out.push(u8::from(*x)),
            V::Str(x) => self.str(x),
            V::Array(ty, items) => {
                self.u32(*ty);
                self.count(items.len());
                for item in items {
                    self.value(item);
                }
            }
            V::U64(x) => self.u64(*x),
            V::I64(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            V::F64(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            V::Raw(_, bytes) => self.out.extend_from_slice(bytes),
        }
    }
}

/// Writes a GGUF file (version `version`, data aligned to `alignment`).
pub(crate) fn build(version: u32, kvs: &[(&str, V)], tensors: &[T], alignment: u64) -> Built {
    let mut w = Writer::default();
    w.out.extend_from_slice(b"GGUF");
    w.u32(version);
    w.count(tensors.len());
    w.count(kvs.len());
    for (key, value) in kvs {
        w.str(key);
        w.u32(value.type_id());
        w.value(value);
    }
    let mut next = 0u64;
    let mut offsets = Vec::new();
    for t in tensors {
        let offset = t.offset.unwrap_or(next);
        offsets.push(offset);
        next = offset
            .saturating_add(t.data.len() as u64)
            .checked_next_multiple_of(alignment)
            .unwrap_or(u64::MAX);
        w.str(&t.name);
        w.u32(t.dims.len() as u32);
        for &d in &t.dims {
            w.u64(d);
        }
        w.u32(t.type_id);
        w.u64(offset);
    }
    let data_start = (w.out.len() as u64).next_multiple_of(alignment) as usize;
    w.out.resize(data_start, 0);
    for (t, offset) in tensors.iter().zip(offsets) {
        // Offsets far beyond the file are written, not their data.
        if offset > 1 << 30 {
            continue;
        }
        let at = data_start + offset as usize;
        if w.out.len() < at + t.data.len() {
            w.out.resize(at + t.data.len(), 0);
        }
        w.out[at..at + t.data.len()].copy_from_slice(&t.data);
    }
    Built {
        bytes: w.out,
        length_fields: w.length_fields,
    }
}

pub(crate) fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Deterministic pseudo-random bytes.
pub(crate) fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Q4_1 blocks with finite scales: d = 0.5, m = -1 (f16), noise nibbles.
pub(crate) fn q4_1_blocks(n: usize, seed: u32) -> Vec<u8> {
    let q = noise(n * 16, seed);
    (0..n)
        .flat_map(|b| {
            let mut block = vec![0x00, 0x38, 0x00, 0xbc];
            block.extend_from_slice(&q[b * 16..b * 16 + 16]);
            block
        })
        .collect()
}

/// Q8_0 blocks with d = 2 (f16) and noise quants.
pub(crate) fn q8_0_blocks(n: usize, seed: u32) -> Vec<u8> {
    let q = noise(n * 32, seed);
    (0..n)
        .flat_map(|b| {
            let mut block = vec![0x00, 0x40];
            block.extend_from_slice(&q[b * 32..b * 32 + 32]);
            block
        })
        .collect()
}

/// Metadata with every value type, nested arrays and an empty array.
pub(crate) fn sample_kvs() -> Vec<(&'static str, V)> {
    vec![
        ("general.architecture", s("llama")),
        ("general.alignment", V::U32(64)),
        ("u8", V::U8(200)),
        ("i8", V::I8(-100)),
        ("u16", V::U16(60_000)),
        ("i16", V::I16(-30_000)),
        ("u32", V::U32(4_000_000_000)),
        ("i32", V::I32(-2_000_000_000)),
        ("f32", V::F32(1e-5)),
        ("bool", V::Bool(true)),
        ("string", s("héllo ✓")),
        ("u64", V::U64(u64::MAX)),
        ("i64", V::I64(i64::MIN)),
        ("f64", V::F64(-2.5e300)),
        ("tokens", V::Array(8, vec![s("<s>"), s(""), s("Ġthe")])),
        (
            "token_type",
            V::Array(5, vec![V::I32(1), V::I32(-3), V::I32(6)]),
        ),
        ("bools", V::Array(7, vec![V::Bool(false), V::Bool(true)])),
        ("empty", V::Array(10, vec![])),
        (
            "nested",
            V::Array(
                9,
                vec![
                    V::Array(4, vec![V::U32(1), V::U32(2)]),
                    V::Array(8, vec![s("x")]),
                    V::Array(9, vec![V::Array(12, vec![V::F64(0.5)])]),
                ],
            ),
        ),
    ]
}

/// Tensors of F32, F16, Q4_1, Q8_0, a scalar and an unsupported Q4_0 one.
pub(crate) fn sample_tensors() -> Vec<T> {
    vec![
        t(
            "f32",
            &[3, 2],
            0,
            f32_bytes(&[1.0, -2.0, 0.5, f32::MAX, -0.0, 1e-40]),
        ),
        // 1, -2, 65504, 2^-24
        t(
            "f16",
            &[4],
            1,
            vec![0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00],
        ),
        t("q4_1", &[64, 3], 3, q4_1_blocks(6, 1)),
        t("q8_0", &[32, 2, 2], 8, q8_0_blocks(4, 2)),
        t("scalar", &[], 0, f32_bytes(&[7.0])),
        t("q4_0", &[32], 2, noise(18, 3)),
        t("empty", &[0, 5], 0, vec![]),
    ]
}

pub(crate) fn sample() -> Built {
    build(3, &sample_kvs(), &sample_tensors(), 64)
}

/// The SmolLM2 model of toolchain/llm (installed by toolchain/llm/install.sh), or a failure
/// that says how to install it.
pub(crate) fn model_path() -> PathBuf {
    let path = repo().join("toolchain/llm/cache/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run `bash toolchain/llm/install.sh`",
        path.display()
    );
    path
}

/// The repository's root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}
