//! The `data-walk` guest program; see the library for the input and output formats.
#![cfg_attr(target_os = "none", no_std, no_main)]

use data_walk::{MAX_DEPTH, Request};
use opml_guest::platform::exit_code;

opml_guest::entry!(main);

fn main() {
    let request: Request = opml_guest::read();
    if request.depth > MAX_DEPTH {
        opml_guest::log!("depth {} is above {MAX_DEPTH}", request.depth);
        opml_guest::exit(exit_code::BAD_INPUT);
    }
    opml_guest::commit(&data_walk::walk(&request, opml_guest::preimage));
}
