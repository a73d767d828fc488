//! The guest in the VM agrees with its native library, and its ID is its ELF's.

use opml_vm::ExitStatus;
use {{crate}}_host::{{{const}}_GUEST_ELF, {{const}}_GUEST_ID, median};

#[test]
fn the_vm_computes_what_the_library_does() {
    for values in [vec![7], vec![3, -9, 12, 0], (0..1000).rev().collect::<Vec<i64>>()] {
        let run = median(&values).unwrap();
        assert_eq!(run.status, ExitStatus::Exited(0), "{values:?}");
        let expected = {{crate}}_guest::median(&mut values.clone()).unwrap();
        assert_eq!(run.output, {{crate}}_guest::abi_word(expected), "{values:?}");
    }
}

#[test]
fn an_empty_list_exits_with_code_1() {
    assert_eq!(median(&[]).unwrap().status, ExitStatus::Exited(1));
}

#[test]
fn the_program_id_is_the_elfs() {
    assert_eq!(opml_vm::program_id({{const}}_GUEST_ELF).unwrap(), {{const}}_GUEST_ID);
}
