//! The `echo` guest program; see the library for the input and output formats.
#![cfg_attr(target_os = "none", no_std, no_main)]

use echo::{MODE_RAW, MODE_TYPED, Request};
use opml_guest::platform::exit_code;

opml_guest::entry!(main);

fn main() {
    let mut mode = [0u8];
    opml_guest::read_slice(&mut mode);
    match mode[0] {
        MODE_TYPED => {
            let request: Request = opml_guest::read();
            opml_guest::log!(
                "echo: {} chars, {} numbers",
                request.text.len(),
                request.numbers.len()
            );
            opml_guest::commit(&echo::reply(&request));
        }
        MODE_RAW => {
            let mut bytes = opml_guest::read_to_end();
            bytes.reverse();
            opml_guest::commit_slice(&bytes);
        }
        other => {
            opml_guest::log!("echo: unknown mode {other}");
            opml_guest::exit(exit_code::BAD_INPUT);
        }
    }
}
