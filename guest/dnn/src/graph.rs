//! The graph executor and the commitment chain over its intermediate tensors.
//!
//! Nodes run in table order. Every node's output is a new [`Tensor`] with the dtype, shape and
//! quantization its model entry declares; inputs must match their declared dtype and shape, and
//! their quantization is always the model's (the tensor hash does not cover it).
//!
//! The commitment after `i` nodes (`docs/dnn.md`, "Graph and commitments"):
//!
//! ```text
//! C(0) = sha256("opml-dnn" ‖ model checksum ‖ tensor hash of each graph input, in order)
//! C(i) = sha256(C(i−1) ‖ tensor hash of the output of node i−1 (0-based table index))
//! ```

use alloc::vec;
use alloc::vec::Vec;

use crate::model::{Model, Node, TensorKind};
use crate::op::{Conv, Epilogue, Op, Pool};
use crate::ops::{
    Conv2dDims, LinearF32, LinearI8, Pool2dDims, add, argmax, avg_pool2d_f32, avg_pool2d_i8,
    conv2d, dense, dequantize, embedding, gelu, layer_norm, llm, matmul, max_pool2d, mul, quantize,
    relu, relu_i8, rms_norm, silu, softmax,
};
use crate::tensor::{Data, DataRef, Element, Shape, Tensor, TensorInfo, TensorRef};
use crate::{AlignedBytes, DnnError, Hash, sha256};

/// Domain separator of `C(0)`.
const DOMAIN: &[u8] = b"opml-dnn";

/// Runs the whole graph on `inputs` (in the order of [`Model::inputs`]); returns the graph
/// outputs (in the order of [`Model::outputs`]).
pub fn run(model: &Model<'_>, inputs: &[Tensor]) -> Result<Vec<Tensor>, DnnError> {
    run_observed(model, inputs, |_, _| {})
}

/// [`run`], calling `observe(node_index, output)` after each node.
pub fn run_observed(
    model: &Model<'_>,
    inputs: &[Tensor],
    mut observe: impl FnMut(usize, &Tensor),
) -> Result<Vec<Tensor>, DnnError> {
    let inputs = declared(model, model.inputs(), inputs.iter().map(Tensor::as_ref))?;
    // The last node that reads or writes each tensor: node outputs are dropped after it, unless
    // they are graph outputs.
    let mut last_use = vec![usize::MAX; model.tensor_count()];
    for (index, node) in model.nodes().iter().enumerate() {
        for &t in node.inputs().iter().chain([&node.output()]) {
            last_use[t as usize] = index;
        }
    }
    for &t in model.outputs() {
        last_use[t as usize] = usize::MAX;
    }
    let mut values: Vec<Option<Tensor>> = vec![None; model.tensor_count()];
    for (index, node) in model.nodes().iter().enumerate() {
        let args = node
            .inputs()
            .iter()
            .map(|&t| value(model, &inputs, &values, t))
            .collect::<Option<Vec<_>>>()
            .ok_or(DnnError::Malformed)?;
        let out = declared_output(model, node)?;
        let output = compute(node, &windowed(node, &args, &out)?, &out)?;
        observe(index, &output);
        values[node.output() as usize] = Some(output);
        for &t in node.inputs().iter().chain([&node.output()]) {
            if last_use[t as usize] == index {
                values[t as usize] = None;
            }
        }
    }
    model
        .outputs()
        .iter()
        .map(|&t| value(model, &inputs, &values, t).map(|v| v.to_tensor()))
        .collect::<Option<_>>()
        .ok_or(DnnError::Malformed)
}

/// Tensor `t` while running: a constant, a graph input, or a node output computed so far.
fn value<'v>(
    model: &Model<'v>,
    inputs: &[TensorRef<'v>],
    values: &'v [Option<Tensor>],
    t: u32,
) -> Option<TensorRef<'v>> {
    match model.kind(t)? {
        TensorKind::Constant => model.constant(t),
        TensorKind::Input => {
            let position = model.inputs().iter().position(|&i| i == t)?;
            inputs.get(position).copied()
        }
        TensorKind::NodeOutput => Some(values.get(t as usize)?.as_ref()?.as_ref()),
    }
}

/// Runs node `node_index` alone. `inputs` are the node's non-constant inputs, in the node's
/// input order (constants come from the model); this is how a step program re-does one node.
pub fn run_node(
    model: &Model<'_>,
    node_index: usize,
    inputs: &[TensorRef<'_>],
) -> Result<Tensor, DnnError> {
    let node = model
        .nodes()
        .get(node_index)
        .ok_or(DnnError::NodeIndex(node_index))?;
    let is_constant = |t: &u32| model.kind(*t) == Some(TensorKind::Constant);
    let given: Vec<u32> = node
        .inputs()
        .iter()
        .copied()
        .filter(|t| !is_constant(t))
        .collect();
    let mut given = declared(model, &given, inputs.iter().copied())?.into_iter();
    let args = node
        .inputs()
        .iter()
        .map(|t| {
            if is_constant(t) {
                model.constant(*t)
            } else {
                given.next()
            }
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(DnnError::Malformed)?;
    let out = declared_output(model, node)?;
    compute(node, &windowed(node, &args, &out)?, &out)
}

/// `C(0)`: `sha256("opml-dnn" ‖ checksum ‖ input_hashes…)`.
pub fn chain_start(checksum: &Hash, input_hashes: &[Hash]) -> Hash {
    sha256(&[DOMAIN, checksum, input_hashes.as_flattened()])
}

/// `C(i)` from `C(i−1)` and the tensor hash of the output of the `i`-th node.
pub fn chain_next(previous: &Hash, output_hash: &Hash) -> Hash {
    sha256(&[previous, output_hash])
}

/// Runs the graph and returns the commitments `C(0), C(1), …, C(n)` for its `n` nodes.
pub fn commitments(model: &Model<'_>, inputs: &[Tensor]) -> Result<Vec<Hash>, DnnError> {
    let input_hashes: Vec<Hash> = inputs.iter().map(Tensor::hash).collect();
    let mut chain = vec![chain_start(model.checksum(), &input_hashes)];
    run_observed(model, inputs, |_, output| {
        let previous = chain[chain.len() - 1];
        chain.push(chain_next(&previous, &output.hash()));
    })?;
    Ok(chain)
}

/// The declared info of `node`'s output.
fn declared_output(model: &Model<'_>, node: &Node) -> Result<TensorInfo, DnnError> {
    model.tensor(node.output()).ok_or(DnnError::Malformed)
}

/// `given` as the tensors `indices` of `model`: each must have its declared dtype and shape,
/// and takes its declared quantization.
fn declared<'t>(
    model: &Model<'_>,
    indices: &[u32],
    given: impl ExactSizeIterator<Item = TensorRef<'t>>,
) -> Result<Vec<TensorRef<'t>>, DnnError> {
    if given.len() != indices.len() {
        return Err(DnnError::InputCount {
            expected: indices.len(),
            got: given.len(),
        });
    }
    given
        .zip(indices)
        .enumerate()
        .map(|(index, (tensor, &t))| {
            let info = model
                .tensor(t)
                .filter(|info| info.dtype == tensor.dtype() && info.shape == *tensor.shape())
                .ok_or(DnnError::Input { index })?;
            TensorRef::new(info.shape, tensor.data(), info.quant)
        })
        .collect()
}

/// Runs `node` on `args` (all its inputs, constants included, with their declared shapes and
/// quantization), producing a tensor of the declared `out`. The node must have passed the
/// reader's checks against these tensor infos ([`Node::decode`]); this is the one kernel
/// dispatch of the executor, the graph phase's native executor and its step program.
pub fn compute(node: &Node, args: &[TensorRef<'_>], out: &TensorInfo) -> Result<Tensor, DnnError> {
    let out = *out;
    let [x, rest @ ..] = args else {
        return Err(DnnError::Malformed);
    };
    let input = |i: usize| rest.get(i).ok_or(DnnError::Malformed);
    let k = x.shape().last();
    let data: Data = match (node.op(), x.data()) {
        (Op::Dense(e), DataRef::F32(xs)) => {
            let l = LinearF32 { relu: e.relu };
            dense(&l, xs, get(rest, 0)?, bias(rest)?, k).into()
        }
        (Op::Dense(e), DataRef::I8(xs)) => {
            let l = linear_i8(x, &out, e)?;
            dense(&l, xs, get(rest, 0)?, bias(rest)?, k).into()
        }
        (Op::Conv2d(conv, e), DataRef::F32(xs)) => {
            let (l, dims) = (LinearF32 { relu: e.relu }, conv_dims(x, input(0)?, conv));
            conv2d(&l, xs, get(rest, 0)?, bias(rest)?, &dims).into()
        }
        (Op::Conv2d(conv, e), DataRef::I8(xs)) => {
            let (l, dims) = (linear_i8(x, &out, e)?, conv_dims(x, input(0)?, conv));
            conv2d(&l, xs, get(rest, 0)?, bias(rest)?, &dims).into()
        }
        (Op::Relu, DataRef::F32(xs)) => map(xs, 0, relu),
        (Op::Relu, DataRef::I8(xs)) => map(xs, 0, |q| relu_i8(q, zero_point(x))),
        (Op::Gelu, DataRef::F32(xs)) => map(xs, 8, gelu),
        (Op::Silu, DataRef::F32(xs)) => map(xs, 8, silu),
        (Op::MaxPool2d(pool), DataRef::F32(xs)) => max_pool2d(xs, &pool_dims(x, pool)).into(),
        (Op::MaxPool2d(pool), DataRef::I8(xs)) => max_pool2d(xs, &pool_dims(x, pool)).into(),
        (Op::AvgPool2d(pool), DataRef::F32(xs)) => avg_pool2d_f32(xs, &pool_dims(x, pool)).into(),
        (Op::AvgPool2d(pool), DataRef::I8(xs)) => avg_pool2d_i8(xs, &pool_dims(x, pool)).into(),
        (Op::Softmax, DataRef::F32(xs)) => softmax(xs, k).into(),
        (Op::Argmax, DataRef::F32(xs)) => argmax(xs, k).into(),
        (Op::Argmax, DataRef::I8(xs)) => argmax(xs, k).into(),
        (Op::Argmax, DataRef::I32(xs)) => argmax(xs, k).into(),
        (Op::LayerNorm { eps }, DataRef::F32(xs)) => {
            layer_norm(xs, get(rest, 0)?, get(rest, 1)?, *eps).into()
        }
        (Op::RmsNorm { eps }, DataRef::F32(xs)) => rms_norm(xs, get(rest, 0)?, *eps).into(),
        (Op::Embedding, DataRef::I32(ids)) => {
            let table = input(0)?;
            let d = table.shape().last();
            match table.data() {
                DataRef::F32(rows) => embedding(ids, rows, d)?.into(),
                DataRef::I8(rows) => embedding(ids, rows, d)?.into(),
                DataRef::I32(_) | DataRef::Blocks(..) => return Err(DnnError::Malformed),
            }
        }
        (Op::Add, DataRef::F32(a)) => add(a, get(rest, 0)?).into(),
        (Op::Mul, DataRef::F32(a)) => mul(a, get(rest, 0)?).into(),
        (Op::MatMul, DataRef::F32(a)) => {
            let n = input(0)?.shape().last();
            matmul(a, get(rest, 0)?, k, n).into()
        }
        (Op::Reshape, xs) => xs.to_canonical(),
        (Op::Quantize, DataRef::F32(xs)) => map(xs, 0, |v| quantize(v, out.quant)),
        (Op::Dequantize, DataRef::I8(xs)) => map(xs, 0, |q| dequantize(q, x.quant())),
        (Op::QLinear { .. }, DataRef::F32(xs)) => {
            let w = input(0)?;
            let DataRef::Blocks(format, blocks) = w.data() else {
                return Err(DnnError::Malformed);
            };
            llm::qlinear(xs, blocks, format, w.shape().dims()[0] as usize, k).into()
        }
        (
            Op::Rope {
                head_dim,
                position,
                base,
            },
            DataRef::F32(xs),
        ) => llm::rope(xs, k, *head_dim as usize, *position, *base).into(),
        (Op::Attention { heads, kv_heads }, DataRef::F32(q)) => {
            let (keys, values) = (get(rest, 0)?, get(rest, 1)?);
            llm::attention(q, keys, values, *heads as usize, *kv_heads as usize).into()
        }
        (Op::Concat, a) => {
            let b = input(0)?.data();
            let bytes = [a.bytes(), b.bytes()].concat();
            DataRef::from_bytes(a.dtype(), &AlignedBytes::from_slice(&bytes))
                .ok_or(DnnError::Malformed)?
                .to_canonical()
        }
        (Op::SwiGlu, DataRef::F32(gate)) => llm::swiglu(gate, get(rest, 0)?).into(),
        (Op::Tokenize, DataRef::I8(record)) => {
            let tables: &[i8] = get(rest, 0)?;
            let (record, tables) = (bytemuck::cast_slice(record), bytemuck::cast_slice(tables));
            llm::tokenize(record, tables, out.shape.count())?.into()
        }
        (Op::TokenEmbedding { .. }, DataRef::I32(_)) => {
            // The table's window: the id's row alone.
            let row = input(0)?;
            let d = row.shape().last();
            if row.shape().count() != d {
                return Err(DnnError::Malformed);
            }
            match row.data() {
                DataRef::F32(values) => values.to_vec().into(),
                DataRef::Blocks(format, blocks) => llm::block_row(blocks, format, d, 0)?.into(),
                _ => return Err(DnnError::Malformed),
            }
        }
        (Op::Sample { position }, DataRef::F32(logits)) => {
            let record: &[i8] = get(rest, 0)?;
            vec![llm::sample(
                logits,
                bytemuck::cast_slice(record),
                *position,
            )?]
            .into()
        }
        _ => return Err(DnnError::Malformed),
    };
    Ok(Tensor::new(out.shape, data)?.with_quant(out.quant))
}

/// The part of a tensor a kernel reads: `shape` (what the kernel sees) from byte `start` of the
/// tensor's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The first byte.
    pub start: usize,
    /// The window's shape, in the tensor's dtype.
    pub shape: Shape,
}

/// What part of its input `i` (declared `info`) `node`'s kernel reads when it reads less than
/// the whole tensor: rows `first_row ..` of a `QLinear`'s weights, the row of the id of a
/// `TokenEmbedding`'s table (an id outside the table is an error). `earlier` are the node's
/// inputs before `i`, whole or windowed. Every executor hands [`compute`] these windows in
/// place of the inputs, so that a step program reads only them: `O(window)` data, not a whole
/// 49,152-row table.
pub fn window(
    node: &Node,
    i: usize,
    info: &TensorInfo,
    earlier: &[TensorRef<'_>],
    out: &TensorInfo,
) -> Result<Option<Window>, DnnError> {
    let rows = |first: usize, count: u32| -> Result<Option<Window>, DnnError> {
        let [_, width] = info.shape.padded().map(|d| d as usize)[..2] else {
            return Err(DnnError::Malformed);
        };
        let shape = Shape::new(&[count, width as u32])?;
        let row = Shape::new(&[1, width as u32])?;
        let row_bytes = info.dtype.byte_len(&row).ok_or(DnnError::Shape)? as usize;
        let start = first.checked_mul(row_bytes).ok_or(DnnError::Shape)?;
        Ok(Some(Window { start, shape }))
    };
    match (node.op(), i) {
        (Op::QLinear { first_row }, 1) => rows(*first_row as usize, out.shape.last() as u32),
        (Op::TokenEmbedding { index }, 1) => {
            let ids: &[i32] = earlier
                .first()
                .and_then(TensorRef::values)
                .ok_or(DnnError::Malformed)?;
            let id = *ids.get(*index as usize).ok_or(DnnError::Malformed)?;
            let vocab = info.shape.dims()[0] as usize;
            let row = usize::try_from(id).ok().filter(|&r| r < vocab);
            rows(row.ok_or(DnnError::EmbeddingId { id, vocab })?, 1)
        }
        _ => Ok(None),
    }
}

/// `args` (a node's whole inputs) with their [`window`]s applied: what [`compute`] takes.
pub fn windowed<'a>(
    node: &Node,
    args: &[TensorRef<'a>],
    out: &TensorInfo,
) -> Result<Vec<TensorRef<'a>>, DnnError> {
    let mut windowed: Vec<TensorRef<'a>> = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let tensor = match window(node, i, &arg.info(), &windowed, out)? {
            Some(w) => {
                let len = arg.dtype().byte_len(&w.shape).ok_or(DnnError::Shape)? as usize;
                let bytes = arg.data().bytes().get(w.start..w.start + len);
                let data = bytes.and_then(|b| DataRef::from_bytes(arg.dtype(), b));
                TensorRef::new(w.shape, data.ok_or(DnnError::Malformed)?, arg.quant())?
            }
            None => *arg,
        };
        windowed.push(tensor);
    }
    Ok(windowed)
}

/// Input `i` of `rest` (the inputs after the first) as elements of type `T`.
fn get<'a, T: Element>(rest: &[TensorRef<'a>], i: usize) -> Result<&'a [T], DnnError> {
    rest.get(i)
        .and_then(TensorRef::values)
        .ok_or(DnnError::Malformed)
}

/// The optional bias of a linear layer: the third input.
fn bias<'a, T: Element>(rest: &[TensorRef<'a>]) -> Result<Option<&'a [T]>, DnnError> {
    rest.get(1)
        .map(|b| b.values().ok_or(DnnError::Malformed))
        .transpose()
}

/// `f` applied to every element.
fn map<T: Copy + Sync, U: Element + Default + Send>(
    values: &[T],
    cost: usize,
    f: impl Fn(T) -> U + Sync,
) -> Data {
    U::into_data(crate::ops::map(values, cost, f))
}

/// The zero point of an i8 tensor (the reader checked it is in -128..=127).
fn zero_point(t: &TensorRef<'_>) -> i8 {
    t.quant().zero_point as i8
}

fn linear_i8(x: &TensorRef<'_>, out: &TensorInfo, e: &Epilogue) -> Result<LinearI8, DnnError> {
    Ok(LinearI8 {
        x_zero_point: zero_point(x),
        requant: e.requant.ok_or(DnnError::Malformed)?,
        out_zero_point: out.quant.zero_point as i8,
        relu: e.relu,
    })
}

fn conv_dims(x: &TensorRef<'_>, w: &TensorRef<'_>, conv: &Conv) -> Conv2dDims {
    let [n, c, h, width] = x.shape().padded().map(|d| d as usize);
    let [o, _, kh, kw] = w.shape().padded().map(|d| d as usize);
    Conv2dDims {
        n,
        c,
        h,
        w: width,
        o,
        kh,
        kw,
        stride_h: conv.stride_h as usize,
        stride_w: conv.stride_w as usize,
        pad_h: conv.pad_h as usize,
        pad_w: conv.pad_w as usize,
    }
}

fn pool_dims(x: &TensorRef<'_>, pool: &Pool) -> Pool2dDims {
    let [n, c, h, w] = x.shape().padded().map(|d| d as usize);
    Pool2dDims {
        n,
        c,
        h,
        w,
        kh: pool.kernel_h as usize,
        kw: pool.kernel_w as usize,
        stride_h: pool.stride_h as usize,
        stride_w: pool.stride_w as usize,
    }
}
