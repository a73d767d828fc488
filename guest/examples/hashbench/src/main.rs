//! The `hashbench` guest program; see the library for the input and output formats.
#![cfg_attr(target_os = "none", no_std, no_main)]

use hashbench::Input;
use opml_guest::ReadError;

opml_guest::entry!(main);

fn main() {
    let input = match opml_guest::try_read::<Input>() {
        Ok(input) => input,
        // No input at all: the default benchmark.
        Err(ReadError::EndOfInput { got: 0, .. }) => Input::benchmark(),
        Err(err) => err.exit(),
    };
    opml_guest::commit_slice(&hashbench::run(&input));
}
