//! The {{name}} guest: reads a list of integers (one opml codec frame), commits their median
//! ABI-encoded (`abi.encode(int64)`, so a contract reads it with `abi.decode`). An empty list
//! exits with code 1, a result a contract can tell apart.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::vec::Vec;

opml_guest::entry!(main);

fn main() {
    let mut values: Vec<i64> = opml_guest::read();
    opml_guest::log!("{} values", values.len());
    match {{crate}}_guest::median(&mut values) {
        Some(median) => opml_guest::commit_abi(&median),
        None => opml_guest::exit(1),
    }
}
