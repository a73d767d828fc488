//! The `mnist` guest program; see the library for the input and output formats.
#![cfg_attr(target_os = "none", no_std, no_main)]

use mnist::{Model, PIXELS, classify};
use opml_guest::platform::exit_code;

opml_guest::entry!(main);

fn main() {
    let mut input = [0u8; 1 + PIXELS];
    opml_guest::read_slice(&mut input);
    let Some(model) = Model::from_byte(input[0]) else {
        opml_guest::log!("mnist: unknown model {}", input[0]);
        opml_guest::exit(exit_code::BAD_INPUT);
    };
    match classify(model, &input[1..]) {
        Ok(prediction) => opml_guest::commit_slice(&prediction.encode()),
        Err(error) => {
            opml_guest::log!("mnist: {error:?}");
            opml_guest::exit(exit_code::BAD_INPUT);
        }
    }
}
