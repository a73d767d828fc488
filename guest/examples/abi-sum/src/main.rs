//! The `abi-sum` guest program: reads an [`abi_sum::Input`], commits its sum, count and label
//! ABI-encoded.
#![cfg_attr(target_os = "none", no_std, no_main)]

opml_guest::entry!(main);

fn main() {
    let input: abi_sum::Input = opml_guest::read();
    opml_guest::commit_abi(&abi_sum::output(&input));
}
