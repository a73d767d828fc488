//! The `dnn-runner` example guest: what it reads and what it commits, shared by the guest and
//! by host code that builds inputs and reads outputs.
//!
//! Input: `model_len` (u32 LE), the `.opml` model file, then the data of each graph input in
//! the model's order, raw little-endian, exactly as many bytes as its declared shape and dtype
//! take (`docs/dnn.md`).
//!
//! Output: the model root (32 bytes, `docs/dnn.md`, "Model root"), `count` (u32 LE), the
//! graph commitments `C(0), …, C(n)` (32 bytes each, `count = n + 1`), then the raw data of
//! each graph output in the model's order.
//!
//! A model that does not parse, or an input of the wrong length, exits with
//! `exit_code::BAD_INPUT`.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;

use opml_dnn::{Hash, Model, Tensor};

/// The input of a run of `model` (a whole `.opml` file) on `inputs`.
pub fn input(model: &[u8], inputs: &[Tensor]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + model.len());
    bytes.extend_from_slice(&(model.len() as u32).to_le_bytes());
    bytes.extend_from_slice(model);
    for tensor in inputs {
        bytes.extend_from_slice(tensor.as_ref().data().bytes());
    }
    bytes
}

/// What a run committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The model root, computed in the guest.
    pub root: Hash,
    /// `C(0), …, C(n)`.
    pub commitments: Vec<Hash>,
    /// The raw data of each graph output.
    pub outputs: Vec<Vec<u8>>,
}

impl Output {
    /// Splits a run's output bytes by the graph outputs of `model`; `None` if they do not fit.
    pub fn parse(model: &Model<'_>, bytes: &[u8]) -> Option<Output> {
        let (root, bytes) = bytes.split_first_chunk::<32>()?;
        let count = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let mut rest = bytes.get(4..)?;
        let mut commitments = Vec::with_capacity(count);
        for _ in 0..count {
            let (hash, tail) = rest.split_first_chunk::<32>()?;
            commitments.push(*hash);
            rest = tail;
        }
        let mut outputs = Vec::new();
        for &t in model.outputs() {
            let info = model.tensor(t)?;
            let len = usize::try_from(info.dtype.byte_len(&info.shape)?).ok()?;
            let (data, tail) = rest.split_at_checked(len)?;
            outputs.push(data.to_vec());
            rest = tail;
        }
        rest.is_empty().then_some(Output {
            root: *root,
            commitments,
            outputs,
        })
    }
}
