//! The `graph-step` guest program; see the library.
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::convert::Infallible;

use opml_dnn::phase::{Oracle, Preimage, step};
use opml_guest::platform::exit_code;

opml_guest::entry!(main);

/// The VM's data oracle.
struct Vm;

impl Oracle for Vm {
    type Error = Infallible;

    fn preimage(&mut self, key: &[u8; 32]) -> Result<Preimage, Infallible> {
        Ok(opml_guest::preimage(key))
    }
}

fn main() {
    let mut input = [0u8; 41];
    let len = opml_guest::read_up_to(&mut input);
    let Some((previous, j)) = graph_step::parse(&input[..len]) else {
        opml_guest::log!("graph-step: the input must be S(j-1) and be64(j), 40 bytes");
        opml_guest::exit(exit_code::BAD_INPUT);
    };
    let Ok(next) = step(&previous, j, &mut Vm);
    opml_guest::commit_slice(&next);
}
