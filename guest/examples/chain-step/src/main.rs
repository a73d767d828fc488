//! The `chain-step` guest program; see the library.
#![cfg_attr(target_os = "none", no_std, no_main)]

use opml_guest::platform::exit_code;

opml_guest::entry!(main);

fn main() {
    let mut input = [0u8; 41];
    if opml_guest::read_up_to(&mut input) != 40 {
        opml_guest::log!("chain-step: the input must be C(j-1) and be64(j), 40 bytes");
        opml_guest::exit(exit_code::BAD_INPUT);
    }
    let previous: [u8; 32] = input[..32].try_into().expect("32 bytes");
    let j = u64::from_be_bytes(input[32..40].try_into().expect("8 bytes"));
    opml_guest::commit_slice(&chain_step::link(&previous, j));
}
