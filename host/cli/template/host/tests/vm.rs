//! The guest in the VM agrees with its native library, and its ID is its ELF's.

use {{crate}}_host::{{{const}}_GUEST_ELF, {{const}}_GUEST_ID, median};

/// `abi.encode(int64 value)`: one word, sign-extended.
fn abi_word(value: i64) -> [u8; 32] {
    let mut word = [if value < 0 { 0xff } else { 0 }; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

#[test]
fn the_vm_computes_what_the_library_does() {
    for values in [vec![7], vec![3, -9, 12, 0], (0..1000).rev().collect::<Vec<i64>>()] {
        let session = median(&values).unwrap();
        assert_eq!(session.exit_code(), Some(0), "{values:?}");
        let expected = {{crate}}_guest::median(&mut values.clone()).unwrap();
        assert_eq!(session.output, abi_word(expected), "{values:?}");
        assert_eq!(session.program_id, {{const}}_GUEST_ID);
    }
}

#[test]
fn an_empty_list_exits_with_code_1() {
    assert_eq!(median(&[]).unwrap().exit_code(), Some(1));
}

#[test]
fn the_program_id_is_the_elfs() {
    assert_eq!(opml_vm::program_id({{const}}_GUEST_ELF).unwrap(), {{const}}_GUEST_ID);
}
