//! The `dnn-runner` guest program; see the library for the input and output formats.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec::Vec;

use opml_dnn::{
    AlignedBytes, DataRef, Model, Tensor, TensorRef, chain_next, chain_start, run_observed,
};
use opml_guest::platform::exit_code;

opml_guest::entry!(main);

/// Exits with `BAD_INPUT`, saying why on the debug log.
fn refuse(why: core::fmt::Arguments<'_>) -> ! {
    opml_guest::log!("dnn-runner: {why}");
    opml_guest::exit(exit_code::BAD_INPUT)
}

fn main() {
    let mut len = [0u8; 4];
    opml_guest::read_slice(&mut len);
    // The model is read once into an aligned buffer; its constants are borrowed from it.
    let mut file = AlignedBytes::zeroed(u32::from_le_bytes(len) as usize);
    opml_guest::read_slice(&mut file);
    let model = Model::parse(&file).unwrap_or_else(|error| refuse(format_args!("{error}")));

    let mut inputs = Vec::new();
    for &t in model.inputs() {
        let Some(info) = model.tensor(t) else {
            refuse(format_args!("no input tensor {t}"))
        };
        // The reader checked every tensor's byte length.
        let len = info.dtype.byte_len(&info.shape).unwrap_or(0) as usize;
        let mut data = AlignedBytes::zeroed(len);
        opml_guest::read_slice(&mut data);
        let tensor = DataRef::from_bytes(info.dtype, &data)
            .and_then(|data| TensorRef::new(info.shape, data, info.quant).ok())
            .unwrap_or_else(|| refuse(format_args!("input tensor {t} does not fit")));
        inputs.push(tensor.to_tensor());
    }

    let input_hashes: Vec<_> = inputs.iter().map(Tensor::hash).collect();
    let mut commitments = Vec::with_capacity(model.nodes().len() + 1);
    commitments.push(chain_start(model.checksum(), &input_hashes));
    let outputs = run_observed(&model, &inputs, |_, output| {
        let next = chain_next(commitments.last().expect("C(0) is in"), &output.hash());
        commitments.push(next);
    })
    .unwrap_or_else(|error| refuse(format_args!("{error}")));

    opml_guest::commit_slice(&model.root());
    opml_guest::commit_slice(&(commitments.len() as u32).to_le_bytes());
    opml_guest::commit_slice(commitments.as_flattened());
    for output in &outputs {
        opml_guest::commit_slice(output.as_ref().data().bytes());
    }
}
